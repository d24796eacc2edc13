"""The CSV renderer: one Excel-ready file with every table, numbers as numbers, safe text."""

from __future__ import annotations

import csv
import io

import pytest

from controller.reports.generate import render
from tests.unit.controller.reports import documents


def _parse(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _block(rows: list[list[str]], title: str) -> list[list[str]]:
    """The rows under the title row ``title``, up to the next blank line."""
    start = rows.index([title]) + 1
    end = rows.index([], start) if [] in rows[start:] else len(rows)
    return rows[start:end]


def test_header_lines_come_first_in_vietnamese() -> None:
    rows = _parse(render(documents.document(), "csv", "vi"))
    assert rows[0] == ["Báo cáo mức độ sẵn sàng hạ tầng chính quyền điện tử"]
    assert rows[1] == ["Đơn vị", "UBND huyện Đông Sơn", "huyen-dong-son"]
    assert rows[2] == ["Trực thuộc", "Tỉnh Thanh Hóa / UBND huyện Đông Sơn"]
    assert rows[3] == ["Kỳ báo cáo", "2026-Q4", "2026-10-01", "2026-12-31"]
    assert rows[4] == ["Thời điểm lập", "2026-11-29 16:30:00", "Giờ Việt Nam (UTC+07:00)"]
    assert rows[5] == ["Người lập", "Nguyễn Thị Hường"]
    assert rows[6] == ["Máy tính gửi báo cáo trong 24 giờ", "0.92", "23", "25"]
    assert rows[7] == ["Máy tính gửi báo cáo trong 7 ngày", "1", "25", "25"]
    assert rows[8] == ["Số đơn vị", "4"]


def test_tables_split_ratios_and_keep_numbers_unformatted() -> None:
    rows = _parse(render(documents.document(), "csv", "vi"))
    table = _block(rows, "Chi tiết theo đơn vị: Các đơn vị trực thuộc")
    assert table[0] == [
        "Cấp",
        "Đơn vị",
        "Số máy tính",
        "Tỷ lệ máy tính kết nối Internet (tử số)",
        "Tỷ lệ máy tính kết nối Internet (mẫu số)",
        "Tỷ lệ máy tính kết nối Internet (tỷ lệ)",
        "Điểm",
        "Tỷ lệ vá lỗi",
        "Ngày kiểm tra",
        "Lần cuối liên lạc",
        "Có máy mật",
        "Đánh giá",
    ]
    assert table[1] == [
        "0",
        "UBND huyện Đông Sơn",
        "1234",
        "23",
        "25",
        "0.92",
        "1234.5",
        "0.457",
        "2026-11-02",
        "2026-11-29 03:15:00",
        "có",
        "đạt",
    ]
    # 0/0 has no rate (never 0 %); a negative number stays a number, not an escaped text.
    assert table[2] == [
        "1",
        "Phòng Tài chính – Kế hoạch",
        "12",
        "0",
        "0",
        "",
        "-3.25",
        "1",
        "",
        "",
        "không",
        "không đạt",
    ]
    assert float(table[3][5]) == pytest.approx(5 / 7)
    assert len(table) == 5


def test_every_tabular_block_has_a_title_and_header_row_between_blank_lines() -> None:
    rows = _parse(render(documents.document(), "csv", "en"))
    key = _block(rows, "Summary: Key figures")
    assert key == [
        ["Figure", "Value", "numerator", "denominator"],
        ["Share of computers connected to the Internet", "0.92", "23", "25"],
        ["Computers", "1234"],
        ["Patched", "0.457"],
        ["Figures as of", "2026-12-31"],
    ]
    assert _block(rows, "By unit: Declared figures") == [["Metric"]]
    assert _block(rows, "Notes") == [["0/0 means no computers."]]
    # Charts and paragraphs stay out: their data is in the tables.
    assert not any("Compliance by month" in cell for row in rows for cell in row)


def test_text_cells_cannot_run_as_formulas() -> None:
    rows = _parse(render(documents.document(), "csv", "en"))
    hostile = [row for row in rows if len(row) > 1 and row[1].startswith("'")]
    assert [row[1] for row in hostile] == ["'" + documents.HOSTILE]


def test_a_redacted_copy_says_so() -> None:
    from dataclasses import replace

    rows = _parse(render(replace(documents.document(), redacted=True), "csv", "en"))
    assert ["This copy leaves out the locations and host names of classified computers."] in rows
