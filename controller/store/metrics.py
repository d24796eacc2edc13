"""What ``/metrics`` reads at scrape time (:mod:`controller.metrics`).

A handful of grouped queries whatever the fleet size: no host row is loaded into Python. Only
classified computers are listed one by one (:func:`classified_computers`, the dashboard's own
rule), and a district registers a few of them, not thousands. Label values are bounded: unit
ids (the organisation file), rule ids and severities (the policy packs), fixed status words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import (
    DEFAULT_STALE_AFTER,
    OPEN_STATUSES,
    state_expression,
)
from controller.store.dashboard.overview import CLASSIFIED_ORDER, classified_computers
from controller.store.models import (
    Agent,
    Finding,
    Job,
    Notification,
    RemediationJob,
    Unit,
)

#: Statuses of a notification delivery (:mod:`controller.notify`).
NOTIFICATION_STATUSES = ("queued", "sending", "sent", "failed")
#: Statuses of a classified computer, most urgent first (the overview's order).
CLASSIFIED_STATUSES = tuple(sorted(CLASSIFIED_ORDER, key=CLASSIFIED_ORDER.__getitem__))


@dataclass(frozen=True, slots=True)
class JobRun:
    """The last run of a leased periodic job (a ``jobs`` row)."""

    name: str
    started_at: datetime | None
    finished_at: datetime | None
    #: A process holds the lease now (the job is running).
    running: bool
    #: What the last finished run recorded (the SNMP round's device counts, ...).
    last_result: Mapping[str, Any] | None

    @property
    def last_duration_s(self) -> float | None:
        """Seconds the last finished run took; None before the first or while one runs.

        A claim overwrites ``started_at``, so while a run is in progress the start of the
        finished one is gone.
        """
        if self.started_at is None or self.finished_at is None or self.running:
            return None
        if self.finished_at < self.started_at:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class FleetState:
    """Everything the scrape-time collector exposes, read in one transaction."""

    #: Live units of the organisation (every unit gets a series, zero or not).
    units: tuple[str, ...]
    #: ``(unit, state) -> hosts``, state one of :data:`HOST_STATES` (active agents only).
    hosts: Mapping[tuple[str, str], int]
    #: ``unit -> when its most recently heard agent reported``; units never heard from: absent.
    newest_report: Mapping[str, datetime]
    #: ``(rule, severity, status) -> findings``, status ``open`` or ``acknowledged``.
    findings: Mapping[tuple[str, str, str], int]
    #: ``(unit, status) -> classified computers``, status one of :data:`CLASSIFIED_STATUSES`.
    classified: Mapping[tuple[str, str], int]
    #: ``status -> remediation jobs``.
    remediation_jobs: Mapping[str, int]
    #: ``status -> notification deliveries``.
    notifications: Mapping[str, int]
    jobs: tuple[JobRun, ...]


def fleet_state(
    s: Session,
    now: datetime,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    *,
    timeout_s: float | None = None,
) -> FleetState:
    """Read the figures of :class:`FleetState` at ``now`` (hosts are stale after ``stale_after``,
    as on the dashboard).

    ``timeout_s`` bounds each statement on PostgreSQL (a table locked by a migration must not
    hold a scrape past Prometheus' timeout); SQLite readers never wait for writers in WAL mode.
    """
    if timeout_s is not None and s.get_bind().dialect.name == "postgresql":
        # Transaction-local: the pooled connection gets its default back at the end.
        s.execute(select(func.set_config("statement_timeout", str(int(timeout_s * 1000)), True)))
    units = tuple(s.scalars(select(Unit.id).where(Unit.retired_at.is_(None)).order_by(Unit.id)))
    state = state_expression(now, stale_after)
    hosts: dict[tuple[str, str], int] = {}
    newest: dict[str, datetime] = {}
    for unit_id, host_state, n, last in s.execute(
        select(Agent.unit_id, state, func.count(), func.max(Agent.last_seen_at))
        .where(Agent.status == "active")
        .group_by(Agent.unit_id, state)
    ):
        hosts[(unit_id, host_state)] = int(n)
        if last is not None and (unit_id not in newest or last > newest[unit_id]):
            newest[unit_id] = last
    findings = {
        (rule_id, severity, status): int(n)
        for rule_id, severity, status, n in s.execute(
            select(Finding.rule_id, Finding.severity, Finding.status, func.count())
            .where(Finding.status.in_(OPEN_STATUSES))
            .group_by(Finding.rule_id, Finding.severity, Finding.status)
        )
    }
    classified = Counter(
        (computer.unit_id, computer.status) for computer in classified_computers(s, None, now)
    )
    remediation = {
        status: int(n)
        for status, n in s.execute(
            select(RemediationJob.status, func.count()).group_by(RemediationJob.status)
        )
    }
    notifications = {
        status: int(n)
        for status, n in s.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        )
    }
    jobs = tuple(
        JobRun(
            name=job.name,
            started_at=job.started_at,
            finished_at=job.finished_at,
            running=job.lease_until is not None and job.lease_until > now,
            last_result=job.last_result if isinstance(job.last_result, dict) else None,
        )
        for job in s.scalars(
            select(Job)
            .where(or_(Job.started_at.is_not(None), Job.finished_at.is_not(None)))
            .order_by(Job.name)
        )
    )
    return FleetState(
        units=units,
        hosts=hosts,
        newest_report=newest,
        findings=findings,
        classified=dict(classified),
        remediation_jobs=remediation,
        notifications=notifications,
        jobs=jobs,
    )
