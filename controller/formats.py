"""Dates, numbers and percentages per locale, shared by the dashboard and the reports.

Vietnamese writes 1.234,5 and 45,7 % and dates as 29/11/2026; English gets ISO dates for readers
abroad. Times are shown in Vietnam's time zone (UTC+7, no daylight saving), whatever the
server's. Kept apart from the dashboard so a report or a command does not load the web layer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

TIME_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# Vietnamese officials write 29/11/2026; an unambiguous ISO date for English readers abroad.
_DATETIME_PATTERNS = {"vi": "HH:mm dd/MM/yyyy", "en": "yyyy-MM-dd HH:mm"}
_DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "yyyy-MM-dd"}
_SHORT_DATE_PATTERNS = {"vi": "dd/MM", "en": "MM-dd"}


@dataclass(frozen=True)
class Formats:
    """The formats of one locale (``vi`` or ``en``)."""

    locale: str

    def datetime(self, value: dt.datetime | None) -> str:
        """A date and time in Vietnam's time zone, to the minute; "—" for None."""
        if value is None:
            return "—"
        pattern = _DATETIME_PATTERNS.get(self.locale, "yyyy-MM-dd HH:mm")
        return format_datetime(value, pattern, tzinfo=TIME_ZONE, locale=self.locale)

    def date(self, value: dt.date | dt.datetime | None, fmt: str = "full") -> str:
        """A date (``fmt`` "short": day and month only, for chart axes); "—" for None."""
        if value is None:
            return "—"
        if isinstance(value, dt.datetime):
            value = value.astimezone(TIME_ZONE).date()
        patterns = _SHORT_DATE_PATTERNS if fmt == "short" else _DATE_PATTERNS
        return format_date(value, patterns.get(self.locale, "yyyy-MM-dd"), locale=self.locale)

    def number(self, value: float | int | None, digits: int = 0) -> str:
        """A number with the locale's separators (1.234,5 in Vietnamese)."""
        if value is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float | None, digits: int = 1) -> str:
        """A ratio (0.5) as a percentage ("50,0 %" in Vietnamese)."""
        if value is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "") + " %"
        return format_percent(value, format=pattern, locale=self.locale)
