"""The hosts list (filter, search, sort, paginate, CSV) and one host's detail page.

Searching by user, OS version or serial reads the plain ``host_facts`` columns that ingest fills
(:mod:`controller.store.host_index`), never a report body, so a search over 100,000 hosts is one
indexed-join query. Every query is limited to the caller's units in SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, not_, or_, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import (
    DEFAULT_STALE_AFTER,
    HOST_STATES,
    OPEN_STATUSES,
    SEVERITIES,
    HostState,
    QueryError,
    choice,
    classified_agent,
    like_pattern,
    mac_digits,
    page_bounds,
    scoped_units,
    state_of,
    unit_filter,
)
from controller.store.models import (
    AGENT_STATUSES,
    Agent,
    Finding,
    HostFacts,
    RuleState,
    Unit,
)
from controller.store.scope import UnitScope

SORTS = ("hostname", "unit", "os", "last_seen", "findings")
OUTCOMES = ("pass", "fail")
CSV_CHUNK = 1000
_OS_NAME = re.compile(r"[a-z0-9_\-]{1,32}")
_MAX_Q = 200


@dataclass(frozen=True, slots=True)
class HostQuery:
    """Filters, search, sort and page of the hosts list (every field optional).

    ``rule`` selects hosts whose state for that rule is ``outcome`` (``fail`` when not given:
    "which computers break this rule"). ``unit`` includes the units below it. ``now`` and
    ``stale_after`` decide the connection state (online: heard within ``stale_after``).
    """

    unit: str | None = None
    os: str | None = None
    rule: str | None = None
    state: str | None = None
    outcome: str | None = None
    q: str | None = None
    classified: bool | None = None
    sort: str = "hostname"
    page: int = 1
    per_page: int = 50
    status: str = "active"
    now: datetime | None = None
    stale_after: timedelta = DEFAULT_STALE_AFTER


@dataclass(frozen=True, slots=True)
class HostRow:
    """One line of the hosts list."""

    agent_id: str
    hostname: str
    unit_id: str
    unit_name: str
    os: str
    os_name: str | None
    os_version: str | None
    user: str | None
    serial: str | None
    macs: tuple[str, ...]
    last_seen_at: datetime | None
    state: HostState
    classified: bool
    offline: bool
    #: Open and acknowledged findings by severity (only severities with any).
    findings: Mapping[str, int]

    @property
    def open_findings(self) -> int:
        """Open and acknowledged findings of every severity."""
        return sum(self.findings.values())


@dataclass(frozen=True, slots=True)
class HostPage:
    """One page of hosts and how many match in all."""

    rows: tuple[HostRow, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the matching hosts fill (at least 1)."""
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class _Checked:
    query: HostQuery
    now: datetime
    os: str | None
    q: str | None
    descending: bool
    sort: str


def _check(query: HostQuery) -> _Checked:
    choice("state", query.state, HOST_STATES)
    choice("outcome", query.outcome, OUTCOMES)
    choice("status", query.status, AGENT_STATUSES)
    if query.outcome is not None and query.rule is None:
        raise QueryError("outcome needs a rule")
    os_name = query.os.strip().lower() if query.os else None
    if os_name is not None and not _OS_NAME.fullmatch(os_name):
        raise QueryError(f"os must be an OS family such as windows or linux, not {query.os!r}")
    descending = query.sort.startswith("-")
    sort = query.sort[1:] if descending else query.sort
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)} (- first for descending)")
    q = query.q.strip() if query.q else None
    if q is not None and len(q) > _MAX_Q:
        raise QueryError(f"the search text is longer than {_MAX_Q} characters")
    page_bounds(query.page, query.per_page)
    if query.stale_after <= timedelta(0):
        raise QueryError("stale_after must be positive")
    now = query.now or datetime.now(UTC)
    return _Checked(query, now, os_name, q or None, descending, sort)


def _conditions(s: Session, scope: UnitScope, c: _Checked) -> list[ColumnElement[bool]]:
    query = c.query
    units = scoped_units(s, scope, query.unit)
    found: list[ColumnElement[bool]] = [
        unit_filter(Agent.unit_id, units),
        Agent.status == query.status,
    ]
    if c.os is not None:
        found.append(func.lower(Agent.os) == c.os)
    if query.state == "never":
        found.append(Agent.last_seen_at.is_(None))
    elif query.state == "online":
        found.append(Agent.last_seen_at >= c.now - query.stale_after)
    elif query.state == "stale":
        found.append(Agent.last_seen_at < c.now - query.stale_after)
    if query.rule is not None:
        found.append(
            select(RuleState.agent_id)
            .where(
                RuleState.agent_id == Agent.id,
                RuleState.rule_id == query.rule,
                RuleState.outcome == (query.outcome or "fail"),
            )
            .exists()
        )
    if query.classified is not None:
        found.append(classified_agent() if query.classified else not_(classified_agent()))
    if c.q is not None:
        pattern = like_pattern(c.q.lower())
        matches: list[ColumnElement[bool]] = [
            func.lower(Agent.hostname).like(pattern, escape="\\"),
            func.lower(HostFacts.last_user).like(pattern, escape="\\"),
            func.lower(HostFacts.serial).like(pattern, escape="\\"),
            func.lower(Agent.system_serial).like(pattern, escape="\\"),
        ]
        digits = mac_digits(c.q)
        if digits is not None:
            # Stored MACs may be in any notation: compare bare hex digits on both sides.
            bare = func.replace(func.replace(func.lower(Agent.macs), ":", ""), "-", "")
            matches.append(bare.like(f"%{digits}%"))
        found.append(or_(*matches))
    return found


def _findings_by_agent(s: Session, agent_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {agent_id: {} for agent_id in agent_ids}
    if not agent_ids:
        return counts
    rows = s.execute(
        select(Finding.agent_id, Finding.severity, func.count())
        .where(Finding.agent_id.in_(list(agent_ids)), Finding.status.in_(OPEN_STATUSES))
        .group_by(Finding.agent_id, Finding.severity)
    )
    for agent_id, severity, n in rows:
        if agent_id is not None:
            counts[agent_id][severity] = int(n)
    return counts


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    return {sev: counts[sev] for sev in (*SEVERITIES, *sorted(counts)) if sev in counts}


def _select_rows(c: _Checked) -> Any:
    serial = func.coalesce(HostFacts.serial, Agent.system_serial)
    return (
        select(
            Agent.id,
            Agent.hostname,
            Agent.unit_id,
            Unit.name,
            Agent.os,
            HostFacts.os_name,
            HostFacts.os_version,
            HostFacts.last_user,
            serial,
            Agent.macs,
            Agent.last_seen_at,
            classified_agent(),
            Agent.offline,
        )
        .join(Unit, Unit.id == Agent.unit_id)
        .outerjoin(HostFacts, HostFacts.agent_id == Agent.id)
    )


def _sort(query: Select[Any], c: _Checked) -> Select[Any]:
    def direction(column: Any) -> Any:
        return column.desc() if c.descending else column.asc()

    if c.sort == "hostname":
        keys = [direction(func.lower(Agent.hostname))]
    elif c.sort == "unit":
        keys = [direction(Unit.name), func.lower(Agent.hostname)]
    elif c.sort == "os":
        keys = [direction(Agent.os), direction(HostFacts.os_version), func.lower(Agent.hostname)]
    elif c.sort == "last_seen":
        # Never-seen hosts last whichever the direction (NULLS LAST on both databases).
        keys = [Agent.last_seen_at.is_(None), direction(Agent.last_seen_at)]
    else:
        live = (
            select(
                Finding.agent_id.label("agent_id"),
                func.sum(case((Finding.severity == "critical", 1), else_=0)).label("critical"),
                func.count().label("total"),
            )
            .where(Finding.status.in_(OPEN_STATUSES), Finding.agent_id.is_not(None))
            .group_by(Finding.agent_id)
            .subquery()
        )
        query = query.outerjoin(live, live.c.agent_id == Agent.id)
        critical = func.coalesce(live.c.critical, 0)
        total = func.coalesce(live.c.total, 0)
        # Most findings first by default: "-findings" gives the cleanest first.
        keys = [critical.asc(), total.asc()] if c.descending else [critical.desc(), total.desc()]
    return query.order_by(*keys, Agent.id)


def _row(values: Any, counts: dict[str, int], c: _Checked) -> HostRow:
    (
        agent_id,
        hostname,
        unit_id,
        unit_name,
        os_family,
        os_name,
        os_version,
        user,
        serial,
        macs,
        last_seen_at,
        classified,
        offline,
    ) = values
    return HostRow(
        agent_id=agent_id,
        hostname=hostname,
        unit_id=unit_id,
        unit_name=unit_name,
        os=os_family,
        os_name=os_name,
        os_version=os_version,
        user=user,
        serial=serial,
        macs=tuple(macs or ()),
        last_seen_at=last_seen_at,
        state=state_of(last_seen_at, c.now, c.query.stale_after),
        classified=bool(classified),
        offline=bool(offline),
        findings=_ordered(counts),
    )


def list_hosts(s: Session, scope: UnitScope, query: HostQuery) -> HostPage:
    """One page of the hosts in ``scope`` that match ``query`` (:class:`QueryError` if invalid).

    Only agents of ``query.status`` (``active`` by default; pending ones are on the enrollment
    page). ``q`` matches host name, logged-in user, serial or MAC (any notation), ignoring case.
    """
    c = _check(query)
    conditions = _conditions(s, scope, c)
    total = s.scalar(
        select(func.count())
        .select_from(Agent)
        .outerjoin(HostFacts, HostFacts.agent_id == Agent.id)
        .where(*conditions)
    )
    offset, limit = page_bounds(query.page, query.per_page)
    rows = s.execute(_sort(_select_rows(c).where(*conditions), c).offset(offset).limit(limit))
    values = rows.all()
    counts = _findings_by_agent(s, [v[0] for v in values])
    return HostPage(
        rows=tuple(_row(v, counts[v[0]], c) for v in values),
        total=int(total or 0),
        page=query.page,
        per_page=query.per_page,
    )


CSV_HEADER = [
    "agent_id",
    "hostname",
    "unit_id",
    "unit",
    "os",
    "os_name",
    "os_version",
    "user",
    "serial",
    "macs",
    "last_seen_at",
    "state",
    "classified",
    "offline",
    *(f"findings_{sev}" for sev in SEVERITIES),
]


def iter_hosts_csv(s: Session, scope: UnitScope, query: HostQuery) -> Iterator[list[str]]:
    """The CSV lines (header first) of every host matching ``query``, pages ignored.

    Rows are read in chunks of :data:`CSV_CHUNK` (a server-side cursor on PostgreSQL), so an
    export of the whole district never holds it in memory. Validation happens before the first
    line, so an invalid query raises :class:`QueryError` on the first ``next()``.
    """
    c = _check(query)
    conditions = _conditions(s, scope, c)
    statement = _sort(_select_rows(c).where(*conditions), c).execution_options(yield_per=CSV_CHUNK)
    yield list(CSV_HEADER)
    for chunk in s.execute(statement).partitions(CSV_CHUNK):
        counts = _findings_by_agent(s, [v[0] for v in chunk])
        for values in chunk:
            row = _row(values, counts[values[0]], c)
            yield [
                row.agent_id,
                row.hostname,
                row.unit_id,
                row.unit_name,
                row.os,
                row.os_name or "",
                row.os_version or "",
                row.user or "",
                row.serial or "",
                " ".join(row.macs),
                row.last_seen_at.isoformat() if row.last_seen_at else "",
                row.state,
                "yes" if row.classified else "no",
                "yes" if row.offline else "no",
                *(str(row.findings.get(sev, 0)) for sev in SEVERITIES),
            ]
