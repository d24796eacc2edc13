"""Documents built by hand for the renderer tests: Vietnamese titles full of diacritics, a tree
of units, ratios, percentages, dates, emphasis, a chart, and text that tries to break out."""

from __future__ import annotations

from datetime import UTC, date, datetime

from controller.reports.document import (
    Chart,
    Column,
    Document,
    Figure,
    Figures,
    Header,
    Paragraph,
    Ratio,
    Row,
    Section,
    Series,
    T,
    Table,
)

TITLE = T(
    "Báo cáo mức độ sẵn sàng hạ tầng chính quyền điện tử",
    "E-government infrastructure readiness report",
)
INTERNET = T("Tỷ lệ máy tính kết nối Internet", "Share of computers connected to the Internet")
UNITS_TABLE = T("Các đơn vị trực thuộc", "Units")
HOSTILE = '=HYPERLINK("http://evil";"<script>alert(1)</script> & more")'
#: 16:30 in Vietnam on 29/11/2026.
GENERATED_AT = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)


def header() -> Header:
    """The header of a district report over 2026-Q4."""
    return Header(
        unit_id="huyen-dong-son",
        unit_name="UBND huyện Đông Sơn",
        unit_path=("Tỉnh Thanh Hóa", "UBND huyện Đông Sơn"),
        period_label="2026-Q4",
        period_first=date(2026, 10, 1),
        period_last=date(2026, 12, 31),
        generated_at=GENERATED_AT,
        generated_by="Nguyễn Thị Hường",
        fresh_24h=Ratio(23, 25),
        fresh_7d=Ratio(25, 25),
        extra=(Figure(T("Số đơn vị", "Units"), 4, "int"),),
    )


def units_table(rows: int = 4) -> Table:
    """A tree of units with every column kind; ``rows`` repeats the leaves (long tables)."""
    columns = (
        Column("unit", T("Đơn vị", "Unit")),
        Column("computers", T("Số máy tính", "Computers"), "int"),
        Column("internet", INTERNET, "ratio"),
        Column("score", T("Điểm", "Score"), "float"),
        Column("patched", T("Tỷ lệ vá lỗi", "Patched"), "percent"),
        Column("checked", T("Ngày kiểm tra", "Checked on"), "date"),
        Column("seen", T("Lần cuối liên lạc", "Last heard"), "datetime"),
        Column("classified", T("Có máy mật", "Has classified"), "bool"),
    )
    body = [
        Row(
            (
                "UBND huyện Đông Sơn",
                1234,
                Ratio(23, 25),
                1234.5,
                0.457,
                date(2026, 11, 2),
                datetime(2026, 11, 28, 20, 15, tzinfo=UTC),
                True,
            ),
            emphasis="ok",
        ),
        Row(
            (
                T("Phòng Tài chính – Kế hoạch", "Finance and Planning Office"),
                12,
                Ratio(0, 0),
                -3.25,
                1.0,
                None,
                None,
                False,
            ),
            emphasis="bad",
            depth=1,
        ),
    ]
    for i in range(max(rows - 2, 0)):
        body.append(
            Row(
                (
                    f"UBND xã Thiệu Hợp {i + 1}" if i else HOSTILE,
                    7 + i,
                    Ratio(5, 7),
                    0.5,
                    0.0,
                    date(2026, 12, 1),
                    datetime(2026, 12, 31, 16, 59, tzinfo=UTC),
                    False,
                ),
                emphasis="warn" if i == 0 else None,
                depth=2,
            )
        )
    return Table(
        key="units",
        title=UNITS_TABLE,
        columns=columns,
        rows=tuple(body),
        note=T("Số liệu đo tự động bởi tác tử.", "Measured by the agents."),
    )


def document(rows: int = 4) -> Document:
    """A readiness-like report: key figures, a unit tree, an empty table, a chart, notes."""
    figures = Figures(
        key="key",
        title=T("Chỉ tiêu chính", "Key figures"),
        items=(
            Figure(INTERNET, Ratio(23, 25), "ratio", emphasis="ok"),
            Figure(T("Số máy tính", "Computers"), 1234, "int"),
            Figure(T("Tỷ lệ vá lỗi", "Patched"), 0.457, "percent", emphasis="warn"),
            Figure(T("Ngày chốt số liệu", "Figures as of"), date(2026, 12, 31), "date"),
        ),
    )
    chart = Chart(
        key="trend",
        title=T("Xu hướng tuân thủ theo tháng", "Compliance by month"),
        kind="line",
        series=(
            Series(T("Đạt yêu cầu", "Compliant"), (("10", 0.8), ("11", 0.85), ("12", 0.9))),
            Series(T("Kết nối Internet", "Internet"), (("10", 0.6), ("11", None), ("12", 0.7))),
        ),
    )
    bars = Chart(
        key="bars",
        title=T("Máy tính theo đơn vị", "Computers by unit"),
        kind="bar",
        series=(Series(T("Số máy", "Computers"), (("Đông Sơn", 1234.0), ("Thiệu Hợp", 7.0))),),
        percent=False,
    )
    empty = Table(
        key="declared",
        title=T("Số liệu tự khai", "Declared figures"),
        columns=(Column("metric", T("Chỉ tiêu", "Metric")),),
        rows=(),
        empty=T("Chưa có số liệu tự khai.", "No declared figures yet."),
    )
    return Document(
        report="readiness",
        title=TITLE,
        header=header(),
        sections=(
            Section(
                "summary",
                T("Tổng quan", "Summary"),
                (figures, Paragraph(T("Đánh giá theo Quyết định 922.", "As per Decision 922."))),
            ),
            Section("units", T("Chi tiết theo đơn vị", "By unit"), (units_table(rows), empty)),
            Section("trend", T("Xu hướng", "Trend"), (chart, bars)),
        ),
        notes=(T("Số liệu ước tính: 0/0 nghĩa là không có máy.", "0/0 means no computers."),),
    )
