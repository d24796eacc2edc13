"""The dashboard's languages: gettext catalogues, and dates, numbers and percentages per locale.

Messages are written in English in the code and templates (the msgids) and translated in
``translations/<locale>/LC_MESSAGES/messages.po``. The ``.po`` files are read at start-up and
compiled in memory, so a fresh checkout needs no ``.mo`` build step. Vietnamese is the default.
Dates, numbers and percentages come from :mod:`controller.formats` (shared with the reports).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.dates import format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

# TIME_ZONE stays importable from here: the dashboard's pages and forms use it.
from controller.formats import TIME_ZONE as TIME_ZONE
from controller.formats import Formats

#: The languages the dashboard speaks, the default first.
LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
TRANSLATIONS_DIR = Path(__file__).parent / "translations"


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
class Translator(Formats):
    """Everything locale-specific a page needs: messages and formats (:class:`Formats`)."""

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

    def ago(self, value: dt.datetime | None, now: dt.datetime) -> str:
        """How long ago ``value`` was ("3 giờ" / "3 hours"); "—" for None."""
        if value is None:
            return "—"
        delta: dt.timedelta = now - value
        return format_timedelta(delta, threshold=1.1, locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        """A length of time in its largest sensible unit ("3 ngày" / "3 days"); "—" for None."""
        if seconds is None:
            return "—"
        # A threshold of 2: 12 days stay "12 days" (1.1 would round them to "2 weeks").
        return format_timedelta(dt.timedelta(seconds=seconds), threshold=2, locale=self.locale)

    @property
    def language_name(self) -> str:
        """The language's own name, for the switcher."""
        return LANGUAGE_NAMES[self.locale]


@cache
def translator(locale: str) -> Translator:
    """The shared :class:`Translator` of ``locale`` (normalised)."""
    return Translator(normalise_locale(locale))
