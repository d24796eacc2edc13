"""Read model of the security compliance report: pass rates by unit and rule, their daily trend,
the failed hosts with the evidence of each failed check, exemptions and open findings.

Every read is one grouped query over the scope, whatever the fleet size. The failed-hosts
listing is capped per rule in SQL (a window function, both dialects), so a province of 100,000
hosts does not pull every failing row into memory; the total per rule is counted alongside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import OPEN_STATUSES, classified_agent, unit_filter
from controller.store.models import Agent, ComplianceDaily, Finding, RuleDaily, RuleState
from controller.store.scope import UnitScope

#: Failed hosts listed per rule; the rest are counted ("and N more"). Keeps a 100,000-host PDF
#: readable; the dashboard's findings page and hosts export list every one.
FAILED_HOSTS_PER_RULE = 200


@dataclass(frozen=True, slots=True)
class RuleCount:
    """Passing and failing hosts of one rule in one unit (the unit's own hosts)."""

    unit_id: str
    rule_id: str
    passing: int
    failing: int


@dataclass(frozen=True, slots=True)
class FailedHost:
    """A host failing a rule now, with the stored reason and evidence of the failure."""

    rule_id: str
    agent_id: str
    hostname: str
    unit_id: str
    classified: bool
    since: datetime
    #: ``{"code": ..., "values": {...}}`` as the evaluator stored it.
    reason: Any
    #: A list of ``{"check", "fact", "expected", "actual"}`` (None when none was kept).
    evidence: Any


@dataclass(frozen=True, slots=True)
class DayCount:
    """Passing and failing on one day (``rule_id`` None: every rule, from compliance_daily)."""

    day: date
    rule_id: str | None
    passing: int
    failing: int


@dataclass(frozen=True, slots=True)
class Exemption:
    """An exempted finding: what, on which host, why, by whom, until when."""

    finding_id: int
    rule_id: str
    severity: str
    unit_id: str
    subject: str
    hostname: str | None
    classified: bool
    reason: str | None
    exempted_by: str | None
    exempt_until: datetime | None
    opened_at: datetime


def classified_agents(s: Session, scope: UnitScope) -> frozenset[str]:
    """Ids of the active agents of classified computers in scope (a few: asked once rather than
    tested on every listed row)."""
    return frozenset(
        s.scalars(
            select(Agent.id).where(
                Agent.status == "active", unit_filter(Agent.unit_id, scope), classified_agent()
            )
        )
    )


def rule_counts(s: Session, scope: UnitScope) -> list[RuleCount]:
    """Passing and failing hosts per unit and rule, from the current rule states of active
    agents (not applicable and erroneous outcomes are not evaluations)."""
    rows = s.execute(
        select(Agent.unit_id, RuleState.rule_id, RuleState.outcome, func.count())
        .join(Agent, Agent.id == RuleState.agent_id)
        .where(
            Agent.status == "active",
            unit_filter(Agent.unit_id, scope),
            RuleState.outcome.in_(("pass", "fail")),
        )
        .group_by(Agent.unit_id, RuleState.rule_id, RuleState.outcome)
    )
    counts: dict[tuple[str, str], list[int]] = {}
    for unit_id, rule_id, outcome, n in rows:
        counts.setdefault((unit_id, rule_id), [0, 0])[0 if outcome == "pass" else 1] += int(n)
    return [RuleCount(u, r, p, f) for (u, r), (p, f) in sorted(counts.items())]


def failed_hosts(
    s: Session, scope: UnitScope, per_rule: int = FAILED_HOSTS_PER_RULE
) -> tuple[list[FailedHost], dict[str, int]]:
    """The first ``per_rule`` failing hosts of each rule (by unit id, then host name), and the
    number of failing hosts of each rule."""
    rank = (
        func.row_number()
        .over(partition_by=RuleState.rule_id, order_by=(Agent.unit_id, Agent.hostname, Agent.id))
        .label("rank")
    )
    ranked = (
        select(
            RuleState.rule_id,
            Agent.id.label("agent_id"),
            Agent.hostname,
            Agent.unit_id,
            RuleState.since,
            RuleState.reason,
            RuleState.evidence,
            rank,
        )
        .join(Agent, Agent.id == RuleState.agent_id)
        .where(
            Agent.status == "active",
            unit_filter(Agent.unit_id, scope),
            RuleState.outcome == "fail",
        )
        .subquery()
    )
    rows = s.execute(
        select(ranked).where(ranked.c.rank <= per_rule).order_by(ranked.c.rule_id, ranked.c.rank)
    )
    classified = classified_agents(s, scope)
    listed = [
        FailedHost(
            rule_id=row.rule_id,
            agent_id=row.agent_id,
            hostname=row.hostname,
            unit_id=row.unit_id,
            classified=row.agent_id in classified,
            since=row.since,
            reason=row.reason,
            evidence=row.evidence,
        )
        for row in rows
    ]
    totals = {
        rule_id: int(n)
        for rule_id, n in s.execute(
            select(RuleState.rule_id, func.count())
            .join(Agent, Agent.id == RuleState.agent_id)
            .where(
                Agent.status == "active",
                unit_filter(Agent.unit_id, scope),
                RuleState.outcome == "fail",
            )
            .group_by(RuleState.rule_id)
        )
    }
    return listed, totals


def rule_trend(s: Session, scope: UnitScope, first: date, last: date) -> list[DayCount]:
    """Per day and rule, passing and failing hosts summed over the scope, from ``rule_daily``
    between ``first`` and ``last`` (days without a snapshot are absent)."""
    rows = s.execute(
        select(
            RuleDaily.day,
            RuleDaily.rule_id,
            func.sum(RuleDaily.passing),
            func.sum(RuleDaily.failing),
        )
        .where(RuleDaily.day >= first, RuleDaily.day <= last, unit_filter(RuleDaily.unit_id, scope))
        .group_by(RuleDaily.day, RuleDaily.rule_id)
        .order_by(RuleDaily.day, RuleDaily.rule_id)
    )
    return [DayCount(day, rule_id, int(p), int(f)) for day, rule_id, p, f in rows]


def overall_trend(s: Session, scope: UnitScope, first: date, last: date) -> list[DayCount]:
    """Per day, passing and failing rule states over the scope, from ``compliance_daily``."""
    rows = s.execute(
        select(
            ComplianceDaily.day,
            func.sum(ComplianceDaily.passing),
            func.sum(ComplianceDaily.failing),
        )
        .where(
            ComplianceDaily.day >= first,
            ComplianceDaily.day <= last,
            unit_filter(ComplianceDaily.unit_id, scope),
        )
        .group_by(ComplianceDaily.day)
        .order_by(ComplianceDaily.day)
    )
    return [DayCount(day, None, int(p), int(f)) for day, p, f in rows]


def exemptions(s: Session, scope: UnitScope) -> list[Exemption]:
    """Findings exempted now, by unit, rule and subject."""
    rows = s.execute(
        select(
            Finding.id,
            Finding.rule_id,
            Finding.severity,
            Finding.unit_id,
            Finding.subject,
            Finding.agent_id,
            Agent.hostname,
            Finding.exempt_reason,
            Finding.exempted_by,
            Finding.exempt_until,
            Finding.opened_at,
        )
        .outerjoin(Agent, Agent.id == Finding.agent_id)
        .where(Finding.status == "exempted", unit_filter(Finding.unit_id, scope))
        .order_by(Finding.unit_id, Finding.rule_id, Finding.subject)
    )
    classified = classified_agents(s, scope)
    return [
        Exemption(
            finding_id=int(row.id),
            rule_id=row.rule_id,
            severity=row.severity,
            unit_id=row.unit_id,
            subject=row.subject,
            hostname=row.hostname,
            # A finding about an asset (no agent) is the classified-computer tripwire's.
            classified=row.agent_id is None or row.agent_id in classified,
            reason=row.exempt_reason,
            exempted_by=row.exempted_by,
            exempt_until=row.exempt_until,
            opened_at=row.opened_at,
        )
        for row in rows
    ]


def open_findings(s: Session, scope: UnitScope) -> dict[tuple[str, str], int]:
    """``{(unit_id, severity): n}`` of open and acknowledged findings."""
    return {
        (unit_id, severity): int(n)
        for unit_id, severity, n in s.execute(
            select(Finding.unit_id, Finding.severity, func.count())
            .where(Finding.status.in_(OPEN_STATUSES), unit_filter(Finding.unit_id, scope))
            .group_by(Finding.unit_id, Finding.severity)
        )
    }
