"""A report as one CSV file for Excel: UTF-8 with a byte-order mark, the header lines first, then
every table (and key-figure block) under a title row and a header row, a blank line between.

Numbers are written unformatted with a dot decimal so a spreadsheet reads them as numbers;
shares stay 0..1. A ratio column splits into numerator, denominator and rate columns. Dates are
ISO; times are Vietnam time (``YYYY-MM-DD HH:MM:SS``). Text cells are made formula-safe.
Charts and paragraphs are left out: their data is in the tables.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

from controller.csvcells import BOM, safe_text
from controller.reports.document import (
    Column,
    Document,
    Figure,
    Figures,
    Ratio,
    Row,
    Section,
    T,
    Table,
    Value,
)
from controller.reports.period import TIME_ZONE
from controller.reports.render import labels

Cell = str


def render(document: Document, lang: str) -> bytes:
    """``document`` as CSV bytes (UTF-8 with BOM) in ``lang``."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(_header_rows(document, lang))
    for section, block in _tabular_blocks(document):
        writer.writerow([])
        title = f"{section.title.get(lang)}: {_text(block.title, lang)}" if block.title else ""
        writer.writerow([safe_text(title or section.title.get(lang))])
        if isinstance(block, Table):
            writer.writerows(_table_rows(block, lang))
        else:
            writer.writerows(_figure_rows(block.items, lang, with_header=True))
    if document.notes:
        writer.writerow([])
        writer.writerow([safe_text(labels.NOTES.get(lang))])
        writer.writerows([safe_text(note.get(lang))] for note in document.notes)
    return buffer.getvalue().encode("utf-8")


def _tabular_blocks(document: Document) -> Iterator[tuple[Section, Table | Figures]]:
    for section in document.sections:
        for block in section.blocks:
            if isinstance(block, Table | Figures):
                yield section, block


def _header_rows(document: Document, lang: str) -> list[list[Cell]]:
    h = document.header
    rows: list[list[Cell]] = [
        [safe_text(document.title.get(lang))],
        [safe_text(labels.UNIT.get(lang)), safe_text(h.unit_name), safe_text(h.unit_id)],
    ]
    if h.unit_path:
        rows.append([safe_text(labels.UNIT_PATH.get(lang)), safe_text(" / ".join(h.unit_path))])
    rows += [
        [
            safe_text(labels.PERIOD.get(lang)),
            safe_text(h.period_label),
            h.period_first.isoformat(),
            h.period_last.isoformat(),
        ],
        [
            safe_text(labels.GENERATED_AT.get(lang)),
            _datetime(h.generated_at),
            safe_text(labels.TIME_ZONE.get(lang)),
        ],
        [safe_text(labels.GENERATED_BY.get(lang)), safe_text(h.generated_by)],
    ]
    freshness = (
        Figure(labels.FRESH_24H, h.fresh_24h, "ratio"),
        Figure(labels.FRESH_7D, h.fresh_7d, "ratio"),
        *h.extra,
    )
    rows += _figure_rows(freshness, lang, with_header=False)
    if document.redacted:
        rows.append([safe_text(labels.REDACTED.get(lang))])
    return rows


def _figure_rows(items: Iterable[Figure], lang: str, *, with_header: bool) -> list[list[Cell]]:
    # A figure row: label, value, and for a ratio its numerator and denominator (the value
    # is then the rate), so the value column stays a number wherever it can.
    rows: list[list[Cell]] = []
    if with_header:
        rows.append(
            [
                safe_text(labels.FIGURE.get(lang)),
                safe_text(labels.VALUE.get(lang)),
                safe_text(labels.NUMERATOR.get(lang)),
                safe_text(labels.DENOMINATOR.get(lang)),
            ]
        )
    for item in items:
        row = [safe_text(item.label.get(lang))]
        if isinstance(item.value, Ratio):
            numerator, denominator, rate = _ratio(item.value)
            row += [rate, numerator, denominator]
        else:
            row.append(_cell(item.value, lang))
        rows.append(row)
    return rows


def _table_rows(table: Table, lang: str) -> list[list[Cell]]:
    # A tree gets a level column and a highlighted table an assessment column: indentation
    # and colours do not survive CSV, the information should.
    tree = any(row.depth for row in table.rows)
    flagged = any(row.emphasis for row in table.rows)
    header: list[Cell] = [safe_text(labels.LEVEL.get(lang))] if tree else []
    for column in table.columns:
        title = column.title.get(lang)
        if column.kind == "ratio":
            header += [safe_text(t) for t in labels.ratio_titles(title, lang)]
        else:
            header.append(safe_text(title))
    if flagged:
        header.append(safe_text(labels.ASSESSMENT.get(lang)))
    rows = [header]
    rows += [_row(table.columns, row, lang, tree=tree, flagged=flagged) for row in table.rows]
    return rows


def _row(
    columns: tuple[Column, ...], row: Row, lang: str, *, tree: bool, flagged: bool
) -> list[Cell]:
    cells: list[Cell] = [str(row.depth)] if tree else []
    for column, value in zip(columns, row.values, strict=True):
        if column.kind == "ratio":
            cells += _ratio(value) if isinstance(value, Ratio) else ["", "", ""]
        else:
            cells.append(_cell(value, lang))
    if flagged:
        cells.append(safe_text(labels.EMPHASIS[row.emphasis].get(lang)) if row.emphasis else "")
    return cells


def _cell(value: Value, lang: str) -> Cell:
    if value is None:
        return ""
    if isinstance(value, bool):
        return (labels.YES if value else labels.NO).get(lang)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, Ratio):
        rate = value.rate
        return "" if rate is None else _number(rate)
    if isinstance(value, datetime):
        return _datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return safe_text(_text(value, lang))


def _text(value: str | T, lang: str) -> str:
    return value.get(lang) if isinstance(value, T) else value


def _ratio(value: Ratio) -> list[Cell]:
    rate = value.rate
    return [
        _number(value.numerator),
        _number(value.denominator),
        "" if rate is None else _number(rate),
    ]


def _number(value: float) -> Cell:
    # repr keeps every digit with a dot decimal; whole floats lose the ".0" so counts read
    # as counts.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _datetime(value: datetime) -> Cell:
    # Stored times are UTC; the report's reader is in Vietnam. Naive times are taken as UTC.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(TIME_ZONE).strftime("%Y-%m-%d %H:%M:%S")
