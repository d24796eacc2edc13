"""The PDF renderer through real WeasyPrint and poppler: Vietnamese text, embedded fonts,
the header and page numbers on every page, tables split with repeated header rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from controller.reports.generate import render
from tests.unit.controller.reports import documents


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A long Vietnamese report (the unit table runs over pages) and a short English one."""
    folder = tmp_path_factory.mktemp("pdf")
    paths = {"vi": folder / "vi.pdf", "en": folder / "en.pdf"}
    paths["vi"].write_bytes(render(documents.document(rows=45), "pdf", "vi"))
    paths["en"].write_bytes(render(documents.document(), "pdf", "en"))
    return paths


def _pages(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return text.stdout.decode("utf-8").split("\f")[:-1]


def test_vietnamese_titles_come_out_exactly(pdfs: dict[str, Path]) -> None:
    assert pdfs["vi"].read_bytes().startswith(b"%PDF-")
    text = "\n".join(_pages(pdfs["vi"]))
    for title in (
        "Báo cáo mức độ sẵn sàng hạ tầng chính quyền điện tử",
        "Tỉnh Thanh Hóa / UBND huyện Đông Sơn",
        "Nguyễn Thị Hường",
        "Phòng Tài chính – Kế hoạch",
        "Xu hướng tuân thủ theo tháng",
        "23/25 = 92,0 %",
    ):
        assert title in text
    # The ratio column's title wraps in its narrow column; its words are all there.
    assert "Tỷ lệ máy tính kết nối Internet" in " ".join(text.split())


def test_every_page_has_the_header_and_its_number(pdfs: dict[str, Path]) -> None:
    pages = _pages(pdfs["vi"])
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert "UBND huyện Đông Sơn · 2026-Q4" in text
        assert "Thời điểm lập: 16:30 29/11/2026" in text
        assert "Độ mới dữ liệu: 24 giờ: 23/25 = 92,0 % · 7 ngày: 25/25 = 100,0 %" in text
        assert f"Trang {number} / {len(pages)}" in text


def test_long_tables_repeat_their_header_row(pdfs: dict[str, Path]) -> None:
    pages = _pages(pdfs["vi"])
    with_rows = [p for p in pages if "UBND xã Thiệu Hợp" in p]
    assert len(with_rows) >= 2
    assert all("Lần cuối" in p for p in with_rows)
    assert "UBND xã Thiệu Hợp 43" in pages[-1] or "UBND xã Thiệu Hợp 43" in pages[-2]


def test_every_font_is_embedded(pdfs: dict[str, Path]) -> None:
    out = subprocess.run(["pdffonts", str(pdfs["vi"])], capture_output=True, check=True)
    rows = out.stdout.decode().splitlines()[2:]
    assert rows
    for row in rows:
        name, emb = row.split()[0], row.split()[-5]
        assert emb == "yes", row
        assert "DejaVu" in name


def test_english_report(pdfs: dict[str, Path]) -> None:
    pages = _pages(pdfs["en"])
    text = "\n".join(pages)
    assert "E-government infrastructure readiness report" in text
    assert "23/25 = 92.0%" in text and "1,234.5" in text
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert "Data freshness: 24 hours: 23/25 = 92.0% · 7 days: 25/25 = 100.0%" in pages[0]


def test_pages_render_with_their_emphasis_colours(pdfs: dict[str, Path], tmp_path: Path) -> None:
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            str(pdfs["vi"]),
            str(tmp_path / "p"),
        ],
        check=True,
    )
    (image_path,) = tmp_path.glob("p*.png")
    with Image.open(image_path) as image:
        assert image.size[1] == 702 and 495 <= image.size[0] <= 497  # A4 at 60 dpi
        colours = {colour for _, colour in image.convert("RGB").getcolors(1 << 20) or []}
    assert (0xE3, 0xF2, 0xE6) in colours  # a met target
    assert (0xFB, 0xE4, 0xE2) in colours  # a breach


def test_no_font_covering_vietnamese_is_a_clear_error(tmp_path: Path) -> None:
    # A fontconfig that knows no font directory at all (a machine without fonts-dejavu-core).
    config = tmp_path / "fonts.conf"
    config.write_text(f"<fontconfig><cachedir>{tmp_path}</cachedir></fontconfig>")
    # The font check alone (render() makes it before anything else): a fresh process is
    # needed because fontconfig reads its configuration once.
    code = (
        "from controller.reports.base import ReportError\n"
        "from controller.reports.render.fonts import vietnamese_font\n"
        "try:\n"
        "    vietnamese_font()\n"
        "except ReportError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(config)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, check=True, text=True
    )
    assert done.stdout.startswith("no font covering Vietnamese was found through fontconfig")
    assert "fonts-dejavu-core" in done.stdout
