"""A classified computer end to end, with real processes only.

The organisation file registers *this* machine (its real machine id, as the agent reads it) as
a classified computer of a commune. It is enrolled by carried files (request, fingerprint
compared, response) and its agent exports a signed bundle from an isolated network namespace
(no interface but loopback, as the law requires); the bundle is imported: no alarm, and the
isolation rule BMNN-01 passes on it. Then the same hardware, plugged into an office LAN (a
network namespace wired to the controller), tries to enroll online: the controller refuses it,
opens one critical BMNN-04 finding at once, and its notifier delivers exactly one e-mail
(aiosmtpd with STARTTLS and login, on loopback) and one signed webhook.

Every process is real: ``govguard init``/``inventory import``/``serve``/``findings list`` and
``govguard-agent enroll`` run as subprocesses; only the mail server and the webhook receiver are
test servers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import trustme
import yaml

from agent.enrollment import collect_identity
from agent.offline import fingerprint
from tests.support.controller_proc import REPO, Controller, init_controller
from tests.support.netns import NetLab, why_not_available, worker_index
from tests.unit.controller.notify.conftest import (
    WEBHOOK_SECRET,
    WebhookServerInfo,
    _webhook_server,
    free_port,
    notify_config,
    start_smtp,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(why_not_available() is not None, reason=str(why_not_available())),
]

AGENT = str(REPO / ".venv" / "bin" / "govguard-agent")
COMMUNE = "xa-an-binh"
ASSET = "xa-an-binh-mat-01"
# The office LAN: its controller end is in the root namespace, shared by parallel xdist
# workers, so each worker takes its own /24 (10.231.77.0/24 on gw0, 10.231.78.0/24 on gw1...).
LAN = f"10.231.{77 + worker_index()}"
CONTROLLER_IP = f"{LAN}.1"
PC_IP = f"{LAN}.2"
DELIVERY_WAIT_S = 60


def organisation(machine_id: str) -> dict[str, object]:
    """A district, one commune, one official and this machine as its classified computer."""
    return {
        "schema_version": 1,
        "title": "Huyện Thử nghiệm",
        "units": [
            {"id": "huyen-thu", "name": "Huyện Thử nghiệm", "kind": "legacy_district"},
            {
                "id": COMMUNE,
                "name": "UBND xã An Bình",
                "kind": "commune",
                "parent": "huyen-thu",
                "offices": [{"id": "van-phong", "name": "Văn phòng - Thống kê"}],
            },
        ],
        "assets": [
            {
                "id": ASSET,
                "kind": "desktop",
                "unit": COMMUNE,
                "office": "van-phong",
                "machine_id": machine_id,
                "classification": "classified",
                "security_plan_ref": "PA-BMNN-2026-01",
                "security_plan_approved_at": "2026-01-15",
                "security_plan_reviewed_at": "2026-06-01",
            }
        ],
    }


@pytest.fixture
def lab() -> Iterator[NetLab]:
    with NetLab() as made:
        yield made


@pytest.fixture
def webhook() -> Iterator[WebhookServerInfo]:
    yield from _webhook_server(None)


def _write_notify(controller: Controller, smtp_port: int, ca_file: Path, hook_url: str) -> None:
    """Route the commune's critical notices to one mailbox and one webhook."""
    from controller.notify.config import RouteConfig

    config = notify_config(
        controller.data_dir,
        smtp_port=smtp_port,
        ca_file=ca_file,
        webhook_url=hook_url,
        routes=[
            RouteConfig(
                unit=COMMUNE,
                min_severity="critical",
                email=["cntt@anbinh.gov.vn"],
                webhooks=["chat"],
            )
        ],
        interval_s=5,
    )
    path = controller.data_dir / "config.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["notify"] = msgspec.to_builtins(config)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def test_a_classified_pc_going_online_raises_one_alarm(
    lab: NetLab, webhook: WebhookServerInfo, db_url: str, tmp_path: Path
) -> None:
    identity = collect_identity()
    machine_id = identity.machine_id or identity.system_uuid
    assert machine_id, "this machine has no machine id to register"

    # The controller listens on the office LAN's address, reachable from the PC's namespace.
    pc = lab.namespace("pc")
    lab.link_root(f"{CONTROLLER_IP}/24", pc, f"{PC_IP}/24")
    ctl_dir = tmp_path / "ctl"
    controller = init_controller(
        ctl_dir, database_url=db_url, server_names=("127.0.0.1", CONTROLLER_IP)
    )
    port = controller.port
    from tests.support.controller_proc import set_listen

    set_listen(ctl_dir, port, CONTROLLER_IP)
    controller = Controller(ctl_dir, port, host=CONTROLLER_IP)

    ca = trustme.CA()
    smtp_port = free_port()
    mail_ca = tmp_path / "mail-ca.pem"
    smtp, mailbox = start_smtp(ca, mail_ca, smtp_port)
    try:
        _write_notify(controller, smtp_port, mail_ca, webhook.url)
        # This test machine is a general-purpose Debian VM, not a hardened classified PC: it
        # allows USB storage, has a 6-character password minimum and no anti-malware. Those
        # rules are switched off the operator's way, so that the one critical notice expected
        # is the tripwire's.
        policies = controller.data_dir / "policies"
        policies.mkdir(exist_ok=True)
        (policies / "overrides.yaml").write_text(
            "disable: [BMNN-05, BMNN-06, ATTT-01, ATTT-02]\n", encoding="utf-8"
        )
        org = tmp_path / "organisation.yaml"
        org.write_text(yaml.safe_dump(organisation(machine_id), allow_unicode=True), "utf-8")
        imported = controller.cli("inventory", "import", str(org), "--lang", "en")
        assert "classified" not in imported.stderr
        token_file = tmp_path / "token.txt"
        controller.cli("tokens", "create", "--unit", COMMUNE, "--out", str(token_file))

        # Offline enrollment by carried files, then a bundle exported in the air-gapped room.
        state = tmp_path / "classified-agent"
        request = tmp_path / "usb" / "request.json"
        request.parent.mkdir()
        asked = subprocess.run(
            [
                AGENT,
                "enroll",
                "--offline",
                "--out",
                str(request),
                "--state-dir",
                str(state),
                "--lang",
                "en",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert asked.returncode == 0, asked.stderr
        public = base64.b64decode(json.loads(request.read_text("utf-8"))["public_key"])
        accepted = controller.cli(
            "agents",
            "accept-offline",
            str(request),
            "--unit",
            COMMUNE,
            "--fingerprint",
            fingerprint(public),
            "--out",
            str(tmp_path / "usb" / "response.json"),
        )
        assert "offline" in accepted.stdout.lower() or accepted.returncode == 0
        answered = subprocess.run(
            [
                AGENT,
                "enroll",
                "--offline",
                "--accept",
                str(tmp_path / "usb" / "response.json"),
                "--state-dir",
                str(state),
                "--lang",
                "en",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert answered.returncode == 0, answered.stderr
        room = lab.namespace("phong-mat")  # loopback only: no network at all
        exported = lab.run(
            room,
            [
                AGENT,
                "export",
                "--to",
                str(tmp_path / "usb"),
                "--state-dir",
                str(state),
                "--lang",
                "en",
            ],
            timeout=120,
        )
        assert exported.returncode == 0, exported.stderr
        (bundle,) = (tmp_path / "usb").glob("*.ggb")
        imported_bundle = controller.cli("import", str(bundle), "--lang", "en")
        assert imported_bundle.returncode == 0
        quiet = controller.cli("findings", "list").stdout
        assert "BMNN-04" not in quiet  # a carried bundle is the lawful way: no alarm
        for isolation in ("BMNN-01", "BMNN-02", "BMNN-03"):  # no interface up, no route, no
            assert isolation not in quiet, quiet  # saved network, no radio: the room is sealed
        assert "critical" not in controller.cli("findings", "list", "--severity", "critical").stdout

        with controller:
            # The classified PC, plugged into the LAN, tries to enroll online.
            attempt = lab.run(
                pc,
                [
                    AGENT,
                    "enroll",
                    "--controller",
                    controller.url,
                    "--token-file",
                    str(token_file),
                    "--state-dir",
                    str(tmp_path / "agent"),
                    "--lang",
                    "en",
                ],
                timeout=60,
            )
            assert attempt.returncode != 0, attempt.stdout
            assert "classified" in (attempt.stderr + attempt.stdout).lower()

            deadline = time.monotonic() + DELIVERY_WAIT_S
            while time.monotonic() < deadline and not (mailbox.received and webhook.received):
                time.sleep(0.2)
            time.sleep(2)  # anything more would arrive now
            found = controller.cli("findings", "list", "--severity", "critical").stdout

        assert len(mailbox.received) == 1, controller.log_tail()
        mail = mailbox.received[0]
        assert mail.tls and mail.rcpt_tos == ["cntt@anbinh.gov.vn"]
        assert "Máy tính mật bị phát hiện trên mạng" in str(mail.message["Subject"])
        assert len(webhook.received) == 1
        hook = webhook.received[0]
        stamp = hook.headers["X-Govguard-Timestamp"]
        expected = hmac.new(
            WEBHOOK_SECRET.encode(), stamp.encode() + b"." + hook.body, hashlib.sha256
        ).hexdigest()
        assert hook.headers["X-Govguard-Signature"] == f"sha256={expected}"
        (notice,) = json.loads(hook.body)["notices"]
        assert notice["severity"] == "critical"
        assert notice["data"]["subject"] == f"asset:{ASSET}"
        assert notice["data"]["rule"] == "BMNN-04"
        lines = [line for line in found.splitlines() if "BMNN-04" in line]
        assert len(lines) == 1 and f"asset:{ASSET}" in lines[0] and "critical" in lines[0]
        # Refused: no online agent was added; the only one is the offline enrollment.
        agents = controller.cli("agents", "list").stdout.splitlines()[1:]
        assert len(agents) == 1, agents
    finally:
        smtp.stop()
