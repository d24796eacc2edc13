"""Make one report file: compute, lay out, render. The CLI, the dashboard's Reports page and the
schedules all call :func:`generate`, so a report looks the same wherever it is made.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from controller.reports import registry
from controller.reports.base import Progress, ReportContext, ReportError, no_progress
from controller.reports.document import LANGUAGES, Document
from controller.reports.period import Period
from controller.settings import ReportsConfig
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


def generate(
    s: Session,
    name: str,
    *,
    unit_id: str,
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
    """Compute report ``name`` for ``unit_id``'s subtree (narrowed to ``scope``) over ``period``
    and render it; :class:`ReportError` for an unknown report, format or language."""
    definition = registry.get(name)
    ctx = ReportContext(
        unit_id=unit_id,
        scope=scope,
        period=period,
        now=now,
        generated_by=generated_by,
        show_locations=show_locations,
        settings=settings or ReportsConfig(),
        progress=progress,
    )
    document = definition.layout(definition.compute(s, ctx), ctx)
    content = render(document, fmt, lang)
    return Generated(name, unit_id, period, fmt, lang, now, content, document)
