"""The periodic part of the workflow (:func:`controller.remediation.workflow.tick`).

* Hosts that were offline get their apply run when their agent reports again, or expire.
* Verification: each fixed host's rule state is read back from its next full report (or from
  any report that turned the rule to ``pass``): ``fixed``, ``not_fixed`` with the rule's
  reason and evidence, or ``unknown`` when no report came within ``verify_timeout_s``. A
  classified computer's report comes in an imported bundle, which writes the same rule states.
* Automatic remediation of the rules in ``remediation.auto_rules``, at most ``auto_per_hour``
  new jobs an hour, counted from the table under a row lock (several processes tick).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from controller.findings.policies import PolicyCache
from controller.remediation import targets as hosts_of
from controller.remediation.model import RemediationError
from controller.settings import Settings
from controller.store import audit
from controller.store import remediation as store
from controller.store import remediation_hosts as hosts_store
from controller.store.models import RemediationJob

log = logging.getLogger(__name__)


def settle(s: Session, job: RemediationJob, now: datetime, run_error: str | None = None) -> None:
    """Conclude ``job`` when none of its hosts is still to run or to verify; ``run_error``
    (the last run's) explains a failure."""
    targets = store.targets_of(s, job.id)
    if any(t.state in store.UNFINISHED for t in targets):
        if all(t.state == "waiting" for t in targets if t.state in store.UNFINISHED):
            # The worker set the job running at its run's claim; now only offline hosts remain.
            store.transition_job(s, job.id, ("running",), {"status": "queued"})
        return
    moving = ("queued", "running", "verifying")
    if any(t.verification == "waiting" for t in targets):
        store.transition_job(s, job.id, moving, {"status": "verifying"})
        return
    total = len(targets)
    ran = [t for t in targets if t.state in ("ok", "changed")]
    if job.rule_id is None or not ran:
        if total and len(ran) == total:
            status, error, action = "fixed", None, "remediation.verified"
        else:
            status, action = "failed", "remediation.failed"
            error = f"the playbook did not succeed on {total - len(ran)} of {total} hosts"
            if run_error:
                error += f": {run_error}"
    else:
        fixed = sum(1 for t in targets if t.verification == "fixed")
        if fixed == total:
            status, error, action = "fixed", None, "remediation.verified"
        else:
            status, action = "not_fixed", "remediation.not_fixed"
            error = f"remediation did not fix: {total - fixed} of {total} hosts still fail"
            error += f" {job.rule_id}"
    values = {"status": status, "error": error, "finished_at": now, "verified_at": now}
    if store.transition_job(s, job.id, moving, values):
        audit.record(
            s,
            "worker",
            action,
            f"remediation:{job.id}",
            {
                "status": status,
                "error": error,
                "hosts": {t.host: t.verification or t.state for t in targets},
            },
            at=now,
        )


def resume_waiting(s: Session, settings: Settings, now: datetime) -> set[int]:
    """New apply runs for waiting hosts whose agent reported since they were queued (of
    approved jobs), expiry of those waiting longer than ``offline_wait_s``; the jobs touched."""
    from controller.remediation.workflow import new_run

    config = settings.remediation
    waiting = store.waiting_targets(s)
    if not waiting:
        return set()
    seen = hosts_store.freshness(s, {t.agent_id for t in waiting if t.agent_id is not None})
    back: dict[int, list[str]] = {}
    touched: set[int] = set()
    statuses = {
        job_id: job.status
        for job_id in {t.job_id for t in waiting}
        if (job := store.get_job(s, job_id)) is not None
    }
    for target in waiting:
        queued_at = target.queued_at or now
        fresh = seen.get(target.agent_id or "")
        seen_at = fresh.last_seen_at if fresh is not None else None
        reported = seen_at is not None and seen_at > queued_at
        if reported and statuses.get(target.job_id) in ("queued", "running", "verifying"):
            back.setdefault(target.job_id, []).append(target.host)
        elif now - queued_at > timedelta(seconds=config.offline_wait_s) and store.set_targets(
            s, target.job_id, [target.host], ("waiting",), {"state": "expired"}
        ):
            touched.add(target.job_id)
    for job_id, names in sorted(back.items()):
        run = new_run(s, settings, job_id, "apply", names, now)
        taken = store.set_targets(
            s, job_id, names, ("waiting",), {"state": "pending", "run_id": run.id, "queued_at": now}
        )
        if not taken:
            # Another process queued them first.
            s.delete(run)
            s.flush()
            continue
        if taken != sorted(names):
            run.hosts = taken
            s.flush()
        log.info(
            "remediation job %d: %d hosts back online, run %d queued", job_id, len(taken), run.id
        )
        touched.add(job_id)
    return touched


def verify(s: Session, settings: Settings, now: datetime) -> set[int]:
    """Conclude the verification of targets whose next report arrived (or never will); the
    jobs touched."""
    waiting = store.verifying_targets(s)
    if not waiting:
        return set()
    agents = {t.agent_id for t, _ in waiting if t.agent_id is not None}
    seen = hosts_store.freshness(s, agents)
    states = hosts_store.rule_states(
        s, {(t.agent_id, j.rule_id) for t, j in waiting if t.agent_id and j.rule_id}
    )
    timeout = timedelta(seconds=settings.remediation.verify_timeout_s)
    touched: set[int] = set()
    for target, job in waiting:
        ran_at = target.ran_at or job.ran_at or now
        verdict: tuple[str, Any] | None = None
        if target.agent_id is None or job.rule_id is None:
            verdict = ("unknown", {"reason": "no agent reports on this host"})
        else:
            state = states.get((target.agent_id, job.rule_id))
            fresh = seen.get(target.agent_id)
            full_at = fresh.full_at if fresh is not None else None
            if state is not None and state.outcome == "pass" and state.since >= ran_at:
                verdict = ("fixed", _evidence(state))
            elif full_at is not None and full_at > ran_at:
                if state is None:
                    verdict = ("unknown", {"reason": "the rule was not evaluated on this host"})
                else:
                    outcome = {"pass": "fixed", "fail": "not_fixed"}.get(state.outcome, "unknown")
                    verdict = (outcome, _evidence(state))
            elif now - ran_at > timeout:
                verdict = (
                    "unknown",
                    {"reason": f"no full report within {int(timeout.total_seconds())} s"},
                )
        if verdict is not None and store.conclude_target(
            s, job.id, target.host, verdict[0], now, verdict[1]
        ):
            touched.add(job.id)
    return touched


def _evidence(state: Any) -> dict[str, Any]:
    return {
        "outcome": state.outcome,
        "since": state.since.isoformat(),
        "reason": state.reason,
        "evidence": state.evidence,
    }


def automatic(s: Session, settings: Settings, now: datetime, policies: PolicyCache) -> int:
    """Start jobs for the failing hosts of ``remediation.auto_rules``; how many were started.

    One job per rule and host. A host is skipped while it has a live job for the rule, when
    its newest automatic job for the rule came after the failure began (that failure was
    tried: a new one needs the rule to pass and fail again), and when the request would be
    refused (a classified host, no address). Only rules whose remediation needs no approval
    run unattended; the others wait for an operator after their preview.
    """
    from controller.remediation.workflow import request

    config = settings.remediation
    if not config.auto_rules or config.auto_per_hour <= 0:
        return 0
    evaluator = policies.current()
    if evaluator is None:
        return 0
    # Serialises the count and the inserts between processes until this transaction ends.
    store.lock_auto(s, now)
    budget = config.auto_per_hour - store.auto_jobs_since(s, now - timedelta(hours=1))
    started = 0
    for rule_id in config.auto_rules:
        rule = evaluator.by_id.get(rule_id)
        if rule is None or rule.remediation is None or budget <= 0:
            continue
        failing, _assets = hosts_store.failing_hosts(s, rule_id)
        live = store.live_agents_for_rule(s, rule_id)
        tried = store.last_auto_request(s, rule_id, failing)
        states = hosts_store.rule_states(s, {(a, rule_id) for a in failing})
        for agent_id in failing:
            if budget <= 0:
                break
            state = states.get((agent_id, rule_id))
            last = tried.get(agent_id)
            if agent_id in live or (last is not None and state is not None and last >= state.since):
                continue
            try:
                host = hosts_of.resolve(s, agent_id)
                hosts_of.check_hosts(s, settings, rule.remediation.playbook, [host])
            except RemediationError as exc:
                log.debug("no automatic remediation of %s on %s: %s", rule_id, agent_id, exc)
                continue
            job = request(
                s,
                settings,
                rule_id=rule_id,
                hosts=[agent_id],
                actor="auto",
                origin="auto",
                now=now,
                policies=policies,
            )
            log.info("automatic remediation of %s on %s: job %d", rule_id, agent_id, job.id)
            budget -= 1
            started += 1
    return started
