"""The findings page (filter, search, sort, paginate) and the rules' pass rates.

Rule titles come from the policy set the caller holds (``PolicyCache``), passed in as a mapping:
the store never reads policy files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import (
    OPEN_STATUSES,
    SEVERITIES,
    QueryError,
    like_pattern,
    page_bounds,
    scoped_units,
    unit_filter,
)
from controller.store.models import FINDING_STATUSES, Agent, Asset, Finding, RuleState, Unit
from controller.store.scope import UnitScope

FINDING_SORTS = ("severity", "opened", "last_seen", "host", "rule", "unit")
_MAX_Q = 200


class Titled(Protocol):
    """A text in Vietnamese and English (``controller.policy.Text``)."""

    @property
    def vi(self) -> str: ...

    @property
    def en(self) -> str: ...


@dataclass(frozen=True, slots=True)
class FindingQuery:
    """Filters, search, sort and page of the findings list.

    ``status`` defaults to the live findings being worked on (open and acknowledged); ``unit``
    includes the units below it; ``q`` matches host name, rule id or subject, ignoring case.
    """

    status: Sequence[str] = OPEN_STATUSES
    severity: Sequence[str] = ()
    rule: str | None = None
    unit: str | None = None
    agent: str | None = None
    q: str | None = None
    sort: str = "severity"
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True, slots=True)
class FindingRow:
    """One line of the findings list."""

    id: int
    subject: str
    agent_id: str | None
    #: The agent's host name, or the asset's for a finding on an asset (tripwire).
    hostname: str | None
    unit_id: str
    unit_name: str
    rule_id: str
    #: The rule's title in Vietnamese and English (the rule id when the rule is unknown).
    title_vi: str
    title_en: str
    severity: str
    status: str
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    exempt_reason: str | None
    exempted_by: str | None
    exempt_until: datetime | None
    reason: Any
    evidence: Any


@dataclass(frozen=True, slots=True)
class FindingPage:
    """One page of findings and how many match in all."""

    rows: tuple[FindingRow, ...]
    total: int
    page: int
    per_page: int
    #: Matching findings per severity (all pages), for the list's summary line.
    by_severity: Mapping[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """How many pages the matching findings fill (at least 1)."""
        return max(1, -(-self.total // self.per_page))


class PassRate(NamedTuple):
    """Hosts per outcome of one rule."""

    passed: int
    failed: int
    error: int
    not_applicable: int


def _severity_rank() -> ColumnElement[int]:
    return case(
        *((Finding.severity == sev, rank) for rank, sev in enumerate(SEVERITIES)),
        else_=len(SEVERITIES),
    )


def list_findings_view(
    s: Session,
    scope: UnitScope,
    fq: FindingQuery,
    titles: Mapping[str, Titled] | None = None,
) -> FindingPage:
    """One page of the findings in ``scope`` matching ``fq`` (:class:`QueryError` if invalid)."""
    statuses = tuple(fq.status)
    unknown = sorted(set(statuses) - set(FINDING_STATUSES))
    if unknown:
        raise QueryError(f"status must be among {', '.join(FINDING_STATUSES)}, not {unknown[0]!r}")
    bad = sorted(set(fq.severity) - set(SEVERITIES))
    if bad:
        raise QueryError(f"severity must be among {', '.join(SEVERITIES)}, not {bad[0]!r}")
    descending = fq.sort.startswith("-")
    sort = fq.sort[1:] if descending else fq.sort
    if sort not in FINDING_SORTS:
        raise QueryError(f"sort must be one of {', '.join(FINDING_SORTS)} (- first for descending)")
    q = fq.q.strip() if fq.q else ""
    if len(q) > _MAX_Q:
        raise QueryError(f"the search text is longer than {_MAX_Q} characters")
    offset, limit = page_bounds(fq.page, fq.per_page)
    units = scoped_units(s, scope, fq.unit)
    hostname = func.coalesce(Agent.hostname, Asset.hostname)
    conditions: list[ColumnElement[bool]] = [unit_filter(Finding.unit_id, units)]
    if statuses:
        conditions.append(Finding.status.in_(statuses))
    if fq.severity:
        conditions.append(Finding.severity.in_(tuple(fq.severity)))
    if fq.rule:
        conditions.append(Finding.rule_id == fq.rule)
    if fq.agent:
        conditions.append(Finding.agent_id == fq.agent)
    if q:
        pattern = like_pattern(q.lower())
        conditions.append(
            or_(
                func.lower(hostname).like(pattern, escape="\\"),
                func.lower(Finding.rule_id).like(pattern, escape="\\"),
                func.lower(Finding.subject).like(pattern, escape="\\"),
            )
        )

    def joined(query: Any) -> Any:
        # A finding on an asset (the tripwire) has no agent; its name comes from the asset.
        asset_id = case(
            (Finding.subject.like("asset:%"), func.substr(Finding.subject, 7)), else_=None
        )
        return (
            query.join(Unit, Unit.id == Finding.unit_id)
            .outerjoin(Agent, Agent.id == Finding.agent_id)
            .outerjoin(Asset, Asset.id == asset_id)
        )

    # The joins are needed only to search or sort by host or unit name: without them the
    # counts and the page's ids read the findings table alone (the page then joins its rows).
    needs_joins = bool(q) or sort in ("host", "unit")

    def base(query: Any) -> Any:
        return joined(query) if needs_joins else query

    by_severity = {
        severity: int(n)
        for severity, n in s.execute(
            base(select(Finding.severity, func.count()).select_from(Finding))
            .where(*conditions)
            .group_by(Finding.severity)
        )
    }
    total = sum(by_severity.values())

    def direction(column: Any) -> Any:
        return column.desc() if descending else column.asc()

    keys: list[Any]
    if sort == "severity":
        keys = [direction(_severity_rank()), Finding.opened_at.desc()]
    elif sort == "opened":
        keys = [direction(Finding.opened_at)]
    elif sort == "last_seen":
        keys = [direction(Finding.last_seen_at)]
    elif sort == "host":
        # Nameless subjects last whichever the direction (NULLS LAST on both databases).
        keys = [hostname.is_(None), direction(func.lower(hostname))]
    elif sort == "rule":
        keys = [direction(Finding.rule_id), _severity_rank()]
    else:
        keys = [direction(Unit.name), _severity_rank()]
    page_ids = list(
        s.scalars(
            base(select(Finding.id))
            .where(*conditions)
            .order_by(*keys, Finding.id.desc())
            .offset(offset)
            .limit(limit)
        )
    )
    loaded = {
        f.id: (f, host, unit_name)
        for f, host, unit_name in s.execute(
            joined(select(Finding, hostname, Unit.name)).where(Finding.id.in_(page_ids))
        )
    }
    rows = [loaded[i] for i in page_ids if i in loaded]
    names = titles or {}
    found = []
    for f, host, unit_name in rows:
        title = names.get(f.rule_id)
        found.append(
            FindingRow(
                id=f.id,
                subject=f.subject,
                agent_id=f.agent_id,
                hostname=host,
                unit_id=f.unit_id,
                unit_name=unit_name,
                rule_id=f.rule_id,
                title_vi=title.vi if title is not None else f.rule_id,
                title_en=title.en if title is not None else f.rule_id,
                severity=f.severity,
                status=f.status,
                opened_at=f.opened_at,
                last_seen_at=f.last_seen_at,
                resolved_at=f.resolved_at,
                acknowledged_by=f.acknowledged_by,
                acknowledged_at=f.acknowledged_at,
                exempt_reason=f.exempt_reason,
                exempted_by=f.exempted_by,
                exempt_until=f.exempt_until,
                reason=f.reason,
                evidence=f.evidence,
            )
        )
    return FindingPage(tuple(found), total, fq.page, fq.per_page, by_severity)


def rule_pass_rates(s: Session, scope: UnitScope) -> dict[str, PassRate]:
    """``{rule_id: PassRate}``: active hosts in ``scope`` per outcome of each rule."""
    rows = s.execute(
        select(RuleState.rule_id, RuleState.outcome, func.count())
        .join(Agent, Agent.id == RuleState.agent_id)
        .where(Agent.status == "active", unit_filter(Agent.unit_id, scope))
        .group_by(RuleState.rule_id, RuleState.outcome)
    )
    counts: dict[str, dict[str, int]] = {}
    for rule_id, outcome, n in rows:
        counts.setdefault(rule_id, {})[outcome] = int(n)
    return {
        rule_id: PassRate(
            c.get("pass", 0), c.get("fail", 0), c.get("error", 0), c.get("not_applicable", 0)
        )
        for rule_id, c in sorted(counts.items())
    }
