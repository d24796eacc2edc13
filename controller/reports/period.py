"""Reporting periods: a year (``2026``), a quarter (``2026-Q4``), a month (``2026-11``), a week
(``2026-W48``) or a day (``2026-11-29``), in Vietnam's calendar.

A period is a closed range of calendar days; :attr:`Period.start_at` and :attr:`Period.end_at`
are the matching UTC instants (end exclusive) for queries over stored times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

TIME_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PeriodKind = Literal["year", "quarter", "month", "week", "day"]

_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])", re.IGNORECASE)
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-W(\d{2})", re.IGNORECASE)
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class PeriodError(ValueError):
    """A period text that does not parse (the message says what is accepted)."""


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period: ``first`` to ``last`` inclusive (Vietnam calendar days)."""

    kind: PeriodKind
    label: str
    first: date
    last: date

    @property
    def start_at(self) -> datetime:
        """The UTC instant the period starts (midnight in Vietnam)."""
        return datetime.combine(self.first, time(), TIME_ZONE).astimezone(UTC)

    @property
    def end_at(self) -> datetime:
        """The UTC instant right after the period (exclusive bound)."""
        return datetime.combine(self.last + timedelta(days=1), time(), TIME_ZONE).astimezone(UTC)

    def days(self) -> int:
        """How many calendar days the period has."""
        return (self.last - self.first).days + 1

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls inside the period."""
        return self.first <= day <= self.last


def _month_end(year: int, month: int) -> date:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return following - timedelta(days=1)


def year(y: int) -> Period:
    """The calendar year ``y``."""
    return Period("year", f"{y:04d}", date(y, 1, 1), date(y, 12, 31))


def quarter(y: int, q: int) -> Period:
    """Quarter ``q`` (1-4) of year ``y``."""
    first_month = 3 * (q - 1) + 1
    return Period(
        "quarter", f"{y:04d}-Q{q}", date(y, first_month, 1), _month_end(y, first_month + 2)
    )


def month(y: int, m: int) -> Period:
    """Month ``m`` of year ``y``."""
    return Period("month", f"{y:04d}-{m:02d}", date(y, m, 1), _month_end(y, m))


def week(y: int, w: int) -> Period:
    """ISO week ``w`` of ISO year ``y`` (Monday to Sunday)."""
    first = date.fromisocalendar(y, w, 1)
    return Period("week", f"{y:04d}-W{w:02d}", first, first + timedelta(days=6))


def day(d: date) -> Period:
    """The single day ``d``."""
    return Period("day", d.isoformat(), d, d)


def parse(text: str) -> Period:
    """The period ``text`` names; :class:`PeriodError` with the accepted forms otherwise."""
    value = text.strip()
    try:
        if m := _YEAR.fullmatch(value):
            return year(int(m[1]))
        if m := _QUARTER.fullmatch(value):
            return quarter(int(m[1]), int(m[2]))
        if m := _DAY.fullmatch(value):
            return day(date(int(m[1]), int(m[2]), int(m[3])))
        if m := _MONTH.fullmatch(value):
            return month(int(m[1]), int(m[2]))
        if m := _WEEK.fullmatch(value):
            return week(int(m[1]), int(m[2]))
    except ValueError as exc:
        raise PeriodError(f"period {text!r}: {exc}") from exc
    raise PeriodError(
        f"period {text!r} is not one of YYYY, YYYY-Qn, YYYY-MM, YYYY-Wnn, YYYY-MM-DD "
        "(for example 2026, 2026-Q4, 2026-11)"
    )


def local_day(moment: datetime) -> date:
    """The Vietnam calendar day at ``moment`` (an aware time)."""
    return moment.astimezone(TIME_ZONE).date()


def current(kind: PeriodKind, today: date) -> Period:
    """The period of ``kind`` that contains ``today``."""
    if kind == "year":
        return year(today.year)
    if kind == "quarter":
        return quarter(today.year, (today.month - 1) // 3 + 1)
    if kind == "month":
        return month(today.year, today.month)
    if kind == "week":
        iso = today.isocalendar()
        return week(iso.year, iso.week)
    return day(today)


def previous(kind: PeriodKind, today: date) -> Period:
    """The last whole period of ``kind`` before the one containing ``today`` (what a schedule
    reports on: on 1 December the monthly report covers November)."""
    return current(kind, current(kind, today).first - timedelta(days=1))
