"""The overview page: compliance by unit, hosts online, findings, classified PCs, e-government.

Every figure is computed in SQL over the caller's units (a handful of grouped queries whatever
the fleet size). The compliance of today comes from ``compliance_daily`` when the periodic
re-evaluation has written today's snapshot (:func:`snapshot_compliance`), else it is counted
live from ``rule_states``; the 30-day trend always reads the snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, insert, literal, not_, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import (
    COMPUTER_KINDS,
    DEFAULT_STALE_AFTER,
    OPEN_STATUSES,
    SEVERITIES,
    TRIPWIRE_RULE,
    Ratio,
    classified_agent,
    live_asset,
    local_day,
    office_equipment,
    state_expression,
    unit_filter,
    unit_tree,
)
from controller.store.models import (
    Agent,
    Asset,
    Bundle,
    ComplianceDaily,
    Finding,
    HostFacts,
    RuleDaily,
    RuleState,
    Unit,
)
from controller.store.scope import UnitScope

#: A classified computer whose last attestation bundle is older than this is overdue.
ATTESTATION_MAX_AGE = timedelta(days=30)
TREND_DAYS = 30
CLASSIFIED_ORDER = {"sighted": 0, "overdue": 1, "never": 2, "attested": 3}


@dataclass(frozen=True, slots=True)
class UnitFigures:
    """Hosts, compliance and open findings of a unit (its own hosts, or its whole subtree)."""

    hosts: int
    online: int
    stale: int
    never: int
    #: Passing rule states ÷ passing + failing ones.
    compliance: Ratio
    #: Open and acknowledged findings by severity.
    findings: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class UnitSummary:
    """One unit of the overview's tree (tree order: parents before children)."""

    id: str
    name: str
    kind: str
    parent_id: str | None
    depth: int
    own: UnitFigures
    subtree: UnitFigures


@dataclass(frozen=True, slots=True)
class ClassifiedComputer:
    """A registered classified computer and its status.

    ``sighted``: a live tripwire finding (seen on the network); ``overdue``: its offline agent's
    last bundle is older than 30 days, or it has none yet; ``never``: no offline agent was ever
    enrolled for it; ``attested``: a bundle within 30 days. ``asset_id`` is None for an agent
    enrolled by carried files that the organisation file does not list yet.
    """

    asset_id: str | None
    agent_id: str | None
    hostname: str | None
    unit_id: str
    unit_name: str
    status: str
    last_bundle_at: datetime | None
    finding_id: int | None


@dataclass(frozen=True, slots=True)
class EGovFigures:
    """E-government figures of RULES.md's readiness report, each as numerator ÷ denominator."""

    #: Computers (active agents + registered computers without an agent) ÷ cán bộ + công chức.
    computers_per_official: Ratio
    #: Offices with ≥ 1 computer and ≥ 1 printer ÷ offices.
    offices_equipped: Ratio
    #: Non-classified active computers reaching the LAN ÷ those whose LAN state is known.
    lan: Ratio
    #: Non-classified active computers reaching the Internet ÷ those whose state is known.
    internet: Ratio
    #: Units with a valid organisational certificate ÷ units.
    org_certificates: Ratio


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """The compliance of one day (the last snapshot of that day)."""

    day: date
    compliance: Ratio


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the overview page shows."""

    now: datetime
    units: tuple[UnitSummary, ...]
    totals: UnitFigures
    #: ``{severity: {"open": n, "acknowledged": n}}``, most severe first.
    findings: Mapping[str, Mapping[str, int]]
    #: Sighted first, then overdue, never attested, attested.
    classified: tuple[ClassifiedComputer, ...]
    egov: EGovFigures
    trend: tuple[TrendPoint, ...]
    #: Whether today's compliance came from the day's snapshot (else counted live).
    from_snapshot: bool


def _compliance_counts(s: Session, scope: UnitScope) -> dict[str, tuple[int, int]]:
    """``{unit_id: (passing, failing)}`` counted from the current rule states."""
    rows = s.execute(
        select(Agent.unit_id, RuleState.outcome, func.count())
        .join(Agent, Agent.id == RuleState.agent_id)
        .where(
            Agent.status == "active",
            unit_filter(Agent.unit_id, scope),
            RuleState.outcome.in_(("pass", "fail")),
        )
        .group_by(Agent.unit_id, RuleState.outcome)
    )
    counts: dict[str, list[int]] = {}
    for unit_id, outcome, n in rows:
        slot = counts.setdefault(unit_id, [0, 0])
        slot[0 if outcome == "pass" else 1] += int(n)
    return {unit_id: (p, f) for unit_id, (p, f) in counts.items()}


def snapshot_compliance(s: Session, day: date) -> int:
    """Write (or rewrite) ``day``'s compliance of every unit from the current rule states.

    Called after each periodic re-evaluation, so the last run of a day stands for that day.
    Returns how many unit rows were written.
    """
    counts = _compliance_counts(s, None)
    s.execute(delete(ComplianceDaily).where(ComplianceDaily.day == day))
    if counts:
        s.execute(
            insert(ComplianceDaily),
            [
                {"day": day, "unit_id": unit_id, "passing": p, "failing": f}
                for unit_id, (p, f) in sorted(counts.items())
            ],
        )
    return len(counts)


def snapshot_rules(s: Session, day: date) -> int:
    """Write (or rewrite) ``day``'s passing and failing hosts per unit and rule (``rule_daily``).

    Called right after :func:`snapshot_compliance`, so the security report's per-rule trend and
    the overall trend describe the same run; the last run of a day wins. One grouped query and
    one bulk insert, whatever the fleet size. Returns how many rows were written.
    """
    rows = s.execute(
        select(Agent.unit_id, RuleState.rule_id, RuleState.outcome, func.count())
        .join(Agent, Agent.id == RuleState.agent_id)
        .where(Agent.status == "active", RuleState.outcome.in_(("pass", "fail")))
        .group_by(Agent.unit_id, RuleState.rule_id, RuleState.outcome)
    )
    counts: dict[tuple[str, str], list[int]] = {}
    for unit_id, rule_id, outcome, n in rows:
        slot = counts.setdefault((unit_id, rule_id), [0, 0])
        slot[0 if outcome == "pass" else 1] += int(n)
    s.execute(delete(RuleDaily).where(RuleDaily.day == day))
    if counts:
        s.execute(
            insert(RuleDaily),
            [
                {"day": day, "unit_id": unit_id, "rule_id": rule_id, "passing": p, "failing": f}
                for (unit_id, rule_id), (p, f) in sorted(counts.items())
            ],
        )
    return len(counts)


def _snapshot(s: Session, scope: UnitScope, day: date) -> dict[str, tuple[int, int]] | None:
    """``day``'s stored compliance by unit, or None when no snapshot of that day exists."""
    taken = s.scalar(select(literal(1)).where(ComplianceDaily.day == day).limit(1))
    if taken is None:
        return None
    rows = s.execute(
        select(ComplianceDaily.unit_id, ComplianceDaily.passing, ComplianceDaily.failing).where(
            ComplianceDaily.day == day, unit_filter(ComplianceDaily.unit_id, scope)
        )
    )
    return {unit_id: (int(p), int(f)) for unit_id, p, f in rows}


@dataclass
class _Acc:
    hosts: int = 0
    online: int = 0
    stale: int = 0
    never: int = 0
    passing: int = 0
    failing: int = 0

    def add(self, other: _Acc) -> None:
        self.hosts += other.hosts
        self.online += other.online
        self.stale += other.stale
        self.never += other.never
        self.passing += other.passing
        self.failing += other.failing


def _figures(acc: _Acc, findings: Mapping[str, int]) -> UnitFigures:
    ordered = {sev: findings[sev] for sev in (*SEVERITIES, *sorted(findings)) if sev in findings}
    return UnitFigures(
        acc.hosts,
        acc.online,
        acc.stale,
        acc.never,
        Ratio(acc.passing, acc.passing + acc.failing),
        ordered,
    )


def unit_figures(
    s: Session,
    scope: UnitScope,
    now: datetime,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> tuple[list[UnitSummary], UnitFigures, dict[str, dict[str, int]], bool]:
    """Per-unit figures in tree order, district totals, findings by severity and status, and
    whether compliance came from today's snapshot."""
    tree = unit_tree(s, scope)
    own: dict[str, _Acc] = {uid: _Acc() for uid, *_ in tree}
    state = state_expression(now, stale_after)
    for unit_id, host_state, n in s.execute(
        select(Agent.unit_id, state, func.count())
        .where(Agent.status == "active", unit_filter(Agent.unit_id, scope))
        .group_by(Agent.unit_id, state)
    ):
        acc = own.setdefault(unit_id, _Acc())
        acc.hosts += int(n)
        setattr(acc, host_state, getattr(acc, host_state) + int(n))
    counts = _snapshot(s, scope, local_day(now))
    from_snapshot = counts is not None
    if counts is None:
        counts = _compliance_counts(s, scope)
    for unit_id, (p, f) in counts.items():
        acc = own.setdefault(unit_id, _Acc())
        acc.passing += p
        acc.failing += f
    unit_findings: dict[str, dict[str, int]] = {}
    by_status: dict[str, dict[str, int]] = {
        sev: {status: 0 for status in OPEN_STATUSES} for sev in SEVERITIES
    }
    for unit_id, severity, status, n in s.execute(
        select(Finding.unit_id, Finding.severity, Finding.status, func.count())
        .where(Finding.status.in_(OPEN_STATUSES), unit_filter(Finding.unit_id, scope))
        .group_by(Finding.unit_id, Finding.severity, Finding.status)
    ):
        slot = unit_findings.setdefault(unit_id, {})
        slot[severity] = slot.get(severity, 0) + int(n)
        by_status.setdefault(severity, {st: 0 for st in OPEN_STATUSES})[status] += int(n)
    # Subtree figures: children come after their parent in tree order, so walk it backwards.
    parents = {uid: parent for uid, _, _, parent, _ in tree}
    subtree: dict[str, _Acc] = {uid: _Acc() for uid in own}
    sub_findings: dict[str, dict[str, int]] = {uid: {} for uid in own}
    totals = _Acc()
    total_findings: dict[str, int] = {}
    for uid, acc in own.items():
        totals.add(acc)
        for sev, n in unit_findings.get(uid, {}).items():
            total_findings[sev] = total_findings.get(sev, 0) + n
        current: str | None = uid
        seen: set[str] = set()
        while current is not None and current in subtree and current not in seen:
            seen.add(current)
            subtree[current].add(acc)
            for sev, n in unit_findings.get(uid, {}).items():
                sub_findings[current][sev] = sub_findings[current].get(sev, 0) + n
            current = parents.get(current)
    summaries = [
        UnitSummary(
            id=uid,
            name=name,
            kind=kind,
            parent_id=parent,
            depth=depth,
            own=_figures(own[uid], unit_findings.get(uid, {})),
            subtree=_figures(subtree[uid], sub_findings[uid]),
        )
        for uid, name, kind, parent, depth in tree
    ]
    return summaries, _figures(totals, total_findings), by_status, from_snapshot


def classified_computers(s: Session, scope: UnitScope, now: datetime) -> list[ClassifiedComputer]:
    """Registered classified computers (and offline agents not registered yet), sighted first."""
    names = {
        uid: name
        for uid, name in s.execute(select(Unit.id, Unit.name).where(unit_filter(Unit.id, scope)))
    }
    assets = s.execute(
        select(Asset.id, Asset.unit_id, Asset.hostname, Asset.agent_id).where(
            Asset.classification == "classified",
            Asset.retired_at.is_(None),
            unit_filter(Asset.unit_id, scope),
        )
    ).all()
    linked = {row.agent_id for row in assets if row.agent_id}
    loose = s.execute(
        select(Agent.id, Agent.unit_id, Agent.hostname).where(
            Agent.offline.is_(True),
            Agent.status == "active",
            unit_filter(Agent.unit_id, scope),
            not_(select(Asset.id).where(Asset.agent_id == Agent.id).exists()),
        )
    ).all()
    agent_ids = sorted(linked | {row.id for row in loose})
    bundled: dict[str, datetime] = {}
    offline: set[str] = set()
    if agent_ids:
        bundled = {
            agent_id: at
            for agent_id, at in s.execute(
                select(Bundle.agent_id, func.max(Bundle.imported_at))
                .where(Bundle.agent_id.in_(agent_ids))
                .group_by(Bundle.agent_id)
            )
            if at is not None
        }
        offline = set(
            s.scalars(select(Agent.id).where(Agent.id.in_(agent_ids), Agent.offline.is_(True)))
        )
    subjects = [f"asset:{row.id}" for row in assets] + [f"agent:{row.id}" for row in loose]
    sighted: dict[str, int] = {}
    if subjects:
        for subject, finding_id in s.execute(
            select(Finding.subject, Finding.id).where(
                Finding.rule_id == TRIPWIRE_RULE,
                Finding.status.in_(OPEN_STATUSES),
                Finding.subject.in_(subjects),
            )
        ):
            sighted[subject] = finding_id

    def status(subject: str, agent_id: str | None) -> str:
        if subject in sighted:
            return "sighted"
        if agent_id is None or agent_id not in offline:
            return "never"
        last = bundled.get(agent_id)
        return "attested" if last is not None and now - last <= ATTESTATION_MAX_AGE else "overdue"

    found = [
        ClassifiedComputer(
            asset_id=row.id,
            agent_id=row.agent_id,
            hostname=row.hostname,
            unit_id=row.unit_id,
            unit_name=names.get(row.unit_id, row.unit_id),
            status=status(f"asset:{row.id}", row.agent_id),
            last_bundle_at=bundled.get(row.agent_id) if row.agent_id else None,
            finding_id=sighted.get(f"asset:{row.id}"),
        )
        for row in assets
    ] + [
        ClassifiedComputer(
            asset_id=None,
            agent_id=row.id,
            hostname=row.hostname,
            unit_id=row.unit_id,
            unit_name=names.get(row.unit_id, row.unit_id),
            status=status(f"agent:{row.id}", row.id),
            last_bundle_at=bundled.get(row.id),
            finding_id=sighted.get(f"agent:{row.id}"),
        )
        for row in loose
    ]
    found.sort(key=lambda c: (CLASSIFIED_ORDER[c.status], c.unit_name, c.asset_id or c.agent_id))
    return found


def egov_figures(s: Session, scope: UnitScope, today: date) -> EGovFigures:
    """The e-government figures at a glance (RULES.md readiness report, metrics 3, 6, 11, 12,
    14), over the units in scope."""
    live = live_asset()
    computers = s.scalar(
        select(func.count())
        .select_from(Asset)
        .where(live, Asset.kind.in_(COMPUTER_KINDS), unit_filter(Asset.unit_id, scope))
    )
    unregistered = s.scalar(
        select(func.count())
        .select_from(Agent)
        .where(
            Agent.status == "active",
            unit_filter(Agent.unit_id, scope),
            not_(
                select(Asset.id)
                .where(Asset.agent_id == Agent.id, Asset.retired_at.is_(None))
                .exists()
            ),
        )
    )
    live_unit = Unit.retired_at.is_(None) & unit_filter(Unit.id, scope)
    headcount = s.scalar(
        select(
            func.sum(
                func.coalesce(Unit.headcount_can_bo, 0) + func.coalesce(Unit.headcount_cong_chuc, 0)
            )
        ).where(live_unit)
    )
    offices = office_equipment(s, scope)
    equipped = sum(1 for c, p in offices.values() if c >= 1 and p >= 1)
    reach = s.execute(
        select(
            func.count(HostFacts.lan_ok),
            func.count().filter(HostFacts.lan_ok.is_(True)),
            func.count(HostFacts.internet_ok),
            func.count().filter(HostFacts.internet_ok.is_(True)),
        )
        .select_from(Agent)
        .join(HostFacts, HostFacts.agent_id == Agent.id)
        .where(
            Agent.status == "active",
            unit_filter(Agent.unit_id, scope),
            not_(classified_agent()),
        )
    ).one()
    units_total = s.scalar(select(func.count()).select_from(Unit).where(live_unit))
    certified = s.scalar(
        select(func.count())
        .select_from(Unit)
        .where(
            live_unit,
            Unit.org_cert_serial.is_not(None),
            Unit.org_cert_expires_on >= today,
        )
    )
    return EGovFigures(
        computers_per_official=Ratio(
            int(computers or 0) + int(unregistered or 0), int(headcount or 0)
        ),
        offices_equipped=Ratio(equipped, len(offices)),
        lan=Ratio(int(reach[1]), int(reach[0])),
        internet=Ratio(int(reach[3]), int(reach[2])),
        org_certificates=Ratio(int(certified or 0), int(units_total or 0)),
    )


def compliance_trend(s: Session, scope: UnitScope, today: date) -> list[TrendPoint]:
    """The daily compliance of the last 30 days (days without a snapshot are left out)."""
    since = today - timedelta(days=TREND_DAYS - 1)
    rows = s.execute(
        select(
            ComplianceDaily.day,
            func.sum(ComplianceDaily.passing),
            func.sum(ComplianceDaily.failing),
        )
        .where(ComplianceDaily.day >= since, unit_filter(ComplianceDaily.unit_id, scope))
        .group_by(ComplianceDaily.day)
        .order_by(ComplianceDaily.day)
    )
    return [TrendPoint(day, Ratio(int(p), int(p) + int(f))) for day, p, f in rows]


def overview(
    s: Session,
    scope: UnitScope,
    *,
    now: datetime,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> Overview:
    """The overview page's figures over the units in ``scope`` at ``now``."""
    units, totals, findings, from_snapshot = unit_figures(s, scope, now, stale_after)
    today = local_day(now)
    return Overview(
        now=now,
        units=tuple(units),
        totals=totals,
        findings={sev: dict(v) for sev, v in findings.items()},
        classified=tuple(classified_computers(s, scope, now)),
        egov=egov_figures(s, scope, today),
        trend=tuple(compliance_trend(s, scope, today)),
        from_snapshot=from_snapshot,
    )
