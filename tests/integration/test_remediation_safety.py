"""Hostile agent strings never reach a command line, a template or an inventory (issue 8).

Three computers enroll for real (Ed25519 keys, one-time token) and send signed reports through
the real agent daemon, in which everything an agent chooses is an attack: host names, the OS
name, user and administrator names, remote-control tool names, each a shell or Jinja payload
(``$(touch ...)``, backticks, ``{{ lookup('pipe', 'touch ...') }}``, ``{% raw %}``,
``;touch ...;``, new lines and quotes). Their firewall is off, so ATTT-07 fails on each. The
organisation file gives each of them a test host (:class:`tests.support.testhost.TestHost`) to
be reached at; ``govguard remediate ATTT-07`` then previews and, once approved, applies the
playbook through a real ``govguard worker`` over SSH.

Afterwards no canary file exists anywhere a payload could have created one (the worker's and
the command line's working directories, ``/tmp``, the data directory, the test hosts'
overlays), the payloads appear in no file of the runs' private data directories (kept with
``remediation.keep_run_dirs``) and in no process's command line seen while the runs went.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from agent.enrollment import enroll
from agent.report import SCHEMA_VERSION, Identity, Report
from agent.report.os_info import LoggedInUser, OperatingSystem, OsVersion
from agent.report.security import Accounts, Firewall, LocalAccount, RemoteTool, Security
from tests.support.controller_proc import REPO, Controller, CountingSender, drain
from tests.support.remediation_e2e import (
    Computer,
    Worker,
    commune_district,
    install_ssh_identity,
    job_view,
    remediation_controller,
    request_job,
    wait_job,
)
from tests.support.testhost import TestHost, why_not_available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(why_not_available() is not None, reason=str(why_not_available())),
]

UNIT = "xa-hoa-binh"
#: Every payload carries this marker: found in a file or a command line, a payload got there.
MARK = f"ggcanary{os.getpid()}"
#: Relative (lands in a process's working directory) and absolute (``/tmp``) canaries.
RELATIVE = f"{MARK}-rel"
ABSOLUTE = f"/tmp/{MARK}-abs"


def payloads() -> list[str]:
    """Shell and Jinja payloads that would each create a canary if run or rendered."""
    made = []
    for canary in (RELATIVE, ABSOLUTE):
        made += [
            f"$(touch {canary})",
            f"`touch {canary}`",
            f"{{{{ lookup('pipe', 'touch {canary}') }}}}",
            f"{{% raw %}}{{{{ lookup('pipe','touch {canary}') }}}}",
            f";touch {canary};",
            f"pc'\"; touch {canary}; echo \"'\nsecond line {{{{ 7 * 7 }}}}",
            f"{{{{ query('pipe', 'touch {canary}') }}}}{{% endraw %}}",
        ]
    return made


@dataclass
class Hostile:
    """One enrolled computer whose every reported string is a payload."""

    index: int
    asset: str
    machine_id: str
    host: TestHost
    state_dir: Path
    agent_id: str = ""


def _report(hostile: Hostile) -> Report:
    """A signed-to-be report: the firewall is off, and every free text is a payload."""
    strings = payloads()
    name = strings[hostile.index % len(strings)]
    return Report(
        schema_version=SCHEMA_VERSION,
        kind="full",
        agent_version="0.1.0",
        collected_at=datetime.now(UTC).replace(microsecond=0),
        identity=Identity(hostname=name, fqdn=strings[-1], machine_id=hostile.machine_id),
        os=OperatingSystem(
            version=OsVersion(family="linux", name=strings[1], id=strings[2], version="12"),
            kernel=strings[3],
            users=[LoggedInUser(name=s, host=s) for s in strings],
        ),
        security=Security(
            firewall=Firewall(enabled=False, product=strings[4]),
            accounts=Accounts(
                users=[LocalAccount(name=s, admin=True) for s in strings], admins=strings
            ),
            # A tool ATTT-12 denies (so it fails and its playbook runs), with hostile details.
            remote_tools=[
                RemoteTool(name="AnyDesk", evidence=["installed"], detail=strings[0]),
                *(RemoteTool(name=s, evidence=["installed"], detail=s) for s in strings),
            ],
        ),
    )


def _enroll_and_report(ctl: Controller, hostile: Hostile, token: str) -> None:
    """Real enrollment, then the real daemon signs and delivers the hostile report."""
    from agent.daemon import Daemon
    from agent.outbox import Outbox
    from agent.state import load_key, state_paths
    from agent.transport import Transport

    report = _report(hostile)
    assert report.identity is not None
    state = enroll(ctl.url, token, hostile.state_dir, identity=report.identity, timeout_s=30.0)
    assert state.status == "active"
    hostile.agent_id = state.agent_id
    sender = CountingSender(Transport(ctl.url, state_paths(hostile.state_dir).ca))
    daemon = Daemon(
        hostile.state_dir,
        state=state,
        key=load_key(hostile.state_dir),
        outbox=Outbox(state_paths(hostile.state_dir).outbox),
        sender=sender,
        collect=lambda _config: report,
    )
    try:
        daemon.cycle()
        drain(daemon, time.monotonic() + 60)
    finally:
        daemon.close()
    assert sender.tally.stored == 1, sender.tally


def organisation(hostiles: list[Hostile]) -> dict[str, object]:
    """The commune and its computers, each reachable at its own test host."""
    computers: list[Computer] = [(h.asset, h.machine_id, h.host.address, {}) for h in hostiles]
    return commune_district(UNIT, "UBND xã Hòa Bình", computers)


class CommandLines:
    """Reads every process's command line while it runs; keeps those holding the marker."""

    def __init__(self, marker: str) -> None:
        self.marker = marker.encode()
        self.seen: list[tuple[int, bytes]] = []
        self.controls_seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def control(self) -> None:
        """Run a process whose command line holds the marker: the watcher must see it."""
        subprocess.run(["/bin/sh", "-c", "sleep 1", f"{MARK}-control"], check=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with Path("/proc", entry.name, "cmdline").open("rb") as handle:
                        line = handle.read()
                except OSError:
                    continue  # exited meanwhile
                if self.marker + b"-control" in line:
                    self.controls_seen += 1
                elif self.marker in line:
                    self.seen.append((int(entry.name), line))
            self._stop.wait(0.05)

    def __enter__(self) -> CommandLines:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def hostiles(tmp_path: Path) -> Iterator[list[Hostile]]:
    with ExitStack() as stack:
        made = []
        for index in range(3):
            host = stack.enter_context(TestHost(tmp_path / f"host-{index}"))
            made.append(
                Hostile(
                    index=(0, 9, 12)[index],  # $(...), a Jinja lookup, quotes and a new line
                    asset=f"xa-hoa-binh-pc-{index + 1:02d}",
                    machine_id=f"{MARK[-6:]}{index:02d}".ljust(32, "e"),
                    host=host,
                    state_dir=tmp_path / f"agent-{index}",
                )
            )
        yield made


def _files_named(root: Path, fragment: str) -> list[Path]:
    """Paths under ``root`` whose name holds ``fragment`` (missing roots hold none)."""
    if not root.exists():
        return []
    return [path for path in root.rglob("*") if fragment in path.name]


def _files_holding(root: Path, needle: bytes) -> list[Path]:
    """Files under ``root`` whose bytes hold ``needle``."""
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_hostile_agent_strings_reach_no_command_line_template_or_inventory(
    hostiles: list[Hostile], db_url: str, tmp_path: Path
) -> None:
    ctl = remediation_controller(
        tmp_path / "ctl",
        db_url,
        remediation={"remote_user": "root", "become": False, "keep_run_dirs": True},
    )
    known = [line for h in hostiles for line in h.host.known_hosts.read_text().splitlines()]
    # One controller key for all: the test hosts each accept their own, so each gets the first
    # host's public key authorised as well.
    key = hostiles[0].host.key_file
    for h in hostiles[1:]:
        authorized = h.host.folder / "authorized_keys"
        public = key.with_name(key.name + ".pub").read_text()
        authorized.write_text(authorized.read_text() + public)
    install_ssh_identity(ctl.data_dir, key, known)
    org = tmp_path / "organisation.yaml"
    org.write_text(yaml.safe_dump(organisation(hostiles), allow_unicode=True))
    ctl.cli("inventory", "import", str(org), "--lang", "en")
    worker_cwd = tmp_path / "worker-cwd"
    worker_cwd.mkdir()

    with ctl:
        token = ctl.create_token(len(hostiles), unit=UNIT)
        for hostile in hostiles:
            _enroll_and_report(ctl, hostile, token)
        # The payloads are in play: the controller stored them as the computers' names.
        listed = ctl.cli("agents", "list").stdout
        assert sum(MARK in line for line in listed.splitlines()) == len(hostiles), listed
        # The district's inventory (what an operator hands to Ansible) names assets only.
        district = ctl.cli("inventory", "ansible", "--format", "json").stdout
        assert all(h.asset in district and h.host.address in district for h in hostiles)
        assert MARK not in district
        with CommandLines(MARK) as lines, Worker(ctl.data_dir, cwd=worker_cwd) as worker:
            lines.control()
            job_id, _ = request_job(ctl, "remediate", "ATTT-07")
            tools_id, _ = request_job(ctl, "remediate", "ATTT-12", "--check")
            preview = wait_job(ctl, job_id, {"awaiting_approval", "failed"}, worker=worker)
            assert preview.status == "awaiting_approval", str(preview)
            ctl.cli("jobs", "approve", str(job_id))
            tools = wait_job(ctl, tools_id, {"awaiting_approval", "failed"}, worker=worker)
            ran = wait_job(ctl, job_id, {"verifying", "fixed", "not_fixed", "failed"},
                           worker=worker)  # fmt: skip
        shown = ctl.cli("jobs", "show", str(job_id)).stdout + ctl.cli("jobs", "list").stdout

    # The job ran on the inventory names (asset ids), never on a reported host name.
    assert ran.status == "verifying", str(ran)
    assert sorted(t["host"] for t in ran.targets) == sorted(h.asset for h in hostiles)
    assert [(r["mode"], r["state"]) for r in ran.runs] == [
        ("check", "succeeded"),
        ("apply", "succeeded"),
    ]
    for run in ran.runs:
        assert sorted(run["hosts"]) == sorted(h.asset for h in hostiles)
    assert tools.status == "awaiting_approval", str(tools)
    assert tools.playbook == "remove_remote_tools.yml"
    assert [(r["mode"], r["state"]) for r in tools.runs] == [("check", "succeeded")]
    assert MARK not in ran.event_text + tools.event_text + shown

    # No canary anywhere a payload could have written one.
    # Folders searched through: where the worker, ansible and the SSH sessions write.
    deep = [worker_cwd, ctl.data_dir, tmp_path, Path.home() / ".ansible"]
    for h in hostiles:
        deep += [h.host.upper(d) for d in h.host.overlaid]
    for place in deep:
        assert _files_named(place, MARK) == [], place
    # Folders looked at only at their top: a relative canary lands right in a working dir.
    for place in (REPO, Path("/tmp"), Path.home(), Path("/")):
        assert [p for p in place.iterdir() if MARK in p.name] == [], place
    assert not Path(ABSOLUTE).exists()

    # The payloads reached no private data directory and no command line.
    runs_dir = ctl.data_dir / "remediation" / "runs"
    kept = list(runs_dir.iterdir())
    runs = sorted(run["id"] for run in ran.runs + tools.runs)
    assert sorted(int(p.name) for p in kept) == runs
    # The search reads what the runs were given: their inventories name every host...
    assert _files_holding(runs_dir, hostiles[0].asset.encode()), "the grep reads nothing"
    # ...and nothing an agent reported.
    assert _files_holding(runs_dir, MARK.encode()) == []
    assert lines.controls_seen  # the watcher does see a command line holding the marker
    assert lines.seen == []
    assert job_view(ctl, job_id).status in ("verifying", "fixed", "not_fixed")
