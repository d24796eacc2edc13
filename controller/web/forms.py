"""Parsing the values of dashboard forms and query strings into typed values.

Each parser raises :class:`controller.web.security.InputError` with a translated message, which
the dashboard shows on a 400 page (the API as a 400 JSON error).
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from controller.web.i18n import TIME_ZONE, Translator
from controller.web.security import InputError


def end_of_day(text: str, t: Translator) -> datetime:
    """``YYYY-MM-DD`` → the end of that day in Vietnam (an exemption lasts the whole day)."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise InputError(
            t.gettext("%(value)s is not a date like 2026-12-31.", value=text[:40])
        ) from None
    return datetime.combine(day, time(23, 59, 59), tzinfo=TIME_ZONE).astimezone(UTC)


def page_number(text: str | None, t: Translator) -> int:
    """A page number (1 when absent)."""
    if text is None or text == "":
        return 1
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise InputError(t.gettext("The page number must be a whole number from 1."))
    return int(text)


def finding_ids(values: list[str], t: Translator) -> list[int]:
    """The ``ids`` of a bulk form (at most 500 at once)."""
    ids: list[int] = []
    for value in values:
        if not value.isdigit():
            raise InputError(t.gettext("A finding number is not a number."))
        ids.append(int(value))
    if len(ids) > 500:
        raise InputError(t.gettext("Select at most 500 findings at once."))
    return ids
