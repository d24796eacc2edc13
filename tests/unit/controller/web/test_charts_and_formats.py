"""Server-side SVG charts and the locale formats of the dashboard."""

from __future__ import annotations

from datetime import UTC, date, datetime

from controller.charts import Point, line_chart, status_strip
from controller.web.i18n import normalise_locale, translator


def test_line_chart_escapes_labels_and_leaves_gaps() -> None:
    svg = str(
        line_chart(
            [Point("<b>1</b>", 0.5), Point("2", None), Point("3", 0.7), Point("4", 0.9)],
            title='"><script>',
        )
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<b>1</b>" not in svg
    # The missing day splits the line: one lone point, then a two-point line.
    assert svg.count("<circle") == 1
    assert svg.count("<polyline") == 1


def test_status_strip_has_one_cell_per_sample() -> None:
    svg = str(
        status_strip(
            [("a", True), ("b", False), ("c", None)],
            title="t",
            legend=("up", "down", "unknown"),
        )
    )
    assert svg.count("<rect") == 3
    assert "#1e7b3c" in svg and "#b3261e" in svg and "#b9c0cc" in svg
    assert "a: up" in svg and "b: down" in svg and "c: unknown" in svg


def test_vietnamese_and_english_formats() -> None:
    vi, en = translator("vi"), translator("en")
    moment = datetime(2026, 11, 29, 7, 5, tzinfo=UTC)  # 14:05 in Vietnam
    assert vi.datetime(moment) == "14:05 29/11/2026"
    assert en.datetime(moment) == "2026-11-29 14:05"
    assert vi.number(1234567.5, 1) == "1.234.567,5"
    assert en.number(1234567.5, 1) == "1,234,567.5"
    assert vi.percent(0.4567) == "45,7 %"
    assert en.percent(0.4567) == "45.7 %"
    assert vi.date(date(2026, 1, 2)) == "02/01/2026"
    assert en.date(date(2026, 1, 2)) == "2026-01-02"
    assert vi.date(date(2026, 1, 2), "short") == "02/01"
    assert vi.datetime(None) == "—"


def test_messages_switch_language() -> None:
    assert translator("vi").gettext("Log out") == "Đăng xuất"
    assert translator("en").gettext("Log out") == "Log out"
    assert translator("vi").ngettext("%(num)s computer", "%(num)s computers", 3) == "3 máy tính"
    assert translator("en").ngettext("%(num)s computer", "%(num)s computers", 1) == "1 computer"


def test_unknown_locales_fall_back_to_vietnamese() -> None:
    assert normalise_locale("en-US") == "en"
    assert normalise_locale("fr") == "vi"
    assert normalise_locale(None) == "vi"
