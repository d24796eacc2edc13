"""The dashboard's languages: gettext catalogues, and dates, numbers and percentages per locale.

Messages are written in English in the code and templates (the msgids) and translated in
``translations/<locale>/LC_MESSAGES/messages.po``. The ``.po`` files are read at start-up and
compiled in memory, so a fresh checkout needs no ``.mo`` build step. Vietnamese is the default.
Times are shown in Vietnam's time zone (UTC+7, no daylight saving), whatever the server's.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

#: The languages the dashboard speaks, the default first.
LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
TIME_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TRANSLATIONS_DIR = Path(__file__).parent / "translations"
# Vietnamese officials write 29/11/2026; an unambiguous ISO date for English readers abroad.
_DATETIME_PATTERNS = {"vi": "HH:mm dd/MM/yyyy", "en": "yyyy-MM-dd HH:mm"}
_DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "yyyy-MM-dd"}
_SHORT_DATE_PATTERNS = {"vi": "dd/MM", "en": "MM-dd"}


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name for "mark only"
    """Mark ``message`` for the catalogue without translating it (translated when shown)."""
    return message


def normalise_locale(value: str | None) -> str:
    """A supported locale for ``value`` ("en-US" → "en"); the default for anything else."""
    if value:
        short = value.strip().replace("_", "-").split("-", 1)[0].lower()
        if short in LOCALES:
            return short
    return DEFAULT_LOCALE


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogue of ``locale`` (English is the msgids themselves)."""
    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return Translations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


@dataclass(frozen=True)
class Translator:
    """Everything locale-specific a page needs: messages and formats."""

    locale: str

    @property
    def _catalog(self) -> Translations:
        return translations(self.locale)

    def gettext(self, message: str, **values: object) -> str:
        """``message`` in this locale, ``%(name)s`` placeholders filled from ``values``."""
        text = self._catalog.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        """The singular or plural form for ``n`` (``%(num)s`` is ``n``)."""
        text = self._catalog.ngettext(singular, plural, n)
        return text % {"num": n, **values}

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

    def ago(self, value: dt.datetime | None, now: dt.datetime) -> str:
        """How long ago ``value`` was ("3 giờ" / "3 hours"); "—" for None."""
        if value is None:
            return "—"
        delta: dt.timedelta = now - value
        return format_timedelta(delta, threshold=1.1, locale=self.locale)

    @property
    def language_name(self) -> str:
        """The language's own name, for the switcher."""
        return LANGUAGE_NAMES[self.locale]


@cache
def translator(locale: str) -> Translator:
    """The shared :class:`Translator` of ``locale`` (normalised)."""
    return Translator(normalise_locale(locale))
