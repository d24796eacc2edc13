"""Security compliance: pass rates by unit and rule now, their trend over the period, the failed
hosts with the evidence of each failed check, exemptions and open findings by severity.

Rates are *passing hosts ÷ evaluated hosts* (a host whose rule is not applicable or could not be
evaluated is not counted). Current figures come from ``rule_states`` at generation time; the
trend reads the daily snapshots (``rule_daily`` per rule, ``compliance_daily`` overall) within
the period. The failed-hosts listing keeps the first 200 hosts of each rule (by unit, then host
name) in every format and says how many more there are: one document feeds PDF, XLSX and CSV
alike, and the dashboard's findings page lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from controller.reports.base import ReportContext
from controller.reports.definitions import audit_layout as lay
from controller.reports.document import (
    Chart,
    Column,
    Document,
    Figure,
    Figures,
    Paragraph,
    Ratio,
    Row,
    Section,
    Series,
    T,
    Table,
    Value,
)
from controller.reports.registry import register
from controller.store.dashboard._common import SEVERITIES
from controller.store.reporting import security as q
from controller.store.reporting.audit_common import (
    HeaderFacts,
    TreeUnit,
    header_facts,
    report_tree,
    roll_up,
)

#: How many of the weakest rules get their own line in the trend chart.
CHART_RULES = 5
WITHHELD = T("máy mật (không ghi tên)", "classified computer (name withheld)")


@dataclass(frozen=True, slots=True)
class UnitRate:
    """One unit of the tree: its rule states rolled up over its subtree, open findings."""

    unit: TreeUnit
    #: Passing ÷ evaluated host-rule pairs (the unit and everything below it).
    compliance: Ratio
    #: Open and acknowledged findings by severity (subtree).
    findings: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class RuleRate:
    """One rule over the whole scope: now, and on the first and last snapshot of the period."""

    rule_id: str
    passing: int
    failing: int
    first: Ratio | None
    last: Ratio | None

    @property
    def rate(self) -> Ratio:
        """Passing hosts ÷ evaluated hosts."""
        return Ratio(self.passing, self.passing + self.failing)


@dataclass(frozen=True, slots=True)
class UnitRuleRate:
    """One rule in one unit's subtree."""

    unit_id: str
    rule_id: str
    rate: Ratio


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One day's pass rate (``rule_id`` None: every rule together)."""

    day: date
    rule_id: str | None
    rate: Ratio


@dataclass(frozen=True, slots=True)
class SecurityResult:
    """Everything the security compliance report shows."""

    header: HeaderFacts
    units: tuple[UnitRate, ...]
    rules: tuple[RuleRate, ...]
    unit_rules: tuple[UnitRuleRate, ...]
    trend: tuple[TrendPoint, ...]
    rule_trend: tuple[TrendPoint, ...]
    failed: tuple[q.FailedHost, ...]
    #: Failing hosts per rule (the listing keeps at most ``failed_cap`` of each).
    failed_totals: Mapping[str, int]
    failed_cap: int
    exemptions: tuple[q.Exemption, ...]
    #: Open and acknowledged findings by severity over the scope.
    findings: Mapping[str, int]

    def compliance(self) -> Ratio:
        """Passing ÷ evaluated host-rule pairs over the whole scope."""
        passing = sum(r.passing for r in self.rules)
        return Ratio(passing, passing + sum(r.failing for r in self.rules))


def compute(
    s: Session, ctx: ReportContext, per_rule: int = q.FAILED_HOSTS_PER_RULE
) -> SecurityResult:
    """The security compliance figures of ``ctx.scope`` now and over ``ctx.period``."""
    tree = report_tree(s, ctx.scope)
    counts = q.rule_counts(s, ctx.scope)
    ctx.progress(1, 5, "rule states")
    own: dict[str, tuple[int, ...]] = {}
    by_unit_rule: dict[str, dict[str, tuple[int, ...]]] = {}
    by_rule: dict[str, list[int]] = {}
    for c in counts:
        p, f = own.get(c.unit_id, (0, 0))
        own[c.unit_id] = (p + c.passing, f + c.failing)
        by_unit_rule.setdefault(c.rule_id, {})[c.unit_id] = (c.passing, c.failing)
        slot = by_rule.setdefault(c.rule_id, [0, 0])
        slot[0] += c.passing
        slot[1] += c.failing
    findings = q.open_findings(s, ctx.scope)
    severities = [*SEVERITIES, *sorted({sev for _, sev in findings} - set(SEVERITIES))]
    own_findings = {
        uid: tuple(findings.get((uid, sev), 0) for sev in severities)
        for uid in {uid for uid, _ in findings}
    }
    rolled = roll_up(tree, own)
    rolled_findings = roll_up(tree, own_findings)
    units = tuple(
        UnitRate(
            unit=u,
            compliance=Ratio(*_pair(rolled.get(u.id))),
            findings={
                sev: n
                for sev, n in zip(severities, rolled_findings.get(u.id, ()), strict=False)
                if n
            },
        )
        for u in tree
    )
    rule_rolled = {rule_id: roll_up(tree, per_unit) for rule_id, per_unit in by_unit_rule.items()}
    unit_rules = tuple(
        UnitRuleRate(u.id, rule_id, Ratio(p, total))
        for rule_id in sorted(rule_rolled)
        for u in tree
        for p, total in [_pair(rule_rolled[rule_id].get(u.id))]
        if total
    )
    ctx.progress(2, 5, "trend")
    daily = q.rule_trend(s, ctx.scope, ctx.period.first, ctx.period.last)
    rule_trend = tuple(
        TrendPoint(d.day, d.rule_id, Ratio(d.passing, d.passing + d.failing)) for d in daily
    )
    first_last: dict[str, tuple[Ratio, Ratio]] = {}
    for point in rule_trend:
        if point.rule_id is None:
            continue
        first, _ = first_last.get(point.rule_id, (point.rate, point.rate))
        first_last[point.rule_id] = (first, point.rate)
    trend = tuple(
        TrendPoint(d.day, None, Ratio(d.passing, d.passing + d.failing))
        for d in q.overall_trend(s, ctx.scope, ctx.period.first, ctx.period.last)
    )
    rules = tuple(
        RuleRate(
            rule_id,
            by_rule.get(rule_id, [0, 0])[0],
            by_rule.get(rule_id, [0, 0])[1],
            *(first_last.get(rule_id) or (None, None)),
        )
        for rule_id in sorted(set(by_rule) | set(first_last))
    )
    ctx.progress(3, 5, "failed hosts")
    failed, totals = q.failed_hosts(s, ctx.scope, per_rule)
    ctx.progress(4, 5, "exemptions")
    exempted = q.exemptions(s, ctx.scope)
    total_findings: dict[str, int] = {}
    for (_, sev), n in findings.items():
        total_findings[sev] = total_findings.get(sev, 0) + n
    ctx.progress(5, 5, "done")
    return SecurityResult(
        header=header_facts(s, ctx.unit_id, ctx.scope, ctx.now),
        units=units,
        rules=rules,
        unit_rules=unit_rules,
        trend=trend,
        rule_trend=rule_trend,
        failed=tuple(failed),
        failed_totals=totals,
        failed_cap=per_rule,
        exemptions=tuple(exempted),
        findings={sev: total_findings[sev] for sev in severities if sev in total_findings},
    )


def _pair(values: tuple[int, ...] | None) -> tuple[int, int]:
    if not values:
        return 0, 0
    return values[0], values[0] + values[1]


def _day(d: date) -> str:
    return d.strftime("%d/%m")


def _host(hostname: str | None, classified: bool, ctx: ReportContext) -> Value:
    if classified and not ctx.show_locations:
        return WITHHELD
    return hostname


def layout(result: SecurityResult, ctx: ReportContext) -> Document:
    """The security compliance report laid out."""
    names = {u.unit.id: u.unit.name for u in result.units}
    withheld = not ctx.show_locations and (
        any(f.classified for f in result.failed) or any(e.classified for e in result.exemptions)
    )
    summary = Figures(
        "summary",
        None,
        (
            Figure(T("Tỷ lệ kiểm tra đạt", "Checks passing"), result.compliance(), "ratio"),
            Figure(T("Số quy tắc được đánh giá", "Rules evaluated"), len(result.rules), "int"),
            Figure(T("Phát hiện đang mở", "Open findings"), sum(result.findings.values()), "int"),
            Figure(T("Miễn trừ", "Exemptions"), len(result.exemptions), "int"),
            *(
                Figure(lay.severity(sev), n, "int", "bad" if sev in ("critical", "high") else None)
                for sev, n in result.findings.items()
            ),
        ),
    )
    severities = list(SEVERITIES)
    units = Table(
        "units",
        T("Tuân thủ theo đơn vị (cộng dồn đơn vị cấp dưới)", "Compliance by unit (rolled up)"),
        (
            lay.UNIT,
            Column("compliance", T("Kiểm tra đạt", "Checks passing"), "ratio"),
            *(Column(f"open_{sev}", lay.severity(sev), "int") for sev in severities),
        ),
        tuple(
            Row(
                (
                    u.unit.name,
                    u.compliance,
                    *(u.findings.get(sev, 0) for sev in severities),
                ),
                lay.rate_emphasis(
                    int(u.compliance.numerator),
                    int(u.compliance.denominator - u.compliance.numerator),
                ),
                u.unit.depth,
            )
            for u in result.units
        ),
        note=T(
            "Kiểm tra đạt = số cặp máy–quy tắc đạt ÷ số cặp được đánh giá; các cột mức độ là "
            "phát hiện đang mở hoặc đã ghi nhận.",
            "Checks passing = passing host-rule pairs ÷ evaluated pairs; the severity columns "
            "count open and acknowledged findings.",
        ),
    )
    rules = Table(
        "rules",
        T("Tỷ lệ đạt theo quy tắc", "Pass rate by rule"),
        (
            lay.RULE,
            Column("rate", T("Máy đạt / máy được đánh giá", "Passing / evaluated hosts"), "ratio"),
            Column("failing", T("Máy không đạt", "Failing hosts"), "int"),
            Column("first", T("Đầu kỳ", "Start of period"), "percent"),
            Column("last", T("Cuối kỳ", "End of period"), "percent"),
        ),
        tuple(
            Row(
                (
                    r.rule_id,
                    r.rate,
                    r.failing,
                    r.first.rate if r.first else None,
                    r.last.rate if r.last else None,
                ),
                lay.rate_emphasis(r.passing, r.failing),
            )
            for r in result.rules
        ),
        note=T(
            "Hiện tại: trạng thái lúc lập báo cáo. Đầu kỳ / cuối kỳ: bản chụp hằng ngày đầu "
            "tiên và cuối cùng trong kỳ.",
            "Now: the state when the report was made. Start / end of period: the first and last "
            "daily snapshot within the period.",
        ),
        empty=T("Chưa có quy tắc nào được đánh giá.", "No rule has been evaluated yet."),
    )
    unit_rules = Table(
        "unit_rules",
        T("Tỷ lệ đạt theo đơn vị và quy tắc", "Pass rate by unit and rule"),
        (
            lay.RULE,
            lay.UNIT,
            Column("rate", T("Máy đạt / máy được đánh giá", "Passing / evaluated hosts"), "ratio"),
        ),
        tuple(
            Row(
                (r.rule_id, names.get(r.unit_id, r.unit_id), r.rate),
                lay.rate_emphasis(
                    int(r.rate.numerator), int(r.rate.denominator - r.rate.numerator)
                ),
            )
            for r in result.unit_rules
        ),
        empty=T("Chưa có quy tắc nào được đánh giá.", "No rule has been evaluated yet."),
    )
    trend_blocks = _trend(result)
    failed = _failed(result, names, ctx)
    exemptions = Table(
        "exemptions",
        T("Miễn trừ", "Exemptions"),
        (
            lay.RULE,
            Column("severity", T("Mức độ", "Severity")),
            lay.UNIT,
            lay.HOST,
            Column("reason", T("Lý do", "Reason")),
            Column("by", T("Người miễn trừ", "Exempted by")),
            Column("until", T("Đến ngày", "Until"), "datetime"),
            Column("opened", T("Phát hiện từ", "Found on"), "datetime"),
        ),
        tuple(
            Row(
                (
                    e.rule_id,
                    lay.severity(e.severity),
                    names.get(e.unit_id, e.unit_id),
                    _host(e.hostname or e.subject, e.classified, ctx),
                    e.reason,
                    e.exempted_by,
                    e.exempt_until,
                    e.opened_at,
                )
            )
            for e in result.exemptions
        ),
        empty=T("Không có miễn trừ nào.", "No exemptions."),
    )
    return Document(
        report=SECURITY.name,
        title=SECURITY.title,
        header=lay.header(result.header, ctx),
        sections=(
            Section("summary", T("Tổng quan", "Summary"), (summary,)),
            Section("units", T("Theo đơn vị", "By unit"), (units,)),
            Section("rules", T("Theo quy tắc", "By rule"), (rules, unit_rules)),
            Section("trend", T("Diễn biến trong kỳ", "Trend over the period"), trend_blocks),
            Section(
                "failed", T("Máy không đạt và bằng chứng", "Failed hosts and evidence"), (failed,)
            ),
            Section("exemptions", T("Miễn trừ", "Exemptions"), (exemptions,)),
        ),
        redacted=withheld,
    )


def _trend(result: SecurityResult) -> tuple[Chart | Table | Paragraph, ...]:
    if not result.trend and not result.rule_trend:
        return (
            Paragraph(
                T(
                    "Chưa có bản chụp hằng ngày nào trong kỳ (bản chụp được ghi sau mỗi lần "
                    "đánh giá lại định kỳ).",
                    "No daily snapshot within the period (one is written after each periodic "
                    "re-evaluation).",
                )
            ),
        )
    weakest = sorted(
        (r for r in result.rules if r.passing + r.failing),
        key=lambda r: (r.rate.rate if r.rate.rate is not None else 1.0, r.rule_id),
    )[:CHART_RULES]
    series = [
        Series(
            T("Tất cả quy tắc", "All rules"),
            tuple((_day(p.day), p.rate.rate) for p in result.trend),
        ),
        *(
            Series(
                T(r.rule_id, r.rule_id),
                tuple(
                    (_day(p.day), p.rate.rate) for p in result.rule_trend if p.rule_id == r.rule_id
                ),
            )
            for r in weakest
        ),
    ]
    chart = Chart(
        "trend",
        T("Tỷ lệ đạt theo ngày", "Daily pass rate"),
        "line",
        tuple(series),
    )
    table = Table(
        "trend",
        T("Tỷ lệ đạt theo ngày và quy tắc", "Daily pass rate by rule"),
        (
            Column("day", T("Ngày", "Day"), "date"),
            lay.RULE,
            Column("rate", T("Đạt / được đánh giá", "Passing / evaluated"), "ratio"),
        ),
        tuple(
            Row((p.day, p.rule_id if p.rule_id else T("Tất cả", "All"), p.rate))
            for p in sorted(
                (*result.trend, *result.rule_trend), key=lambda p: (p.day, p.rule_id or "")
            )
        ),
    )
    return chart, table


def _failed(result: SecurityResult, names: Mapping[str, str], ctx: ReportContext) -> Table:
    cut = {
        rule_id: total - result.failed_cap
        for rule_id, total in sorted(result.failed_totals.items())
        if total > result.failed_cap
    }
    note = None
    if cut:
        vi = "; ".join(f"{r}: còn {n} máy nữa" for r, n in cut.items())
        en = "; ".join(f"{r}: and {n} more" for r, n in cut.items())
        note = T(
            f"Mỗi quy tắc liệt kê {result.failed_cap} máy đầu tiên (theo đơn vị, tên máy). {vi}.",
            f"Each rule lists its first {result.failed_cap} hosts (by unit, host name). {en}.",
        )
    return Table(
        "failed",
        T("Máy không đạt và bằng chứng", "Failed hosts and evidence"),
        (
            lay.RULE,
            lay.UNIT,
            lay.HOST,
            Column("since", T("Từ", "Since"), "datetime"),
            Column("reason", T("Lý do", "Reason")),
            Column("evidence", T("Bằng chứng", "Evidence")),
        ),
        tuple(
            Row(
                (
                    f.rule_id,
                    names.get(f.unit_id, f.unit_id),
                    _host(f.hostname, f.classified, ctx),
                    f.since,
                    lay.reason(f.reason),
                    lay.evidence(f.evidence),
                ),
                "warn",
            )
            for f in result.failed
        ),
        note=note,
        empty=T("Không có máy nào không đạt.", "No host fails a rule."),
    )


SECURITY: lay.Definition[SecurityResult] = lay.Definition(
    "security",
    T("Báo cáo tuân thủ an toàn thông tin", "Security compliance report"),
    T(
        "Tỷ lệ đạt theo đơn vị và quy tắc, diễn biến trong kỳ, máy không đạt kèm bằng chứng, "
        "miễn trừ và phát hiện đang mở.",
        "Pass rates by unit and rule, the trend over the period, failed hosts with evidence, "
        "exemptions and open findings.",
    ),
    compute,
    layout,
)
register(SECURITY)
