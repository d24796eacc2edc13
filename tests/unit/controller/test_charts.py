"""The SVG charts shared by the dashboard and the reports: several series, bars, escaping."""

from __future__ import annotations

from controller.charts import PALETTE, Line, Point, bar_chart, lines_chart
from controller.csvcells import safe_text


def test_lines_chart_draws_each_series_in_its_colour_with_a_legend() -> None:
    svg = str(
        lines_chart(
            [
                Line("Đạt", [Point("10", 0.8), Point("11", 0.9)]),
                Line("<i>x</i>", [Point("10", 0.5), Point("11", None)]),
            ],
            title="Xu hướng",
            font="DejaVu Sans",
        )
    )
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1
    assert f'stroke="{PALETTE[0]}"' in svg and f'fill="{PALETTE[1]}"' in svg
    assert "Đạt" in svg and "&lt;i&gt;x&lt;/i&gt;" in svg and "<i>" not in svg
    assert 'font-family="DejaVu Sans"' in svg


def test_bar_chart_has_a_bar_per_value_and_labels_them() -> None:
    svg = str(
        bar_chart(
            [
                Line(
                    "Số máy", [Point("Đông Sơn", 1234.0), Point("Thiệu Hợp", 7.0), Point("x", None)]
                )
            ],
            title="Máy tính",
            percent=False,
            value_label=lambda v: f"{v:,.0f}",
        )
    )
    assert svg.count("<rect") == 2  # None draws nothing; one series: no legend swatch
    assert ">1,234</text>" in svg and ">7</text>" in svg
    assert ">Đông Sơn</text>" in svg and ">Thiệu Hợp</text>" in svg
    # The highest bar leaves room for its label: the axis tops out above 1234.
    assert ">1382</text>" in svg


def test_percent_bars_share_one_scale() -> None:
    svg = str(bar_chart([Line("a", [Point("x", 1.0)]), Line("b", [Point("x", 0.5)])], title="t"))
    assert ">100%</text>" in svg and svg.count("<rect") == 2 + 2  # two bars, two swatches


def test_csv_text_cells_never_start_a_formula() -> None:
    assert safe_text("=1+1") == "'=1+1"
    assert safe_text("-3") == "'-3" and safe_text("@x") == "'@x" and safe_text("+x") == "'+x"
    assert safe_text("\t=x") == "'\t=x"
    assert safe_text("Xã Thiệu Hợp") == "Xã Thiệu Hợp" and safe_text("") == ""
