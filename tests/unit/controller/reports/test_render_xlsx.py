"""The XLSX renderer, read back with openpyxl: real numbers, dates, percentages, safe text."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from controller.reports.generate import render
from tests.unit.controller.reports import documents


@pytest.fixture(scope="module")
def book() -> Workbook:
    return load_workbook(io.BytesIO(render(documents.document(), "xlsx", "vi")))


def test_cover_and_one_sheet_per_block(book: Workbook) -> None:
    assert book.sheetnames == [
        "Thông tin chung",
        "Chỉ tiêu chính",
        "Các đơn vị trực thuộc",
        "Số liệu tự khai",
        "Xu hướng tuân thủ theo tháng",
        "Máy tính theo đơn vị",
    ]
    cover = book["Thông tin chung"]
    assert cover["A1"].value == "Báo cáo mức độ sẵn sàng hạ tầng chính quyền điện tử"
    assert [c.value for c in cover[3]][:3] == ["Đơn vị", "UBND huyện Đông Sơn", "huyen-dong-son"]
    assert cover["C5"].value == datetime(2026, 10, 1) and cover["C5"].is_date
    assert cover["B6"].value == datetime(2026, 11, 29, 16, 30)  # Vietnam time
    assert cover["A8"].value == "Máy tính gửi báo cáo trong 24 giờ"
    assert (cover["B8"].value, cover["C8"].value, cover["D8"].value) == (0.92, 23, 25)
    assert cover["B8"].number_format == "0.0%"


def test_table_cells_are_typed(book: Workbook) -> None:
    sheet = book["Các đơn vị trực thuộc"]
    assert sheet.freeze_panes == "A3"
    assert sheet["A1"].value == "Chi tiết theo đơn vị: Các đơn vị trực thuộc"
    header = [c.value for c in sheet[2]]
    assert header[2:5] == [
        "Tỷ lệ máy tính kết nối Internet (tử số)",
        "Tỷ lệ máy tính kết nối Internet (mẫu số)",
        "Tỷ lệ máy tính kết nối Internet (tỷ lệ)",
    ]
    assert all(c.font.bold for c in sheet[2])
    top = [c.value for c in sheet[3]]
    assert top[:7] == ["UBND huyện Đông Sơn", 1234, 23, 25, 0.92, 1234.5, 0.457]
    assert isinstance(top[1], int) and isinstance(top[5], float)
    assert sheet["E3"].number_format == "0.0%" and sheet["G3"].number_format == "0.0%"
    assert sheet["H3"].is_date and sheet["H3"].number_format == "dd/mm/yyyy"
    assert sheet["I3"].value == datetime(2026, 11, 29, 3, 15)
    assert sheet["J3"].value is True
    # 0/0: numerator and denominator, no rate.
    assert [sheet["C4"].value, sheet["D4"].value, sheet["E4"].value] == [0, 0, None]
    assert sheet["F4"].value == -3.25


def test_emphasis_depth_and_widths(book: Workbook) -> None:
    sheet = book["Các đơn vị trực thuộc"]
    assert sheet["A3"].fill.fgColor.rgb == "00E3F2E6"
    assert sheet["J4"].fill.fgColor.rgb == "00FBE4E2"
    assert sheet["A4"].alignment.indent == 2 and sheet["A6"].alignment.indent == 4
    assert 8 <= (sheet.column_dimensions["B"].width or 0) <= 60


def test_hostile_text_stays_text(book: Workbook) -> None:
    cell = book["Các đơn vị trực thuộc"]["A5"]
    assert cell.value == documents.HOSTILE and cell.data_type == "s"


def test_chart_sheets_hold_the_data_and_a_chart(book: Workbook) -> None:
    sheet = book["Xu hướng tuân thủ theo tháng"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2, max_row=5)]
    assert rows == [
        ["Số liệu biểu đồ", "Đạt yêu cầu", "Kết nối Internet"],
        ["10", 0.8, 0.6],
        ["11", 0.85, None],
        ["12", 0.9, 0.7],
    ]
    assert sheet["B3"].number_format == "0.0%"
    # openpyxl reads charts back into a private list only.
    assert len(sheet._charts) == 1  # type: ignore[attr-defined]


def test_same_document_same_bytes_and_english_sheets() -> None:
    one = render(documents.document(), "xlsx", "en")
    assert one == render(documents.document(), "xlsx", "en")
    names = load_workbook(io.BytesIO(one)).sheetnames
    assert names[0] == "About this report"
    assert all(len(name) <= 31 for name in names)
    assert len({n.casefold() for n in names}) == len(names)


def test_sheet_names_are_valid_short_and_unique() -> None:
    from controller.reports.render.xlsx import _SheetNames

    names = _SheetNames()
    long = "Tỷ lệ máy tính kết nối Internet theo từng đơn vị cấp xã"
    assert names.take(long, "a") == "Tỷ lệ máy tính kết nối Internet"
    assert names.take(long, "a") == "Tỷ lệ máy tính kết nối Inte (2)"
    assert names.take("Tỷ lệ máy tính kết nối Internetwork", "a") == "Tỷ lệ máy tính kết nối"
    assert names.take("TỶ LỆ MÁY TÍNH KẾT NỐI", "a") == "TỶ LỆ MÁY TÍNH KẾT NỐI (2)"
    assert names.take("Q4/2026: [x]*?", "a") == "Q4 2026   x"
    assert names.take("///", "fallback") == "fallback"
