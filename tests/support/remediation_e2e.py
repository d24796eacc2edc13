"""Shared pieces of the remediation end-to-end scenarios (issue 8): a controller data directory
set up for Ansible, a real ``govguard worker`` process, and read-backs of jobs, runs, findings and
the audit log straight from the database.

Everything that acts goes through the product's command line (``govguard remediate``,
``govguard jobs ...``, ``govguard import``, ``govguard worker``); the database is only *read*
here, to wait for a state without parsing tables and to assert on rows the CLI does not print
(runs, audit entries)::

    ctl = remediation_controller(tmp_path / "ctl", db_url, listen=(HOST_SIDE, port))
    install_ssh_identity(ctl.data_dir, key, [known_hosts_line])
    with Worker(ctl.data_dir) as worker:
        job_id, _out = request_job(ctl, "remediate", str(finding_id))
        wait_job(ctl, job_id, {"awaiting_approval"}, worker=worker)
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tests.support.controller_proc import REPO, Controller, init_controller, set_listen
from tests.support.testhost import TestHost

__all__ = [
    "AGENT",
    "JOB_WAIT_S",
    "Computer",
    "JobView",
    "Worker",
    "audit_actions",
    "changes",
    "commune_district",
    "configure",
    "eventually",
    "findings",
    "install_ssh_identity",
    "job_view",
    "jobs_count",
    "newest_job_id",
    "remediation_controller",
    "report_now_asked",
    "request_job",
    "runs_count",
    "wait_job",
    "wait_run_running",
]

AGENT = str(REPO / ".venv" / "bin" / "govguard-agent")
#: Safety net for one job stage (an ansible run over SSH takes seconds here).
JOB_WAIT_S = 120.0
_JOB_ID = re.compile(r"\bjob\s+#?(\d+)", re.IGNORECASE)


#: A computer of :func:`commune_district`: asset id, machine id, address, extra asset fields.
Computer = tuple[str, str, str, dict[str, Any]]


def commune_district(unit: str, unit_name: str, computers: list[Computer]) -> dict[str, object]:
    """An organisation file: one commune of a test district and its desktops, each given as
    ``(asset id, machine id, address, extra asset fields)`` and reached by Ansible as root."""
    return {
        "schema_version": 1,
        "title": "Huyện Thử nghiệm",
        "units": [
            {"id": "huyen-thu", "name": "Huyện Thử nghiệm", "kind": "legacy_district"},
            {"id": unit, "name": unit_name, "kind": "commune", "parent": "huyen-thu"},
        ],
        "assets": [
            {
                "id": asset,
                "kind": "desktop",
                "unit": unit,
                "machine_id": machine_id,
                **extra,
                "connection": {"address": address, "user": "root", "transport": "ssh"},
            }
            for asset, machine_id, address, extra in computers
        ],
    }


def remediation_controller(
    data_dir: Path,
    database_url: str,
    *,
    listen: tuple[str, int] | None = None,
    remediation: dict[str, Any] | None = None,
) -> Controller:
    """``govguard init`` a data directory; ``listen`` moves the agents' listener to an address
    a namespace reaches (it is added to the certificate), ``remediation`` fills the
    ``remediation:`` block of ``config.yaml``."""
    names = ("127.0.0.1", "localhost", *((listen[0],) if listen else ()))
    controller = init_controller(data_dir, database_url=database_url, server_names=names)
    if listen is not None:
        host, port = listen
        set_listen(data_dir, port, host)
        controller = Controller(data_dir, port, host=host)
    if remediation:
        configure(data_dir, remediation=remediation)
    return controller


def configure(data_dir: Path, **blocks: dict[str, Any]) -> None:
    """Merge ``blocks`` (``remediation={...}``) into the data directory's ``config.yaml``."""
    path = data_dir / "config.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for name, values in blocks.items():
        document.setdefault(name, {}).update(values)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")


def install_ssh_identity(data_dir: Path, key: Path, known_hosts: Collection[str]) -> None:
    """The worker's SSH key and pinned host keys, where remediation looks by default
    (``<data_dir>/ssh/id_ed25519``, ``<data_dir>/ssh/known_hosts``), 0600 in a 0700 folder."""
    folder = data_dir / "ssh"
    folder.mkdir(mode=0o700, exist_ok=True)
    shutil.copyfile(key, folder / "id_ed25519")
    (folder / "id_ed25519").chmod(0o600)
    public = key.with_name(key.name + ".pub")
    if public.exists():
        shutil.copyfile(public, folder / "id_ed25519.pub")
    (folder / "known_hosts").write_text("".join(f"{line}\n" for line in known_hosts), "utf-8")
    (folder / "known_hosts").chmod(0o600)


#: What logging in over SSH writes by itself (Ansible's remote temporary folder, lastlog, wtmp).
LOGIN_TRACES = ("/root/.ansible", "/var/log/")


def changes(host: TestHost) -> dict[str, bytes | str]:
    """What was written in the test host's overlays, the traces of SSH logins aside."""
    return {
        path: content
        for path, content in host.written().items()
        if not path.startswith(LOGIN_TRACES) and path != "/var/log"
    }


# --------------------------------------------------------------------------- the worker


class Worker:
    """A real ``govguard worker`` on a data directory; SIGTERM on exit, its log kept beside."""

    def __init__(self, data_dir: Path, *, cwd: Path | None = None) -> None:
        """``cwd`` is where the process runs (a canary written relative would land there)."""
        self.data_dir = data_dir
        self.cwd = cwd or REPO
        self.log_path = data_dir.parent / f"{data_dir.name}-worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        """Start the process; it needs no readiness signal (runs wait ``queued`` until claimed)."""
        env = dict(os.environ)
        env.pop("GOVGUARD_DATA_DIR", None)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = str(REPO)  # the worker may run outside the repository (cwd)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "controller.cli",
                    "-v",
                    "worker",
                    "--data-dir",
                    str(self.data_dir),
                ],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def pid(self) -> int:
        """The worker's process id."""
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM (the worker finishes or cancels its runs), SIGKILL after ``grace_s``."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the worker's log (for failure messages)."""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- reading back


@contextlib.contextmanager
def _session(controller: Controller) -> Iterator[Any]:
    from controller.store.db import make_engine, session_factory

    engine = make_engine(controller.database_url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


@dataclass(frozen=True)
class JobView:
    """One job as the database holds it: its status, runs, targets and events."""

    id: int
    status: str
    playbook: str
    error: str | None
    finding_id: int | None
    runs: list[dict[str, Any]]
    targets: list[dict[str, Any]]
    diffs: list[str]
    event_text: str

    def __str__(self) -> str:
        """Everything, for a failing assertion: status, error, runs, targets and the log."""
        return (
            f"job {self.id} {self.status} ({self.playbook}): {self.error}\n"
            f"runs: {self.runs}\ntargets: {self.targets}\nlog:\n{self.event_text[-6000:]}"
        )

    def runs_of(self, mode: str) -> list[dict[str, Any]]:
        """The runs of one mode (``check`` or ``apply``), oldest first."""
        return [run for run in self.runs if run["mode"] == mode]


def job_view(controller: Controller, job_id: int) -> JobView:
    """Read one job back with its runs, targets and the diffs and text of its events."""
    from sqlalchemy import select

    from controller.store.models import (
        RemediationEvent,
        RemediationJob,
        RemediationRun,
        RemediationTarget,
    )

    with _session(controller) as s:
        job = s.get(RemediationJob, job_id)
        assert job is not None, f"no job {job_id}"
        runs = list(
            s.scalars(
                select(RemediationRun)
                .where(RemediationRun.job_id == job_id)
                .order_by(RemediationRun.id)
            )
        )
        targets = list(
            s.scalars(select(RemediationTarget).where(RemediationTarget.job_id == job_id))
        )
        events = list(
            s.scalars(
                select(RemediationEvent)
                .where(RemediationEvent.run_id.in_([run.id for run in runs]))
                .order_by(RemediationEvent.run_id, RemediationEvent.seq)
            )
        )
        return JobView(
            id=job.id,
            status=job.status,
            playbook=job.playbook,
            error=job.error,
            finding_id=job.finding_id,
            runs=[
                {
                    "id": r.id,
                    "mode": r.mode,
                    "state": r.state,
                    "hosts": list(r.hosts),
                    "stats": dict(r.stats or {}),
                    "error": r.error,
                    "status_text": r.status_text,
                }
                for r in runs
            ],
            targets=[
                {
                    "host": t.host,
                    "state": t.state,
                    "verification": t.verification,
                    "agent_id": t.agent_id,
                    "asset_id": t.asset_id,
                    "classified": t.classified,
                }
                for t in targets
            ],
            diffs=[e.diff for e in events if e.diff],
            event_text="\n".join(e.stdout or "" for e in events),
        )


def jobs_count(controller: Controller) -> int:
    """How many remediation jobs exist."""
    from sqlalchemy import func, select

    from controller.store.models import RemediationJob

    with _session(controller) as s:
        return int(s.scalar(select(func.count()).select_from(RemediationJob)) or 0)


def runs_count(controller: Controller) -> int:
    """How many remediation runs exist (a refused request must leave none)."""
    from sqlalchemy import func, select

    from controller.store.models import RemediationRun

    with _session(controller) as s:
        return int(s.scalar(select(func.count()).select_from(RemediationRun)) or 0)


def newest_job_id(controller: Controller) -> int | None:
    """The id of the newest job, or None."""
    from sqlalchemy import func, select

    from controller.store.models import RemediationJob

    with _session(controller) as s:
        value = s.scalar(select(func.max(RemediationJob.id)))
        return int(value) if value is not None else None


def request_job(controller: Controller, *args: str) -> tuple[int, str]:
    """Run ``govguard ARGS`` (``remediate ...``), which must create one job: (its id, stdout).

    The id is the one the command printed when it prints one, else the newest job's.
    """
    before = newest_job_id(controller)
    done = controller.cli(*args)
    after = newest_job_id(controller)
    assert after is not None and after != before, (done.stdout, done.stderr)
    printed = _JOB_ID.search(done.stdout + done.stderr)
    if printed is not None:
        assert int(printed.group(1)) == after, (done.stdout, after)
    return after, done.stdout


def wait_job(
    controller: Controller,
    job_id: int,
    statuses: Collection[str],
    *,
    worker: Worker | None = None,
    timeout_s: float = JOB_WAIT_S,
) -> JobView:
    """Poll until the job's status is one of ``statuses``; fail with the job and logs if not."""
    deadline = time.monotonic() + timeout_s
    while True:
        view = job_view(controller, job_id)
        if view.status in statuses:
            return view
        if worker is not None and not worker.alive():
            raise AssertionError(f"the worker died: {worker.log_tail()}")
        if time.monotonic() > deadline:
            logs = worker.log_tail() if worker is not None else ""
            raise AssertionError(f"job {job_id} stayed {view.status}: {view}\n{logs}")
        time.sleep(0.3)


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Poll ``check`` until it holds (a safety net, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


def wait_run_running(
    controller: Controller, job_id: int, mode: str, *, timeout_s: float = JOB_WAIT_S
) -> None:
    """Poll until the job's run of ``mode`` is ``running``; fail if it ended first."""
    deadline = time.monotonic() + timeout_s
    while True:
        view = job_view(controller, job_id)
        states = [run["state"] for run in view.runs_of(mode)]
        if "running" in states:
            return
        if any(state not in ("queued", "running") for state in states):
            raise AssertionError(f"the {mode} run ended before it was seen running: {view}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {mode} run started: {view}")
        time.sleep(0.1)


def report_now_asked(controller: Controller, agent_id: str) -> bool:
    """Whether the controller waits to tell this agent to report now (``report_now_at``)."""
    from controller.store.models import Agent

    with _session(controller) as s:
        agent = s.get(Agent, agent_id)
        assert agent is not None, f"no agent {agent_id}"
        return agent.report_now_at is not None


def findings(controller: Controller, rule_id: str) -> list[dict[str, Any]]:
    """Every finding of one rule (any status), oldest first."""
    from sqlalchemy import select

    from controller.store.models import Finding

    with _session(controller) as s:
        rows = s.scalars(select(Finding).where(Finding.rule_id == rule_id).order_by(Finding.id))
        return [
            {"id": f.id, "status": f.status, "subject": f.subject, "agent_id": f.agent_id}
            for f in rows
        ]


def audit_actions(controller: Controller, prefix: str = "remediation.") -> list[tuple[str, str]]:
    """``(action, target)`` of the audit entries whose action starts with ``prefix``, in order."""
    from sqlalchemy import select

    from controller.store.models import AuditEntry

    with _session(controller) as s:
        rows = s.execute(
            select(AuditEntry.action, AuditEntry.target)
            .where(AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.id)
        )
        return [(str(a), str(t)) for a, t in rows]
