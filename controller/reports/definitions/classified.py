"""Classified computers audit: each classified computer by asset id with its unit, last accepted
bundle, the isolation checks of its last attestation (BMNN-01/02/03/05), its protection plan
and review date (overdue after 12 months, RULES.md metric 8) and its network sightings (BMNN-04).

Offices and host names say where a secret computer is: they are left out (and the document is
marked redacted) unless the operator asks for them (``ctx.show_locations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from controller.reports.base import ReportContext
from controller.reports.definitions import audit_layout as lay
from controller.reports.document import (
    Column,
    Document,
    Emphasis,
    Figure,
    Figures,
    Paragraph,
    Ratio,
    Row,
    Section,
    T,
    Table,
    Value,
)
from controller.reports.period import local_day
from controller.reports.registry import register
from controller.store.dashboard.overview import classified_computers
from controller.store.reporting import classified as q
from controller.store.reporting.audit_common import HeaderFacts, header_facts

#: A protection plan is reviewed at least every 12 months (RULES.md metric 8).
PLAN_REVIEW_MONTHS = 12
DIGEST_PREFIX = 12

STATUS_TEXT = {
    "sighted": T("bị phát hiện trên mạng", "seen on the network"),
    "overdue": T("quá hạn chứng thực", "attestation overdue"),
    "never": T("chưa từng chứng thực", "never attested"),
    "attested": T("đã chứng thực", "attested"),
}
STATUS_EMPHASIS: dict[str, Emphasis] = {"sighted": "bad", "overdue": "warn", "never": "warn"}


@dataclass(frozen=True, slots=True)
class ClassifiedAudit:
    """One classified computer as the audit shows it."""

    asset_id: str | None
    agent_id: str | None
    unit_id: str
    unit_name: str
    #: sighted, overdue, never, attested (the dashboard's status).
    status: str
    hostname: str | None
    office: str | None
    bundle: q.LastBundle | None
    #: Outcome of each isolation rule (None: not evaluated), in ``ISOLATION_RULES`` order.
    isolation: tuple[str | None, ...]
    plan_ref: str | None
    plan_reviewed_on: date | None
    plan_due_on: date | None
    sightings: q.Sightings

    @property
    def isolated(self) -> bool:
        """Every isolation rule passed in the last attestation."""
        return all(outcome == "pass" for outcome in self.isolation)

    def plan_current(self, today: date) -> bool:
        """A plan reference with a review (or approval) within the last 12 months."""
        return (
            self.plan_ref is not None and self.plan_due_on is not None and self.plan_due_on >= today
        )


@dataclass(frozen=True, slots=True)
class ClassifiedResult:
    """Everything the classified computers audit shows."""

    header: HeaderFacts
    today: date
    computers: tuple[ClassifiedAudit, ...]

    @property
    def plans(self) -> Ratio:
        """Metric 8: classified computers with a current protection plan ÷ classified."""
        return Ratio(sum(c.plan_current(self.today) for c in self.computers), len(self.computers))

    @property
    def isolation(self) -> Ratio:
        """Metric 9: classified computers passing every isolation check ÷ classified."""
        return Ratio(sum(c.isolated for c in self.computers), len(self.computers))

    @property
    def sightings_in_period(self) -> int:
        """Metric 10: tripwire alerts raised within the period."""
        return sum(c.sightings.in_period for c in self.computers)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months (the 29th of February becomes the 28th)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    try:
        return day.replace(year=year, month=month + 1)
    except ValueError:
        return day.replace(year=year, month=month + 1, day=28)


def compute(s: Session, ctx: ReportContext) -> ClassifiedResult:
    """The classified computers of ``ctx.scope`` and their audit figures."""
    listed = classified_computers(s, ctx.scope, ctx.now)
    ctx.progress(1, 3, "classified computers")
    asset_ids = [c.asset_id for c in listed if c.asset_id]
    agent_ids = [c.agent_id for c in listed if c.agent_id]
    records = q.register_records(s, asset_ids)
    bundles = q.last_bundles(s, agent_ids, ctx.period.start_at, ctx.period.end_at)
    outcomes = q.isolation_outcomes(s, agent_ids)
    ctx.progress(2, 3, "bundles and sightings")
    subjects = [f"asset:{c.asset_id}" if c.asset_id else f"agent:{c.agent_id}" for c in listed]
    seen = q.sightings(s, subjects, ctx.period.start_at, ctx.period.end_at)
    computers = []
    for c, subject in zip(listed, subjects, strict=True):
        record = records.get(c.asset_id) if c.asset_id else None
        reviewed = record.plan_reviewed_at or record.plan_approved_at if record else None
        rules = outcomes.get(c.agent_id, {}) if c.agent_id else {}
        computers.append(
            ClassifiedAudit(
                asset_id=c.asset_id,
                agent_id=c.agent_id,
                unit_id=c.unit_id,
                unit_name=c.unit_name,
                status=c.status,
                hostname=c.hostname,
                office=record.office if record else None,
                bundle=bundles.get(c.agent_id) if c.agent_id else None,
                isolation=tuple(rules.get(rule) for rule in q.ISOLATION_RULES),
                plan_ref=record.plan_ref if record else None,
                plan_reviewed_on=reviewed,
                plan_due_on=add_months(reviewed, PLAN_REVIEW_MONTHS) if reviewed else None,
                sightings=seen.get(subject, q.Sightings(0, 0, None)),
            )
        )
    ctx.progress(3, 3, "done")
    return ClassifiedResult(
        header=header_facts(s, ctx.unit_id, ctx.scope, ctx.now),
        today=local_day(ctx.now),
        computers=tuple(computers),
    )


def _row(c: ClassifiedAudit, today: date, ctx: ReportContext) -> Row:
    where: tuple[Value, ...] = (c.hostname, c.office) if ctx.show_locations else ()
    bundle = c.bundle
    values: tuple[Value, ...] = (
        c.asset_id or T(f"(chưa đăng ký) {c.agent_id}", f"(not registered) {c.agent_id}"),
        c.unit_name,
        *where,
        STATUS_TEXT.get(c.status, T(c.status, c.status)),
        bundle.imported_at if bundle else None,
        bundle.created_at if bundle else None,
        bundle.digest[:DIGEST_PREFIX] if bundle else None,
        *(lay.outcome(o) for o in c.isolation),
        c.isolated,
        c.plan_ref,
        c.plan_reviewed_on,
        c.plan_due_on,
        c.plan_current(today),
        c.sightings.in_period,
        c.sightings.open,
        c.sightings.last_seen_at,
    )
    emphasis = STATUS_EMPHASIS.get(c.status)
    if emphasis is None and (not c.isolated or not c.plan_current(today)):
        emphasis = "warn"
    return Row(values, emphasis)


def layout(result: ClassifiedResult, ctx: ReportContext) -> Document:
    """The classified computers audit laid out (locations only when ``ctx.show_locations``)."""
    counts = {status: 0 for status in STATUS_TEXT}
    for c in result.computers:
        counts[c.status] = counts.get(c.status, 0) + 1
    summary = Figures(
        "summary",
        None,
        (
            Figure(T("Số máy tính mật", "Classified computers"), len(result.computers), "int"),
            Figure(
                T(
                    "Có phương án bảo vệ còn hiệu lực (chỉ tiêu 8)",
                    "Current protection plan (metric 8)",
                ),
                result.plans,
                "ratio",
            ),
            Figure(
                T("Đạt kiểm tra cách ly (chỉ tiêu 9)", "Passing isolation checks (metric 9)"),
                result.isolation,
                "ratio",
            ),
            Figure(
                T(
                    "Lần phát hiện trên mạng trong kỳ (chỉ tiêu 10)",
                    "Network sightings in the period (metric 10)",
                ),
                result.sightings_in_period,
                "int",
                "bad" if result.sightings_in_period else "ok",
            ),
            *(
                Figure(STATUS_TEXT[status], n, "int", STATUS_EMPHASIS.get(status))
                for status, n in counts.items()
            ),
        ),
    )
    where = (
        (Column("hostname", T("Tên máy", "Host name")), Column("office", T("Phòng", "Office")))
        if ctx.show_locations
        else ()
    )
    table = Table(
        "computers",
        T("Máy tính mật", "Classified computers"),
        (
            Column("asset", T("Mã tài sản", "Asset id")),
            lay.UNIT,
            *where,
            Column("status", T("Trạng thái", "Status")),
            Column("bundle_imported", T("Gói nhận lúc", "Bundle imported"), "datetime"),
            Column("bundle_created", T("Gói tạo lúc", "Bundle created"), "datetime"),
            Column("bundle_digest", T("Mã băm gói", "Bundle digest")),
            *(Column(rule.lower().replace("-", "_"), T(rule, rule)) for rule in q.ISOLATION_RULES),
            Column("isolated", T("Cách ly đạt", "Isolated"), "bool"),
            Column("plan_ref", T("Phương án bảo vệ", "Protection plan")),
            Column("plan_reviewed", T("Rà soát ngày", "Reviewed on"), "date"),
            Column("plan_due", T("Hạn rà soát", "Review due"), "date"),
            Column("plan_current", T("Còn hiệu lực", "Current"), "bool"),
            Column("sightings_period", T("Phát hiện trong kỳ", "Sightings in period"), "int"),
            Column("sightings_open", T("Phát hiện đang mở", "Open sightings"), "int"),
            Column(
                "last_sighted", T("Thấy trên mạng lần cuối", "Last seen on the network"), "datetime"
            ),
        ),
        tuple(_row(c, result.today, ctx) for c in result.computers),
        note=T(
            "Kiểm tra cách ly lấy từ gói chứng thực cuối cùng. Phương án bảo vệ quá hạn khi lần "
            "rà soát (hoặc phê duyệt) đã quá 12 tháng. Mã băm: 12 ký tự đầu của SHA-256.",
            "Isolation checks come from the last attestation bundle. A protection plan is "
            "overdue when its review (or approval) is older than 12 months. Digest: the first "
            "12 characters of the SHA-256.",
        ),
        empty=T("Không có máy tính mật nào.", "No classified computers."),
    )
    blocks: tuple[Figures | Table | Paragraph, ...] = (summary, table)
    return Document(
        report=CLASSIFIED.name,
        title=CLASSIFIED.title,
        header=lay.header(result.header, ctx),
        sections=(Section("computers", T("Máy tính mật", "Classified computers"), blocks),),
        # Every format prints its redaction notice from this flag.
        redacted=not ctx.show_locations,
    )


CLASSIFIED: lay.Definition[ClassifiedResult] = lay.Definition(
    "classified",
    T("Báo cáo kiểm tra máy tính soạn thảo văn bản mật", "Classified computers audit"),
    T(
        "Từng máy tính mật theo mã tài sản: gói chứng thực cuối, kiểm tra cách ly, phương án "
        "bảo vệ, phát hiện trên mạng.",
        "Each classified computer by asset id: last bundle, isolation checks, protection plan, "
        "network sightings.",
    ),
    compute,
    layout,
)
register(CLASSIFIED)
