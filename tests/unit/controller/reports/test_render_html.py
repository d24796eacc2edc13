"""The HTML renderer: a standalone page, formats per language, nothing unescaped."""

from __future__ import annotations

import re
from dataclasses import replace

from controller.reports.generate import render
from controller.reports.render.html import css_string, page
from tests.unit.controller.reports import documents


def _html(lang: str) -> str:
    return render(documents.document(), "html", lang).decode("utf-8")


def test_vietnamese_page_formats_numbers_dates_and_ratios() -> None:
    html = _html("vi")
    assert '<html lang="vi">' in html
    assert "<h1>Báo cáo mức độ sẵn sàng hạ tầng chính quyền điện tử</h1>" in html
    assert "2026-Q4: Từ ngày 01/10/2026 đến ngày 31/12/2026" in html
    assert "16:30 29/11/2026" in html  # 09:30 UTC, shown in Vietnam time
    for text in ("1.234,5", "45,7 %", "23/25 = 92,0 %", "25/25 = 100,0 %", "02/11/2026"):
        assert text in html
    assert "03:15 29/11/2026" in html  # 20:15 UTC the day before
    assert '<td class="num">0/0</td>' in html  # nothing to count: no rate, never 0 %
    assert '<td class="num">-3,25</td>' in html


def test_english_page_formats() -> None:
    html = _html("en")
    assert "<h1>E-government infrastructure readiness report</h1>" in html
    for text in ("1,234.5", "45.7%", "23/25 = 92.0%", "2026-11-02", "2026-11-29 16:30"):
        assert text in html
    assert "Finance and Planning Office" in html


def test_tree_rows_emphasis_charts_and_empty_tables() -> None:
    html = _html("vi")
    assert re.search(r'<tr class="ok depth-0"><td>UBND huyện Đông Sơn</td>', html)
    assert '<tr class="bad depth-1"><td>Phòng Tài chính – Kế hoạch</td>' in html
    assert '<tr class="depth-2"><td>UBND xã Thiệu Hợp 2</td>' in html
    assert html.count('<svg class="chart"') == 2
    assert html.count("<polyline") == 1 and html.count("<circle") == 2  # the gap in November
    assert '<p class="empty">Chưa có số liệu tự khai.</p>' in html


def test_hostile_text_is_escaped_and_nothing_is_fetched() -> None:
    html = _html("en")
    assert "<script>" not in html
    assert (
        "=HYPERLINK(&#34;http://evil&#34;;&#34;"
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more&#34;)" in html
    )
    assert not re.search(r"<link|<script|<img|url\(|@import|src=", html)


def test_print_page_puts_the_header_in_the_page_margins_safely() -> None:
    hostile = replace(documents.header(), unit_name='Xã "A" </style><script>x</script>')
    html = page(replace(documents.document(), header=hostile), "vi", font="DejaVu Sans")
    style = html[html.index("<style>") : html.index("</style>")]
    assert "@page" in style and "counter(pages)" in style
    assert "<script>" not in html and "</style><" not in style
    assert css_string('a"b</style>') == '"a\\000022 b\\00003c \\00002f style\\00003e "'
    assert css_string("Đông Sơn · 2026") == '"Đông Sơn · 2026"'
