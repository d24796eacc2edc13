"""Remediation jobs: preview → approve → run → verify (docs/remediation.md).

The signatures of :func:`request`, :func:`approve`, :func:`reject`, :func:`cancel`,
:func:`run_finished` and :func:`tick` are the contract the worker, the CLI and the dashboard
call; each works in the caller's transaction and never commits. Every change of a job is a
conditional UPDATE (:mod:`controller.store.remediation`), so two processes deciding or ticking
at once never both win, and every step is in the audit log.

Offline hosts: a host whose agent has not reported within ``remediation.online_window_s`` is
``waiting`` from the start. The preview (check mode) runs on the online hosts only; a waiting
host gets its own apply run after the approval, when its agent next reports, without a preview
of its own (the approval was given on the others' preview and the playbook). When every host
is offline there is no preview at all: the job waits for approval at once (``queued`` when it
was approved in advance).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from controller.findings.engine import Evaluator
from controller.findings.policies import PolicyCache
from controller.remediation import targets as hosts_of
from controller.remediation.model import RemediationError
from controller.remediation.targets import Host
from controller.remediation.verify import settle
from controller.settings import RemediationConfig, Settings
from controller.store import audit
from controller.store import remediation as store
from controller.store import remediation_hosts as hosts_store
from controller.store.findings import get_finding
from controller.store.models import RemediationJob, RemediationRun, RemediationTarget

log = logging.getLogger(__name__)

_CACHES: dict[Path, PolicyCache] = {}
_CACHES_LOCK = threading.Lock()


def policy_cache(settings: Settings) -> PolicyCache:
    """The process's policy cache of ``settings.data_dir`` (where rules name their playbook)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(settings.data_dir)
        if cache is None:
            cache = _CACHES[settings.data_dir] = PolicyCache(settings.data_dir)
        return cache


def _evaluator(settings: Settings, policies: PolicyCache | None) -> Evaluator | None:
    return (policies or policy_cache(settings)).current()


@dataclass
class _Plan:
    playbook: str
    rule_id: str | None
    finding_id: int | None
    approval: str
    hosts: list[Host]
    extra_vars: dict[str, Any] = field(default_factory=dict)


def _plan(
    s: Session,
    settings: Settings,
    evaluator: Evaluator | None,
    *,
    playbook: str | None,
    rule_id: str | None,
    finding_id: int | None,
    hosts: Sequence[str],
) -> _Plan:
    """What a request asks for, or RemediationError."""
    if finding_id is not None:
        if hosts:
            raise RemediationError("a finding names its host: give either a finding or hosts")
        finding = get_finding(s, finding_id)
        if finding is None:
            raise RemediationError(f"no finding #{finding_id}")
        if finding.open_key is None:
            raise RemediationError(f"finding #{finding_id} is {finding.status}: nothing to fix")
        if rule_id is not None and rule_id != finding.rule_id:
            raise RemediationError(f"finding #{finding_id} is about {finding.rule_id}")
        rule_id = finding.rule_id
        hosts = [finding.subject.partition(":")[2]]
    plan = _Plan(playbook or "", rule_id, finding_id, "required", [])
    if rule_id is not None:
        rule = evaluator.by_id.get(rule_id) if evaluator is not None else None
        if rule is None:
            raise RemediationError(f"unknown rule {rule_id!r} (not in the installed policies)")
        if rule.remediation is None and playbook is None:
            raise RemediationError(f"rule {rule_id} names no remediation playbook")
        if rule.remediation is not None:
            plan.approval = rule.remediation.approval
            if playbook is None:
                plan.playbook = rule.remediation.playbook
        # The rule's parameters are not passed: the playbooks name their own variables
        # (govguard_*, documented in docs/playbooks.md) and take the policy's defaults.
        if not hosts:
            agents, assets = hosts_store.failing_hosts(s, rule_id)
            hosts = [*agents, *assets]
            if not hosts:
                raise RemediationError(f"no host fails {rule_id} now")
    elif playbook is None:
        raise RemediationError("name a rule, a finding or a playbook")
    elif not hosts:
        raise RemediationError("a playbook needs the hosts to run on (--hosts)")
    hosts_of.check_playbook(settings, plan.playbook)
    plan.hosts = hosts_of.resolve_all(s, list(hosts))
    hosts_of.check_hosts(s, settings, plan.playbook, plan.hosts)
    return plan


def request(
    s: Session,
    settings: Settings,
    *,
    playbook: str | None = None,
    rule_id: str | None = None,
    finding_id: int | None = None,
    hosts: Sequence[str] = (),
    actor: str,
    origin: str,
    source: str | None = None,
    approve: bool = False,
    now: datetime,
    policies: PolicyCache | None = None,
) -> RemediationJob:
    """Create a job from a finding, or a rule (its failing hosts, or ``hosts``), or a playbook
    and ``hosts`` (agent ids, asset ids or inventory names), and queue its check-mode preview.

    ``approve`` (an operator or admin) gives the approval in advance: the apply run is queued
    as soon as the preview succeeded; rules whose remediation says ``approval: none`` behave
    the same without it. Refuses (:class:`RemediationError`) an unknown playbook, a classified
    host for any playbook but the isolation one, the isolation playbook on a host that is not
    classified, a host without a connection address, an agent that is not active, too many
    hosts, a rule without remediation, before any row of the job exists. A refusal adds a
    ``remediation.refused`` audit entry to the session: the caller commits it all the same.
    """
    try:
        plan = _plan(
            s,
            settings,
            _evaluator(settings, policies),
            playbook=playbook,
            rule_id=rule_id,
            finding_id=finding_id,
            hosts=hosts,
        )
    except RemediationError as exc:
        audit.record(
            s,
            actor,
            "remediation.refused",
            f"rule:{rule_id}" if rule_id else f"playbook:{playbook}",
            {
                "reason": str(exc),
                "playbook": playbook,
                "rule": rule_id,
                "finding": finding_id,
                "hosts": [h[:100] for h in list(hosts)[:50]],
                "origin": origin,
            },
            at=now,
            source=source,
        )
        raise
    decided = approve or plan.approval == "none"
    job = RemediationJob(
        playbook=plan.playbook,
        rule_id=plan.rule_id,
        finding_id=plan.finding_id,
        status="previewing",
        approval=plan.approval,
        origin=origin,
        requested_by=actor,
        requested_at=now,
        decided_by=(actor if approve else "policy") if decided else None,
        decided_at=now if decided else None,
        extra_vars=plan.extra_vars,
    )
    store.add(s, job)
    window = settings.remediation.online_window_s
    online = [h.name for h in plan.hosts if h.online(now, window)]
    for host in plan.hosts:
        waiting = host.name not in online
        s.add(
            RemediationTarget(
                job_id=job.id,
                host=host.name,
                agent_id=host.agent_id,
                asset_id=host.asset_id,
                unit_id=host.unit_id,
                classified=host.classified,
                state="waiting" if waiting else "pending",
                queued_at=now if waiting else None,
            )
        )
    s.flush()
    if online:
        _new_run(s, settings.remediation, job.id, "check", online, now)
    else:
        job.status = "queued" if decided else "awaiting_approval"
    s.flush()
    audit.record(
        s,
        actor,
        "remediation.requested",
        f"remediation:{job.id}",
        {
            "playbook": job.playbook,
            "rule": job.rule_id,
            "finding": job.finding_id,
            "hosts": [h.name for h in plan.hosts],
            "waiting": [h.name for h in plan.hosts if h.name not in online],
            "approved": decided,
            "origin": origin,
        },
        at=now,
        source=source,
    )
    if decided:
        audit.record(
            s,
            job.decided_by or actor,
            "remediation.approved",
            f"remediation:{job.id}",
            {"in_advance": True, "approval": job.approval},
            at=now,
            source=source,
        )
    return job


def _new_run(
    s: Session,
    config: RemediationConfig,
    job_id: int,
    mode: str,
    hosts: Sequence[str],
    now: datetime,
) -> RemediationRun:
    run = RemediationRun(
        job_id=job_id,
        mode=mode,
        state="queued",
        hosts=sorted(hosts),
        created_at=now,
        timeout_s=config.run_timeout_s,
    )
    store.add(s, run)
    return run


def _queue_apply(
    s: Session, config: RemediationConfig, job: RemediationJob, now: datetime
) -> RemediationRun | None:
    """One apply run for the job's hosts that are online (``pending``); None when every host
    is waiting for its next report."""
    pending = [t.host for t in store.targets_of(s, job.id) if t.state == "pending"]
    if not pending:
        return None
    run = _new_run(s, config, job.id, "apply", pending, now)
    taken = store.set_targets(
        s, job.id, pending, ("pending",), {"run_id": run.id, "queued_at": now}
    )
    if taken != sorted(pending):
        run.hosts = taken
    return run


def _job(s: Session, job_id: int) -> RemediationJob:
    job = store.get_job(s, job_id)
    if job is None:
        raise RemediationError(f"no remediation job {job_id}")
    return job


def approve(
    s: Session,
    job_id: int,
    *,
    actor: str,
    now: datetime,
    source: str | None = None,
    settings: Settings | None = None,
) -> RemediationJob:
    """Approve a job awaiting approval: queue its apply run (offline hosts wait)."""
    job = _job(s, job_id)
    if job.status != "awaiting_approval":
        raise RemediationError(_not_awaiting(job))
    values = {"status": "queued", "decided_by": actor, "decided_at": now}
    if not store.transition_job(s, job_id, ("awaiting_approval",), values):
        raise RemediationError(_not_awaiting(_job(s, job_id)))
    job = _job(s, job_id)
    if settings is not None:
        config = settings.remediation
    else:
        # Without the settings, the apply run gets the timeout its preview was given.
        earlier = store.runs_of(s, job_id)
        config = (
            RemediationConfig(run_timeout_s=earlier[0].timeout_s)
            if earlier
            else RemediationConfig()
        )
    run = _queue_apply(s, config, job, now)
    audit.record(
        s,
        actor,
        "remediation.approved",
        f"remediation:{job_id}",
        {"run": run.id if run else None},
        at=now,
        source=source,
    )
    if run is None:
        settle(s, job, now)
    return _job(s, job_id)


def _not_awaiting(job: RemediationJob) -> str:
    if job.status == "previewing":
        return f"job {job.id} is still previewing: decide when its preview has finished"
    return f"job {job.id} is {job.status}, not awaiting approval"


def reject(
    s: Session, job_id: int, *, actor: str, now: datetime, source: str | None = None
) -> RemediationJob:
    """Reject a job awaiting approval (terminal)."""
    job = _job(s, job_id)
    values = {"status": "rejected", "decided_by": actor, "decided_at": now, "finished_at": now}
    if job.status != "awaiting_approval" or not store.transition_job(
        s, job_id, ("awaiting_approval",), values
    ):
        raise RemediationError(_not_awaiting(_job(s, job_id)))
    _drop_targets(s, job_id)
    audit.record(s, actor, "remediation.rejected", f"remediation:{job_id}", at=now, source=source)
    return _job(s, job_id)


def _drop_targets(s: Session, job_id: int) -> None:
    unfinished = [t.host for t in store.targets_of(s, job_id) if t.state in store.UNFINISHED]
    store.set_targets(s, job_id, unfinished, ("pending", "waiting"), {"state": "cancelled"})


def cancel(
    s: Session, job_id: int, *, actor: str, now: datetime, source: str | None = None
) -> RemediationJob:
    """Cancel a job: queued runs never start, a running one is stopped by its worker."""
    job = _job(s, job_id)
    values = {"status": "cancelled", "cancel_requested_at": now, "finished_at": now}
    if job.status not in store.LIVE or not store.transition_job(s, job_id, store.LIVE, values):
        raise RemediationError(f"job {job_id} already ended ({_job(s, job_id).status})")
    queued, running = store.cancel_runs(s, job_id, now)
    _drop_targets(s, job_id)
    audit.record(
        s,
        actor,
        "remediation.cancelled",
        f"remediation:{job_id}",
        {"runs_cancelled": queued, "runs_stopping": running},
        at=now,
        source=source,
    )
    return _job(s, job_id)


def _host_state(stats: Any, run_state: str) -> str:
    """A target's state from its line of the play recap."""
    if not isinstance(stats, dict):
        # Ansible never reached the host (the run stopped first, or the play skipped it).
        return "cancelled" if run_state == "cancelled" else "failed"
    if stats.get("unreachable"):
        return "unreachable"
    if stats.get("failed"):
        return "failed"
    return "changed" if stats.get("changed") else "ok"


def run_finished(s: Session, settings: Settings, run: RemediationRun, now: datetime) -> None:
    """Called by the worker in the transaction that stores a run's end: move the job on
    (preview done → awaiting approval or queued; apply done → verifying; failures)."""
    job = store.get_job(s, run.job_id)
    if job is None:
        return
    if run.mode == "apply":
        # What the run did to each host is history even when the job was cancelled meanwhile.
        for host in run.hosts:
            state = _host_state((run.stats or {}).get(host), run.state)
            # The worker may have set the state already from the same stats: fill the gap.
            store.set_targets(s, job.id, [host], ("pending", "running"), {"state": state})
            store.set_targets(s, job.id, [host], store.TERMINAL_TARGET, {"ran_at": now})
    if job.status in store.TERMINAL:
        return  # cancelled (or rejected) while the run went on: nothing more to decide
    if run.mode == "check":
        _preview_finished(s, settings, job, run, now)
        return
    targets = {t.host: t for t in store.targets_of(s, job.id)}
    ran = [h for h in run.hosts if h in targets and targets[h].state in ("ok", "changed")]
    if run.state in ("cancelled", "interrupted"):
        status = "cancelled" if run.state == "cancelled" else "interrupted"
        error = run.error or f"the run was {status}"
        if store.transition_job(
            s, job.id, store.LIVE, {"status": status, "finished_at": now, "error": error}
        ):
            _drop_targets(s, job.id)
            audit.record(
                s,
                "worker",
                f"remediation.{status}",
                f"remediation:{job.id}",
                {"run": run.id, "error": error},
                at=now,
            )
        return
    if job.rule_id is not None and ran:
        store.set_targets(s, job.id, ran, ("ok", "changed"), {"verification": "waiting"})
    agents = [targets[h].agent_id for h in ran if targets[h].agent_id is not None]
    store.ask_report_now(s, [a for a in agents if a is not None], now)
    store.transition_job(s, job.id, ("queued", "running", "verifying"), {"ran_at": now})
    settle(s, _job(s, job.id), now, run.error)


def _preview_finished(
    s: Session, settings: Settings, job: RemediationJob, run: RemediationRun, now: datetime
) -> None:
    if run.state == "succeeded":
        if job.decided_at is None:
            store.transition_job(s, job.id, ("previewing",), {"status": "awaiting_approval"})
        elif store.transition_job(s, job.id, ("previewing",), {"status": "queued"}) and (
            _queue_apply(s, settings.remediation, _job(s, job.id), now) is None
        ):
            settle(s, _job(s, job.id), now)
        return
    status = {"cancelled": "cancelled", "interrupted": "interrupted"}.get(run.state, "failed")
    reason = run.error or run.status_text or run.state
    error = f"the preview {'failed' if status == 'failed' else 'was ' + status}: {reason}"
    if store.transition_job(
        s, job.id, ("previewing",), {"status": status, "finished_at": now, "error": error}
    ):
        _drop_targets(s, job.id)
        action = "remediation.interrupted" if status == "interrupted" else "remediation.failed"
        audit.record(
            s, "worker", action, f"remediation:{job.id}", {"run": run.id, "error": error}, at=now
        )


def tick(
    s: Session, settings: Settings, now: datetime, *, policies: PolicyCache | None = None
) -> None:
    """The worker's periodic step: queue runs for waiting hosts that came back online, expire
    hosts offline too long, conclude verifications, start automatic remediation.

    Idempotent, and safe in two processes at once: every change is a conditional UPDATE, and
    the automatic part counts its hourly budget from the table under a row lock.
    """
    from controller.remediation.verify import automatic, resume_waiting, verify

    touched = resume_waiting(s, settings, now)
    touched |= verify(s, settings, now)
    for job_id in sorted(touched | set(store.jobs_to_settle(s))):
        job = store.get_job(s, job_id)
        if job is not None and job.status not in store.TERMINAL:
            settle(s, job, now)
    automatic(s, settings, now, policies or policy_cache(settings))


def new_run(
    s: Session, settings: Settings, job_id: int, mode: str, hosts: Sequence[str], now: datetime
) -> RemediationRun:
    """A queued run of ``job_id`` (for :mod:`controller.remediation.verify`)."""
    return _new_run(s, settings.remediation, job_id, mode, hosts, now)
