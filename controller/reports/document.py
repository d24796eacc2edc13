"""The layout of a generated report, shared by every renderer (HTML, PDF, XLSX, CSV).

A definition computes a typed result, then lays it out as a :class:`Document`: a header (unit,
period, generation time, data freshness) and sections of blocks. Texts are :class:`T` pairs
(Vietnamese and English) resolved by the renderer for the requested language; values stay typed
(ints, floats, :class:`Ratio`, dates) so XLSX gets real numbers and each format writes them in
its own way ("23/25 = 92,0 %" on paper, three numeric cells in a sheet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

#: The languages reports are written in, the default first.
LANGUAGES = ("vi", "en")


@dataclass(frozen=True, slots=True)
class T:
    """A text in Vietnamese and English; ``format`` fills ``{name}`` placeholders in both."""

    vi: str
    en: str

    def get(self, lang: str) -> str:
        """The text in ``lang`` (Vietnamese for anything but ``en``)."""
        return self.en if lang == "en" else self.vi

    def format(self, **values: object) -> T:
        """Both texts with ``values`` filled in."""
        return T(self.vi.format(**values), self.en.format(**values))


@dataclass(frozen=True, slots=True)
class Ratio:
    """A share shown with its numerator and denominator, as DTI evidence requires.

    ``rate`` is None when the denominator is 0 (nothing to count: shown as "0/0", never 0 %).
    """

    numerator: float
    denominator: float

    @property
    def rate(self) -> float | None:
        """``numerator / denominator`` (0..1 for a share), None for 0/0."""
        return self.numerator / self.denominator if self.denominator else None


#: How a column's values are typed and drawn.
#: text: str or T; int/float: numbers; percent: a 0..1 float; ratio: :class:`Ratio`;
#: date/datetime: aware datetimes are shown in Vietnam time; bool: yes/no.
ColumnKind = Literal["text", "int", "float", "percent", "ratio", "date", "datetime", "bool"]
#: Value of a cell (None draws as an empty cell / "—").
Value = str | T | int | float | Ratio | date | datetime | bool | None
#: Row emphasis: a met target, a gap to look at, a breach.
Emphasis = Literal["ok", "warn", "bad"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column: a key (stable, used for CSV headers and XLSX), a title, a kind."""

    key: str
    title: T
    kind: ColumnKind = "text"


@dataclass(frozen=True, slots=True)
class Row:
    """One row of values in column order; ``emphasis`` highlights it; ``depth`` indents its
    first cell (a unit tree)."""

    values: tuple[Value, ...]
    emphasis: Emphasis | None = None
    depth: int = 0


@dataclass(frozen=True, slots=True)
class Table:
    """A table. ``key`` names its CSV file / XLSX sheet (short, ASCII)."""

    key: str
    title: T
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    note: T | None = None
    #: Shown instead of an empty table.
    empty: T | None = None


@dataclass(frozen=True, slots=True)
class Figure:
    """One key figure of a :class:`Figures` block (a label and a typed value)."""

    label: T
    value: Value
    kind: ColumnKind = "text"
    emphasis: Emphasis | None = None
    note: T | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    """A few key figures side by side (the header of a section)."""

    key: str
    title: T | None
    items: tuple[Figure, ...]


@dataclass(frozen=True, slots=True)
class Series:
    """One named series of a chart: ``(x label, value)`` points, values as 0..1 for percent."""

    name: T
    points: tuple[tuple[str, float | None], ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart drawn as SVG in HTML and PDF, and as its data in XLSX (CSV leaves it out)."""

    key: str
    title: T
    kind: Literal["line", "bar"]
    series: tuple[Series, ...]
    percent: bool = True


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph of text (notes, method, what is declared rather than measured)."""

    text: T


Block = Table | Figures | Chart | Paragraph


@dataclass(frozen=True, slots=True)
class Section:
    """A titled part of the report (an XLSX sheet per table in it)."""

    key: str
    title: T
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Header:
    """What every page and export starts with."""

    unit_id: str
    unit_name: str
    #: Names from the top of the tree down to the unit (province, legacy district, ...).
    unit_path: tuple[str, ...]
    period_label: str
    period_first: date
    period_last: date
    generated_at: datetime
    generated_by: str
    #: Share of computers heard within 24 hours and within 7 days.
    fresh_24h: Ratio
    fresh_7d: Ratio
    #: Further header lines (agent coverage, number of units...).
    extra: tuple[Figure, ...] = ()


@dataclass(frozen=True, slots=True)
class Document:
    """A generated report, ready for any renderer."""

    report: str
    title: T
    header: Header
    sections: tuple[Section, ...]
    #: Whether locations and host names are left out (exported copies of sensitive reports).
    redacted: bool = False
    notes: tuple[T, ...] = field(default_factory=tuple)

    def tables(self) -> Sequence[tuple[Section, Table]]:
        """Every table with its section, in order (CSV and XLSX walk these)."""
        return [(s, b) for s in self.sections for b in s.blocks if isinstance(b, Table)]
