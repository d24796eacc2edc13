"""Leased periodic jobs: renewal while a run goes, fenced ends, the run history and its CLI.

Every test runs on SQLite and PostgreSQL (``engine`` / ``data_dir``).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from controller.cli import main
from controller.periodic import LeaseKeeper, run_leased
from controller.settings import load_settings
from controller.store import jobs
from controller.store.db import make_engine, session_factory
from controller.store.models import JobRun
from tests.unit.controller.store.factories import T0

LEASE = timedelta(minutes=5)
EVERY = timedelta(hours=1)
#: Hang guard for waits on a background thread (a healthy wait takes well under a second).
HANG_S = 30.0


def _claim(engine: Engine, holder: str, at: datetime, lease: timedelta = LEASE) -> bool:
    with session_factory(engine)() as s, s.begin():
        return jobs.claim(s, "j", holder, at, every=EVERY, lease=lease)


def _runs(engine: Engine) -> list[JobRun]:
    with session_factory(engine)() as s:
        return list(reversed(jobs.runs(s, "j")))


def test_each_end_is_kept_in_the_history(engine: Engine) -> None:
    sessions = session_factory(engine)
    assert _claim(engine, "p1", T0)
    with sessions() as s, s.begin():
        assert jobs.finish(s, "j", "p1", T0 + timedelta(seconds=3), {"hosts": 2}, started=T0)
    assert _claim(engine, "p2", T0 + EVERY + timedelta(seconds=3))
    with sessions() as s, s.begin():
        jobs.fail(
            s,
            "j",
            "p2",
            started=T0 + EVERY + timedelta(seconds=3),
            ended=T0 + EVERY + timedelta(seconds=4),
            error="OperationalError: boom",
        )
        job = jobs.get(s, "j")
    # A failed run frees the lease and leaves the job due: the next look tries again.
    assert job is not None and job.lease_until is None
    assert job.finished_at == T0 + timedelta(seconds=3)
    assert _claim(engine, "p1", T0 + EVERY + timedelta(seconds=5))
    got = [(r.holder, r.started_at, r.finished_at, r.outcome, r.result) for r in _runs(engine)]
    assert got == [
        ("p1", T0, T0 + timedelta(seconds=3), "ok", json.dumps({"hosts": 2})),
        (
            "p2",
            T0 + EVERY + timedelta(seconds=3),
            T0 + EVERY + timedelta(seconds=4),
            "failed",
            "OperationalError: boom",
        ),
    ]


def test_an_end_after_a_takeover_is_fenced_and_recorded_lost(engine: Engine) -> None:
    sessions = session_factory(engine)
    assert _claim(engine, "p1", T0, lease=timedelta(minutes=1))
    # p1 stalls past its lease without renewing; p2 takes the job over.
    assert _claim(engine, "p2", T0 + timedelta(minutes=2))
    with sessions() as s, s.begin():
        assert not jobs.renew(s, "j", "p1", T0 + timedelta(minutes=3))
        assert not jobs.finish(s, "j", "p1", T0 + timedelta(minutes=3), {}, started=T0)
        job = jobs.get(s, "j")
    assert job is not None and job.holder == "p2" and job.finished_at is None
    assert job.lease_until == T0 + timedelta(minutes=2) + LEASE
    with sessions() as s, s.begin():
        assert jobs.finish(
            s, "j", "p2", T0 + timedelta(minutes=4), {}, started=T0 + timedelta(minutes=2)
        )
    assert [(r.holder, r.outcome) for r in _runs(engine)] == [("p1", "lost"), ("p2", "ok")]


def test_a_renewed_lease_outlives_its_length(engine: Engine) -> None:
    sessions = session_factory(engine)
    assert _claim(engine, "p1", T0, lease=timedelta(seconds=30))
    with sessions() as s, s.begin():
        assert jobs.renew(s, "j", "p1", T0 + timedelta(minutes=10))
        assert not jobs.renew(s, "j", "p2", T0 + timedelta(minutes=20))
    # Past the first lease, but within the renewed one: nobody else gets the job.
    assert not _claim(engine, "p2", T0 + timedelta(minutes=5))
    assert _claim(engine, "p2", T0 + timedelta(minutes=10))


def test_the_keeper_renews_while_a_long_run_goes(engine: Engine) -> None:
    """A run longer than its lease keeps the job: the keeper's renewals push the lease on."""
    sessions = session_factory(engine)
    lease = timedelta(seconds=0.3)
    assert _claim(engine, "p1", T0, lease=lease)
    # The keeper's clock says the run has gone on for ten minutes, 2000 leases.
    later = T0 + timedelta(minutes=10)
    with LeaseKeeper(sessions, "j", "p1", lease, clock=lambda: later) as keeper:
        deadline = time.monotonic() + HANG_S
        while keeper.renewals < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keeper.renewals >= 2
        assert not _claim(engine, "p2", T0 + timedelta(minutes=9))
    assert not keeper.lost
    with sessions() as s:
        job = jobs.get(s, "j")
    assert job is not None and job.holder == "p1" and job.lease_until == later + lease


def test_run_leased_records_a_lost_run_and_leaves_the_job_to_its_new_holder(
    engine: Engine,
) -> None:
    sessions = session_factory(engine)
    lease = timedelta(seconds=0.3)
    assert _claim(engine, "p1", T0, lease=lease)
    took_over = threading.Event()

    def work() -> dict[str, int]:
        # The keeper's clock stands still at T0: its renewals end at T0 + lease, and p2 claims
        # later than that, as after a process froze for longer than its lease.
        assert _claim(engine, "p2", T0 + timedelta(seconds=1))
        took_over.set()
        return {"done": 1}

    assert run_leased(
        sessions, "j", "p1", T0, work, result=lambda r: r, lease=lease, clock=lambda: T0
    ) == {"done": 1}
    assert took_over.is_set()
    with sessions() as s:
        job = jobs.get(s, "j")
    assert job is not None and job.holder == "p2" and job.lease_until is not None
    assert [(r.holder, r.outcome) for r in _runs(engine)] == [("p1", "lost")]


def test_run_leased_frees_the_lease_and_records_a_failure(engine: Engine) -> None:
    sessions = session_factory(engine)
    assert _claim(engine, "p1", T0)

    def work() -> dict[str, int]:
        raise ValueError("the organisation file is broken\nsecond line")

    with pytest.raises(ValueError, match="broken"):
        run_leased(sessions, "j", "p1", T0, work, result=lambda r: r, clock=lambda: T0)
    [run] = _runs(engine)
    assert (run.outcome, run.result) == ("failed", "ValueError: the organisation file is broken")
    assert _claim(engine, "p2", T0 + timedelta(seconds=1))


def test_the_history_is_bounded_per_job(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as s, s.begin():
        for i in range(8):
            at = T0 + timedelta(days=i)
            jobs.record_run(s, "j", "p1", at, at, "ok", None)
            jobs.record_run(s, "other", "p1", at, at, "ok", None)
        # Keep the newest five of "j" and nothing older than day 4: days 4..7 remain.
        assert jobs.prune_runs(s, "j", before=T0 + timedelta(days=4), keep=5) == 4
    with sessions() as s:
        kept = [r.started_at for r in reversed(jobs.runs(s, "j"))]
        others = s.scalar(select(func.count()).where(JobRun.name == "other"))
    assert kept == [T0 + timedelta(days=i) for i in range(4, 8)]
    assert others == 8
    with sessions() as s, s.begin():
        assert jobs.prune_runs(s, "j", before=T0, keep=2) == 2
    with pytest.raises(ValueError, match="outcome"), sessions() as s, s.begin():
        jobs.record_run(s, "j", "p1", T0, T0, "maybe", None)


def test_periodic_list_and_runs(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_engine(load_settings(data_dir).database_url)
    try:
        sessions = session_factory(engine)
        now = datetime.now(T0.tzinfo)
        with sessions() as s, s.begin():
            assert jobs.claim(
                s, "findings.reevaluate", "serve-a:11:1", now, every=EVERY, lease=LEASE
            )
            assert jobs.claim(s, "ssh.round", "worker-b:12:1", now, every=EVERY, lease=LEASE)
            jobs.finish(s, "ssh.round", "worker-b:12:1", now, {"hosts": 0}, started=now)
    finally:
        engine.dispose()
    assert main(["periodic", "list", "--json", "--data-dir", str(data_dir)]) == 0
    rows = {row["job"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) >= {
        "findings.reevaluate",
        "reports.schedules",
        "reports.archive.purge",
        "snmp.round",
        "ssh.round",
    }
    reevaluate, ssh = rows["findings.reevaluate"], rows["ssh.round"]
    assert (reevaluate["holder"], reevaluate["next_due"], reevaluate["runs_in"]) == (
        "serve-a:11:1",
        "running",
        "serve",
    )
    assert (ssh["holder"], ssh["last_holder"], ssh["last_outcome"]) == (
        None,
        "worker-b:12:1",
        "ok",
    )
    assert ssh["next_due"] == (now + timedelta(seconds=3600)).strftime("%Y-%m-%d %H:%M:%SZ")
    assert rows["reports.schedules"]["next_due"] == "now"
    assert main(["periodic", "list", "--data-dir", str(data_dir)]) == 0
    table = capsys.readouterr().out
    assert "serve-a:11:1" in table and "NEXT DUE" in table

    assert main(["periodic", "runs", "--job", "ssh.round", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "worker-b:12:1" in out and '{"hosts": 0}' in out
    assert main(["periodic", "runs", "--job", "nope", "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().out.strip() == "no runs of nope"
    assert main(["periodic", "runs", "--limit", "0", "--data-dir", str(data_dir)]) == 1
    assert capsys.readouterr().err.strip() == "govguard: error: --limit must be at least 1, not 0"
