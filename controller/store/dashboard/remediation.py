"""Remediation on the dashboard: the jobs list, one job (targets, runs, preview diff, live log),
a host's remediation history, and what the Remediate form needs to know about its subject.

A job is visible to an account only when **every** target's unit is in its scope (a job that
also touched another commune's computer is not shown to a commune officer, even in part): the
safer of "all" and "any". Each function runs a fixed number of queries, whatever the number of
targets, runs or events (no per-row query). The Remediate form's subjects and the report's rows
are :mod:`controller.store.dashboard.remediation_subjects`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from controller.store.dashboard._common import (
    QueryError,
    choice,
    page_bounds,
)
from controller.store.models import (
    REMEDIATION_JOB_STATUSES,
    Agent,
    RemediationEvent,
    RemediationJob,
    RemediationRun,
    RemediationTarget,
    Unit,
)
from controller.store.scope import UnitScope

#: Job statuses after which nothing runs any more (the live log stops polling).
FINISHED_STATUSES = frozenset(
    {"fixed", "not_fixed", "failed", "cancelled", "rejected", "interrupted"}
)
#: Jobs per page of the list.
JOBS_PER_PAGE = 50
#: Events one answer of the live log carries at most (the next poll fetches the rest).
EVENTS_PER_FETCH = 500
#: Jobs a host page lists in its history.
HOST_HISTORY = 20


@dataclass(frozen=True, slots=True)
class JobQuery:
    """The jobs list's filters."""

    status: str | None = None
    rule: str | None = None
    page: int = 1


@dataclass(frozen=True, slots=True)
class JobRow:
    """One line of the jobs list."""

    id: int
    playbook: str
    rule_id: str | None
    finding_id: int | None
    status: str
    approval: str
    origin: str
    requested_by: str
    requested_at: datetime
    finished_at: datetime | None
    hosts: int


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of jobs and how many match in all."""

    rows: tuple[JobRow, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the matching jobs fill (at least 1)."""
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class TargetView:
    """One host of a job."""

    host: str
    agent_id: str | None
    asset_id: str | None
    #: The agent's reported host name (hostile text: pages escape it), else None.
    hostname: str | None
    unit_id: str
    unit_name: str
    classified: bool
    state: str
    run_id: int | None
    ran_at: datetime | None
    verification: str | None
    verified_at: datetime | None
    evidence: Any


@dataclass(frozen=True, slots=True)
class RunView:
    """One ansible execution of a job."""

    id: int
    mode: str
    state: str
    hosts: tuple[str, ...]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    status_text: str | None
    rc: int | None
    stats: dict[str, Any]
    error: str | None


@dataclass(frozen=True, slots=True)
class DiffView:
    """What the preview (check mode) would change on one host, task by task."""

    host: str
    task: str | None
    diff: str


@dataclass(frozen=True, slots=True)
class EventView:
    """One line of the live log."""

    id: int
    run_id: int
    mode: str
    seq: int
    at: datetime
    event: str
    host: str | None
    task: str | None
    changed: bool
    failed: bool
    stdout: str | None


@dataclass(frozen=True, slots=True)
class JobDetail:
    """Everything the job page shows."""

    id: int
    playbook: str
    rule_id: str | None
    finding_id: int | None
    status: str
    approval: str
    origin: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    ran_at: datetime | None
    verified_at: datetime | None
    finished_at: datetime | None
    error: str | None
    cancel_requested_at: datetime | None
    extra_vars: dict[str, Any]
    targets: tuple[TargetView, ...]
    runs: tuple[RunView, ...]
    diffs: tuple[DiffView, ...]

    @property
    def finished(self) -> bool:
        """Nothing runs or waits any more."""
        return self.status in FINISHED_STATUSES


@dataclass(frozen=True, slots=True)
class HostJob:
    """One job of a host's remediation history."""

    job_id: int
    playbook: str
    rule_id: str | None
    status: str
    requested_by: str
    requested_at: datetime
    state: str
    verification: str | None
    evidence: Any


def visible(scope: UnitScope) -> ColumnElement[bool]:
    """A job every target of which is in ``scope`` (and that has a target at all)."""
    if scope is None:
        return true()
    if not scope:
        return false()
    # An alias, correlated to the job only: the outer query may join the targets itself.
    other = aliased(RemediationTarget)
    targets = select(other.job_id).where(other.job_id == RemediationJob.id)
    outside = targets.where(other.unit_id.not_in(sorted(scope)))
    return targets.correlate(RemediationJob).exists() & ~outside.correlate(RemediationJob).exists()


def job_visible(s: Session, scope: UnitScope, job_id: int) -> bool:
    """Whether job ``job_id`` exists and the scope sees it (POSTs check this first)."""
    found = s.scalar(select(RemediationJob.id).where(RemediationJob.id == job_id, visible(scope)))
    return found is not None


def list_jobs(s: Session, scope: UnitScope, query: JobQuery) -> JobPage:
    """One page of the jobs ``scope`` sees, newest first (:class:`QueryError` if invalid)."""
    status = choice("status", query.status, REMEDIATION_JOB_STATUSES)
    offset, limit = page_bounds(query.page, JOBS_PER_PAGE)
    conditions = [visible(scope)]
    if status is not None:
        conditions.append(RemediationJob.status == status)
    if query.rule:
        conditions.append(RemediationJob.rule_id == query.rule)
    total = s.scalar(select(func.count()).select_from(RemediationJob).where(*conditions)) or 0
    counts = (
        select(RemediationTarget.job_id, func.count().label("n"))
        .group_by(RemediationTarget.job_id)
        .subquery()
    )
    rows = s.execute(
        select(RemediationJob, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.job_id == RemediationJob.id)
        .where(*conditions)
        .order_by(RemediationJob.requested_at.desc(), RemediationJob.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return JobPage(
        tuple(
            JobRow(
                id=job.id,
                playbook=job.playbook,
                rule_id=job.rule_id,
                finding_id=job.finding_id,
                status=job.status,
                approval=job.approval,
                origin=job.origin,
                requested_by=job.requested_by,
                requested_at=job.requested_at,
                finished_at=job.finished_at,
                hosts=int(n),
            )
            for job, n in rows
        ),
        int(total),
        query.page,
        JOBS_PER_PAGE,
    )


def job_detail(s: Session, scope: UnitScope, job_id: int) -> JobDetail | None:
    """Job ``job_id`` with its targets, runs and preview diff; None if unknown or not visible."""
    job = s.scalar(select(RemediationJob).where(RemediationJob.id == job_id, visible(scope)))
    if job is None:
        return None
    targets = s.execute(
        select(RemediationTarget, Agent.hostname, Unit.name)
        .outerjoin(Agent, Agent.id == RemediationTarget.agent_id)
        .outerjoin(Unit, Unit.id == RemediationTarget.unit_id)
        .where(RemediationTarget.job_id == job_id)
        .order_by(RemediationTarget.host)
    ).all()
    runs = s.scalars(
        select(RemediationRun).where(RemediationRun.job_id == job_id).order_by(RemediationRun.id)
    ).all()
    check_runs = [run.id for run in runs if run.mode == "check"]
    diffs: Sequence[tuple[str | None, str | None, str | None]] = ()
    if check_runs:
        diffs = s.execute(
            select(RemediationEvent.host, RemediationEvent.task, RemediationEvent.diff)
            .where(
                RemediationEvent.run_id.in_(check_runs),
                RemediationEvent.diff.is_not(None),
                RemediationEvent.diff != "",
            )
            .order_by(RemediationEvent.host, RemediationEvent.run_id, RemediationEvent.seq)
        ).all()
    return JobDetail(
        id=job.id,
        playbook=job.playbook,
        rule_id=job.rule_id,
        finding_id=job.finding_id,
        status=job.status,
        approval=job.approval,
        origin=job.origin,
        requested_by=job.requested_by,
        requested_at=job.requested_at,
        decided_by=job.decided_by,
        decided_at=job.decided_at,
        ran_at=job.ran_at,
        verified_at=job.verified_at,
        finished_at=job.finished_at,
        error=job.error,
        cancel_requested_at=job.cancel_requested_at,
        extra_vars=dict(job.extra_vars or {}),
        targets=tuple(
            TargetView(
                host=t.host,
                agent_id=t.agent_id,
                asset_id=t.asset_id,
                hostname=hostname,
                unit_id=t.unit_id,
                unit_name=unit_name or t.unit_id,
                classified=t.classified,
                state=t.state,
                run_id=t.run_id,
                ran_at=t.ran_at,
                verification=t.verification,
                verified_at=t.verified_at,
                evidence=t.evidence,
            )
            for t, hostname, unit_name in targets
        ),
        runs=tuple(
            RunView(
                id=r.id,
                mode=r.mode,
                state=r.state,
                hosts=tuple(r.hosts or ()),
                created_at=r.created_at,
                started_at=r.started_at,
                finished_at=r.finished_at,
                status_text=r.status_text,
                rc=r.rc,
                stats=dict(r.stats or {}),
                error=r.error,
            )
            for r in runs
        ),
        diffs=tuple(DiffView(host or "", task, diff or "") for host, task, diff in diffs),
    )


def job_events(
    s: Session, scope: UnitScope, job_id: int, *, after: int = 0, limit: int = EVENTS_PER_FETCH
) -> tuple[str, tuple[EventView, ...]] | None:
    """The job's status and its runs' events with an id above ``after`` (oldest first, at most
    ``limit``); None if the job is unknown or not visible.

    The event id is the live log's cursor: it grows across all runs of the job, so one number
    says where the page stopped.
    """
    status = s.scalar(
        select(RemediationJob.status).where(RemediationJob.id == job_id, visible(scope))
    )
    if status is None:
        return None
    if not 1 <= limit <= EVENTS_PER_FETCH:
        raise QueryError(f"limit must be between 1 and {EVENTS_PER_FETCH}, not {limit}")
    rows = s.execute(
        select(RemediationEvent, RemediationRun.mode)
        .join(RemediationRun, RemediationRun.id == RemediationEvent.run_id)
        .where(RemediationRun.job_id == job_id, RemediationEvent.id > after)
        .order_by(RemediationEvent.id)
        .limit(limit)
    ).all()
    return status, tuple(
        EventView(
            id=e.id,
            run_id=e.run_id,
            mode=mode,
            seq=e.seq,
            at=e.at,
            event=e.event,
            host=e.host,
            task=e.task,
            changed=e.changed,
            failed=e.failed,
            stdout=e.stdout,
        )
        for e, mode in rows
    )


def host_jobs(
    s: Session, scope: UnitScope, agent_id: str, asset_id: str | None, limit: int = HOST_HISTORY
) -> tuple[HostJob, ...]:
    """The jobs that targeted this computer (by agent or by its asset), newest first."""
    match = RemediationTarget.agent_id == agent_id
    if asset_id is not None:
        match = or_(match, RemediationTarget.asset_id == asset_id)
    rows = s.execute(
        select(RemediationJob, RemediationTarget)
        .join(RemediationTarget, RemediationTarget.job_id == RemediationJob.id)
        .where(match, visible(scope))
        .order_by(RemediationJob.requested_at.desc(), RemediationJob.id.desc())
        .limit(limit)
    ).all()
    return tuple(
        HostJob(
            job_id=job.id,
            playbook=job.playbook,
            rule_id=job.rule_id,
            status=job.status,
            requested_by=job.requested_by,
            requested_at=job.requested_at,
            state=target.state,
            verification=target.verification,
            evidence=target.evidence,
        )
        for job, target in rows
    )
