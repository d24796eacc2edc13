"""Values of a document written for people (HTML and PDF): the dashboard's locale formats
(:mod:`controller.formats`), plus ratios ("23/25 = 92,0 %") and yes/no."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from babel.numbers import format_percent

from controller.formats import Formats
from controller.reports.document import ColumnKind, Ratio, T, Value
from controller.reports.render import labels

#: English prints 45.7%; Vietnamese, like the dashboard, 45,7 %.
_PERCENT_PATTERNS = {"vi": "#,##0.0 %", "en": "#,##0.0%"}


@dataclass(frozen=True)
class Formatter:
    """Formats for one language (``vi`` or ``en``)."""

    lang: str

    @property
    def _t(self) -> Formats:
        return Formats(self.lang)

    def text(self, value: str | T | None) -> str:
        """A plain or bilingual text in this language."""
        if value is None:
            return ""
        return value.get(self.lang) if isinstance(value, T) else value

    def number(self, value: float | None) -> str:
        """A count as a whole number, anything else with up to two decimals."""
        if value is None:
            return "—"
        if isinstance(value, int) or float(value).is_integer():
            return self._t.number(value)
        digits = 1 if abs(value * 10 - round(value * 10)) < 1e-9 else 2
        return self._t.number(value, digits)

    def percent(self, value: float | None) -> str:
        """A 0..1 share as a percentage with one decimal; "—" for None."""
        if value is None:
            return "—"
        pattern = _PERCENT_PATTERNS.get(self.lang, _PERCENT_PATTERNS["vi"])
        return format_percent(value, format=pattern, locale=self.lang)

    def ratio(self, value: Ratio) -> str:
        """ "23/25 = 92,0 %"; "0/0" when there is nothing to count."""
        fraction = f"{self.number(value.numerator)}/{self.number(value.denominator)}"
        rate = value.rate
        return fraction if rate is None else f"{fraction} = {self.percent(rate)}"

    def date(self, value: date | None) -> str:
        """dd/MM/yyyy in Vietnamese, ISO in English (a time is taken in Vietnam time)."""
        return self._t.date(value)

    def datetime(self, value: datetime | None) -> str:
        """A time in Vietnam time, to the minute."""
        return self._t.datetime(value)

    def value(self, value: Value, kind: ColumnKind = "text") -> str:
        """A cell or figure of ``kind``; the value's own type wins where they disagree."""
        if value is None:
            return "—"
        if isinstance(value, bool):
            return (labels.YES if value else labels.NO).get(self.lang)
        if isinstance(value, Ratio):
            return self.ratio(value)
        if isinstance(value, datetime):
            return self.datetime(value)
        if isinstance(value, date):
            return self.date(value)
        if isinstance(value, int | float):
            return self.percent(value) if kind == "percent" else self.number(value)
        return self.text(value)
