"""The classified isolation scenario, end to end, and the refusal of any other playbook.

The organisation file registers *this* machine (its real machine id) as a classified computer
reachable by Ansible at a test host's address. It is enrolled by carried files, as a classified
computer must be; its agent then exports a signed bundle from *inside* the test host
(:class:`tests.support.testhost.TestHost`: a network namespace with a LAN interface up, and a
private mount namespace over overlays), so the bundle shows a network connection and BMNN-01
fails when it is imported.

``govguard remediate BMNN-01 --hosts <asset> --approve`` runs the isolation playbook through a
real ``govguard worker`` over SSH into the namespace: afterwards every non-loopback interface
there is down and the test can no longer reach the host's sshd. The agent inside writes a new
bundle, it is imported: BMNN-01 passes, the job is ``fixed`` and the finding resolved.

Aimed at the same computer, any other playbook (``govguard remediate ATTT-07 --hosts ...``) is
refused before ansible starts: exit 1 with the reason, no run, ``remediation.refused`` audited.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agent.enrollment import collect_identity
from agent.offline import fingerprint
from tests.support.controller_proc import Controller
from tests.support.remediation_e2e import (
    AGENT,
    Worker,
    audit_actions,
    commune_district,
    eventually,
    findings,
    install_ssh_identity,
    jobs_count,
    remediation_controller,
    request_job,
    runs_count,
    wait_job,
)
from tests.support.testhost import TestHost, why_not_available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(why_not_available() is not None, reason=str(why_not_available())),
]

COMMUNE = "xa-yen-lac"
ASSET = "xa-yen-lac-mat-01"


def organisation(machine_id: str, address: str) -> dict[str, object]:
    """A commune with this machine as its classified computer, reachable at ``address``."""
    classified = {
        "classification": "classified",
        "security_plan_ref": "PA-BMNN-2026-07",
        "security_plan_approved_at": "2026-01-15",
        "security_plan_reviewed_at": "2026-06-01",
    }
    return commune_district(COMMUNE, "UBND xã Yên Lạc", [(ASSET, machine_id, address, classified)])


@pytest.fixture
def host(tmp_path: Path) -> Iterator[TestHost]:
    with TestHost(tmp_path / "host") as made:
        yield made


def _agent(*args: str, host: TestHost | None = None) -> None:
    """``govguard-agent ARGS`` here, or inside the test host's namespaces; must succeed."""
    argv = [AGENT, *args, "--lang", "en"]
    if host is not None:
        done = host.run(argv, timeout=120)
    else:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, (args, done.stdout, done.stderr)


def _enroll_offline(ctl: Controller, state: Path, usb: Path) -> None:
    """Enrollment by carried files: request, fingerprint compared, response."""
    request = usb / "request.json"
    _agent("enroll", "--offline", "--out", str(request), "--state-dir", str(state))
    public = base64.b64decode(json.loads(request.read_text("utf-8"))["public_key"])
    response = usb / "response.json"
    ctl.cli("agents", "accept-offline", str(request), "--unit", COMMUNE,
            "--fingerprint", fingerprint(public), "--out", str(response))  # fmt: skip
    _agent("enroll", "--offline", "--accept", str(response), "--state-dir", str(state))


def _import_bundle(ctl: Controller, host: TestHost, state: Path, usb: Path) -> None:
    """The agent inside the host exports a bundle to ``usb``; the officer imports it."""
    usb.mkdir()
    _agent("export", "--to", str(usb), "--state-dir", str(state), host=host)
    (bundle,) = usb.glob("*.ggb")
    ctl.cli("import", str(bundle), "--lang", "en")


def _interfaces(host: TestHost) -> dict[str, bool]:
    """The host's interfaces and whether each is administratively up."""
    links = host.run(["ip", "-j", "link", "show"])
    assert links.returncode == 0, links.stderr
    return {link["ifname"]: "UP" in link.get("flags", []) for link in json.loads(links.stdout)}


# SQLite, the district's database: the serve-less controller, the CLI and the worker share it.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_isolation_cuts_a_classified_host_off_and_the_next_bundle_proves_it(
    host: TestHost, db_url: str, tmp_path: Path
) -> None:
    identity = collect_identity()
    machine_id = identity.machine_id or identity.system_uuid
    assert machine_id, "this machine has no machine id to register"
    ctl = remediation_controller(
        tmp_path / "ctl",
        db_url,
        remediation={"remote_user": "root", "become": False, "keep_run_dirs": True},
    )
    install_ssh_identity(ctl.data_dir, host.key_file, host.known_hosts.read_text().splitlines())
    org = tmp_path / "organisation.yaml"
    org.write_text(yaml.safe_dump(organisation(machine_id, host.address), allow_unicode=True))
    ctl.cli("inventory", "import", str(org), "--lang", "en")
    state = tmp_path / "classified-agent"
    (tmp_path / "usb").mkdir()
    _enroll_offline(ctl, state, tmp_path / "usb")

    # The classified computer, plugged into a LAN, exports its bundle: BMNN-01 fails.
    assert [name for name, up in _interfaces(host).items() if up and name != "lo"]
    _import_bundle(ctl, host, state, tmp_path / "usb-1")
    (opened,) = findings(ctl, "BMNN-01")
    assert opened["status"] == "open"
    assert "BMNN-01" in ctl.cli("findings", "list", "--rule", "BMNN-01").stdout

    # Any playbook but the isolation one is refused for it, before anything runs.
    refused = ctl.cli("remediate", "ATTT-07", "--hosts", ASSET, check=False)
    assert refused.returncode == 1, refused
    (line,) = refused.stderr.strip().splitlines()  # one clear line, no traceback
    assert ASSET in line and "classified" in line and "isolate_classified_host.yml" in line
    assert (jobs_count(ctl), runs_count(ctl)) == (0, 0)
    assert [action for action, _ in audit_actions(ctl)] == ["remediation.refused"]

    with Worker(ctl.data_dir) as worker:
        job_id, _ = request_job(ctl, "remediate", "BMNN-01", "--hosts", ASSET, "--approve", "--yes")
        ran = wait_job(ctl, job_id, {"verifying", "fixed", "failed", "not_fixed"}, worker=worker)
        assert ran.status == "verifying", str(ran)
        assert ran.playbook == "isolate_classified_host.yml"
        # Approved in advance: the preview, then the run at once.
        assert [(r["mode"], r["state"]) for r in ran.runs] == [
            ("check", "succeeded"),
            ("apply", "succeeded"),
        ]
        assert [(t["host"], t["classified"]) for t in ran.targets] == [(ASSET, True)]

        # Cut off: every interface but loopback goes down (a few seconds after the play, once
        # Ansible's session has closed), and then its sshd cannot be reached.
        eventually(
            lambda: [name for name, up in _interfaces(host).items() if up] == ["lo"],
            "every link of the host but loopback down",
        )
        assert not host.reachable()

        # The next bundle, carried out of the room, shows it; the job is verified from it.
        _import_bundle(ctl, host, state, tmp_path / "usb-2")
        done = wait_job(ctl, job_id, {"fixed", "not_fixed", "failed"}, worker=worker)
        shown = ctl.cli("jobs", "show", str(job_id)).stdout

    assert done.status == "fixed", str(done)
    assert [t["verification"] for t in done.targets] == ["fixed"]
    assert "fixed" in shown
    assert [f["status"] for f in findings(ctl, "BMNN-01")] == ["resolved"]
    resolved = ctl.cli("findings", "list", "--rule", "BMNN-01", "--status", "resolved").stdout
    assert str(opened["id"]) in resolved.split()
