"""What the Remediate form knows about its subject (a computer, or a finding) and the rows of
the remediation report; the pages' own reads are :mod:`controller.store.dashboard.remediation`.

"Classified" is decided as the workflow decides it (:func:`classified_host`), so the form offers
only what the workflow will take.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import unit_filter
from controller.store.models import (
    Agent,
    Asset,
    Finding,
    RemediationJob,
    RemediationTarget,
    RuleState,
    Unit,
)
from controller.store.scope import UnitScope, in_scope


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
