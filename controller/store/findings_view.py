"""The findings list of the dashboard and the API: filtered, searched, sorted, paginated, scoped.

Rows carry the host's name and the unit's name (one query with joins, no lazy loads), so a page
of fifty findings costs one SELECT and one COUNT whatever the district's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from controller.store.models import FINDING_STATUSES, Agent, Finding, Unit
from controller.store.scope import UnitScope

SEVERITIES = ("critical", "high", "medium", "low", "info")
#: Shown when the caller does not choose: what still needs someone's attention.
DEFAULT_STATUSES = ("open", "acknowledged")
SORTS = ("severity", "-opened", "opened", "-last_seen", "rule", "host", "unit")
MAX_PER_PAGE = 200


class FindingQueryError(ValueError):
    """A filter value that cannot be used; the message names it."""


@dataclass(frozen=True)
class FindingQuery:
    """What the caller asked for (validated by :meth:`check`)."""

    status: Sequence[str] = DEFAULT_STATUSES
    severity: Sequence[str] = ()
    rule: str | None = None
    unit: str | None = None
    agent: str | None = None
    q: str | None = None
    sort: str = "severity"
    page: int = 1
    per_page: int = 50

    def check(self) -> None:
        """Raise :class:`FindingQueryError` for a value no query can use."""
        for status in self.status:
            if status not in FINDING_STATUSES:
                raise FindingQueryError(f"unknown status {status!r}")
        for severity in self.severity:
            if severity not in SEVERITIES:
                raise FindingQueryError(f"unknown severity {severity!r}")
        if self.sort not in SORTS:
            raise FindingQueryError(f"unknown sort {self.sort!r} (use one of {', '.join(SORTS)})")
        if self.page < 1 or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise FindingQueryError("page must be ≥ 1 and per_page between 1 and 200")


@dataclass(frozen=True)
class FindingRow:
    """One finding as a list shows it."""

    id: int
    rule_id: str
    severity: str
    status: str
    subject: str
    agent_id: str | None
    hostname: str | None
    unit_id: str
    unit_name: str
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    reason: Any
    evidence: Any
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    exempt_reason: str | None
    exempted_by: str | None
    exempt_until: datetime | None


@dataclass(frozen=True)
class FindingPage:
    """One page of findings and how many match in all."""

    rows: list[FindingRow]
    total: int
    page: int
    per_page: int
    by_severity: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """How many pages the matches fill (at least 1)."""
        return max(1, -(-self.total // self.per_page))


_Q = TypeVar("_Q", bound=Select[*tuple[Any, ...]])

_SEVERITY_RANK = case(
    *((Finding.severity == name, rank) for rank, name in enumerate(SEVERITIES)), else_=9
)
_ORDER = {
    "severity": (_SEVERITY_RANK, Finding.id.desc()),
    "-opened": (Finding.opened_at.desc(), Finding.id.desc()),
    "opened": (Finding.opened_at, Finding.id),
    "-last_seen": (Finding.last_seen_at.desc(), Finding.id.desc()),
    "rule": (Finding.rule_id, Finding.id.desc()),
    "host": (Agent.hostname, Finding.id.desc()),
    "unit": (Unit.name, Finding.id.desc()),
}


def _filtered(query: _Q, scope: UnitScope, fq: FindingQuery) -> _Q:
    if scope is not None:
        query = query.where(Finding.unit_id.in_(sorted(scope)))
    if fq.status:
        query = query.where(Finding.status.in_(list(fq.status)))
    if fq.severity:
        query = query.where(Finding.severity.in_(list(fq.severity)))
    if fq.rule:
        query = query.where(Finding.rule_id == fq.rule)
    if fq.unit:
        query = query.where(Finding.unit_id == fq.unit)
    if fq.agent:
        query = query.where(Finding.agent_id == fq.agent)
    if fq.q:
        needle = f"%{fq.q.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(Agent.hostname).like(needle),
                func.lower(Finding.rule_id).like(needle),
                func.lower(Finding.subject).like(needle),
            )
        )
    return query


def list_findings_view(s: Session, scope: UnitScope, fq: FindingQuery) -> FindingPage:
    """The page of findings ``fq`` asks for, among those of ``scope``'s units."""
    fq.check()
    joined = (
        select(Finding, Agent.hostname, Unit.name)
        .outerjoin(Agent, Agent.id == Finding.agent_id)
        .join(Unit, Unit.id == Finding.unit_id)
    )
    query = _filtered(joined, scope, fq)
    rows = [
        FindingRow(
            id=f.id,
            rule_id=f.rule_id,
            severity=f.severity,
            status=f.status,
            subject=f.subject,
            agent_id=f.agent_id,
            hostname=hostname,
            unit_id=f.unit_id,
            unit_name=unit_name,
            opened_at=f.opened_at,
            last_seen_at=f.last_seen_at,
            resolved_at=f.resolved_at,
            reason=f.reason,
            evidence=f.evidence,
            acknowledged_by=f.acknowledged_by,
            acknowledged_at=f.acknowledged_at,
            exempt_reason=f.exempt_reason,
            exempted_by=f.exempted_by,
            exempt_until=f.exempt_until,
        )
        for f, hostname, unit_name in s.execute(
            query.order_by(*_ORDER[fq.sort]).limit(fq.per_page).offset((fq.page - 1) * fq.per_page)
        )
    ]
    counted = _filtered(
        select(Finding.severity, func.count())
        .select_from(Finding)
        .outerjoin(Agent, Agent.id == Finding.agent_id)
        .join(Unit, Unit.id == Finding.unit_id),
        scope,
        fq,
    ).group_by(Finding.severity)
    by_severity = {severity: int(n) for severity, n in s.execute(counted)}
    return FindingPage(rows, sum(by_severity.values()), fq.page, fq.per_page, by_severity)
