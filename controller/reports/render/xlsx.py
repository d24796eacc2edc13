"""A report as an Excel workbook: a cover sheet with the header, one sheet per table, key-figure
block and chart, with real cells: numbers stay numbers (a ratio is numerator, denominator and a
percentage cell), dates are dates, text is never a formula.

Each sheet has its title in the first row, a bold header row frozen under it, widths fitted to
the content, emphasis as fill colours and tree depth as indentation. A chart's sheet holds its
data and a native Excel chart of it. The file is the same bytes for the same document: the
workbook's times and the zip entries' times are the generation time.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from controller.reports.document import (
    Chart,
    Column,
    ColumnKind,
    Document,
    Emphasis,
    Figure,
    Figures,
    Ratio,
    Row,
    T,
    Table,
    Value,
)
from controller.reports.period import TIME_ZONE
from controller.reports.render import labels

PERCENT = "0.0%"
_DATE = {"vi": "dd/mm/yyyy", "en": "yyyy-mm-dd"}
_DATETIME = {"vi": "dd/mm/yyyy hh:mm", "en": "yyyy-mm-dd hh:mm"}
_FILLS: dict[Emphasis, PatternFill] = {
    "ok": PatternFill("solid", fgColor="E3F2E6"),
    "warn": PatternFill("solid", fgColor="FFF3D6"),
    "bad": PatternFill("solid", fgColor="FBE4E2"),
}
_HEADER_FILL = PatternFill("solid", fgColor="EEF1F5")
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
# Excel refuses these in sheet names and caps the names at 31 characters.
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_MAX = 31


def render(document: Document, lang: str) -> bytes:
    """``document`` as XLSX bytes in ``lang``."""
    book = Workbook()
    # A new workbook's only sheet becomes the cover.
    cover = book.worksheets[0]
    names = _SheetNames()
    cover.title = names.take(labels.CONTENTS.get(lang), "cover")
    _cover(cover, document, lang)
    for section in document.sections:
        for block in section.blocks:
            if isinstance(block, Table):
                sheet = book.create_sheet(names.take(block.title.get(lang), block.key))
                _table(sheet, block, section.title.get(lang), lang)
            elif isinstance(block, Figures):
                title = block.title or section.title
                sheet = book.create_sheet(names.take(title.get(lang), block.key))
                _figures(sheet, block, section.title.get(lang), lang)
            elif isinstance(block, Chart):
                sheet = book.create_sheet(names.take(block.title.get(lang), block.key))
                _chart(sheet, block, section.title.get(lang), lang)
    stamp = _local(document.header.generated_at)
    book.properties.creator = document.header.generated_by
    book.properties.title = document.title.get(lang)
    book.properties.created = stamp
    book.properties.modified = stamp
    buffer = io.BytesIO()
    # Not book.save(): it stamps "modified" with the current time, so the same report made a
    # second later would differ (and so would its SHA-256 in the archive).
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(book, archive).save()
    return _fixed_times(buffer.getvalue(), stamp)


class _SheetNames:
    """Unique, valid sheet names (Excel compares them ignoring case)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, title: str, fallback: str) -> str:
        base = _SHEET_FORBIDDEN.sub(" ", title).strip().strip("'") or fallback
        if len(base) > _SHEET_MAX:
            # Cut at a word where one is near, so the name stays readable.
            cut = base[:_SHEET_MAX]
            mid_word = base[_SHEET_MAX] != " "
            base = cut.rsplit(" ", 1)[0] if mid_word and " " in cut[12:] else cut
        name, n = base, 1
        while name.casefold() in self._taken:
            n += 1
            suffix = f" ({n})"
            name = base[: _SHEET_MAX - len(suffix)] + suffix
        self._taken.add(name.casefold())
        return name


def _cover(sheet: Worksheet, document: Document, lang: str) -> None:
    h = document.header
    sheet["A1"] = document.title.get(lang)
    sheet["A1"].font = _TITLE
    lines: list[tuple[T, Sequence[Value]]] = [
        (labels.UNIT, (h.unit_name, h.unit_id)),
        (labels.UNIT_PATH, (" / ".join(h.unit_path),)),
        (labels.PERIOD, (h.period_label, h.period_first, h.period_last)),
        (labels.GENERATED_AT, (h.generated_at, labels.TIME_ZONE.get(lang))),
        (labels.GENERATED_BY, (h.generated_by,)),
    ]
    row = 3
    for label, values in lines:
        _label(_at(sheet, row, 1), label.get(lang))
        for column, value in enumerate(values, start=2):
            _put(_at(sheet, row, column), value, "text", lang)
        row += 1
    figures = (
        Figure(labels.FRESH_24H, h.fresh_24h, "ratio"),
        Figure(labels.FRESH_7D, h.fresh_7d, "ratio"),
        *h.extra,
    )
    row = _figure_rows(sheet, figures, row, lang)
    if document.redacted:
        _text(_at(sheet, row + 1, 1), labels.REDACTED.get(lang))
        row += 1
    if document.notes:
        row += 1
        _label(_at(sheet, row, 1), labels.NOTES.get(lang))
        for note in document.notes:
            row += 1
            _text(_at(sheet, row, 1), note.get(lang))
    _fit(sheet, first_row=3)


def _figure_rows(sheet: Worksheet, items: Iterable[Figure], row: int, lang: str) -> int:
    # label | value | numerator | denominator: a ratio's value is its rate, as a percentage.
    for item in items:
        _label(_at(sheet, row, 1), item.label.get(lang))
        value = _at(sheet, row, 2)
        if isinstance(item.value, Ratio):
            _put(value, item.value.rate, "percent", lang)
            _put(_at(sheet, row, 3), item.value.numerator, "float", lang)
            _put(_at(sheet, row, 4), item.value.denominator, "float", lang)
        else:
            _put(value, item.value, item.kind, lang)
        if item.note:
            _text(_at(sheet, row, 5), item.note.get(lang))
        if item.emphasis:
            for column in range(1, 5):
                _at(sheet, row, column).fill = _FILLS[item.emphasis]
        row += 1
    return row


def _titled(sheet: Worksheet, title: str, section: str, header: Sequence[str]) -> None:
    # Row 1: where the sheet comes from; row 2: the column titles, frozen with row 1.
    # "Tóm tắt: Tóm tắt" says nothing twice: the section only when the title does not repeat it.
    _label(_at(sheet, 1, 1), title if title.startswith(section) else f"{section}: {title}")
    for column, text in enumerate(header, start=1):
        cell = _at(sheet, 2, column)
        _text(cell, text)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A3"


def _table(sheet: Worksheet, table: Table, section: str, lang: str) -> None:
    header: list[str] = []
    for column in table.columns:
        title = column.title.get(lang)
        header += labels.ratio_titles(title, lang) if column.kind == "ratio" else [title]
    _titled(sheet, table.title.get(lang), section, header)
    for index, row in enumerate(table.rows, start=3):
        _row(sheet, index, table.columns, row, lang)
    after = len(table.rows) + 4
    if not table.rows:
        _text(_at(sheet, 3, 1), (table.empty or labels.NONE_YET).get(lang))
    if table.note:
        _text(_at(sheet, after, 1), table.note.get(lang))
    _fit(sheet, first_row=2)


def _row(sheet: Worksheet, index: int, columns: tuple[Column, ...], row: Row, lang: str) -> None:
    position = 1
    for column, value in zip(columns, row.values, strict=True):
        if column.kind == "ratio":
            ratio = value if isinstance(value, Ratio) else None
            _put(_at(sheet, index, position), ratio and ratio.numerator, "float", lang)
            _put(_at(sheet, index, position + 1), ratio and ratio.denominator, "float", lang)
            _put(_at(sheet, index, position + 2), ratio and ratio.rate, "percent", lang)
            position += 3
        else:
            _put(_at(sheet, index, position), value, column.kind, lang)
            position += 1
    if row.depth:
        _at(sheet, index, 1).alignment = Alignment(indent=min(row.depth * 2, 15))
    if row.emphasis:
        for column_index in range(1, position):
            _at(sheet, index, column_index).fill = _FILLS[row.emphasis]


def _figures(sheet: Worksheet, block: Figures, section: str, lang: str) -> None:
    header = [labels.FIGURE, labels.VALUE, labels.NUMERATOR, labels.DENOMINATOR]
    title = (block.title or T(section, section)).get(lang)
    _titled(sheet, title, section, [t.get(lang) for t in header])
    _figure_rows(sheet, block.items, 3, lang)
    _fit(sheet, first_row=2)


def _chart(sheet: Worksheet, block: Chart, section: str, lang: str) -> None:
    header = [labels.CHART_DATA.get(lang), *(s.name.get(lang) for s in block.series)]
    _titled(sheet, block.title.get(lang), section, header)
    xs = [label for label, _ in block.series[0].points] if block.series else []
    kind: ColumnKind = "percent" if block.percent else "float"
    for i, x in enumerate(xs, start=3):
        _text(_at(sheet, i, 1), x)
        for j, series in enumerate(block.series, start=2):
            value = series.points[i - 3][1] if i - 3 < len(series.points) else None
            _put(_at(sheet, i, j), value, kind, lang)
    _fit(sheet, first_row=2)
    if not xs:
        return
    drawing = BarChart() if block.kind == "bar" else LineChart()
    drawing.title = block.title.get(lang)
    last = len(xs) + 2
    data = Reference(sheet, min_col=2, max_col=len(block.series) + 1, min_row=2, max_row=last)
    drawing.add_data(data, titles_from_data=True)
    drawing.set_categories(Reference(sheet, min_col=1, min_row=3, max_row=last))
    if block.percent:
        drawing.y_axis.number_format = "0%"
        drawing.y_axis.scaling.min = 0
        drawing.y_axis.scaling.max = 1
    drawing.width, drawing.height = 18, 9
    sheet.add_chart(drawing, f"{get_column_letter(len(block.series) + 3)}2")


def _at(sheet: Worksheet, row: int, column: int) -> Cell:
    cell = sheet.cell(row, column)
    if not isinstance(cell, Cell):  # nothing is ever merged in these sheets
        raise TypeError(f"merged cell at {row},{column}")
    return cell


def _label(cell: Cell, text: str) -> None:
    _text(cell, text)
    cell.font = _BOLD


def _text(cell: Cell, text: str) -> None:
    # openpyxl would store a text starting with "=" as a formula; report texts (agent-supplied
    # names included) are only ever text.
    cell.value = text
    cell.data_type = "s"


def _put(cell: Cell, value: Value, kind: ColumnKind, lang: str) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        cell.value = value
    elif isinstance(value, Ratio):
        # A ratio outside a ratio column: its rate as a percentage.
        _put(cell, value.rate, "percent", lang)
    elif isinstance(value, int | float):
        number: int | float = value
        if kind != "percent" and isinstance(value, float) and value.is_integer():
            number = int(value)
        cell.value = number
        if kind == "percent":
            cell.number_format = PERCENT
    elif isinstance(value, datetime):
        cell.value = _local(value)
        cell.number_format = _DATETIME.get(lang, _DATETIME["vi"])
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = _DATE.get(lang, _DATE["vi"])
    else:
        _text(cell, value.get(lang) if isinstance(value, T) else value)


def _local(value: datetime) -> datetime:
    # Excel has no time zones: Vietnam time, as every other format shows it.
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(TIME_ZONE).replace(tzinfo=None)


def _fit(sheet: Worksheet, *, first_row: int) -> None:
    widths: dict[int, int] = {}
    for row in sheet.iter_rows(min_row=first_row):
        for cell in row:
            if cell.value is None:
                continue
            if isinstance(cell.value, datetime):
                length = 16
            elif isinstance(cell.value, date | float):
                length = 10
            else:
                length = len(str(cell.value))
            indent = int(cell.alignment.indent or 0) if cell.alignment else 0
            column = cell.column if isinstance(cell.column, int) else 1
            widths[column] = max(widths.get(column, 0), length + indent)
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width + 2, 8), 60)


def _fixed_times(content: bytes, stamp: datetime) -> bytes:
    # openpyxl stamps each zip entry with the current time; the same document should give
    # the same file (and the same SHA-256 in the archive), so entries get the report's time.
    when = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=when)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()
