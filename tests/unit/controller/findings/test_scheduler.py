"""The background re-evaluation: one process at a time, when due, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from controller.findings.scheduler import JOB, Reevaluator, request_reevaluation
from controller.store import jobs
from controller.store.dashboard import local_day
from controller.store.db import session_factory
from controller.store.models import ComplianceDaily, RuleDaily
from tests.unit.controller.findings.test_findings import FIREWALL, LINUX, cache_for, write_pack
from tests.unit.controller.store.factories import T0, full, make_agent


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_one_process_runs_when_due(engine: Engine, tmp_path: Path) -> None:
    sessions = session_factory(engine)
    with sessions() as s, s.begin():
        make_agent(s, "a1")
    path = write_pack(tmp_path, FIREWALL)
    clock = Clock(T0)
    first = Reevaluator(sessions, cache_for(path), clock=clock, every=timedelta(hours=1))
    second = Reevaluator(sessions, cache_for(path), clock=clock, every=timedelta(hours=1))
    done = first.run_once()
    assert done is not None and done.hosts == 1
    assert second.run_once() is None  # same policies, ran a moment ago
    clock.at += timedelta(minutes=30)
    assert first.run_once() is None
    # An organisation import asks for a run: the next process to look takes it.
    with sessions() as s, s.begin():
        request_reevaluation(s, clock.at)
    assert second.run_once() is not None
    assert first.run_once() is None
    # The interval passed: due again.
    clock.at += timedelta(hours=1, minutes=1)
    assert second.run_once() is not None
    # The policy files changed: every process sees another digest; one run.
    clock.at += timedelta(minutes=1)
    write_pack(tmp_path, FIREWALL, LINUX)
    ran = [r.run_once() for r in (first, second)]
    assert sum(r is not None for r in ran) == 1
    with sessions() as s:
        job = jobs.get(s, JOB)
        assert job is not None and job.lease_until is None
        assert job.last_result["hosts"] == 1


def test_a_held_lease_blocks_others_until_it_expires(engine: Engine) -> None:
    sessions = session_factory(engine)
    lease = timedelta(minutes=30)
    with sessions() as s, s.begin():
        assert jobs.claim(s, "j", "p1", T0, every=timedelta(hours=1), lease=lease)
    with sessions() as s, s.begin():
        jobs.request(s, "j", T0 + timedelta(minutes=1))
        assert not jobs.claim(
            s, "j", "p2", T0 + timedelta(minutes=2), every=timedelta(0), lease=lease
        )
    # p1 died without finishing: its lease runs out and p2 takes over.
    with sessions() as s, s.begin():
        assert jobs.claim(s, "j", "p2", T0 + lease, every=timedelta(hours=1), lease=lease)


def test_the_run_stores_findings(engine: Engine, tmp_path: Path) -> None:
    from controller.findings import FindingsWriter
    from controller.store.findings import list_findings

    sessions = session_factory(engine)
    with sessions() as s, s.begin():
        make_agent(s, "a1")
        FindingsWriter(cache_for(write_pack(tmp_path, LINUX)))(
            s, [full("a1", 1, security={"firewall": {"enabled": False}})], T0
        )
    # The firewall rule arrives: the background run finds the host failing it.
    runner = Reevaluator(
        sessions,
        cache_for(write_pack(tmp_path, FIREWALL, LINUX)),
        clock=Clock(T0 + timedelta(hours=2)),
    )
    assert runner.run_once() is not None
    with sessions() as s:
        assert [f.rule_id for f in list_findings(s)] == ["FW-01"]
        # The day's snapshots, overall and per rule (the security report's trend); OS-01 has no
        # fact to read in this report, so it is no evaluation.
        daily = s.execute(
            select(RuleDaily.day, RuleDaily.rule_id, RuleDaily.passing, RuleDaily.failing)
        ).all()
        assert sorted(daily) == [(local_day(T0 + timedelta(hours=2)), "FW-01", 0, 1)]
        assert s.scalar(select(ComplianceDaily.failing)) == 1
