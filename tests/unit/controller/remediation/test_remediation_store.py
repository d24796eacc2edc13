"""The remediation store's reads on SQLite and PostgreSQL: jobs by status, rule, host and unit
scope; a host's history; a job's events after a cursor (the live log) and its preview diff."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from controller.store import remediation as store
from controller.store.models import RemediationEvent
from controller.store.units import ensure_unit
from tests.unit.controller.findings.test_findings import begin
from tests.unit.controller.remediation.workflow_world import (
    NOW,
    add_host,
    finish,
    make_world,
)
from tests.unit.controller.store.factories import UNIT


def test_lists_history_and_the_live_log(session: Session, tmp_path: Path) -> None:
    world = make_world(tmp_path)
    s = session
    with begin(s):
        add_host(s, "pc-01", agent_id="a1")
        add_host(s, "pc-02", agent_id="a2", address="10.0.0.6")
        first = world.request(s, playbook="enable_firewall.yml", hosts=["pc-01"])
        second = world.request(s, rule_id="FW-02", hosts=["pc-01", "pc-02"])
        # pc-02 moves to another commune: the first job is invisible from there.
        ensure_unit(s, "xa-khac", "Xã Khác", kind="commune")
        target = {t.host: t for t in store.targets_of(s, second.id)}["pc-02"]
        target.unit_id = "xa-khac"
        (check,) = store.runs_of(s, second.id)
        for seq, diff in ((1, None), (2, "-off\n+on"), (3, None)):
            s.add(
                RemediationEvent(
                    run_id=check.id,
                    seq=seq,
                    at=NOW + timedelta(seconds=seq),
                    event="runner_on_ok",
                    host="pc-01",
                    task=f"task {seq}",
                    stdout=f"line {seq}",
                    diff=diff,
                )
            )
        s.flush()
        finish(s, world, check.id, NOW + timedelta(minutes=1))
    assert [j.id for j in store.list_jobs(s)] == [second.id, first.id]
    assert [j.id for j in store.list_jobs(s, statuses=["previewing"])] == [first.id]
    assert [j.id for j in store.list_jobs(s, rule_id="FW-02")] == [second.id]
    for name in ("pc-02", "a2"):
        assert [j.id for j in store.list_jobs(s, host=name)] == [second.id]
    assert [j.id for j in store.list_jobs(s, frozenset({"xa-khac"}))] == [second.id]
    assert store.job_view(s, first.id, frozenset({"xa-khac"})) is None
    view = store.job_view(s, second.id, frozenset({UNIT}))
    assert view is not None and [t.host for t in view.targets] == ["pc-01", "pc-02"]
    assert store.host_counts(s, [first.id, second.id]) == {first.id: 1, second.id: 2}
    history = store.jobs_of_host(s, agent_id="a1")
    assert [(job.id, target.host) for job, target in history] == [
        (second.id, "pc-01"),
        (first.id, "pc-01"),
    ]
    assert store.jobs_of_host(s) == []
    log = store.events_after(s, second.id)
    assert [e.stdout for e in log] == ["line 1", "line 2", "line 3"]
    assert [e.stdout for e in store.events_after(s, second.id, log[0].id)] == ["line 2", "line 3"]
    assert store.events_after(s, first.id) == []
    assert [e.stdout for e in store.events_tail(s, second.id, 2)] == ["line 2", "line 3"]
    assert [e.diff for e in store.preview_diffs(s, second.id)] == ["-off\n+on"]
