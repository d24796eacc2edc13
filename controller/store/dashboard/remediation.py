"""Remediation on the dashboard: the jobs list, one job (targets, runs, preview diff, live log),
a host's remediation history, and what the Remediate form needs to know about its subject.

A job is visible to an account only when **every** target's unit is in its scope (a job that
also touched another commune's computer is not shown to a commune officer, even in part): the
safer of "all" and "any". Each function runs a fixed number of queries, whatever the number of
targets, runs or events (no per-row query).
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
    unit_filter,
)
from controller.store.models import (
    REMEDIATION_JOB_STATUSES,
    Agent,
    Asset,
    Finding,
    RemediationEvent,
    RemediationJob,
    RemediationRun,
    RemediationTarget,
    RuleState,
    Unit,
)
from controller.store.scope import UnitScope, in_scope

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


@dataclass(frozen=True, slots=True)
class Subject:
    """A computer the Remediate form acts on, with its failing rules."""

    agent_id: str
    hostname: str
    unit_id: str
    unit_name: str
    classified: bool
    #: Rules whose current outcome on this computer is ``fail``.
    failing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FindingSubject:
    """A finding the Remediate form starts from."""

    id: int
    rule_id: str
    status: str
    severity: str
    agent_id: str | None
    #: The agent's host name, else the finding's subject (``asset:<id>``).
    hostname: str
    unit_id: str
    unit_name: str
    classified: bool


def classified_host() -> ColumnElement[bool]:
    """An agent whose computer the workflow treats as classified: enrolled by carried files, or
    linked to a live asset that is not ``normal`` or is for secret use (the same rule as
    :func:`controller.remediation.targets.resolve`, so the form offers what the workflow takes).
    """
    linked = (
        select(Asset.id)
        .where(
            Asset.agent_id == Agent.id,
            Asset.retired_at.is_(None),
            or_(Asset.classification != "normal", Asset.for_secret_use.is_(True)),
        )
        .exists()
    )
    return or_(Agent.offline.is_(True), linked)


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


def host_subject(s: Session, scope: UnitScope, agent_id: str) -> Subject | None:
    """The computer of agent ``agent_id`` with its failing rules; None if unknown or hidden."""
    row = s.execute(
        select(Agent.id, Agent.hostname, Agent.unit_id, Unit.name, classified_host())
        .join(Unit, Unit.id == Agent.unit_id)
        .where(Agent.id == agent_id, unit_filter(Agent.unit_id, scope))
    ).first()
    if row is None:
        return None
    failing = s.scalars(
        select(RuleState.rule_id)
        .where(RuleState.agent_id == agent_id, RuleState.outcome == "fail")
        .order_by(RuleState.rule_id)
    ).all()
    return Subject(row[0], row[1], row[2], row[3], bool(row[4]), tuple(failing))


def finding_subject(s: Session, scope: UnitScope, finding_id: int) -> FindingSubject | None:
    """Finding ``finding_id`` with its computer; None if unknown or outside ``scope``."""
    row = s.execute(
        select(Finding, Agent.hostname, Unit.name)
        .outerjoin(Agent, Agent.id == Finding.agent_id)
        .join(Unit, Unit.id == Finding.unit_id)
        .where(Finding.id == finding_id)
    ).first()
    if row is None or not in_scope(scope, row[0].unit_id):
        return None
    finding, hostname, unit_name = row
    if finding.agent_id is not None:
        classified = bool(s.scalar(select(classified_host()).where(Agent.id == finding.agent_id)))
    else:
        asset_id = finding.subject.removeprefix("asset:")
        found = s.execute(
            select(Asset.classification, Asset.for_secret_use).where(Asset.id == asset_id)
        ).first()
        classified = found is not None and (found[0] != "normal" or bool(found[1]))
    return FindingSubject(
        id=finding.id,
        rule_id=finding.rule_id,
        status=finding.status,
        severity=finding.severity,
        agent_id=finding.agent_id,
        hostname=hostname or finding.subject,
        unit_id=finding.unit_id,
        unit_name=unit_name,
        classified=classified,
    )


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """One host of one job, for the remediation report."""

    job_id: int
    unit_id: str
    unit_name: str
    #: The agent's reported host name, else the asset's, else the inventory name.
    hostname: str
    rule_id: str | None
    playbook: str
    origin: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    status: str
    state: str
    verification: str | None
    finished_at: datetime | None
    error: str | None


def report_targets(
    s: Session, scope: UnitScope, start: datetime, end: datetime
) -> tuple[ReportTarget, ...]:
    """Every host of the jobs requested in ``[start, end)`` whose unit is in ``scope``, oldest
    job first (a job on two communes shows in each commune's report with its own hosts)."""
    rows = s.execute(
        select(RemediationJob, RemediationTarget, Unit.name, Agent.hostname, Asset.hostname)
        .join(RemediationTarget, RemediationTarget.job_id == RemediationJob.id)
        .join(Unit, Unit.id == RemediationTarget.unit_id)
        .outerjoin(Agent, Agent.id == RemediationTarget.agent_id)
        .outerjoin(Asset, Asset.id == RemediationTarget.asset_id)
        .where(
            RemediationJob.requested_at >= start,
            RemediationJob.requested_at < end,
            unit_filter(RemediationTarget.unit_id, scope),
        )
        .order_by(RemediationJob.requested_at, RemediationJob.id, RemediationTarget.host)
    ).all()
    return tuple(
        ReportTarget(
            job_id=job.id,
            unit_id=target.unit_id,
            unit_name=unit_name,
            hostname=agent_name or asset_name or target.host,
            rule_id=job.rule_id,
            playbook=job.playbook,
            origin=job.origin,
            requested_by=job.requested_by,
            requested_at=job.requested_at,
            decided_by=job.decided_by,
            status=job.status,
            state=target.state,
            verification=target.verification,
            finished_at=job.finished_at,
            error=job.error,
        )
        for job, target, unit_name, agent_name, asset_name in rows
    )
