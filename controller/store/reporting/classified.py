"""Read model of the classified computers audit: for each classified computer (the dashboard's
list, :func:`controller.store.dashboard.overview.classified_computers`), its register record
(office, protection plan), its last accepted bundle, the isolation outcomes of its last
attestation and its network sightings. A handful of grouped queries over the listed ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import OPEN_STATUSES, TRIPWIRE_RULE
from controller.store.models import Asset, Bundle, Finding, Office, RuleState

#: The isolation checks of RULES.md metric 9, evaluated on the offline agent's bundles.
ISOLATION_RULES = ("BMNN-01", "BMNN-02", "BMNN-03", "BMNN-05")


@dataclass(frozen=True, slots=True)
class RegisterRecord:
    """What the organisation file says about a classified asset."""

    office: str | None
    plan_ref: str | None
    plan_approved_at: date | None
    plan_reviewed_at: date | None


@dataclass(frozen=True, slots=True)
class LastBundle:
    """The newest accepted bundle of an offline agent."""

    seq: int
    digest: str
    created_at: datetime
    imported_at: datetime
    #: Bundles imported within the period.
    in_period: int


@dataclass(frozen=True, slots=True)
class Sightings:
    """Tripwire (BMNN-04) findings of one subject."""

    in_period: int
    open: int
    last_seen_at: datetime | None


def register_records(s: Session, asset_ids: Sequence[str]) -> dict[str, RegisterRecord]:
    """``{asset_id: record}``; the office is its name (its id when the office is unknown)."""
    if not asset_ids:
        return {}
    rows = s.execute(
        select(
            Asset.id,
            Asset.office_id,
            Office.name,
            Asset.security_plan_ref,
            Asset.security_plan_approved_at,
            Asset.security_plan_reviewed_at,
        )
        .outerjoin(Office, and_(Office.unit_id == Asset.unit_id, Office.id == Asset.office_id))
        .where(Asset.id.in_(sorted(asset_ids)))
    )
    return {
        row.id: RegisterRecord(
            office=row.name or row.office_id,
            plan_ref=row.security_plan_ref,
            plan_approved_at=row.security_plan_approved_at,
            plan_reviewed_at=row.security_plan_reviewed_at,
        )
        for row in rows
    }


def last_bundles(
    s: Session, agent_ids: Sequence[str], start_at: datetime, end_at: datetime
) -> dict[str, LastBundle]:
    """``{agent_id: its newest bundle}`` with the number imported in ``[start_at, end_at)``."""
    if not agent_ids:
        return {}
    ids = sorted(agent_ids)
    newest = (
        select(
            Bundle.agent_id,
            func.max(Bundle.seq).label("seq"),
            func.count()
            .filter(Bundle.imported_at >= start_at, Bundle.imported_at < end_at)
            .label("in_period"),
        )
        .where(Bundle.agent_id.in_(ids))
        .group_by(Bundle.agent_id)
        .subquery()
    )
    rows = s.execute(
        select(
            Bundle.agent_id,
            Bundle.seq,
            Bundle.digest,
            Bundle.created_at,
            Bundle.imported_at,
            newest.c.in_period,
        ).join(newest, and_(newest.c.agent_id == Bundle.agent_id, newest.c.seq == Bundle.seq))
    )
    return {
        row.agent_id: LastBundle(
            int(row.seq), row.digest, row.created_at, row.imported_at, int(row.in_period)
        )
        for row in rows
    }


def isolation_outcomes(s: Session, agent_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """``{agent_id: {rule_id: outcome}}`` of the isolation rules (the last attestation's)."""
    if not agent_ids:
        return {}
    found: dict[str, dict[str, str]] = {}
    for agent_id, rule_id, outcome in s.execute(
        select(RuleState.agent_id, RuleState.rule_id, RuleState.outcome).where(
            RuleState.agent_id.in_(sorted(agent_ids)), RuleState.rule_id.in_(ISOLATION_RULES)
        )
    ):
        found.setdefault(agent_id, {})[rule_id] = outcome
    return found


def sightings(
    s: Session, subjects: Sequence[str], start_at: datetime, end_at: datetime
) -> dict[str, Sightings]:
    """``{subject: sightings}``: tripwire findings opened in ``[start_at, end_at)``, those still
    open, and when the subject was last seen on the network."""
    if not subjects:
        return {}
    rows = s.execute(
        select(
            Finding.subject,
            func.count().filter(Finding.opened_at >= start_at, Finding.opened_at < end_at),
            func.count().filter(Finding.status.in_(OPEN_STATUSES)),
            func.max(Finding.last_seen_at),
        )
        .where(Finding.rule_id == TRIPWIRE_RULE, Finding.subject.in_(sorted(subjects)))
        .group_by(Finding.subject)
    )
    return {subject: Sightings(int(p), int(o), last) for subject, p, o, last in rows}
