"""Reads of the e-government infrastructure readiness report (RULES.md metrics 1-29).

Everything is counted per unit in grouped queries over a *computers* set built in SQL: the live
computer assets of the register (with their agent, if any) plus the agents no live asset lists.
A computer is *active* when its agent reported within ``active_days`` of the report time, or,
for a classified computer, when its last offline bundle was imported within
``attestation_days``. Hardware ages from host facts (metric 29) are the only per-row read: the
report bodies of the active computers without a purchase date, streamed and decoded in bulk.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from controller.store.dashboard._common import (
    COMPUTER_KINDS,
    TRIPWIRE_RULE,
    TreeUnit,
    live_asset,
    office_equipment,
    unit_filter,
    unit_tree,
)
from controller.store.declared import Stored, figures_for
from controller.store.models import (
    Agent,
    Asset,
    Bundle,
    Finding,
    HostFacts,
    Office,
    Official,
    RuleState,
    Unit,
)
from controller.store.scope import UnitScope

#: Unit kinds whose key officials metric 5 counts (communes, wards, townships).
COMMUNE_KINDS = ("commune", "ward", "township")
#: Unit kinds that only group others (not an agency of their own) for metrics 13, 14, 16, 18, 22.
CONTAINER_KINDS = ("province", "legacy_district")
#: Isolation rules a classified computer must pass in its last attestation (metric 9).
ISOLATION_RULES = ("BMNN-01", "BMNN-02", "BMNN-03", "BMNN-05")
#: Rules of the composite security score (metric 28).
SCORE_RULES = tuple(f"ATTT-{n:02d}" for n in range(1, 15))
INTERNET_RULE, LAN_RULE, TSLCD_RULE, SIGNING_RULE = "CQĐT-01", "CQĐT-02", "CQĐT-03", "CQĐT-05"
#: Rules a metric counts by pass per computer: metric key → rules that must all pass.
PASS_RULES: dict[str, tuple[str, ...]] = {
    "internet": (INTERNET_RULE,),
    "lan": (LAN_RULE,),
    "antimalware": ("ATTT-01", "ATTT-02"),
    "managed": ("ATTT-03",),
    "patched": ("ATTT-05",),
    "supported_os": ("ATTT-06",),
}


@dataclass(frozen=True, slots=True)
class Parameters:
    """What the counts depend on besides the scope."""

    now: datetime
    today: date
    period_start: datetime
    period_end: datetime
    active_days: int
    attestation_days: int
    ageing_years: int
    #: Weight of each score rule (metric 28) by its severity.
    weights: Mapping[str, float]

    @property
    def active_since(self) -> datetime:
        """Agents heard at or after this are active."""
        return self.now - timedelta(days=self.active_days)

    @property
    def attested_since(self) -> datetime:
        """Classified computers with a bundle imported at or after this are active."""
        return self.now - timedelta(days=self.attestation_days)

    @property
    def aged_before(self) -> date:
        """Computers dated before this are older than ``ageing_years``."""
        try:
            return self.today.replace(year=self.today.year - self.ageing_years)
        except ValueError:  # 29 February
            return self.today.replace(year=self.today.year - self.ageing_years, day=28)

    @property
    def plan_reviewed_since(self) -> date:
        """A protection plan reviewed on or after this day is current (12 months)."""
        try:
            return self.today.replace(year=self.today.year - 1)
        except ValueError:
            return self.today.replace(year=self.today.year - 1, day=28)


@dataclass(slots=True)
class Counts:
    """One unit's own counts (its own computers, officials, offices; not its children's)."""

    headcount: int | None = None
    vien_chuc: int | None = None
    registered: int = 0
    endpoints: int = 0
    reporting: int = 0
    fresh_base: int = 0
    seen_24h: int = 0
    seen_7d: int = 0
    active: int = 0
    active_classified: int = 0
    internet: int = 0
    lan: int = 0
    antimalware: int = 0
    managed: int = 0
    patched: int = 0
    supported_os: int = 0
    score_sum: float = 0.0
    scored: int = 0
    aged: int = 0
    dated: int = 0
    classified: int = 0
    classified_plan: int = 0
    classified_isolated: int = 0
    sightings: int = 0
    officials_equipped: int = 0
    key_officials: int = 0
    key_officials_equipped: int = 0
    leaders: int = 0
    leaders_certified: int = 0
    offices: int = 0
    offices_equipped: int = 0
    tslcd_pass: int = 0
    tslcd_known: int = 0
    signing_pass: int = 0


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """A unit of the report's tree with what the register says of it."""

    id: str
    name: str
    kind: str
    parent_id: str | None
    depth: int
    #: A valid organisational certificate on record: True, an expired one or none: False
    #: when the organisation file manages the unit, None when nothing is known.
    org_certificate: bool | None


@dataclass(frozen=True, slots=True)
class ClassifiedPC:
    """A classified computer: a registered asset, or an offline agent no asset lists yet."""

    asset_id: str | None
    agent_id: str | None
    unit_id: str
    active: bool
    plan_current: bool
    isolated: bool


@dataclass(frozen=True, slots=True)
class EgovData:
    """Everything the readiness report reads, per unit (own counts, tree order)."""

    units: tuple[UnitInfo, ...]
    counts: Mapping[str, Counts]
    classified: tuple[ClassifiedPC, ...]
    declared: tuple[Stored, ...] = field(default_factory=tuple)


def _has_role(role: str) -> ColumnElement[bool]:
    # Roles are a JSON list kept as compact text (JSONText): match the quoted word as text, not
    # as a JSON value (the column's type would encode the pattern as a JSON string).
    return type_coerce(Official.roles, Text).like(f'%"{role}"%')


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _computers(p: Parameters, scope: UnitScope) -> Any:
    """The computers CTE: one row per computer of the scope with its flags (0/1 integers)."""
    last_bundle = (
        select(Bundle.agent_id, func.max(Bundle.imported_at).label("last"))
        .group_by(Bundle.agent_id)
        .subquery("last_bundle")
    )

    def flags(classified: ColumnElement[bool]) -> list[Any]:
        has_agent = Agent.id.is_not(None)
        heard = Agent.last_seen_at >= p.active_since
        attested = last_bundle.c.last >= p.attested_since
        since_start = or_(
            Agent.last_seen_at >= p.period_start, last_bundle.c.last >= p.period_start
        )
        return [
            Agent.id.label("agent_id"),
            _flag(classified).label("classified"),
            _flag(has_agent).label("endpoint"),
            _flag(and_(has_agent, since_start)).label("reporting"),
            _flag(or_(heard, and_(classified, attested))).label("active"),
            _flag(and_(has_agent, not_(classified))).label("fresh_base"),
            _flag(and_(not_(classified), Agent.last_seen_at >= p.now - timedelta(hours=24))).label(
                "seen_24h"
            ),
            _flag(and_(not_(classified), Agent.last_seen_at >= p.now - timedelta(days=7))).label(
                "seen_7d"
            ),
        ]

    registered_classified = or_(
        Asset.classification == "classified", func.coalesce(Agent.offline, False)
    )
    registered = (
        select(
            Asset.unit_id.label("unit_id"),
            Asset.id.label("asset_id"),
            Asset.assigned_user.label("assigned_user"),
            Asset.purchased_at.label("purchased_at"),
            *flags(registered_classified),
        )
        .select_from(Asset)
        .outerjoin(Agent, and_(Agent.id == Asset.agent_id, Agent.status == "active"))
        .outerjoin(last_bundle, last_bundle.c.agent_id == Agent.id)
        .where(live_asset(), Asset.kind.in_(COMPUTER_KINDS), unit_filter(Asset.unit_id, scope))
    )
    listed = select(Asset.id).where(Asset.agent_id == Agent.id, Asset.retired_at.is_(None)).exists()
    unregistered = (
        select(
            Agent.unit_id.label("unit_id"),
            null().label("asset_id"),
            null().label("assigned_user"),
            null().label("purchased_at"),
            *flags(Agent.offline.is_(True)),
        )
        .select_from(Agent)
        .outerjoin(last_bundle, last_bundle.c.agent_id == Agent.id)
        .where(Agent.status == "active", unit_filter(Agent.unit_id, scope), not_(listed))
    )
    return union_all(registered, unregistered).cte("computers")


def _rule_table(p: Parameters) -> tuple[Any, dict[str, int]]:
    """The rules the pivot reads as a small table ``(rule_id, weight, bit)``, and the bits of
    each metric of :data:`PASS_RULES`.

    Joining this table costs one hash lookup per rule state, where CASE expressions over the
    rule ids cost a comparison per rule (1.7 million states at 100,000 hosts).
    """
    rules = sorted({r for rules in PASS_RULES.values() for r in rules} | set(p.weights))
    bits = {rule: 1 << i for i, rule in enumerate(rules)}
    table = union_all(
        *[
            select(
                literal(rule).label("rule_id"),
                literal(float(p.weights.get(rule, 0.0))).label("weight"),
                literal(bits[rule]).label("bit"),
            )
            for rule in rules
        ]
    ).subquery("rule_table")
    masks = {name: sum(bits[r] for r in group) for name, group in PASS_RULES.items()}
    return table, masks


def _rule_pivot(p: Parameters, computers: Any, scope: UnitScope, table: Any) -> Any:
    """Per agent of the scope: the bits of its passing rules and its weighted score."""
    passed = RuleState.outcome == "pass"
    judged = RuleState.outcome.in_(("pass", "fail"))
    query = (
        select(
            RuleState.agent_id.label("agent_id"),
            # Each (agent, rule) has one state (the primary key): the sum of bits is their OR.
            func.sum(case((passed, table.c.bit), else_=0)).label("mask"),
            func.sum(case((judged, table.c.weight), else_=literal(0.0))).label("weight"),
            func.sum(case((passed, table.c.weight), else_=literal(0.0))).label("earned"),
        )
        .select_from(RuleState)
        .join(table, table.c.rule_id == RuleState.rule_id)
    )
    if scope is not None:
        # A subtree: only its computers' states. The whole organisation: every state, read in
        # one pass rather than looked up agent by agent.
        query = query.where(
            RuleState.agent_id.in_(
                select(computers.c.agent_id).where(computers.c.agent_id.is_not(None))
            )
        )
    return query.group_by(RuleState.agent_id).subquery("pivot")


def _counts_query(p: Parameters, scope: UnitScope, computers: Any) -> Any:
    """Per unit: the computer counts of :class:`Counts` in one grouped query."""
    table, masks = _rule_table(p)
    pivot = _rule_pivot(p, computers, scope, table)
    c = computers.c
    active = c.active == 1
    normal_active = and_(active, c.classified == 0)

    def passing(name: str, base: ColumnElement[bool]) -> Any:
        mask = masks[name]
        every = func.coalesce(pivot.c.mask, 0).op("&")(mask) == mask
        return func.sum(_flag(and_(base, every)))

    scored = and_(active, pivot.c.weight > 0)
    query = (
        select(
            c.unit_id,
            func.count(c.asset_id),
            func.sum(c.endpoint),
            func.sum(c.reporting),
            func.sum(c.fresh_base),
            func.sum(c.seen_24h),
            func.sum(c.seen_7d),
            func.sum(c.active),
            func.sum(_flag(and_(active, c.classified == 1))),
            passing("internet", normal_active),
            passing("lan", normal_active),
            passing("antimalware", active),
            passing("managed", active),
            passing("patched", active),
            passing("supported_os", active),
            func.sum(case((scored, pivot.c.earned / pivot.c.weight), else_=literal(0.0))),
            func.sum(_flag(scored)),
            func.sum(_flag(and_(active, c.purchased_at < p.aged_before))),
            func.sum(_flag(and_(active, c.purchased_at.is_not(None)))),
        )
        .select_from(computers)
        .outerjoin(pivot, pivot.c.agent_id == c.agent_id)
        .group_by(c.unit_id)
    )
    return query


def _computer_counts(s: Session, p: Parameters, scope: UnitScope, out: dict[str, Counts]) -> None:
    computers = _computers(p, scope)
    for row in s.execute(_counts_query(p, scope, computers)):
        acc = out.get(row[0])
        if acc is None:
            continue
        n = [int(v or 0) for v in row[1:15]]
        (
            acc.registered, acc.endpoints, acc.reporting, acc.fresh_base, acc.seen_24h,
            acc.seen_7d, acc.active, acc.active_classified, acc.internet, acc.lan,
            acc.antimalware, acc.managed, acc.patched, acc.supported_os,
        ) = n  # fmt: skip
        acc.score_sum = float(row[15] or 0.0)
        acc.scored = int(row[16] or 0)
        acc.aged = int(row[17] or 0)
        acc.dated = int(row[18] or 0)
    _bios_ages(s, p, computers, out)


#: How much of a stored full report body metric 29 reads. msgspec writes a report's sections
#: in declaration order (agent/report/__init__.py: identity, then hardware) and the hardware
#: section starts with system, form factor, then bios: its release date sits in the first 2 KB
#: of JSON, well inside this many gzip bytes. Reading a prefix keeps 100,000 hosts to ~200 MB
#: instead of a gigabyte of bodies.
BODY_PREFIX = 2048
_BIOS_DATE = re.compile(rb'"bios"\s*:\s*\{[^{}]*?"release_date"\s*:\s*"(\d{4}-\d{2}-\d{2})"')
_AGE_SINCE = re.compile(rb'"age"\s*:\s*\{[^{}]*?"since"\s*:\s*"(\d{4}-\d{2}-\d{2})"')


def firmware_date(prefix: bytes | None) -> date | None:
    """The hardware age's start, else the BIOS release date, found in the first bytes of a
    stored full report body (gzip JSON, possibly cut short); None when it says nothing."""
    if not prefix:
        return None
    text = prefix
    if prefix[:2] == b"\x1f\x8b":
        try:
            # A decompressor object accepts a truncated stream and returns what it could read.
            text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(prefix)
        except zlib.error:
            return None
    found = _AGE_SINCE.search(text) or _BIOS_DATE.search(text)
    if found is None:
        return None
    try:
        return date.fromisoformat(found[1].decode())
    except ValueError:
        return None


def _bios_ages(s: Session, p: Parameters, computers: Any, out: dict[str, Counts]) -> None:
    """Metric 29 for active computers without a purchase date: the firmware date they report."""
    c = computers.c
    rows = s.execute(
        select(c.unit_id, func.substr(HostFacts.full_body, 1, BODY_PREFIX))
        .select_from(computers)
        .join(HostFacts, HostFacts.agent_id == c.agent_id)
        .where(c.active == 1, c.purchased_at.is_(None), HostFacts.full_body.is_not(None))
        .execution_options(yield_per=5000)
    )
    for unit_id, prefix in rows:
        acc = out.get(unit_id)
        since = firmware_date(bytes(prefix) if prefix is not None else None)
        if acc is None or since is None:
            continue
        acc.dated += 1
        if since < p.aged_before:
            acc.aged += 1


def _classified(s: Session, p: Parameters, scope: UnitScope) -> list[ClassifiedPC]:
    """Registered classified computers (and offline agents no asset lists), by unit and id."""
    last_bundle = (
        select(func.max(Bundle.imported_at)).where(Bundle.agent_id == Agent.id).scalar_subquery()
    )
    isolated = (
        select(func.count())
        .select_from(RuleState)
        .where(
            RuleState.agent_id == Agent.id,
            RuleState.rule_id.in_(ISOLATION_RULES),
            RuleState.outcome.in_(("pass", "not_applicable")),
        )
        .scalar_subquery()
    )
    active = or_(Agent.last_seen_at >= p.active_since, last_bundle >= p.attested_since)
    reviewed = func.coalesce(Asset.security_plan_reviewed_at, Asset.security_plan_approved_at)
    found = [
        ClassifiedPC(
            asset_id=asset_id,
            agent_id=agent_id,
            unit_id=unit_id,
            active=bool(is_active),
            plan_current=bool(plan),
            isolated=int(n or 0) == len(ISOLATION_RULES),
        )
        for asset_id, agent_id, unit_id, is_active, plan, n in s.execute(
            select(
                Asset.id,
                Agent.id,
                Asset.unit_id,
                _flag(and_(Agent.id.is_not(None), active)),
                _flag(
                    and_(Asset.security_plan_ref.is_not(None), reviewed >= p.plan_reviewed_since)
                ),
                case((Agent.id.is_not(None), isolated), else_=literal(0)),
            )
            .select_from(Asset)
            .outerjoin(Agent, and_(Agent.id == Asset.agent_id, Agent.status == "active"))
            .where(
                live_asset(),
                Asset.kind.in_(COMPUTER_KINDS),
                Asset.classification == "classified",
                unit_filter(Asset.unit_id, scope),
            )
        )
    ]
    listed = select(Asset.id).where(Asset.agent_id == Agent.id, Asset.retired_at.is_(None)).exists()
    found += [
        ClassifiedPC(None, agent_id, unit_id, bool(is_active), False, False)
        for agent_id, unit_id, is_active in s.execute(
            select(Agent.id, Agent.unit_id, _flag(active)).where(
                Agent.offline.is_(True),
                Agent.status == "active",
                unit_filter(Agent.unit_id, scope),
                not_(listed),
            )
        )
    ]
    found.sort(key=lambda pc: (pc.unit_id, pc.asset_id or "", pc.agent_id or ""))
    return found


def _officials(s: Session, p: Parameters, scope: UnitScope, out: dict[str, Counts]) -> None:
    """Metrics 4, 5, 15: officials with computers, key officials, signing leaders."""
    computers = _computers(p, scope)
    # Joined as distinct lists rather than correlated per official: one pass over each.
    with_active = (
        select(computers.c.assigned_user.label("official"))
        .where(computers.c.active == 1, computers.c.assigned_user.is_not(None))
        .distinct()
        .subquery("with_active")
    )
    with_computer = (
        select(Asset.assigned_user.label("official"))
        .where(Asset.assigned_user.is_not(None), live_asset(), Asset.kind.in_(COMPUTER_KINDS))
        .distinct()
        .subquery("with_computer")
    )
    has_active = with_active.c.official.is_not(None)
    has_computer = with_computer.c.official.is_not(None)
    key = and_(_has_role("key_official"), Unit.kind.in_(COMMUNE_KINDS))
    leader = _has_role("signing_leader")
    certified = and_(
        leader,
        Official.cert_status == "valid",
        or_(Official.cert_expires_on.is_(None), Official.cert_expires_on >= p.today),
    )
    rows = s.execute(
        select(
            Official.unit_id,
            func.sum(_flag(has_active)),
            func.sum(_flag(key)),
            func.sum(_flag(and_(key, has_computer))),
            func.sum(_flag(leader)),
            func.sum(_flag(certified)),
        )
        .join(Unit, Unit.id == Official.unit_id)
        .outerjoin(with_active, with_active.c.official == Official.id)
        .outerjoin(with_computer, with_computer.c.official == Official.id)
        .where(Official.retired_at.is_(None), unit_filter(Official.unit_id, scope))
        .group_by(Official.unit_id)
    )
    for unit_id, equipped, keys, keys_equipped, leaders, leaders_ok in rows:
        acc = out.get(unit_id)
        if acc is None:
            continue
        acc.officials_equipped = int(equipped or 0)
        acc.key_officials, acc.key_officials_equipped = int(keys or 0), int(keys_equipped or 0)
        acc.leaders, acc.leaders_certified = int(leaders or 0), int(leaders_ok or 0)


def _agency_rules(s: Session, p: Parameters, scope: UnitScope, out: dict[str, Counts]) -> None:
    """Metrics 13 and 14 as agents see them: CQĐT-03 per unit, CQĐT-05 on a clerk's computer."""
    for unit_id, passing, known in s.execute(
        select(
            Agent.unit_id,
            func.sum(_flag(RuleState.outcome == "pass")),
            func.count(),
        )
        .join(Agent, Agent.id == RuleState.agent_id)
        .where(
            RuleState.rule_id == TSLCD_RULE,
            RuleState.outcome.in_(("pass", "fail")),
            Agent.status == "active",
            Agent.last_seen_at >= p.active_since,
            unit_filter(Agent.unit_id, scope),
        )
        .group_by(Agent.unit_id)
    ):
        if (acc := out.get(unit_id)) is not None:
            acc.tslcd_pass, acc.tslcd_known = int(passing or 0), int(known or 0)
    for unit_id, passing in s.execute(
        select(Official.unit_id, func.count())
        .select_from(RuleState)
        .join(Asset, Asset.agent_id == RuleState.agent_id)
        .join(Official, Official.id == Asset.assigned_user)
        .where(
            RuleState.rule_id == SIGNING_RULE,
            RuleState.outcome == "pass",
            live_asset(),
            Official.retired_at.is_(None),
            _has_role("clerk"),
            unit_filter(Official.unit_id, scope),
        )
        .group_by(Official.unit_id)
    ):
        if (acc := out.get(unit_id)) is not None:
            acc.signing_pass = int(passing or 0)


def _register(
    s: Session, p: Parameters, tree: Sequence[TreeUnit], out: dict[str, Counts]
) -> list[UnitInfo]:
    """Units of the tree (retired ones left out) with headcounts and certificates."""
    scope = frozenset(uid for uid, *_ in tree)
    offices: dict[str, tuple[int | None, int | None, int | None]] = {
        uid: (cb, cc, vc)
        for uid, cb, cc, vc in s.execute(
            select(
                Office.unit_id,
                func.sum(Office.headcount_can_bo),
                func.sum(Office.headcount_cong_chuc),
                func.sum(Office.headcount_vien_chuc),
            )
            .where(Office.retired_at.is_(None), unit_filter(Office.unit_id, scope))
            .group_by(Office.unit_id)
        )
    }
    units = {
        row.id: row
        for row in s.execute(
            select(
                Unit.id,
                Unit.retired_at,
                Unit.headcount_can_bo,
                Unit.headcount_cong_chuc,
                Unit.headcount_vien_chuc,
                Unit.org_cert_serial,
                Unit.org_cert_expires_on,
                Unit.inventory_managed,
            ).where(unit_filter(Unit.id, scope))
        )
    }
    infos: list[UnitInfo] = []
    for uid, name, kind, parent, depth in tree:
        row = units.get(uid)
        if row is None or row.retired_at is not None:
            continue
        own = (row.headcount_can_bo, row.headcount_cong_chuc, row.headcount_vien_chuc)
        if all(v is None for v in own):
            # The file may give the staff only per office.
            own = offices.get(uid, (None, None, None))
        can_bo, cong_chuc, vien_chuc = (int(v) if v is not None else None for v in own)
        acc = out.setdefault(uid, Counts())
        if can_bo is not None or cong_chuc is not None:
            acc.headcount = (can_bo or 0) + (cong_chuc or 0)
        acc.vien_chuc = vien_chuc
        valid = row.org_cert_serial is not None and (
            row.org_cert_expires_on is None or row.org_cert_expires_on >= p.today
        )
        certificate = True if valid else (False if row.inventory_managed else None)
        infos.append(UnitInfo(uid, name, kind, parent, depth, certificate))
    return infos


def read(s: Session, p: Parameters, scope: UnitScope, period_labels: Sequence[str]) -> EgovData:
    """Everything the readiness report needs over the units of ``scope``.

    ``period_labels``: the labels whose declared figures count (the period's own, then its
    year's; the caller picks which wins).
    """
    if s.get_bind().dialect.name == "postgresql":
        # These few big aggregations are planned with JIT compilation by default, which cost
        # more than it saved (2 s of 8 s at 100,000 hosts); the larger work_mem keeps the
        # per-computer aggregation in memory. SET LOCAL ends with the transaction.
        s.execute(text("SET LOCAL jit = off"))
        s.execute(text("SET LOCAL work_mem = '64MB'"))
    tree = unit_tree(s, scope)
    out: dict[str, Counts] = {}
    units = _register(s, p, tree, out)
    live = {u.id for u in units}
    out = {uid: acc for uid, acc in out.items() if uid in live}
    _computer_counts(s, p, scope, out)
    classified = [pc for pc in _classified(s, p, scope) if pc.unit_id in live]
    for pc in classified:
        if pc.asset_id is None:
            continue
        own = out[pc.unit_id]
        own.classified += 1
        own.classified_plan += pc.plan_current
        own.classified_isolated += pc.isolated
    for unit_id, n in s.execute(
        select(Finding.unit_id, func.count())
        .where(
            Finding.rule_id == TRIPWIRE_RULE,
            Finding.opened_at >= p.period_start,
            Finding.opened_at < p.period_end,
            unit_filter(Finding.unit_id, scope),
        )
        .group_by(Finding.unit_id)
    ):
        if (acc := out.get(unit_id)) is not None:
            acc.sightings = int(n)
    _officials(s, p, scope, out)
    _agency_rules(s, p, scope, out)
    for (unit_id, _), (computers, printers) in office_equipment(s, scope).items():
        if (acc := out.get(unit_id)) is not None:
            acc.offices += 1
            acc.offices_equipped += computers >= 1 and printers >= 1
    declared = [f for f in figures_for(s, scope, period_labels) if f.unit_id in live]
    return EgovData(tuple(units), out, tuple(classified), tuple(declared))
