"""The readiness report laid out as a :class:`~controller.reports.document.Document`: a summary,
the metrics of the report's unit with targets and gaps, per-unit tables, the classified
computers left out of the denominators (asset ids only), the declared figures and the method.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.reports.base import ReportContext
from controller.reports.definitions.egov import (
    SPECS,
    EgovResult,
    Metric,
    Source,
    UnitResult,
)
from controller.reports.document import (
    Column,
    Document,
    Emphasis,
    Figure,
    Figures,
    Header,
    Paragraph,
    Ratio,
    Row,
    Section,
    T,
    Table,
    Value,
)

SOURCES: dict[Source, T] = {
    "measured": T("Đo tự động", "Measured"),
    "register": T("Sổ đăng ký", "Register"),
    "declared": T("Kê khai", "Declared"),
    "missing": T("Không có dữ liệu", "No data"),
}
MET = T("Đạt", "Met")
NOT_MET = T("Chưa đạt", "Not met")
#: Short column titles of the per-unit tables, by metric key.
SHORT: dict[str, T] = {
    "egov.1": T("(1) Số CBCC", "(1) Officials"),
    "egov.2": T("(2) Máy tính hoạt động", "(2) Active computers"),
    "egov.3": T("(3) Máy tính/CBCC", "(3) Computers per official"),
    "egov.4": T("(4) CBCC có máy tính", "(4) Officials with a computer"),
    "egov.5": T("(5) Cán bộ chủ chốt xã có máy tính", "(5) Commune key officials equipped"),
    "egov.6": T("(6) Phòng/bộ phận đủ máy tính, máy in", "(6) Offices equipped"),
    "egov.7": T("(7) Máy mật", "(7) Classified PCs"),
    "egov.8": T("(8) Máy mật có phương án bảo vệ", "(8) With protection plan"),
    "egov.9": T("(9) Máy mật tuân thủ cách ly", "(9) Passing isolation"),
    "egov.10": T("(10) Phát hiện trên mạng", "(10) Network sightings"),
    "egov.11": T("(11) Kết nối Internet", "(11) Internet"),
    "egov.12": T("(12) Kết nối LAN", "(12) LAN"),
    "egov.13": T("(13) Cơ quan kết nối TSLCD", "(13) Agencies on TSLCD"),
    "egov.14": T("(14) Chứng thư số tổ chức", "(14) Organisational certificate"),
    "egov.15": T("(15) Lãnh đạo có chứng thư số", "(15) Leaders with certificate"),
    "egov.16": T("(16) Ký số qua trục liên thông", "(16) Signed over the axis"),
    "egov.17": T("(17) Văn bản đi ký số", "(17) Outgoing documents signed"),
    "egov.18": T("(18) Dùng QLVB&ĐH", "(18) Using QLVB&ĐH"),
    "egov.19": T("(19) Tài khoản QLVB hoạt động", "(19) Active QLVB accounts"),
    "egov.20": T("(20) DVC toàn trình", "(20) Full-process services"),
    "egov.20.partial": T("(20) DVC một phần", "(20) Partial services"),
    "egov.21": T("(21) Hồ sơ trực tuyến", "(21) Online dossiers"),
    "egov.22": T("(22) ISO 9001:2015", "(22) ISO 9001:2015"),
    "egov.23": T("(23) CBCC được đào tạo", "(23) Officials trained"),
    "egov.24": T("(24) Phòng chống mã độc", "(24) Anti-malware"),
    "egov.25": T("(25) Quản lý tập trung", "(25) Centrally managed"),
    "egov.26": T("(26) Cập nhật bản vá", "(26) Patched"),
    "egov.27": T("(27) HĐH còn hỗ trợ", "(27) Supported OS"),
    "egov.28": T("(28) Điểm ATTT", "(28) Security score"),
    "egov.29": T("(29) Máy quá hạn", "(29) Ageing"),
}
#: The per-unit tables: key, title, count columns, rate columns.
UNIT_TABLES: tuple[tuple[str, T, tuple[str, ...], tuple[str, ...]], ...] = (
    ("units_infra", T("Hạ tầng, cán bộ, chữ ký số", "Infrastructure, staff, signatures"),
     ("egov.1", "egov.2"),
     ("egov.3", "egov.4", "egov.5", "egov.6", "egov.13", "egov.14", "egov.15")),
    ("units_security",
     T("Máy mật, kết nối, an toàn thông tin", "Classified, connectivity, security"),
     ("egov.7", "egov.10"),
     ("egov.8", "egov.9", "egov.11", "egov.12", "egov.24", "egov.25", "egov.26", "egov.27",
      "egov.28", "egov.29")),
    ("units_declared", T("Chỉ tiêu kê khai", "Declared metrics"), (),
     ("egov.16", "egov.17", "egov.18", "egov.19", "egov.20", "egov.20.partial", "egov.21",
      "egov.22", "egov.23")),
)  # fmt: skip


def _percent(share: float) -> T:
    text = f"{share * 100:.1f}".rstrip("0").rstrip(".")
    return T(f"{text.replace('.', ',')} %", f"{text}%")


def _decimal(number: float) -> T:
    text = f"{number:.2f}"
    text = text[:-1] if text.endswith("0") else text
    return T(text.replace(".", ","), text)


def target_text(m: Metric) -> T | None:
    """The target as written on paper: ``≥ 95 %``, ``100 %``, ``≥ 1,0``, ``0``."""
    if m.target is None:
        return None
    if m.number == 10:
        return T(f"{m.target:g}", f"{m.target:g}")
    if m.number == 3:
        text = _decimal(m.target)
        return T(f"≥ {text.vi}", f"≥ {text.en}")
    pct = _percent(m.target)
    return pct if m.target >= 1 else T(f"≥ {pct.vi}", f"≥ {pct.en}")


def gap_text(m: Metric) -> T | None:
    """How far the value is from its target, in words (None when met or not judged)."""
    if m.met is not False or m.gap is None:
        return None
    if m.number == 10:
        n = int(m.gap)
        return T(f"vượt {n} lần", f"{n} over")
    if m.number == 3:
        text = _decimal(m.gap)
        return T(f"thiếu {text.vi}", f"{text.en} short")
    points = f"{m.gap * 100:.1f}"
    return T(f"thiếu {points.replace('.', ',')} điểm %", f"{points} points short")


def _emphasis(metrics: Sequence[Metric]) -> Emphasis | None:
    judged = [m.met for m in metrics if m.met is not None]
    if not judged:
        return None
    return "ok" if all(judged) else "bad"


def _metric_rows(unit: UnitResult) -> tuple[Row, ...]:
    rows = []
    for m in unit.subtree:
        ratio = m.value if isinstance(m.value, Ratio) else None
        count = m.value if not isinstance(m.value, Ratio) else None
        status = None if m.met is None else (MET if m.met else NOT_MET)
        emphasis: Emphasis | None = None if m.met is None else ("ok" if m.met else "bad")
        rows.append(
            Row(
                (
                    m.number,
                    m.title,
                    ratio,
                    count,
                    target_text(m),
                    status,
                    gap_text(m),
                    SOURCES[m.source],
                ),
                emphasis,
            )
        )
    return tuple(rows)


def _unit_table(key: str, title: T, units: Sequence[UnitResult], keys: Sequence[str],
                counts: Sequence[str] = (), note: T | None = None) -> Table:  # fmt: skip
    columns = [Column("unit", T("Đơn vị", "Unit"))]
    columns += [Column(k.removeprefix("egov."), SHORT[k], "int") for k in counts]
    columns += [Column(k.removeprefix("egov."), SHORT[k], "ratio") for k in keys]
    rows = []
    for unit in units:
        metrics = [unit.metric(k) for k in (*counts, *keys)]
        values: list[Value] = [unit.name]
        values += [
            m.value if not isinstance(m.value, Ratio) else None for m in metrics[: len(counts)]
        ]
        values += [m.value if isinstance(m.value, Ratio) else None for m in metrics[len(counts) :]]
        rows.append(Row(tuple(values), _emphasis(metrics), unit.depth))
    return Table(key, title, tuple(columns), tuple(rows), note=note)


def _summary(result: EgovResult) -> Figures:
    root = result.root
    judged = [m for m in root.subtree if m.met is not None]
    met = sum(1 for m in judged if m.met)
    sightings = root.metric("egov.10").value
    return Figures(
        "summary",
        None,
        (
            Figure(T("Số đơn vị", "Units"), len(result.units), "int"),
            Figure(SPECS[0].title, root.metric("egov.1").value, "int"),
            Figure(SPECS[1].title, root.metric("egov.2").value, "int"),
            Figure(SPECS[2].title, root.metric("egov.3").value, "ratio"),
            Figure(
                T("Độ phủ agent", "Agent coverage"),
                result.coverage,
                "ratio",
                note=T(
                    "Máy tính báo cáo trong kỳ ÷ máy tính trong sổ đăng ký",
                    "Computers reporting in the period ÷ computers in the register",
                ),
            ),
            Figure(
                T("Chỉ tiêu đạt", "Targets met"),
                Ratio(met, len(judged)),
                "ratio",
                "ok" if judged and met == len(judged) else ("bad" if judged else None),
            ),
            Figure(SPECS[6].title, root.metric("egov.7").value, "int"),
            Figure(
                SPECS[9].title,
                sightings,
                "int",
                "bad" if isinstance(sightings, int | float) and sightings > 0 else "ok",
            ),
        ),
    )


def _method(result: EgovResult) -> tuple[Paragraph, ...]:
    days, attest, years = result.active_days, result.attestation_days, result.ageing_years
    return (
        Paragraph(
            T(
                f"Máy tính đang hoạt động: máy tính (để bàn, xách tay, all-in-one) có agent gửi "
                f"báo cáo trong {days} ngày trước thời điểm lập báo cáo, hoặc máy mật đã đăng ký "
                f"có gói kiểm tra ngoại tuyến được nhập trong {attest} ngày.",
                f"Active computer: a computer (desktop, laptop, all-in-one) whose agent reported "
                f"within {days} days of the report time, or a registered classified computer "
                f"whose offline bundle was imported within {attest} days.",
            )
        ),
        Paragraph(
            T(
                "Mỗi tỷ lệ ghi tử số/mẫu số = phần trăm, tính cho từng đơn vị rồi cộng tử số và "
                "mẫu số của các đơn vị trực thuộc (không lấy trung bình các tỷ lệ). Máy mật "
                "không tính vào mẫu số của chỉ tiêu 11 và 12 (danh sách mã tài sản ở trên). "
                "Chỉ tiêu 10 đếm các cảnh báo BMNN-04 mở trong kỳ. Chỉ tiêu 28: với mỗi máy, "
                "Σ(đạt × trọng số) ÷ Σ(trọng số) trên các quy tắc ATTT-01…14 theo mức độ "
                "nghiêm trọng, rồi lấy trung bình các máy. Chỉ tiêu 29: máy có ngày mua (sổ "
                f"đăng ký), nếu không có thì ngày BIOS, cách đây quá {years} năm.",
                "Each rate is numerator/denominator = percent, computed per unit, then the "
                "numerators and denominators of the units below are added (rates are never "
                "averaged). Classified computers are left out of the denominators of metrics 11 "
                "and 12 (their asset ids are listed above). Metric 10 counts BMNN-04 alerts "
                "opened in the period. Metric 28: per computer, Σ(pass × weight) ÷ Σ(weight) "
                "over rules ATTT-01…14 weighted by severity, averaged over the computers. "
                "Metric 29: computers whose purchase date (register), else BIOS date, is more "
                f"than {years} years ago.",
            )
        ),
        Paragraph(
            T(
                "Nguồn số liệu: «Đo tự động» từ agent, quy tắc và gói kiểm tra ngoại tuyến; «Sổ "
                "đăng ký» từ tệp tổ chức (đơn vị, phòng, cán bộ, tài sản, chứng thư); «Kê khai» "
                "do đơn vị nhập (govguard figures), cho kỳ báo cáo hoặc cả năm chứa kỳ; «Không "
                "có dữ liệu» khi không có số liệu, không bao giờ tính là 0 %. Cơ quan: mọi đơn "
                "vị trừ cấp tỉnh và huyện cũ (chỉ là cấp gộp). Độ phủ agent: máy tính báo cáo từ "
                "đầu kỳ ÷ máy tính trong sổ đăng ký.",
                "Sources: «Measured» from agents, rules and offline bundles; «Register» from the "
                "organisation file (units, offices, officials, assets, certificates); "
                "«Declared» entered by the units (govguard figures) for the period or the year "
                "containing it; «No data» when there is none, never counted as 0 %. Agencies: "
                "every unit except provinces and legacy districts (groupings only). Agent "
                "coverage: computers heard since the period's start ÷ computers in the "
                "register.",
            )
        ),
    )


def layout(title: T, result: EgovResult, ctx: ReportContext) -> Document:
    """The readiness report as a document for every renderer."""
    root = result.root
    header = Header(
        unit_id=result.unit_id,
        unit_name=result.unit_name,
        unit_path=result.unit_path,
        period_label=result.period.label,
        period_first=result.period.first,
        period_last=result.period.last,
        generated_at=ctx.now,
        generated_by=ctx.generated_by,
        fresh_24h=result.fresh_24h,
        fresh_7d=result.fresh_7d,
        extra=(
            Figure(T("Số đơn vị", "Units"), len(result.units), "int"),
            Figure(T("Độ phủ agent", "Agent coverage"), result.coverage, "ratio"),
        ),
    )
    metrics = Table(
        "metrics",
        T(f"Các chỉ tiêu: {root.name}", f"Metrics: {root.name}"),
        (
            Column("number", T("TT", "#"), "int"),
            Column("field", T("Chỉ tiêu", "Field")),
            Column("value", T("Tỷ lệ", "Rate"), "ratio"),
            Column("count", T("Số lượng", "Count"), "float"),
            Column("target", T("Mục tiêu", "Target")),
            Column("status", T("Đánh giá", "Status")),
            Column("gap", T("Chênh lệch", "Gap")),
            Column("source", T("Nguồn", "Source")),
        ),
        _metric_rows(root),
        note=T(
            "Số liệu của đơn vị và các đơn vị trực thuộc.",
            "Figures of the unit and the units below it.",
        ),
    )
    each = T(
        "Mỗi dòng gồm đơn vị và các đơn vị trực thuộc.",
        "Each row covers the unit and the units below it.",
    )
    units = list(result.units)
    excluded = Table(
        "excluded",
        T(
            "Máy mật không tính vào mẫu số chỉ tiêu 11, 12",
            "Classified computers left out of the denominators of metrics 11 and 12",
        ),
        (
            Column("asset", T("Mã tài sản", "Asset id")),
            Column("agent", T("Mã agent (chưa đăng ký)", "Agent id (not registered)")),
            Column("unit", T("Đơn vị", "Unit")),
            Column("active", T("Đang hoạt động", "Active"), "bool"),
        ),
        tuple(
            Row((pc.asset_id, None if pc.asset_id else pc.agent_id, pc.unit_name, pc.active))
            for pc in result.excluded
        ),
        note=T(
            "Chỉ ghi mã tài sản, không ghi vị trí.",
            "Asset ids only; locations are never shown.",
        ),
        empty=T("Không có máy mật.", "No classified computers."),
    )
    declared = Table(
        "declared",
        T("Số liệu kê khai", "Declared figures"),
        (
            Column("unit", T("Đơn vị", "Unit")),
            Column("number", T("TT", "#"), "int"),
            Column("field", T("Chỉ tiêu", "Field")),
            Column("period", T("Kỳ", "Period")),
            Column("value", T("Giá trị", "Value"), "ratio"),
            Column("source", T("Nguồn kê khai", "Source")),
            Column("entered_by", T("Người nhập", "Entered by")),
            Column("entered_at", T("Thời điểm nhập", "Entered at"), "datetime"),
        ),
        tuple(
            Row(
                (
                    d.unit_name,
                    d.number,
                    d.title,
                    d.period,
                    d.value if isinstance(d.value, Ratio) else Ratio(d.value, 1),
                    d.source,
                    d.entered_by,
                    d.entered_at,
                )
            )
            for d in result.declared
        ),
        empty=T("Chưa có số liệu kê khai cho kỳ này.", "No figures declared for this period."),
    )
    sections = (
        Section("summary", T("Tóm tắt", "Summary"), (_summary(result),)),
        Section("metrics", T("Các chỉ tiêu", "Metrics"), (metrics,)),
        Section(
            "units",
            T("Theo đơn vị", "By unit"),
            (
                *(
                    _unit_table(key, title, units, rates, counts=counts, note=each)
                    for key, title, counts, rates in UNIT_TABLES
                ),
            ),
        ),
        Section("classified", T("Máy mật", "Classified computers"), (excluded,)),
        Section("declared", T("Số liệu kê khai", "Declared figures"), (declared,)),
        Section("method", T("Phương pháp tính", "Method"), _method(result)),
    )
    return Document(
        report="egov",
        title=title,
        header=header,
        sections=sections,
        redacted=not ctx.show_locations,
        notes=(
            T(
                "Số liệu «Kê khai» do đơn vị nhập, không phải đo tự động.",
                "«Declared» figures are entered by the units, not measured.",
            ),
        ),
    )
