"""The remediation workflow's requests and decisions on SQLite and PostgreSQL, with real rows:
requests from a finding, a rule or hosts, the refusals (before any run row exists, audited),
approve / reject / cancel and what the end of each kind of run does to the job."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.remediation import workflow
from controller.remediation.model import RemediationError
from controller.store import remediation as store
from controller.store.models import (
    Agent,
    AuditEntry,
    Finding,
    RemediationJob,
    RemediationRun,
    RemediationTarget,
)
from tests.unit.controller.findings.test_findings import begin
from tests.unit.controller.remediation.workflow_world import (
    ACTOR,
    NOW,
    World,
    add_host,
    audit_actions,
    count,
    finish,
    firewall,
    make_world,
    runs,
    status,
    targets,
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


@pytest.fixture
def failing(session: Session, world: World) -> Session:
    """Three computers: pc-01 and pc-02 fail FW-01 (firewall off), pc-03 passes."""
    with begin(session):
        add_host(session, "pc-01", agent_id="a1")
        add_host(session, "pc-02", agent_id="a2", address="10.0.0.6")
        add_host(session, "pc-03", agent_id="a3", address="10.0.0.7")
        world.ingest(
            session,
            firewall("a1", 1, False),
            firewall("a2", 1, False),
            firewall("a3", 1, True),
            at=NOW - timedelta(minutes=5),
        )
    return session


def _finding(s: Session, agent_id: str, rule_id: str = "FW-01") -> Finding:
    found = s.scalar(
        select(Finding).where(Finding.agent_id == agent_id, Finding.rule_id == rule_id)
    )
    assert found is not None
    return found


def test_a_finding_gives_one_host_the_rules_playbook_and_a_preview(
    failing: Session, world: World
) -> None:
    s = failing
    finding = _finding(s, "a1")
    with begin(s):
        job = world.request(s, finding_id=finding.id)
    assert (job.playbook, job.rule_id, job.finding_id) == (
        "enable_firewall.yml",
        "FW-01",
        finding.id,
    )
    assert (job.status, job.approval, job.decided_at) == ("previewing", "required", None)
    assert targets(s, job.id) == {"pc-01": ("pending", None)}
    (target,) = store.targets_of(s, job.id)
    assert (target.agent_id, target.asset_id, target.unit_id, target.classified) == (
        "a1",
        "pc-01",
        "xa-an-binh",
        False,
    )
    assert runs(s, job.id) == [("check", "queued", ["pc-01"])]
    assert audit_actions(s) == ["remediation.requested"]


def test_a_rule_targets_its_failing_hosts_only(failing: Session, world: World) -> None:
    with begin(failing):
        job = world.request(failing, rule_id="FW-01")
    assert sorted(targets(failing, job.id)) == ["pc-01", "pc-02"]
    assert runs(failing, job.id) == [("check", "queued", ["pc-01", "pc-02"])]


def test_an_exempted_host_is_left_out_of_a_rule_request(failing: Session, world: World) -> None:
    from controller.store.findings import exempt

    s = failing
    with begin(s):
        until = NOW + timedelta(days=30)
        exempt(s, _finding(s, "a2").id, "web:op", "old PC, replaced next month", until, NOW)
        job = world.request(s, rule_id="FW-01")
    assert sorted(targets(s, job.id)) == ["pc-01"]


def test_hosts_by_agent_id_asset_id_or_inventory_name_are_one_host_each(
    session: Session, world: World
) -> None:
    with begin(session):
        add_host(session, "pc-01", agent_id="a1")
        add_host(session, "pc-02", agent_id="a2")
        # A computer whose agent has no asset yet is named agent-<id>; it needs an address
        # from somewhere, so it is refused below.
        job = world.request(
            session, playbook="enable_firewall.yml", hosts=["a1", "pc-01", "pc-02", "agent-a2"]
        )
    assert sorted(targets(session, job.id)) == ["pc-01", "pc-02"]
    assert job.rule_id is None and job.approval == "required"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        pytest.param(
            {"playbook": "enable_firewall.yml", "hosts": ["pc-mat"]},
            "host pc-mat is classified: only isolate_classified_host.yml may target it",
            id="classified host, other playbook",
        ),
        pytest.param(
            {"playbook": "enable_firewall.yml", "hosts": ["pc-secret"]},
            "host pc-secret is classified",
            id="for secret use",
        ),
        pytest.param(
            {"playbook": "isolate_classified_host.yml", "hosts": ["pc-01"]},
            "host pc-01 is not classified",
            id="isolation of a normal host",
        ),
        pytest.param(
            {"playbook": "format_disk.yml", "hosts": ["pc-01"]},
            "unknown playbook 'format_disk.yml'",
            id="unknown playbook",
        ),
        pytest.param(
            {"playbook": "../../etc/passwd", "hosts": ["pc-01"]},
            "unknown playbook '../../etc/passwd'",
            id="a path instead of a playbook name",
        ),
        pytest.param(
            {"playbook": "enable_firewall.yml", "hosts": ["pc-noaddr"]},
            "pc-noaddr: no connection address",
            id="no address",
        ),
        pytest.param(
            {"playbook": "enable_firewall.yml", "hosts": ["pc-revoked"]},
            "the agent a9 of host 'pc-revoked' is revoked",
            id="revoked agent",
        ),
        pytest.param(
            {"playbook": "enable_firewall.yml", "hosts": ["nowhere"]},
            "unknown host 'nowhere'",
            id="unknown host",
        ),
        pytest.param({"rule_id": "FW-09"}, "rule FW-09 names no remediation", id="no remediation"),
        pytest.param({"rule_id": "FW-01"}, "no host fails FW-01 now", id="nobody fails"),
        pytest.param(
            {"playbook": "enable_firewall.yml", "hosts": [f"pc-{n}" for n in range(501)]},
            "501 hosts at once; a job takes at most 500",
            id="too many hosts",
        ),
    ],
)
def test_a_refused_request_leaves_no_job_nor_run_and_is_audited(
    session: Session, world: World, given: dict[str, object], message: str
) -> None:
    with begin(session):
        add_host(session, "pc-01", agent_id="a1")
        add_host(session, "pc-mat", agent_id="m1", classification="classified")
        add_host(session, "pc-noaddr", agent_id="a2", address=None)
        add_host(session, "pc-secret", agent_id="s1", secret_use=True)
        add_host(session, "pc-revoked", agent_id="a9", status="revoked")
    with begin(session), pytest.raises(RemediationError) as refused:
        world.request(session, **given)
        # The refusal's audit entry is in the caller's transaction, committed as usual.
    assert message in str(refused.value)
    assert (count(session, RemediationJob), count(session, RemediationRun)) == (0, 0)
    assert count(session, RemediationTarget) == 0
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "remediation.refused"))
    assert entry is not None and entry.actor == ACTOR and entry.source == "cli"
    assert message in entry.details["reason"]


def test_the_isolation_playbook_may_target_a_classified_host(
    session: Session, world: World
) -> None:
    with begin(session):
        add_host(session, "pc-mat", agent_id="m1", classification="classified", offline=True)
        job = world.request(session, rule_id="CLS-01", hosts=["pc-mat"])
    (target,) = store.targets_of(session, job.id)
    assert target.classified and target.state == "pending"  # bundle-carried: never "offline"
    assert runs(session, job.id) == [("check", "queued", ["pc-mat"])]


def test_preview_approve_run_then_verifying_with_report_now(failing: Session, world: World) -> None:
    s = failing
    with begin(s):
        job = world.request(s, finding_id=_finding(s, "a1").id)
        (check,) = store.runs_of(s, job.id)
    with begin(s), pytest.raises(RemediationError, match="still previewing"):
        workflow.approve(s, job.id, actor="web:op", now=NOW)
    with begin(s):
        finish(s, world, check.id, NOW + timedelta(minutes=1))
    assert status(s, job.id) == "awaiting_approval"
    with begin(s):
        workflow.approve(s, job.id, actor="web:op", now=NOW + timedelta(minutes=2))
    assert status(s, job.id) == "queued"
    assert runs(s, job.id)[1] == ("apply", "queued", ["pc-01"])
    apply = store.runs_of(s, job.id)[1]
    (target,) = store.targets_of(s, job.id)
    assert target.run_id == apply.id
    for act in (workflow.approve, workflow.reject):
        with begin(s), pytest.raises(RemediationError, match="is queued, not awaiting"):
            act(s, job.id, actor="web:op", now=NOW)
    with begin(s):
        finish(s, world, apply.id, NOW + timedelta(minutes=5))
    assert status(s, job.id) == "verifying"
    assert targets(s, job.id) == {"pc-01": ("changed", "waiting")}
    agent = s.get(Agent, "a1", populate_existing=True)
    assert agent is not None and agent.report_now_at == NOW + timedelta(minutes=5)
    assert audit_actions(s) == [
        "remediation.requested",
        "remediation.approved",
    ]


def test_approval_given_in_advance_queues_the_apply_run_after_the_preview(
    failing: Session, world: World
) -> None:
    s = failing
    with begin(s):
        job = world.request(s, rule_id="FW-01", hosts=["a1"], approve=True)
    assert job.decided_by == ACTOR
    with begin(s):
        finish(s, world, store.runs_of(s, job.id)[0].id, NOW + timedelta(minutes=1))
    assert status(s, job.id) == "queued"
    assert [r[:2] for r in runs(s, job.id)] == [("check", "succeeded"), ("apply", "queued")]


def test_a_rule_needing_no_approval_goes_on_by_itself(failing: Session, world: World) -> None:
    s = failing
    with begin(s):
        job = world.request(s, rule_id="FW-02", hosts=["pc-01"])
    assert (job.approval, job.decided_by) == ("none", "policy")
    with begin(s):
        finish(s, world, store.runs_of(s, job.id)[0].id, NOW + timedelta(minutes=1))
    assert status(s, job.id) == "queued"


@pytest.mark.parametrize(
    ("state", "expected", "action"),
    [
        pytest.param("failed", "failed", "remediation.failed", id="failed"),
        pytest.param("interrupted", "interrupted", "remediation.interrupted", id="interrupted"),
        pytest.param("cancelled", "cancelled", "remediation.failed", id="cancelled"),
    ],
)
def test_a_preview_that_does_not_succeed_ends_the_job(
    failing: Session, world: World, state: str, expected: str, action: str
) -> None:
    s = failing
    with begin(s):
        job = world.request(s, rule_id="FW-01")
        check = store.runs_of(s, job.id)[0]
        finish(s, world, check.id, NOW, state=state, stats={}, error="pc-01: unreachable")
    done = store.get_job(s, job.id)
    assert done is not None and done.status == expected
    assert done.error == f"the preview {'failed' if state == 'failed' else 'was ' + state}: " + (
        "pc-01: unreachable"
    )
    assert set(targets(s, job.id).values()) == {("cancelled", None)}
    assert audit_actions(s)[-1] == action


@pytest.mark.parametrize(
    ("state", "expected"),
    [pytest.param("interrupted", "interrupted"), pytest.param("cancelled", "cancelled")],
)
def test_an_apply_run_interrupted_or_cancelled_ends_the_job(
    failing: Session, world: World, state: str, expected: str
) -> None:
    s = failing
    with begin(s):
        job = world.request(s, rule_id="FW-01", approve=True)
        finish(s, world, store.runs_of(s, job.id)[0].id, NOW)
        finish(s, world, store.runs_of(s, job.id)[1].id, NOW, state=state, stats={})
    assert status(s, job.id) == expected
    assert {state for state, _ in targets(s, job.id).values()} <= {"failed", "cancelled"}


def test_a_run_that_could_not_start_fails_the_job_with_its_reason(
    failing: Session, world: World
) -> None:
    s = failing
    with begin(s):
        job = world.request(s, rule_id="FW-01", hosts=["pc-01"], approve=True)
        finish(s, world, store.runs_of(s, job.id)[0].id, NOW)
        error = "no SSH key at /var/lib/govguard/ssh/id_ed25519 to reach pc-01"
        finish(s, world, store.runs_of(s, job.id)[1].id, NOW, state="failed", stats={}, error=error)
    done = store.get_job(s, job.id)
    assert done is not None and done.status == "failed"
    assert done.error == f"the playbook did not succeed on 1 of 1 hosts: {error}"
    assert targets(s, job.id) == {"pc-01": ("failed", None)}


def test_a_failed_apply_run_is_read_host_by_host(failing: Session, world: World) -> None:
    s = failing
    with begin(s):
        job = world.request(s, rule_id="FW-01", approve=True)
        finish(s, world, store.runs_of(s, job.id)[0].id, NOW)
        stats = {
            "pc-01": {"ok": 3, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 0},
            "pc-02": {"ok": 0, "changed": 0, "failed": 0, "unreachable": 1, "skipped": 0},
        }
        finish(s, world, store.runs_of(s, job.id)[1].id, NOW, state="failed", stats=stats)
    assert targets(s, job.id) == {"pc-01": ("changed", "waiting"), "pc-02": ("unreachable", None)}
    assert status(s, job.id) == "verifying"


def test_reject_and_cancel(failing: Session, world: World) -> None:
    s = failing
    with begin(s):
        first = world.request(s, rule_id="FW-01", hosts=["pc-01"])
        finish(s, world, store.runs_of(s, first.id)[0].id, NOW)
        workflow.reject(s, first.id, actor="web:op", now=NOW)
    assert status(s, first.id) == "rejected"
    with begin(s), pytest.raises(RemediationError, match=r"already ended \(rejected\)"):
        workflow.cancel(s, first.id, actor="web:op", now=NOW)
    with begin(s):
        second = world.request(s, rule_id="FW-01", hosts=["pc-02"])
        workflow.cancel(s, second.id, actor="web:op", now=NOW)
    assert status(s, second.id) == "cancelled"
    assert runs(s, second.id) == [("check", "cancelled", ["pc-02"])]
    assert targets(s, second.id) == {"pc-02": ("cancelled", None)}
    # A preview the worker finishes after the cancel changes nothing.
    with begin(s):
        finish(s, world, store.runs_of(s, second.id)[0].id, NOW, state="succeeded")
    assert status(s, second.id) == "cancelled"
    with begin(s), pytest.raises(RemediationError, match="no remediation job 999"):
        workflow.approve(s, 999, actor="web:op", now=NOW)
    assert audit_actions(s).count("remediation.cancelled") == 1
    assert audit_actions(s).count("remediation.rejected") == 1


def test_a_running_apply_run_is_asked_to_stop(failing: Session, world: World) -> None:
    s = failing
    with begin(s):
        job = world.request(s, rule_id="FW-01", approve=True)
        finish(s, world, store.runs_of(s, job.id)[0].id, NOW)
        apply = store.runs_of(s, job.id)[1]
        apply.state = "running"  # claimed by a worker, which marks its hosts running
        store.set_targets(s, job.id, apply.hosts, ("pending",), {"state": "running"})
        s.flush()
        workflow.cancel(s, job.id, actor="web:op", now=NOW + timedelta(minutes=1))
    run = store.get_run(s, apply.id)
    assert run is not None and run.state == "running"
    assert run.cancel_requested_at == NOW + timedelta(minutes=1)
    # The worker stops it; what it did to each host is kept on the cancelled job.
    stats = {"pc-01": {"ok": 1, "changed": 1}}
    with begin(s):
        finish(s, world, apply.id, NOW + timedelta(minutes=2), state="cancelled", stats=stats)
    assert status(s, job.id) == "cancelled"
    assert targets(s, job.id) == {"pc-01": ("changed", None), "pc-02": ("cancelled", None)}
