"""A report as one standalone HTML page: inline CSS, inline SVG charts, nothing fetched.

The same page, with print rules (A4, a running header and "page X of Y" in the page margins),
is what WeasyPrint turns into the PDF, so the two formats never drift apart. Every text of the
document is escaped by the template (autoescape); the page-margin texts are CSS strings escaped
by :func:`css_string`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from controller.charts import Line, Point, bar_chart, lines_chart
from controller.reports.document import (
    Chart,
    Column,
    Document,
    Emphasis,
    Figure,
    Figures,
    Paragraph,
    Row,
    Table,
)
from controller.reports.render import labels
from controller.reports.render.formats import Formatter

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
#: The font stack of the screen page (print names the font fontconfig found).
SCREEN_FONTS = '"DejaVu Sans", "Noto Sans", "Segoe UI", Arial, sans-serif'


@dataclass(frozen=True)
class Cell:
    """A drawn table cell: its text and whether it is a number (right-aligned)."""

    text: str
    numeric: bool


@dataclass(frozen=True)
class DrawnRow:
    """A drawn row: cells, emphasis, tree depth."""

    cells: tuple[Cell, ...]
    emphasis: Emphasis | None
    depth: int


@dataclass(frozen=True)
class DrawnFigure:
    """A drawn key figure."""

    label: str
    value: str
    emphasis: Emphasis | None
    note: str


@dataclass(frozen=True)
class DrawnBlock:
    """One block as the template draws it (``kind``: table, figures, chart, paragraph)."""

    kind: str
    title: str = ""
    text: str = ""
    columns: tuple[Cell, ...] = ()
    rows: tuple[DrawnRow, ...] = ()
    figures: tuple[DrawnFigure, ...] = ()
    svg: Markup = field(default_factory=Markup)
    note: str = ""
    empty: str = ""


#: A table with this many columns or more is printed on landscape pages (see report.html).
WIDE_COLUMNS = 10


def css_string(value: str) -> str:
    """``value`` as a quoted CSS string that nothing can break out of (not even ``</style>``):
    every ASCII character but letters, digits and spaces is written as a hex escape."""
    out = []
    for char in value:
        if char.isascii() and not (char.isalnum() or char == " "):
            out.append(f"\\{ord(char):06x} ")
        elif not char.isprintable():
            out.append(" ")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["css_string"] = css_string
    return env


def page(document: Document, lang: str, *, font: str | None = None) -> str:
    """The HTML of ``document`` in ``lang``; ``font`` set: the print version (A4, page margins
    with the header and page numbers) set in that font family."""
    f = Formatter(lang)
    h = document.header
    period = labels.PERIOD_RANGE.get(lang).format(
        first=f.date(h.period_first), last=f.date(h.period_last)
    )
    fresh = [
        DrawnFigure(labels.FRESH_24H.get(lang), f.ratio(h.fresh_24h), None, ""),
        DrawnFigure(labels.FRESH_7D.get(lang), f.ratio(h.fresh_7d), None, ""),
    ]
    extra = [_figure(item, f) for item in h.extra]
    sections = [
        (section.title.get(lang), [_block(block, f, font) for block in section.blocks])
        for section in document.sections
    ]
    page_label = labels.PAGE.get(lang)
    before, _, rest = page_label.partition("{page}")
    between, _, after = rest.partition("{pages}")
    margin = {
        "top_left": f"{h.unit_name} · {h.period_label}",
        "top_right": f"{labels.GENERATED_AT.get(lang)}: {f.datetime(h.generated_at)}",
        "bottom_left": f"{labels.FRESHNESS.get(lang)}: "
        + labels.FRESH_SHORT.get(lang).format(day=f.ratio(h.fresh_24h), week=f.ratio(h.fresh_7d)),
        "page_before": before,
        "page_between": between,
        "page_after": after,
    }
    return (
        _environment()
        .get_template("report.html")
        .render(
            lang=lang,
            print=font is not None,
            font=f'"{font}", sans-serif' if font else SCREEN_FONTS,
            title=document.title.get(lang),
            unit_path=" / ".join(h.unit_path),
            labels={
                name: getattr(labels, name).get(lang)
                for name in (
                    "UNIT",
                    "PERIOD",
                    "GENERATED_AT",
                    "GENERATED_BY",
                    "FRESHNESS",
                    "TIME_ZONE",
                    "NOTES",
                    "REDACTED",
                )
            },
            unit=h.unit_name,
            unit_id=h.unit_id,
            period_label=h.period_label,
            period=period,
            generated_at=f.datetime(h.generated_at),
            generated_iso=h.generated_at.isoformat(),
            generated_by=h.generated_by,
            fresh=fresh,
            extra=extra,
            redacted=document.redacted,
            sections=sections,
            notes=[note.get(lang) for note in document.notes],
            margin=margin,
            WIDE_COLUMNS=WIDE_COLUMNS,
        )
    )


def render(document: Document, lang: str) -> bytes:
    """``document`` as a standalone HTML page (UTF-8)."""
    return page(document, lang).encode("utf-8")


def _figure(item: Figure, f: Formatter) -> DrawnFigure:
    return DrawnFigure(
        item.label.get(f.lang), f.value(item.value, item.kind), item.emphasis, f.text(item.note)
    )


def _block(
    block: Table | Figures | Chart | Paragraph, f: Formatter, font: str | None
) -> DrawnBlock:
    if isinstance(block, Paragraph):
        return DrawnBlock("paragraph", text=block.text.get(f.lang))
    if isinstance(block, Figures):
        return DrawnBlock(
            "figures",
            title=f.text(block.title),
            figures=tuple(_figure(item, f) for item in block.items),
        )
    if isinstance(block, Chart):
        return DrawnBlock("chart", title=block.title.get(f.lang), svg=_chart(block, f, font))
    return DrawnBlock(
        "table",
        title=block.title.get(f.lang),
        columns=tuple(Cell(c.title.get(f.lang), _numeric(c)) for c in block.columns),
        rows=tuple(_row(block.columns, row, f) for row in block.rows),
        note=f.text(block.note),
        empty=f.text(block.empty) or labels.NONE_YET.get(f.lang),
    )


def _numeric(column: Column) -> bool:
    return column.kind in ("int", "float", "percent", "ratio")


def _row(columns: tuple[Column, ...], row: Row, f: Formatter) -> DrawnRow:
    cells = tuple(
        Cell(f.value(value, column.kind), _numeric(column))
        for column, value in zip(columns, row.values, strict=True)
    )
    return DrawnRow(cells, row.emphasis, row.depth)


def _chart(chart: Chart, f: Formatter, font: str | None) -> Markup:
    series = [
        Line(s.name.get(f.lang), [Point(label, value) for label, value in s.points])
        for s in chart.series
    ]
    title = chart.title.get(f.lang)
    if chart.kind == "bar":
        return bar_chart(
            series,
            title=title,
            percent=chart.percent,
            font=font,
            value_label=f.percent if chart.percent else f.number,
        )
    return lines_chart(series, title=title, percent=chart.percent, font=font)
