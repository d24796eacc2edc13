"""The workflow's periodic step on SQLite and PostgreSQL: offline hosts that come back or
expire, verification from the hosts' next reports (online and carried in a bundle), automatic
remediation under its hourly budget, and two processes ticking at once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from controller.remediation import workflow
from controller.store import db
from controller.store import remediation as store
from controller.store.models import AuditEntry, Finding, RemediationJob, RemediationRun
from tests.unit.controller.findings.test_findings import begin
from tests.unit.controller.remediation.workflow_world import (
    NOW,
    World,
    add_host,
    audit_actions,
    finish,
    firewall,
    make_world,
    runs,
    status,
    targets,
)
from tests.unit.controller.store.factories import full, heartbeat

#: Minutes after T0 of a report sent once the apply run (finished at NOW + 5 min) is over.
AFTER_RUN = 40


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, offline_wait_s=3600, verify_timeout_s=600)


def _two_hosts(s: Session, world: World) -> None:
    """pc-01 online and pc-02 silent for two days; both fail FW-01."""
    with begin(s):
        add_host(s, "pc-01", agent_id="a1")
        add_host(s, "pc-02", agent_id="a2", address="10.0.0.6")
        world.ingest(s, firewall("a2", 1, False), at=NOW - timedelta(days=2))
        world.ingest(s, firewall("a1", 1, False), at=NOW - timedelta(minutes=5))


def _ran(s: Session, world: World, **given: object) -> RemediationJob:
    """A job approved in advance whose preview and apply run both succeeded at NOW + 5 min."""
    with begin(s):
        job = world.request(s, approve=True, **given)
        finish(s, world, store.runs_of(s, job.id)[0].id, NOW + timedelta(minutes=2))
        finish(s, world, store.runs_of(s, job.id)[1].id, NOW + timedelta(minutes=5))
    return job


def _finding_status(s: Session, agent_id: str, rule_id: str) -> str:
    found = s.scalars(
        select(Finding.status)
        .where(Finding.agent_id == agent_id, Finding.rule_id == rule_id)
        .order_by(Finding.id.desc())
    ).first()
    assert found is not None
    return found


def test_an_offline_host_waits_and_runs_after_its_agent_reports(
    session: Session, world: World
) -> None:
    s = session
    _two_hosts(s, world)
    with begin(s):
        job = world.request(s, rule_id="FW-01")
    assert targets(s, job.id) == {"pc-01": ("pending", None), "pc-02": ("waiting", None)}
    assert runs(s, job.id) == [("check", "queued", ["pc-01"])]  # the preview: online hosts
    with begin(s):
        finish(s, world, store.runs_of(s, job.id)[0].id, NOW + timedelta(minutes=1))
        workflow.approve(s, job.id, actor="web:op", now=NOW + timedelta(minutes=2))
        world.tick(s, NOW + timedelta(minutes=3))
    assert runs(s, job.id)[1:] == [("apply", "queued", ["pc-01"])]
    with begin(s):
        world.ingest(s, heartbeat("a2", 2), at=NOW + timedelta(minutes=20))
        world.tick(s, NOW + timedelta(minutes=21))
        world.tick(s, NOW + timedelta(minutes=22))  # a second tick adds nothing
    assert runs(s, job.id)[1:] == [("apply", "queued", ["pc-01"]), ("apply", "queued", ["pc-02"])]
    second = store.runs_of(s, job.id)[2]
    assert {t.host: t.run_id for t in store.targets_of(s, job.id)}["pc-02"] == second.id
    with begin(s):
        finish(s, world, store.runs_of(s, job.id)[1].id, NOW + timedelta(minutes=23))
    assert status(s, job.id) == "queued"  # pc-02's run is still to come
    with begin(s):
        finish(s, world, second.id, NOW + timedelta(minutes=25))
    assert status(s, job.id) == "verifying"


def test_a_host_offline_past_the_wait_expires_and_the_job_ends(
    session: Session, world: World
) -> None:
    s = session
    _two_hosts(s, world)
    with begin(s):
        job = world.request(s, rule_id="FW-01", hosts=["pc-02"], approve=True)
    assert (status(s, job.id), runs(s, job.id)) == ("queued", [])  # nobody to preview on
    with begin(s):
        world.tick(s, NOW + timedelta(minutes=59))
    assert targets(s, job.id) == {"pc-02": ("waiting", None)}
    with begin(s):
        world.tick(s, NOW + timedelta(minutes=61))
    assert targets(s, job.id) == {"pc-02": ("expired", None)}
    done = store.get_job(s, job.id)
    assert done is not None and done.status == "failed"
    assert done.error == "the playbook did not succeed on 1 of 1 hosts"


def test_verified_fixed_from_the_next_full_report(session: Session, world: World) -> None:
    s = session
    _two_hosts(s, world)
    job = _ran(s, world, rule_id="FW-01", hosts=["pc-01"])
    assert status(s, job.id) == "verifying"
    with begin(s):
        # A heartbeat without the firewall proves nothing; the job keeps waiting.
        world.ingest(s, heartbeat("a1", 38), at=NOW + timedelta(minutes=8))
        world.tick(s, NOW + timedelta(minutes=9))
    assert targets(s, job.id) == {"pc-01": ("changed", "waiting")}
    with begin(s):
        world.ingest(s, firewall("a1", AFTER_RUN, True), at=NOW + timedelta(minutes=10))
        world.tick(s, NOW + timedelta(minutes=11))
    assert targets(s, job.id) == {"pc-01": ("changed", "fixed")}
    done = store.get_job(s, job.id)
    assert done is not None and (done.status, done.error) == ("fixed", None)
    assert _finding_status(s, "a1", "FW-01") == "resolved"  # by the findings engine
    assert audit_actions(s)[-1] == "remediation.verified"


def test_not_fixed_keeps_the_reports_evidence(session: Session, world: World) -> None:
    s = session
    _two_hosts(s, world)
    job = _ran(s, world, rule_id="FW-01", hosts=["pc-01"])
    with begin(s):
        world.ingest(s, firewall("a1", AFTER_RUN, False), at=NOW + timedelta(minutes=10))
        world.tick(s, NOW + timedelta(minutes=11))
    (target,) = store.targets_of(s, job.id)
    assert target.verification == "not_fixed"
    assert target.evidence["outcome"] == "fail"
    assert target.evidence["evidence"][0]["fact"] == "security.firewall.enabled"
    assert target.evidence["evidence"][0]["actual"] is False
    done = store.get_job(s, job.id)
    assert done is not None and done.status == "not_fixed"
    assert done.error == "remediation did not fix: 1 of 1 hosts still fail FW-01"
    entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry is not None and entry.action == "remediation.not_fixed"
    assert entry.details["hosts"] == {"pc-01": "not_fixed"}


def test_no_report_in_time_is_unknown(session: Session, world: World) -> None:
    s = session
    _two_hosts(s, world)
    job = _ran(s, world, rule_id="FW-01", hosts=["pc-01"])
    with begin(s):
        world.tick(s, NOW + timedelta(minutes=14))  # 9 min after the run: still waiting
    assert targets(s, job.id)["pc-01"] == ("changed", "waiting")
    with begin(s):
        world.tick(s, NOW + timedelta(minutes=16))
    (target,) = store.targets_of(s, job.id)
    assert (target.verification, target.evidence) == (
        "unknown",
        {"reason": "no full report within 600 s"},
    )
    assert status(s, job.id) == "not_fixed"


def test_a_classified_host_isolated_is_verified_from_its_next_bundle(
    session: Session, world: World
) -> None:
    s = session
    online = {"internet": {"reachable": True}}
    with begin(s):
        add_host(s, "pc-mat", agent_id="m1", classification="classified", offline=True)
        world.import_bundle(s, full("m1", 1, connectivity=online), at=NOW - timedelta(days=1))
    assert _finding_status(s, "m1", "CLS-01") == "open"
    job = _ran(s, world, finding_id=s.scalar(select(Finding.id).where(Finding.rule_id == "CLS-01")))
    assert job.playbook == "isolate_classified_host.yml" and status(s, job.id) == "verifying"
    with begin(s):
        cut = {"internet": {"reachable": False}}
        world.import_bundle(s, full("m1", AFTER_RUN, connectivity=cut), at=NOW + timedelta(days=2))
        world.tick(s, NOW + timedelta(days=2, minutes=1))
    # A bundle has no clock skew: its report's own time says it was made after the run.
    assert targets(s, job.id) == {"pc-mat": ("changed", "fixed")}
    assert status(s, job.id) == "fixed"
    assert _finding_status(s, "m1", "CLS-01") == "resolved"


def test_a_job_without_a_rule_is_done_when_its_run_succeeded(
    session: Session, world: World
) -> None:
    s = session
    _two_hosts(s, world)
    job = _ran(s, world, playbook="enable_firewall.yml", hosts=["pc-01"])
    assert targets(s, job.id) == {"pc-01": ("changed", None)}
    assert status(s, job.id) == "fixed"


def _auto_jobs(s: Session) -> list[tuple[str | None, str, bool]]:
    rows = s.scalars(select(RemediationJob).order_by(RemediationJob.id))
    return [
        (job.rule_id, store.targets_of(s, job.id)[0].host, job.decided_at is not None)
        for job in rows
    ]


def test_automatic_remediation_respects_its_hourly_budget(session: Session, tmp_path: Path) -> None:
    world = make_world(tmp_path, auto_rules=["FW-02", "FW-01"], auto_per_hour=2)
    s = session
    with begin(s):
        for n in (1, 2, 3):
            add_host(s, f"pc-0{n}", agent_id=f"a{n}", address=f"10.0.0.{n}")
            world.ingest(s, firewall(f"a{n}", 1, False), at=NOW - timedelta(minutes=5))
        add_host(s, "pc-mat", agent_id="m1", classification="classified")
        world.ingest(s, firewall("m1", 1, False), at=NOW - timedelta(minutes=5))
    with begin(s):
        world.tick(s, NOW)
        world.tick(s, NOW + timedelta(minutes=30))
    # FW-02 needs no approval: approved by the policy; the budget stops at two an hour.
    assert _auto_jobs(s) == [("FW-02", "pc-01", True), ("FW-02", "pc-02", True)]
    with begin(s):
        world.tick(s, NOW + timedelta(minutes=61))
    # pc-01 and pc-02 have a live FW-02 job; FW-01 needs an approval: it waits for one.
    assert _auto_jobs(s)[2:] == [("FW-02", "pc-03", True), ("FW-01", "pc-01", False)]
    # The classified computer is never picked, and no refusal floods the audit log.
    assert "remediation.refused" not in audit_actions(s)
    requested = s.scalars(
        select(AuditEntry.actor).where(AuditEntry.action == "remediation.requested")
    ).all()
    assert set(requested) == {"auto"}


def test_a_failure_already_tried_is_not_retried_automatically(
    session: Session, tmp_path: Path
) -> None:
    world = make_world(tmp_path, auto_rules=["FW-02"], auto_per_hour=10)
    s = session
    with begin(s):
        add_host(s, "pc-01", agent_id="a1")
        world.ingest(s, firewall("a1", 1, False), at=NOW - timedelta(minutes=5))
        world.tick(s, NOW)
        (job,) = s.scalars(select(RemediationJob)).all()
        workflow.cancel(s, job.id, actor="web:op", now=NOW + timedelta(minutes=1))
        world.tick(s, NOW + timedelta(hours=2))
    assert len(_auto_jobs(s)) == 1


def _tick_in_two_threads(engine: Engine, world: World, now: datetime) -> None:
    """Two "processes" tick at the same moment, each in its own transaction."""
    factory = db.session_factory(engine)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with factory() as s:
                barrier.wait(timeout=30)
                db.write_session(s)
                world.tick(s, now)
                s.commit()
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_two_ticks_at_once_queue_one_run_and_one_automatic_job(
    engine: Engine, tmp_path: Path
) -> None:
    world = make_world(tmp_path, auto_rules=["FW-02"], auto_per_hour=10)
    factory = db.session_factory(engine)
    with factory() as s:
        _two_hosts(s, world)
        with begin(s):
            job = world.request(s, rule_id="FW-01", hosts=["pc-02"], approve=True)
            world.ingest(s, heartbeat("a2", 2), at=NOW + timedelta(minutes=20))
        job_id = job.id
    _tick_in_two_threads(engine, world, NOW + timedelta(minutes=21))
    with factory() as s:
        assert runs(s, job_id) == [("apply", "queued", ["pc-02"])]
        auto = s.scalars(select(RemediationJob).where(RemediationJob.origin == "auto")).all()
        # a1 and a2 both fail FW-02: one automatic job each, not two.
        by_host = {store.targets_of(s, j.id)[0].host: runs(s, j.id) for j in auto}
        # pc-01 last reported 26 minutes ago: it waits, with no preview; pc-02 just did.
        assert by_host == {"pc-01": [], "pc-02": [("check", "queued", ["pc-02"])]}
        assert len(s.scalars(select(RemediationRun.id)).all()) == 2
