"""The remediation worker on SQLite and PostgreSQL, with real ansible-runner runs.

Jobs, targets and runs are rows made here (the workflow that normally makes them is tested on
its own); the hosts are computers of the organisation file reached with ``transport: local``
(the playbooks of tests/fixtures/playbooks touch only the test's files).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from controller.remediation import workflow
from controller.remediation.worker import RemediationWorker
from controller.settings import RemediationConfig, Settings, load_settings
from controller.store import db
from controller.store import remediation_runs as runs
from controller.store.models import (
    Asset,
    AuditEntry,
    RemediationJob,
    RemediationRun,
    RemediationTarget,
)
from controller.store.units import ensure_unit
from tests.support.ansible_runs import FIXTURES, processes_of

pytestmark = pytest.mark.integration

UNIT = "xa-thanh-mai"
#: Hang guard of every wait below (a real run of these playbooks takes a few seconds).
GUARD_S = 120.0


def _wait(what: str, check: Any, guard_s: float = GUARD_S) -> Any:
    deadline = time.monotonic() + guard_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"still waiting for {what}")


#: The hosts are reached with `transport: local` and Ansible finds their Python itself; this
#: machine's pyenv shims on PATH would offer interpreters that are not installed.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(autouse=True)
def _system_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", SYSTEM_PATH)


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    config = RemediationConfig(playbooks_dir=FIXTURES, become=False, max_concurrent=2)
    return msgspec.structs.replace(load_settings(data_dir), remediation=config)


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_factory(engine)() as s, s.begin():
            ensure_unit(s, UNIT, "Xã Thanh Mai", kind="commune")
            for host in ("pc-01", "pc-02"):
                s.add(
                    Asset(id=host, kind="desktop", unit_id=UNIT, connection={"transport": "local"})
                )
        yield db.session_factory(engine)
    finally:
        engine.dispose()


def _job(
    sessions: sessionmaker[Session],
    playbook: str,
    extra_vars: dict[str, Any],
    *,
    hosts: tuple[str, ...] = ("pc-01",),
    runs_of_job: int = 1,
) -> tuple[int, list[int]]:
    now = datetime.now(UTC)
    with sessions() as s, s.begin():
        job = RemediationJob(
            playbook=playbook, status="queued", approval="none", origin="cli",
            requested_by="cli:test", requested_at=now, decided_by="cli:test", decided_at=now,
            extra_vars=extra_vars,
        )  # fmt: skip
        s.add(job)
        s.flush()
        made = [
            RemediationRun(
                job_id=job.id,
                mode="apply",
                state="queued",
                hosts=list(hosts),
                created_at=now,
                timeout_s=600,
            )
            for _ in range(runs_of_job)
        ]
        s.add_all(made)
        s.flush()
        for host in hosts:
            s.add(RemediationTarget(job_id=job.id, host=host, asset_id=host, unit_id=UNIT,
                                    state="pending", run_id=made[0].id, queued_at=now))  # fmt: skip
        return job.id, [r.id for r in made]


def _run(sessions: sessionmaker[Session], run_id: int) -> RemediationRun:
    with sessions() as s:
        run = s.get(RemediationRun, run_id)
        assert run is not None
        s.expunge(run)
        return run


def test_two_claimers_never_take_the_same_run_nor_more_than_the_limit(
    sessions: sessionmaker[Session],
) -> None:
    _, ids = _job(sessions, "write_file.yml", {}, runs_of_job=6)
    start = threading.Barrier(2)
    taken: dict[str, list[int]] = {}

    def claimer(holder: str) -> None:
        start.wait()
        got: list[int] = []
        for _ in range(5):
            with sessions() as s, s.begin():
                db.write_session(s)
                got += [r.id for r in runs.claim(s, holder, datetime.now(UTC), max_concurrent=4)]
        taken[holder] = got

    threads = [threading.Thread(target=claimer, args=(f"h:{n}:x",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everyone = taken["h:1:x"] + taken["h:2:x"]
    assert len(everyone) == len(set(everyone)) == 4  # never twice, never more than 4 at once
    assert set(everyone) == set(ids[:4])  # oldest first
    with sessions() as s:
        assert runs.running_count(s) == 4
        assert {r.holder for r in s.scalars(select(RemediationRun).where(
            RemediationRun.state == "running"))} <= {"h:1:x", "h:2:x"}  # fmt: skip
        # The apply run's host and its job are running.
        assert s.scalar(select(RemediationJob.status)) == "running"
        assert s.scalar(select(RemediationTarget.state)) == "running"


def test_the_worker_runs_a_job_stores_its_events_and_moves_the_job_on(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / "target.txt"
    target.write_text("old\n", encoding="utf-8")
    job_id, (run_id,) = _job(
        sessions, "write_file.yml", {"target_file": str(target), "content": "new\n"}
    )
    worker = RemediationWorker(sessions, settings)
    assert worker.drain(job_id) == [run_id]

    assert target.read_text(encoding="utf-8") == "new\n"
    run = _run(sessions, run_id)
    assert (run.state, run.status_text, run.rc, run.error) == ("succeeded", "successful", 0, None)
    assert run.stats == {
        "pc-01": {"ok": 2, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 0}
    }
    assert run.holder == worker.holder and run.finished_at is not None
    with sessions() as s:
        events = runs.events_of(s, run_id)
        assert [e.seq for e in events] == sorted({e.seq for e in events})
        assert events[0].event == "playbook_on_start" and events[-1].event == "playbook_on_stats"
        assert any(e.diff and "+new" in e.diff for e in events)
        target_row = s.scalars(select(RemediationTarget)).one()
        assert target_row.state == "changed"  # set by the workflow from the stats
        job = s.get(RemediationJob, job_id)
        assert job is not None and job.status == "fixed"  # no rule to verify: the run decides
        query = select(AuditEntry.action).where(AuditEntry.action.like("remediation.%"))
        actions = list(s.scalars(query.order_by(AuditEntry.id)))
        assert actions == [
            "remediation.run.started",
            "remediation.run.finished",
            "remediation.verified",
        ]
    assert not (settings.data_dir / "remediation" / "runs" / str(run_id)).exists()


@pytest.mark.parametrize("via", ["run", "job"])
def test_events_show_while_the_run_goes_and_a_cancel_stops_it(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path, via: str
) -> None:
    started = tmp_path / "started"
    job_id, (run_id,) = _job(sessions, "sleep.yml", {"started_file": str(started), "sleep_s": 600})
    worker = RemediationWorker(sessions, settings)
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(worker.drain(job_id)))
    thread.start()
    try:
        # Another session reads the events while the playbook sleeps.
        def sleeping_task() -> bool:
            with sessions() as s:
                tasks = {e.task for e in runs.events_of(s, run_id)}
                return (
                    "Sleep for a long time" in tasks and _run(sessions, run_id).state == "running"
                )

        _wait("the sleep task's events", sleeping_task)
        with sessions() as s, s.begin():
            if via == "run":
                assert runs.request_cancel(s, run_id, datetime.now(UTC))
            else:  # the operator cancels the job (the workflow asks its running run to stop)
                workflow.cancel(s, job_id, actor="cli:test", now=datetime.now(UTC))
    finally:
        thread.join(GUARD_S)
    assert outcome == [[run_id]]
    run = _run(sessions, run_id)
    assert (run.state, run.status_text) == ("cancelled", "canceled")
    assert processes_of(settings.data_dir / "remediation" / "runs" / str(run_id)) == []
    with sessions() as s:
        job = s.get(RemediationJob, job_id)
        assert job is not None and job.status == "cancelled"
        assert s.scalar(select(RemediationTarget.state)) == "cancelled"


def test_a_run_that_cannot_start_ends_failed_with_the_reason(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    job_id, (run_id,) = _job(sessions, "missing.yml", {})
    RemediationWorker(sessions, settings).drain(job_id)
    run = _run(sessions, run_id)
    assert (run.state, run.status_text) == ("failed", "error")
    assert run.error == f"no playbook missing.yml in {FIXTURES}"
    with sessions() as s:
        job = s.get(RemediationJob, job_id)
        assert job is not None and job.status == "failed"


def test_runs_of_a_dead_worker_are_interrupted_and_never_run_again(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    now = datetime.now(UTC)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that existed on this machine and exists no more
    holders = {
        "dead here": f"{socket.gethostname()}:{dead.pid}:abcd",
        "silent elsewhere": "elsewhere:1:abcd",
        "alive elsewhere": "elsewhere:2:abcd",
    }
    beats = {"dead here": now, "silent elsewhere": now - timedelta(minutes=10),
             "alive elsewhere": now}  # fmt: skip
    made = {}
    for case, holder in holders.items():
        job_id, (run_id,) = _job(sessions, "write_file.yml", {})
        with sessions() as s, s.begin():
            run = s.get(RemediationRun, run_id)
            assert run is not None
            run.state, run.holder, run.started_at, run.heartbeat_at = (
                "running", holder, now - timedelta(minutes=20), beats[case]
            )  # fmt: skip
            s.get(RemediationJob, job_id).status = "running"  # type: ignore[union-attr]
        made[case] = (job_id, run_id)
    worker = RemediationWorker(sessions, settings)
    assert sorted(worker.interrupt_stale()) == sorted(
        [made["dead here"][1], made["silent elsewhere"][1]]
    )
    for case, (job_id, run_id) in made.items():
        run = _run(sessions, run_id)
        with sessions() as s:
            job = s.get(RemediationJob, job_id)
            assert job is not None
            if case == "alive elsewhere":
                assert (run.state, job.status) == ("running", "running")
            else:
                assert (run.state, job.status) == ("interrupted", "interrupted")
                assert "not started again" in (run.error or "")
    with sessions() as s:
        assert s.scalar(select(func.count()).where(
            AuditEntry.action == "remediation.interrupted")) == 2  # fmt: skip
        assert s.scalar(select(func.count()).select_from(RemediationRun)) == 3  # none added


def _worker_process(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PATH": SYSTEM_PATH, "PYTHONUNBUFFERED": "1"}
    env.pop("GOVGUARD_DATA_DIR", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "worker", "--data-dir", str(data_dir)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_killed_worker_leaves_no_playbook_and_its_run_ends_interrupted_at_restart(
    sessions: sessionmaker[Session], data_dir: Path, tmp_path: Path
) -> None:
    config = data_dir / "config.yaml"
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["remediation"] = {"playbooks_dir": str(FIXTURES), "become": False}
    config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    started = tmp_path / "started"
    job_id, (run_id,) = _job(sessions, "sleep.yml", {"started_file": str(started), "sleep_s": 600})
    private = data_dir / "remediation" / "runs" / str(run_id)
    log = tmp_path / "worker.log"

    first = _worker_process(data_dir, log)
    try:
        _wait(
            "the playbook's sleep",
            lambda: any(p.startswith("sleep ") for p in processes_of(private)),
        )
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        _end(first)
    # The playbook, its worker and the module's sleep die with the worker, not 600 s later.
    _wait("the playbook's processes to end", lambda: processes_of(private) == [])
    assert _run(sessions, run_id).state == "running"  # what the dead worker left in the database

    second = _worker_process(data_dir, log)
    try:
        _wait("the run to be interrupted", lambda: _run(sessions, run_id).state == "interrupted")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=GUARD_S) == 0
    finally:
        _end(second)
    run = _run(sessions, run_id)
    assert f":{first.pid}:" in (run.holder or "") and "died" in (run.error or "")
    assert processes_of(private) == []
    with sessions() as s:
        job = s.get(RemediationJob, job_id)
        assert job is not None and job.status == "interrupted"
        # Never relaunched: the one run, interrupted; no run of the job started again.
        assert [r.state for r in s.scalars(select(RemediationRun))] == ["interrupted"]
    text = log.read_text(encoding="utf-8")
    assert text.count("govguard worker: remediation runs up to 2 at once") == 2, text
    assert "Traceback" not in text, text


def test_the_worker_runs_at_most_max_concurrent_and_a_stop_interrupts_its_runs(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    made = [
        _job(sessions, "sleep.yml", {"started_file": str(tmp_path / f"s{n}"), "sleep_s": 600})
        for n in range(3)
    ]
    worker = RemediationWorker(sessions, settings)  # max_concurrent: 2
    try:
        started = worker.run_once()
        assert started == [made[0][1][0], made[1][1][0]]
        assert worker.run_once() == []  # no slot free
        _wait("both playbooks sleeping", lambda: all((tmp_path / f"s{n}").exists() for n in (0, 1)))
    finally:
        worker.stop(timeout_s=GUARD_S)
    assert worker.active_threads() == []
    states = [_run(sessions, run_ids[0]).state for _, run_ids in made]
    assert states == ["interrupted", "interrupted", "queued"]
    for job_id, (run_id, *_) in made[:2]:
        assert "worker stopped" in (_run(sessions, run_id).error or "")
        assert processes_of(settings.data_dir / "remediation" / "runs" / str(run_id)) == []
        with sessions() as s:
            job = s.get(RemediationJob, job_id)
            assert job is not None and job.status == "interrupted"
