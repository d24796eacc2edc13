"""The e-government infrastructure readiness report (RULES.md, "District e-government
infrastructure readiness report", metrics 1-29).

Each metric is computed per unit (its own computers, officials, offices) and rolled up over the
unit's subtree by adding numerators and denominators, never by averaging rates. A metric says
where its figure comes from: ``measured`` (agents, rule states, bundles, findings), ``register``
(the organisation file), ``declared`` (figures entered with ``govguard figures``), or
``missing`` (no data: shown as such, never as 0 %).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from controller.reports.base import ReportContext, ReportError
from controller.reports.document import Document, Ratio, T
from controller.reports.period import Period, local_day
from controller.reports.registry import register
from controller.settings import ReportsConfig
from controller.store.declared import Stored
from controller.store.reporting import egov as store
from controller.store.reporting.egov import CONTAINER_KINDS, Counts, UnitInfo
from controller.store.scope import unit_subtree
from controller.store.units import unit_path

Source = Literal["measured", "register", "declared", "missing"]
#: How direct a source is: a roll-up takes the least direct source of its parts.
_SOURCE_RANK: dict[Source, int] = {"measured": 0, "register": 1, "declared": 2, "missing": 3}
Kind = Literal["count", "rate", "score"]


@dataclass(frozen=True, slots=True)
class Spec:
    """A readiness metric: its number, key, title, kind and seed target (RULES.md)."""

    number: int
    key: str
    title: T
    kind: Kind
    #: The seed target as a share (1.0 = 100 %), or a count for ``at_most`` metrics.
    target: float | None = None
    #: The target is a maximum (sightings), not a minimum.
    at_most: bool = False


#: ``(number, key suffix, vi, en, kind, target)`` of every metric, in order; titles exactly as
#: RULES.md names the fields, targets from its "Seed target" column.
_TABLE: tuple[tuple[int, str, str, str, Kind, float | None], ...] = (
    (1, "", "Số CBCC", "Headcount of officials and civil servants", "count", None),
    (2, "", "Số máy tính đang hoạt động", "Active computers", "count", None),
    (3, "", "Tỷ lệ máy tính/CBCC (cấp huyện)", "Computers per official (district level)",
     "rate", 1.0),
    (4, "", "Tỷ lệ CBCC được trang bị máy tính", "Share of officials with an assigned computer",
     "rate", 1.0),
    (5, "", "Tỷ lệ cán bộ chủ chốt xã có máy tính",
     "Share of commune key officials with a computer", "rate", 1.0),
    (6, "", "Tỷ lệ phòng/bộ phận có ≥1 máy tính và ≥1 máy in",
     "Share of offices with ≥ 1 computer and ≥ 1 printer", "rate", 1.0),
    (7, "", "Số máy tính soạn thảo văn bản mật", "Registered classified (air-gapped) computers",
     "count", None),
    (8, "", "Tỷ lệ máy mật có phương án bảo vệ",
     "Classified PCs with an approved protection plan", "rate", 1.0),
    (9, "", "Tỷ lệ máy mật tuân thủ cách ly", "Classified PCs passing isolation checks", "rate",
     1.0),
    (10, "", "Số lần phát hiện máy mật trên mạng", "Classified-PC network sightings", "count", 0),
    (11, "", "Tỷ lệ máy tính kết nối Internet", "Internet connection rate", "rate", 1.0),
    (12, "", "Tỷ lệ máy tính kết nối LAN", "LAN connection rate", "rate", 1.0),
    (13, "", "Tỷ lệ cơ quan kết nối mạng TSLCD",
     "Share of agencies on the specialised data network", "rate", 1.0),
    (14, "", "Tỷ lệ cơ quan có chứng thư số tổ chức",
     "Share of agencies with an organisational certificate", "rate", 1.0),
    (15, "", "Tỷ lệ lãnh đạo có chứng thư số cá nhân",
     "Share of signing leaders with a personal certificate", "rate", 1.0),
    (16, "", "Tỷ lệ cơ quan phát hành văn bản có ký số qua trục liên thông",
     "Share of agencies issuing digitally signed documents over the interconnection axis",
     "rate", 1.0),
    (17, "", "Tỷ lệ văn bản đi được ký số (trừ văn bản mật)",
     "Share of outgoing documents digitally signed, excluding secret ones", "rate", None),
    (18, "", "Tỷ lệ cơ quan sử dụng phần mềm QLVB&ĐH", "Share of agencies using QLVB&ĐH", "rate",
     1.0),
    (19, "", "Tỷ lệ CBCC có tài khoản QLVB hoạt động",
     "Share of officials with an active QLVB account", "rate", None),
    (20, "", "Tỷ lệ TTHC cung cấp DVC trực tuyến toàn trình",
     "Share of procedures offered as full-process online services", "rate", None),
    (20, ".partial", "Tỷ lệ TTHC cung cấp DVC trực tuyến một phần",
     "Share of procedures offered as partial online services", "rate", None),
    (21, "", "Tỷ lệ hồ sơ nộp trực tuyến", "Share of dossiers submitted online", "rate", None),
    (22, "", "Tỷ lệ cơ quan áp dụng ISO 9001:2015", "Share of agencies applying ISO 9001:2015",
     "rate", 1.0),
    (23, "", "Tỷ lệ CBCC được đào tạo, tập huấn CNTT/kỹ năng số",
     "Share of officials trained in IT and digital skills", "rate", 1.0),
    (24, "", "Tỷ lệ máy có phần mềm phòng chống mã độc hoạt động và cập nhật",
     "Anti-malware coverage", "rate", 1.0),
    (25, "", "Tỷ lệ máy được quản lý tập trung (kết nối NCSC)",
     "Centrally managed anti-malware coverage", "rate", 1.0),
    (26, "", "Tỷ lệ máy cập nhật bản vá", "Patch compliance", "rate", 0.95),
    (27, "", "Tỷ lệ máy dùng HĐH còn hỗ trợ", "Supported-OS share", "rate", 1.0),
    (28, "", "Điểm tuân thủ ATTT tổng hợp", "Composite security-compliance score", "score", None),
    (29, "", "Tỷ lệ máy tính quá hạn sử dụng", "Ageing hardware", "rate", None),
)  # fmt: skip
#: Every metric of the report, in order (metric 10's target is a maximum: 0 sightings).
SPECS: tuple[Spec, ...] = tuple(
    Spec(n, f"egov.{n}{suffix}", T(vi, en), kind, target, at_most=n == 10)
    for n, suffix, vi, en, kind, target in _TABLE
)
SPECS_BY_KEY: dict[str, Spec] = {spec.key: spec for spec in SPECS}
#: Metrics read only from declared figures.
DECLARED_ONLY = ("egov.16", "egov.17", "egov.18", "egov.19", "egov.20", "egov.20.partial",
                 "egov.21", "egov.22", "egov.23")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of one unit (its own figure or its subtree's).

    ``value`` is a :class:`Ratio` for rates and the score, a number for counts, None when
    ``source`` is ``missing``. ``met`` is None when there is no target or no value; ``gap`` is
    how far the value falls short of the target (share points for rates, a count for
    sightings), 0 when met.
    """

    number: int
    key: str
    title: T
    value: Ratio | int | float | None
    target: float | None
    source: Source
    met: bool | None
    gap: float | None

    @property
    def rate(self) -> float | None:
        """The value as a share (None for counts and missing values)."""
        return self.value.rate if isinstance(self.value, Ratio) else None


@dataclass(frozen=True, slots=True)
class UnitResult:
    """A unit of the report: tree position, its own metrics and its subtree's."""

    id: str
    name: str
    kind: str
    parent_id: str | None
    #: Depth below the report's root unit (0 for the root).
    depth: int
    own: tuple[Metric, ...]
    subtree: tuple[Metric, ...]
    #: Viên chức (public employees), shown beside metric 1 and not counted in it.
    vien_chuc: int | None

    def metric(self, key: str, *, own: bool = False) -> Metric:
        """The subtree's (or own) metric ``key`` (``egov.11``)."""
        for m in self.own if own else self.subtree:
            if m.key == key:
                return m
        raise KeyError(key)


@dataclass(frozen=True, slots=True)
class ExcludedPC:
    """A classified computer left out of the Internet and LAN denominators (ids only)."""

    asset_id: str | None
    agent_id: str | None
    unit_id: str
    unit_name: str
    active: bool


@dataclass(frozen=True, slots=True)
class DeclaredEntry:
    """A declared figure the report used."""

    unit_id: str
    unit_name: str
    metric: str
    number: int
    title: T
    period: str
    value: Ratio | float
    source: str | None
    entered_by: str
    entered_at: datetime


@dataclass(frozen=True, slots=True)
class EgovResult:
    """The readiness report's figures."""

    unit_id: str
    unit_name: str
    #: Names from the top of the organisation down to the unit.
    unit_path: tuple[str, ...]
    period: Period
    now: datetime
    #: Units in tree order; the first is the report's root unit.
    units: tuple[UnitResult, ...]
    #: Computers heard since the period's start ÷ computers in the register.
    coverage: Ratio
    fresh_24h: Ratio
    fresh_7d: Ratio
    excluded: tuple[ExcludedPC, ...]
    declared: tuple[DeclaredEntry, ...]
    active_days: int
    attestation_days: int
    ageing_years: int

    @property
    def root(self) -> UnitResult:
        """The report's unit (its subtree metrics are the report's totals)."""
        return self.units[0]

    def unit(self, unit_id: str) -> UnitResult:
        """One unit of the report by id."""
        for u in self.units:
            if u.id == unit_id:
                return u
        raise KeyError(unit_id)


# --- Computing ----------------------------------------------------------------------------


@functools.cache
def _rule_severities() -> dict[str, str]:
    """Severity of each shipped rule (the composite score weighs ATTT-01…14 by it)."""
    from controller.policy import SHIPPED_PACKS, load_policies

    return {rule.id: rule.severity for rule in load_policies([SHIPPED_PACKS]).rules}


def score_weights(settings: ReportsConfig) -> dict[str, float]:
    """Weight of each ATTT-01…14 rule: ``severity_weights`` of its severity (rules weighing
    nothing are left out)."""
    severities = _rule_severities()
    weights = {
        rule: float(settings.severity_weights.get(severities.get(rule, ""), 0.0))
        for rule in store.SCORE_RULES
    }
    return {rule: w for rule, w in weights.items() if w > 0}


def target_of(spec: Spec, settings: ReportsConfig) -> float | None:
    """The metric's target: ``reports.targets`` of config.yaml (by ``20.partial``, ``26`` or
    ``egov.26``), else the seed target of RULES.md."""
    short = spec.key.removeprefix("egov.")
    for name in (spec.key, short, str(spec.number)):
        if name in settings.targets:
            return float(settings.targets[name])
    return spec.target


def _judge(
    spec: Spec, value: Ratio | int | float | None, target: float | None
) -> tuple[bool | None, float | None]:
    if target is None or value is None:
        return None, None
    if spec.at_most:
        number = float(value.numerator if isinstance(value, Ratio) else value)
        return number <= target, max(0.0, number - target)
    rate = value.rate if isinstance(value, Ratio) else float(value)
    if rate is None:
        return None, None
    met = rate >= target - 1e-9
    return met, 0.0 if met else round(target - rate, 6)


@dataclass
class _Sum:
    """Numerator and denominator added over units, with the least direct source seen."""

    numerator: float = 0.0
    denominator: float = 0.0
    source: Source = "missing"
    parts: int = 0

    def add(self, numerator: float, denominator: float, source: Source) -> None:
        self.numerator += numerator
        self.denominator += denominator
        self.parts += 1
        if self.source == "missing" or _SOURCE_RANK[source] > _SOURCE_RANK[self.source]:
            self.source = source


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 4)


Declared = Mapping[str, Mapping[str, Stored]]


def _metrics(
    units: Sequence[tuple[UnitInfo, Counts]], declared: Declared, settings: ReportsConfig
) -> tuple[Metric, ...]:
    """Every metric over ``units`` (one unit: its own figures; a subtree: their sum)."""
    sums: dict[str, _Sum] = {spec.key: _Sum() for spec in SPECS}

    def rate(key: str, numerator: float, denominator: float, source: Source) -> None:
        if denominator > 0:
            sums[key].add(numerator, denominator, source)

    for info, c in units:
        mine = declared.get(info.id, {})
        staffed = c.headcount is not None
        if staffed:
            sums["egov.1"].add(c.headcount or 0, 0, "register")
            rate("egov.3", c.active, c.headcount or 0, "measured")
            rate("egov.4", c.officials_equipped, c.headcount or 0, "measured")
        sums["egov.2"].add(c.active, 0, "measured")
        rate("egov.5", c.key_officials_equipped, c.key_officials, "register")
        rate("egov.6", c.offices_equipped, c.offices, "register")
        sums["egov.7"].add(c.classified, 0, "register")
        rate("egov.8", c.classified_plan, c.classified, "register")
        rate("egov.9", c.classified_isolated, c.classified, "measured")
        sums["egov.10"].add(c.sightings, 0, "measured")
        normal = c.active - c.active_classified
        rate("egov.11", c.internet, normal, "measured")
        rate("egov.12", c.lan, normal, "measured")
        agency = info.kind not in CONTAINER_KINDS
        if agency:
            _agency_metrics(info, c, mine, sums)
        rate("egov.15", c.leaders_certified, c.leaders, "register")
        for key in DECLARED_ONLY:
            figure = mine.get(key)
            if figure is not None:
                sums[key].add(figure.numerator, figure.denominator or 0, "declared")
        rate("egov.24", c.antimalware, c.active, "measured")
        rate("egov.25", c.managed, c.active, "measured")
        rate("egov.26", c.patched, c.active, "measured")
        rate("egov.27", c.supported_os, c.active, "measured")
        rate("egov.28", c.score_sum, c.scored, "measured")
        rate("egov.29", c.aged, c.active, "measured")
    found: list[Metric] = []
    for spec in SPECS:
        total = sums[spec.key]
        value: Ratio | int | float | None = None
        if total.parts:
            if spec.kind == "count":
                value = _num(total.numerator)
            else:
                value = Ratio(_num(round(total.numerator, 4)), _num(total.denominator))
        source: Source = total.source if value is not None else "missing"
        target = target_of(spec, settings)
        met, gap = _judge(spec, value, target)
        found.append(Metric(spec.number, spec.key, spec.title, value, target, source, met, gap))
    return tuple(found)


def _agency_metrics(
    info: UnitInfo, c: Counts, mine: Mapping[str, Stored], sums: dict[str, _Sum]
) -> None:
    """Metrics 13 and 14 of one agency: seen by agents, else the register, else declared."""
    tslcd = mine.get("egov.13")
    if c.tslcd_known:
        sums["egov.13"].add(1 if c.tslcd_pass else 0, 1, "measured")
    elif tslcd is not None:
        sums["egov.13"].add(tslcd.numerator, tslcd.denominator or 0, "declared")
    certificate = mine.get("egov.14")
    if info.org_certificate:
        sums["egov.14"].add(1, 1, "register")
    elif c.signing_pass:
        sums["egov.14"].add(1, 1, "measured")
    elif certificate is not None:
        sums["egov.14"].add(certificate.numerator, certificate.denominator or 0, "declared")
    elif info.org_certificate is False:
        sums["egov.14"].add(0, 1, "register")


def _pick_declared(figures: Iterable[Stored], period: Period) -> dict[str, dict[str, Stored]]:
    """Per unit and metric, the figure declared for the period, else for its year."""
    chosen: dict[str, dict[str, Stored]] = {}
    for figure in figures:
        slot = chosen.setdefault(figure.unit_id, {})
        current = slot.get(figure.metric)
        if current is None or (figure.period == period.label and current.period != period.label):
            slot[figure.metric] = figure
    return chosen


def _subtrees(units: Sequence[UnitInfo]) -> dict[str, list[str]]:
    """Each unit's subtree (itself first) from the tree order (children follow parents)."""
    members: dict[str, list[str]] = {u.id: [u.id] for u in units}
    parents = {u.id: u.parent_id for u in units}
    for u in units:
        current = parents.get(u.id)
        seen: set[str] = set()
        while current is not None and current in members and current not in seen:
            seen.add(current)
            members[current].append(u.id)
            current = parents.get(current)
    return members


class EgovReport:
    """``govguard report egov``: the e-government infrastructure readiness report."""

    name = "egov"
    title = T(
        "Báo cáo mức độ sẵn sàng hạ tầng chính quyền điện tử",
        "E-government infrastructure readiness report",
    )
    description = T(
        "Các chỉ tiêu hạ tầng chính quyền điện tử theo đơn vị (RULES.md, chỉ tiêu 1–29): "
        "máy tính, kết nối, chữ ký số, máy mật, an toàn thông tin; số liệu đo tự động, từ sổ "
        "đăng ký hoặc do đơn vị kê khai.",
        "E-government infrastructure metrics by unit (RULES.md, metrics 1-29): computers, "
        "connectivity, digital signatures, classified computers, security; measured, from the "
        "register, or declared by the units.",
    )

    def compute(self, s: Session, ctx: ReportContext) -> EgovResult:
        """Read the unit subtree and compute every metric, per unit and rolled up."""
        subtree = unit_subtree(s, ctx.unit_id)
        scope = subtree if ctx.scope is None else subtree & ctx.scope
        if ctx.unit_id not in scope:
            raise ReportError(f"unknown unit {ctx.unit_id!r} (or not visible to you)")
        settings = ctx.settings
        period = ctx.period
        params = store.Parameters(
            now=ctx.now,
            today=local_day(ctx.now),
            period_start=period.start_at,
            period_end=period.end_at,
            active_days=settings.active_days,
            attestation_days=settings.classified_attestation_days,
            ageing_years=settings.ageing_years,
            weights=score_weights(settings),
        )
        ctx.progress(0, 3, "egov")
        labels = list(dict.fromkeys((period.label, f"{period.first.year:04d}")))
        data = store.read(s, params, scope, labels)
        if not data.units or data.units[0].id != ctx.unit_id:
            raise ReportError(f"unit {ctx.unit_id!r} is retired: no report")
        ctx.progress(1, 3, "egov")
        declared = _pick_declared(data.declared, period)
        infos = {u.id: u for u in data.units}
        members = _subtrees(data.units)
        base = data.units[0].depth
        results = []
        for info in data.units:
            own = [(info, data.counts[info.id])]
            under = [(infos[uid], data.counts[uid]) for uid in members[info.id]]
            results.append(
                UnitResult(
                    id=info.id,
                    name=info.name,
                    kind=info.kind,
                    parent_id=info.parent_id,
                    depth=info.depth - base,
                    own=_metrics(own, declared, settings),
                    subtree=_metrics(under, declared, settings),
                    vien_chuc=data.counts[info.id].vien_chuc,
                )
            )
        ctx.progress(2, 3, "egov")
        counts = list(data.counts.values())
        names = {u.id: u.name for u in data.units}
        path_ids = list(reversed(unit_path(s, ctx.unit_id)))
        path_names = [names.get(uid) or _name(s, uid) for uid in path_ids]
        used = [
            DeclaredEntry(
                unit_id=f.unit_id,
                unit_name=names[f.unit_id],
                metric=f.metric,
                number=SPECS_BY_KEY[f.metric].number,
                title=SPECS_BY_KEY[f.metric].title,
                period=f.period,
                value=Ratio(_num(f.numerator), _num(f.denominator))
                if f.denominator is not None
                else _num(f.numerator),
                source=f.source,
                entered_by=f.entered_by,
                entered_at=f.entered_at,
            )
            for unit in data.units
            for f in sorted(declared.get(unit.id, {}).values(), key=lambda f: _key_order(f.metric))
            if f.metric in SPECS_BY_KEY
        ]
        result = EgovResult(
            unit_id=ctx.unit_id,
            unit_name=names[ctx.unit_id],
            unit_path=tuple(path_names),
            period=period,
            now=ctx.now,
            units=tuple(results),
            coverage=Ratio(sum(c.reporting for c in counts), sum(c.registered for c in counts)),
            fresh_24h=Ratio(sum(c.seen_24h for c in counts), sum(c.fresh_base for c in counts)),
            fresh_7d=Ratio(sum(c.seen_7d for c in counts), sum(c.fresh_base for c in counts)),
            excluded=tuple(
                ExcludedPC(pc.asset_id, pc.agent_id, pc.unit_id, names[pc.unit_id], pc.active)
                for pc in data.classified
            ),
            declared=tuple(used),
            active_days=settings.active_days,
            attestation_days=settings.classified_attestation_days,
            ageing_years=settings.ageing_years,
        )
        ctx.progress(3, 3, "egov")
        return result

    def layout(self, result: EgovResult, ctx: ReportContext) -> Document:
        """The report as a document: summary, metrics, units, exclusions, declared, method."""
        from controller.reports.definitions.egov_layout import layout

        return layout(self.title, result, ctx)


def _key_order(key: str) -> tuple[int, str]:
    spec = SPECS_BY_KEY.get(key)
    return (spec.number if spec else 999, key)


def _name(s: Session, unit_id: str) -> str:
    from controller.store.models import Unit

    unit = s.get(Unit, unit_id)
    return unit.name if unit is not None else unit_id


REPORT = EgovReport()
register(REPORT)

__all__ = [
    "SPECS",
    "DeclaredEntry",
    "EgovReport",
    "EgovResult",
    "ExcludedPC",
    "Metric",
    "Spec",
    "UnitResult",
]
