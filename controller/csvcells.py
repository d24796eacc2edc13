"""CSV for Excel: the byte-order mark and formula-safe text cells, shared by every CSV export
(the dashboard's hosts list, the reports)."""

from __future__ import annotations

#: Written first: Excel then opens Vietnamese names as UTF-8, not as cp1258.
BOM = "\ufeff"

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """``value`` as a text cell Excel will not run as a formula (CSV injection).

    A cell starting with = + - @ (or a tab / carriage return, which Excel skips before them)
    gets a leading apostrophe. Apply this to text only: numbers written unformatted stay
    numbers, a negative one included.
    """
    return "'" + value if value[:1] in _FORMULA_STARTS else value
