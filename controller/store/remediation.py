"""Rows of remediation jobs, their targets, runs and events, and what the workflow reads.

State changes are conditional UPDATEs (``WHERE id = ? AND status IN (...)``): a decision, a
new run for a host that came back or a verification succeeds only from the state its caller
saw, so two operators clicking at once, or two worker processes ticking at once, never both
win. The domain rules are in :mod:`controller.remediation.workflow`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from controller.store.models import (
    Agent,
    RemediationEvent,
    RemediationJob,
    RemediationRun,
    RemediationTarget,
)
from controller.store.scope import UnitScope

#: Job statuses from which nothing moves any more.
TERMINAL = ("fixed", "not_fixed", "failed", "cancelled", "rejected", "interrupted")
#: Job statuses of a job still on its way (a host must not get a second live job per rule).
LIVE = ("previewing", "awaiting_approval", "queued", "running", "verifying")
#: Target states of a host whose apply run has not ended.
UNFINISHED = ("pending", "waiting", "running")
#: Target states after an apply run ended on the host.
TERMINAL_TARGET = ("ok", "changed", "failed", "unreachable", "cancelled")


def _changed(result: Any) -> int:
    return int(getattr(result, "rowcount", 0))


# -- single rows ------------------------------------------------------------------------------


def get_job(s: Session, job_id: int) -> RemediationJob | None:
    """The job as the database has it now (the state changes are UPDATEs that bypass the
    session's copies), or None."""
    return s.get(RemediationJob, job_id, populate_existing=True)


def get_run(s: Session, run_id: int) -> RemediationRun | None:
    """The run as the database has it now, or None."""
    return s.get(RemediationRun, run_id, populate_existing=True)


def add(s: Session, row: RemediationJob | RemediationRun | RemediationTarget) -> None:
    """Insert ``row`` and flush (an id is known afterwards)."""
    s.add(row)
    s.flush()


def transition_job(
    s: Session, job_id: int, from_statuses: Sequence[str], values: dict[str, Any]
) -> bool:
    """Set ``values`` on the job if its status is one of ``from_statuses``; whether it was."""
    result = s.execute(
        update(RemediationJob)
        .where(RemediationJob.id == job_id, RemediationJob.status.in_(tuple(from_statuses)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


def cancel_runs(s: Session, job_id: int, at: datetime) -> tuple[int, int]:
    """Cancel the job's queued runs (they never start) and ask its running ones to stop.

    Returns ``(queued runs cancelled, running runs asked to stop)``.
    """
    queued = s.execute(
        update(RemediationRun)
        .where(RemediationRun.job_id == job_id, RemediationRun.state == "queued")
        .values(state="cancelled", finished_at=at, cancel_requested_at=at)
        .execution_options(synchronize_session=False)
    )
    running = s.execute(
        update(RemediationRun)
        .where(
            RemediationRun.job_id == job_id,
            RemediationRun.state == "running",
            RemediationRun.cancel_requested_at.is_(None),
        )
        .values(cancel_requested_at=at)
        .execution_options(synchronize_session=False)
    )
    return _changed(queued), _changed(running)


def set_targets(
    s: Session,
    job_id: int,
    hosts: Collection[str],
    from_states: Sequence[str],
    values: dict[str, Any],
) -> list[str]:
    """Set ``values`` on the job's targets among ``hosts`` that are in one of ``from_states``;
    the hosts that changed (re-read: another process may have taken some first)."""
    if not hosts:
        return []
    s.execute(
        update(RemediationTarget)
        .where(
            RemediationTarget.job_id == job_id,
            RemediationTarget.host.in_(sorted(hosts)),
            RemediationTarget.state.in_(tuple(from_states)),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed = select(RemediationTarget.host).where(
        RemediationTarget.job_id == job_id, RemediationTarget.host.in_(sorted(hosts))
    )
    for name, value in values.items():
        changed = changed.where(getattr(RemediationTarget, name) == value)
    return list(s.scalars(changed.order_by(RemediationTarget.host)))


def conclude_target(
    s: Session, job_id: int, host: str, verification: str, at: datetime, evidence: Any
) -> bool:
    """Record the verification of a target still waiting for it; whether this call did."""
    result = s.execute(
        update(RemediationTarget)
        .where(
            RemediationTarget.job_id == job_id,
            RemediationTarget.host == host,
            RemediationTarget.verification == "waiting",
        )
        .values(verification=verification, verified_at=at, evidence=evidence)
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


# -- what a job holds -------------------------------------------------------------------------


def targets_of(s: Session, job_id: int) -> list[RemediationTarget]:
    """The job's hosts, by name, read afresh."""
    return list(
        s.scalars(
            select(RemediationTarget)
            .where(RemediationTarget.job_id == job_id)
            .order_by(RemediationTarget.host)
            .execution_options(populate_existing=True)
        )
    )


def runs_of(s: Session, job_id: int) -> list[RemediationRun]:
    """The job's runs, oldest first, read afresh."""
    return list(
        s.scalars(
            select(RemediationRun)
            .where(RemediationRun.job_id == job_id)
            .order_by(RemediationRun.id)
            .execution_options(populate_existing=True)
        )
    )


@dataclass(frozen=True, slots=True)
class JobView:
    """One job with its hosts and runs (``govguard jobs show``, the job page)."""

    job: RemediationJob
    targets: list[RemediationTarget]
    runs: list[RemediationRun]


def job_view(s: Session, job_id: int, scope: UnitScope = None) -> JobView | None:
    """The job with its targets and runs; None when unknown or none of its hosts is in
    ``scope`` (a commune officer never sees another commune's job)."""
    job = get_job(s, job_id)
    if job is None:
        return None
    targets = targets_of(s, job_id)
    if scope is not None and not any(t.unit_id in scope for t in targets):
        return None
    return JobView(job, targets, runs_of(s, job_id))


def list_jobs(
    s: Session,
    scope: UnitScope = None,
    *,
    statuses: Sequence[str] | None = None,
    rule_id: str | None = None,
    host: str | None = None,
    limit: int = 200,
) -> list[RemediationJob]:
    """Jobs, newest first; ``host`` matches a target's inventory name, agent id or asset id;
    ``scope`` keeps jobs with at least one host in those units."""
    query = select(RemediationJob).order_by(RemediationJob.id.desc()).limit(limit)
    if statuses:
        query = query.where(RemediationJob.status.in_(tuple(statuses)))
    if rule_id is not None:
        query = query.where(RemediationJob.rule_id == rule_id)
    targets = select(RemediationTarget.job_id)
    filtered = False
    if host is not None:
        targets = targets.where(
            or_(
                RemediationTarget.host == host,
                RemediationTarget.agent_id == host,
                RemediationTarget.asset_id == host,
            )
        )
        filtered = True
    if scope is not None:
        targets = targets.where(RemediationTarget.unit_id.in_(sorted(scope)))
        filtered = True
    if filtered:
        query = query.where(RemediationJob.id.in_(targets))
    return list(s.scalars(query))


def host_counts(s: Session, job_ids: Collection[int]) -> dict[int, int]:
    """``{job id: number of hosts}``."""
    if not job_ids:
        return {}
    rows = s.execute(
        select(RemediationTarget.job_id, func.count())
        .where(RemediationTarget.job_id.in_(sorted(job_ids)))
        .group_by(RemediationTarget.job_id)
    )
    return {job_id: int(n) for job_id, n in rows}


def jobs_of_host(
    s: Session, *, agent_id: str | None = None, asset_id: str | None = None, limit: int = 50
) -> list[tuple[RemediationJob, RemediationTarget]]:
    """A host's remediation history, newest first: each job with the host's target row."""
    matches = []
    if agent_id is not None:
        matches.append(RemediationTarget.agent_id == agent_id)
    if asset_id is not None:
        matches.append(RemediationTarget.asset_id == asset_id)
    if not matches:
        return []
    rows = s.execute(
        select(RemediationJob, RemediationTarget)
        .join(RemediationTarget, RemediationTarget.job_id == RemediationJob.id)
        .where(or_(*matches))
        .order_by(RemediationJob.id.desc())
        .limit(limit)
    )
    return [(job, target) for job, target in rows]


def events_after(
    s: Session, job_id: int, after: int = 0, limit: int = 1000
) -> list[RemediationEvent]:
    """The job's events (all its runs) whose id is above ``after``, in order: the live log
    follows a job by passing the last id it printed."""
    return list(
        s.scalars(
            select(RemediationEvent)
            .join(RemediationRun, RemediationRun.id == RemediationEvent.run_id)
            .where(RemediationRun.job_id == job_id, RemediationEvent.id > after)
            .order_by(RemediationEvent.id)
            .limit(limit)
        )
    )


def events_tail(s: Session, job_id: int, limit: int) -> list[RemediationEvent]:
    """The job's last ``limit`` events, in order."""
    rows = list(
        s.scalars(
            select(RemediationEvent)
            .join(RemediationRun, RemediationRun.id == RemediationEvent.run_id)
            .where(RemediationRun.job_id == job_id)
            .order_by(RemediationEvent.id.desc())
            .limit(limit)
        )
    )
    rows.reverse()
    return rows


def preview_diffs(s: Session, job_id: int) -> list[RemediationEvent]:
    """The events of the job's check runs that carry a diff (the preview), in order."""
    return list(
        s.scalars(
            select(RemediationEvent)
            .join(RemediationRun, RemediationRun.id == RemediationEvent.run_id)
            .where(
                RemediationRun.job_id == job_id,
                RemediationRun.mode == "check",
                RemediationEvent.diff.is_not(None),
            )
            .order_by(RemediationEvent.id)
        )
    )


# -- the workflow's periodic reads ------------------------------------------------------------


def waiting_targets(s: Session) -> list[RemediationTarget]:
    """Targets waiting for their host to come back, of approved jobs (``queued``/``running``),
    and of jobs not approved yet (only expiry concerns those)."""
    return list(
        s.scalars(
            select(RemediationTarget)
            .join(RemediationJob, RemediationJob.id == RemediationTarget.job_id)
            .where(RemediationTarget.state == "waiting", RemediationJob.status.in_(LIVE))
            .order_by(RemediationTarget.job_id, RemediationTarget.host)
        )
    )


def verifying_targets(s: Session) -> list[tuple[RemediationTarget, RemediationJob]]:
    """Targets whose next report is awaited, with their job."""
    rows = s.execute(
        select(RemediationTarget, RemediationJob)
        .join(RemediationJob, RemediationJob.id == RemediationTarget.job_id)
        .where(RemediationTarget.verification == "waiting", RemediationJob.status.in_(LIVE))
        .order_by(RemediationTarget.job_id, RemediationTarget.host)
    )
    return [(target, job) for target, job in rows]


def jobs_to_settle(s: Session) -> list[int]:
    """Ids of approved or verifying jobs none of whose hosts is still unfinished (a tick
    concludes them, e.g. after the last waiting host expired)."""
    unfinished = select(RemediationTarget.job_id).where(RemediationTarget.state.in_(UNFINISHED))
    waiting = select(RemediationTarget.job_id).where(RemediationTarget.verification == "waiting")
    return list(
        s.scalars(
            select(RemediationJob.id)
            .where(
                RemediationJob.status.in_(("queued", "running", "verifying")),
                RemediationJob.id.not_in(unfinished),
                RemediationJob.id.not_in(waiting),
            )
            .order_by(RemediationJob.id)
        )
    )


def live_agents_for_rule(s: Session, rule_id: str) -> set[str]:
    """Agent ids that are a target of a live job for ``rule_id``."""
    return set(
        s.scalars(
            select(RemediationTarget.agent_id)
            .join(RemediationJob, RemediationJob.id == RemediationTarget.job_id)
            .where(
                RemediationJob.rule_id == rule_id,
                RemediationJob.status.in_(LIVE),
                RemediationTarget.agent_id.is_not(None),
            )
        )
    )


def last_auto_request(s: Session, rule_id: str, agent_ids: Collection[str]) -> dict[str, datetime]:
    """``{agent id: when its newest automatic job for rule_id was requested}``."""
    if not agent_ids:
        return {}
    rows = s.execute(
        select(RemediationTarget.agent_id, func.max(RemediationJob.requested_at))
        .join(RemediationJob, RemediationJob.id == RemediationTarget.job_id)
        .where(
            RemediationJob.rule_id == rule_id,
            RemediationJob.origin == "auto",
            RemediationTarget.agent_id.in_(sorted(agent_ids)),
        )
        .group_by(RemediationTarget.agent_id)
    )
    return {agent_id: at for agent_id, at in rows if agent_id is not None}


def auto_jobs_since(s: Session, since: datetime) -> int:
    """Automatic jobs requested at or after ``since`` (the hourly rate limit, counted from the
    table so that every process sees the same number)."""
    return int(
        s.scalar(
            select(func.count())
            .select_from(RemediationJob)
            .where(RemediationJob.origin == "auto", RemediationJob.requested_at >= since)
        )
        or 0
    )


# -- report now -------------------------------------------------------------------------------


def ask_report_now(s: Session, agent_ids: Collection[str], at: datetime) -> None:
    """Ask these agents for a fresh report (their next ingest reply says ``report_now``)."""
    if not agent_ids:
        return
    s.execute(
        update(Agent)
        .where(Agent.id.in_(sorted(agent_ids)))
        .values(report_now_at=at)
        .execution_options(synchronize_session=False)
    )


def take_report_now(s: Session, agent_ids: Collection[str]) -> set[str]:
    """Of ``agent_ids``, those asked for a report now; the request is cleared (one UPDATE ...
    RETURNING, in the transaction that stores their reports: one statement per batch)."""
    if not agent_ids:
        return set()
    rows = s.execute(
        update(Agent)
        .where(and_(Agent.id.in_(sorted(agent_ids)), Agent.report_now_at.is_not(None)))
        .values(report_now_at=None)
        .returning(Agent.id)
        .execution_options(synchronize_session=False)
    )
    return {agent_id for (agent_id,) in rows}


def lock_auto(s: Session, at: datetime) -> None:
    """Take the automatic remediation's row lock until the transaction ends.

    An UPDATE of its ``jobs`` row: a second process's UPDATE waits there (PostgreSQL row lock;
    SQLite has one writer anyway), then counts the jobs the first one committed.
    """
    from controller.store import jobs

    jobs.request(s, "remediation.auto", at)
