"""Make one report file: compute, lay out, render. The CLI, the dashboard's Reports page and the
schedules all call :func:`generate`, so a report looks the same wherever it is made.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.reports import registry
from controller.reports.base import Progress, ReportContext, ReportError, no_progress
from controller.reports.document import LANGUAGES, Document
from controller.reports.period import Period
from controller.settings import ReportsConfig
from controller.store.dashboard._common import scoped_units
from controller.store.models import Unit
from controller.store.scope import UnitScope

Format = Literal["pdf", "xlsx", "csv", "html"]
FORMATS: tuple[Format, ...] = ("pdf", "xlsx", "csv", "html")
MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Generated:
    """A generated report file and what it is."""

    report: str
    unit_id: str
    period: Period
    format: Format
    language: str
    generated_at: datetime
    content: bytes
    document: Document

    @property
    def media_type(self) -> str:
        """The HTTP content type of the file."""
        return MEDIA_TYPES[self.format]

    @property
    def filename(self) -> str:
        """``<report>_<unit>_<period>.<ext>`` (ASCII: unit ids are slugs)."""
        return f"{self.report}_{self.unit_id}_{self.period.label}.{self.format}"

    @property
    def sha256(self) -> str:
        """The SHA-256 (hex) of the file, recorded in the archive."""
        return hashlib.sha256(self.content).hexdigest()


def render(document: Document, fmt: Format, lang: str) -> bytes:
    """``document`` drawn in ``fmt`` (each renderer lives in ``controller.reports.render``)."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if lang not in LANGUAGES:
        raise ReportError(f"unknown language {lang!r}; languages: {', '.join(LANGUAGES)}")
    module = importlib.import_module(f"controller.reports.render.{fmt}")
    content: bytes = module.render(document, lang)
    return content


def report_unit(s: Session, unit_id: str | None, scope: UnitScope) -> tuple[str, frozenset[str]]:
    """The unit a report is about and the units it covers: ``unit_id``'s subtree narrowed to
    ``scope``. Without ``unit_id``: the top of what the caller sees (the organisation's root
    for a caller who sees everything). :class:`ReportError` for a unit that does not exist or
    that the caller may not see (the same message: a hidden unit is not revealed)."""
    if unit_id is None:
        unit_id = _top_unit(s, scope)
    covered = scoped_units(s, scope, unit_id)
    if covered is None or unit_id not in covered:
        raise ReportError(f"unknown unit {unit_id!r}")
    return unit_id, covered


def _top_unit(s: Session, scope: UnitScope) -> str:
    rows = s.execute(select(Unit.id, Unit.parent_id, Unit.retired_at)).all()
    visible = {uid for uid, _, _ in rows if scope is None or uid in scope}
    # A top unit: visible, with no visible parent; retired units are no default.
    tops = sorted(
        uid
        for uid, parent, retired in rows
        if uid in visible and parent not in visible and retired is None
    )
    if len(tops) != 1:
        found = ", ".join(tops) or "none"
        raise ReportError(f"choose a unit: the top units are {found}")
    return tops[0]


def generate(
    s: Session,
    name: str,
    *,
    unit_id: str | None,
    scope: UnitScope,
    period: Period,
    fmt: Format,
    lang: str,
    now: datetime,
    generated_by: str = "govguard",
    show_locations: bool = False,
    settings: ReportsConfig | None = None,
    progress: Progress = no_progress,
) -> Generated:
    """Compute report ``name`` for ``unit_id``'s subtree (narrowed to ``scope``; None: the top
    unit the caller sees) over ``period`` and render it; :class:`ReportError` for an unknown
    report, unit, format or language."""
    definition = registry.get(name)
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if lang not in LANGUAGES:
        raise ReportError(f"unknown language {lang!r}; languages: {', '.join(LANGUAGES)}")
    unit_id, covered = report_unit(s, unit_id, scope)
    ctx = ReportContext(
        unit_id=unit_id,
        scope=covered,
        period=period,
        now=now,
        generated_by=generated_by,
        show_locations=show_locations,
        settings=settings or ReportsConfig(),
        progress=progress,
    )
    document = definition.layout(definition.compute(s, ctx), ctx)
    progress(0, 1, f"rendering {fmt.upper()}")
    content = render(document, fmt, lang)
    progress(1, 1, f"rendered {fmt.upper()}")
    return Generated(name, unit_id, period, fmt, lang, now, content, document)
