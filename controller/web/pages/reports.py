"""Reports: make a report as ``govguard report`` does and download it, or read it in the browser.

Generating is a GET (it changes nothing but the audit log): the form's fields are the query
string, so a report can be bookmarked or sent to a colleague. Everything is computed by
:func:`controller.reports.generate.generate` in one read transaction, for a unit of the caller's
scope only; the download writes a ``report.generated`` audit entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from controller.api import context
from controller.auth import Permission
from controller.reports import archive, registry
from controller.reports.base import ReportError
from controller.reports.document import LANGUAGES
from controller.reports.generate import FORMATS, Format, Generated, generate
from controller.reports.period import Period, PeriodError, current, local_day, parse, previous
from controller.store import audit
from controller.store import report_archive as archive_store
from controller.store.dashboard._common import unit_tree
from controller.store.units import get_unit
from controller.web.downloads import attachment, html_view
from controller.web.i18n import N_
from controller.web.pages.report_schedules import ScheduleForm, cadence_names, listed
from controller.web.security import Caller, InputError, NotFound, now, reader, reading, transaction
from controller.web.view import page

router = APIRouter()
log = logging.getLogger(__name__)
#: How many archived reports the page lists (newest first).
ARCHIVE_ROWS = 100
#: How the form names each format (msgids).
FORMAT_NAMES = {
    "pdf": N_("PDF (to print or send)"),
    "xlsx": N_("XLSX (Excel: one sheet per section)"),
    "csv": N_("CSV (Excel, UTF-8)"),
    "html": N_("HTML (read it here in the browser)"),
}


@dataclass(frozen=True)
class ReportInfo:
    """One report the page offers, in the reader's language."""

    name: str
    title: str
    description: str


@dataclass(frozen=True)
class UnitChoice:
    """One unit of the form's picker, indented by its depth under the caller's top unit."""

    id: str
    name: str
    depth: int

    @property
    def indent(self) -> str:
        """What goes before the name in a ``<select>`` (options cannot be styled)."""
        return "\u00a0\u00a0\u00a0" * self.depth + ("└\u00a0" if self.depth else "")


@dataclass(frozen=True)
class ReportForm:
    """The form's values as typed (strings: shown back as they were when refused)."""

    report: str = ""
    unit: str = ""
    period: str = ""
    format: str = "pdf"
    lang: str = "vi"
    locations: bool = False


@dataclass(frozen=True)
class ReportRequest:
    """A checked request: a known report and format, a unit in scope, a parsed period."""

    report: str
    unit: str
    period: Period
    format: Format
    lang: str
    locations: bool


@dataclass(frozen=True)
class ArchivedReport:
    """One archive row as the page lists it."""

    id: int
    title: str
    unit: str
    period: str
    format: str
    language: str
    generated_at: datetime
    generated_by: str
    size: str
    sha256: str
    scheduled: bool


def offered(locale: str) -> list[ReportInfo]:
    """Every registered report with its title and description in ``locale``."""
    found = []
    for name in registry.names():
        definition = registry.get(name)
        found.append(
            ReportInfo(name, definition.title.get(locale), definition.description.get(locale))
        )
    return found


def unit_choices(request: Request, caller: Caller) -> list[UnitChoice]:
    """The units of the caller's scope in tree order, the caller's top unit at depth 0."""
    with reading(request) as s:
        tree = unit_tree(s, caller.principal.scope)
    top = min((depth for *_, depth in tree), default=0)
    return [UnitChoice(uid, name, depth - top) for uid, name, _kind, _parent, depth in tree]


def period_choices() -> list[str]:
    """Suggested periods: this and the last quarters, months and years (newest first)."""
    today = local_day(now())
    labels: list[str] = []
    for kind in ("quarter", "month", "year"):
        this = current(kind, today)
        labels.append(this.label)
        before = this
        for _ in range(3 if kind != "year" else 1):
            before = previous(kind, before.first)
            labels.append(before.label)
    return labels


def blank_form(caller: Caller, units: list[UnitChoice]) -> ReportForm:
    """The form as first shown: the caller's own unit, the current quarter, PDF, its language."""
    unit = caller.principal.unit_id or (units[0].id if units else "")
    return ReportForm(
        report="",
        unit=unit,
        period=current("quarter", local_day(now())).label,
        format="pdf",
        lang=caller.principal.locale,
    )


def form_of(request: Request, caller: Caller) -> ReportForm:
    """The form's values from the query string (missing ones: the defaults)."""
    params = request.query_params
    return ReportForm(
        report=(params.get("report") or "")[:64],
        unit=(params.get("unit") or "")[:64],
        period=(params.get("period") or "")[:40],
        format=(params.get("format") or "pdf")[:10],
        lang=(params.get("lang") or caller.principal.locale)[:10],
        locations=params.get("locations") in ("1", "on", "yes", "true"),
    )


def check(request: Request, caller: Caller, form: ReportForm) -> ReportRequest:
    """The request ``form`` asks for; :class:`InputError` (400) for a value the caller can fix,
    :class:`NotFound` (404) for a unit that is unknown or outside the caller's scope."""
    t = caller.t
    if form.report not in registry.names():
        raise InputError(t.gettext("Choose one of the reports listed on this page."))
    if form.format not in FORMATS:
        raise InputError(t.gettext("Choose a format: PDF, XLSX, CSV or HTML."))
    if form.lang not in LANGUAGES:
        raise InputError(t.gettext("Choose a language: Vietnamese or English."))
    if form.locations and not caller.principal.can(Permission.REPORTS_LOCATIONS):
        raise InputError(
            t.gettext("Only administrators may include locations and host names in a report.")
        )
    try:
        period = parse(form.period)
    except PeriodError:
        raise InputError(
            t.gettext(
                "%(value)s is not a period: write a year (2026), a quarter (2026-Q4), "
                "a month (2026-11), a week (2026-W48) or a day (2026-11-29).",
                value=form.period or "—",
            )
        ) from None
    if not form.unit or not caller.principal.sees(form.unit):
        raise NotFound
    with reading(request) as s:
        known = get_unit(s, form.unit) is not None
    if not known:
        raise NotFound
    fmt: Format = next(f for f in FORMATS if f == form.format)
    return ReportRequest(form.report, form.unit, period, fmt, form.lang, form.locations)


def make(request: Request, caller: Caller, wanted: ReportRequest) -> Generated:
    """Generate the report in one read transaction; a refusal of the definition is a 400."""
    settings = context(request).settings
    try:
        with reading(request) as s:
            made = generate(
                s,
                wanted.report,
                unit_id=wanted.unit,
                # generate() narrows it to the unit's subtree.
                scope=caller.principal.scope,
                period=wanted.period,
                fmt=wanted.format,
                lang=wanted.lang,
                now=now(),
                generated_by=caller.actor,
                show_locations=wanted.locations,
                settings=settings.reports,
            )
    except ReportError as exc:
        raise InputError(
            caller.t.gettext("The report could not be made: %(reason)s", reason=str(exc))
        ) from None
    details: dict[str, object] = {
        "report": wanted.report,
        "unit": wanted.unit,
        "period": wanted.period.label,
        "format": wanted.format,
        "language": wanted.lang,
        "locations": wanted.locations,
        "size": len(made.content),
        "sha256": made.sha256,
    }
    data_dir = context(request).settings.data_dir
    try:
        with transaction(request) as s:
            row = archive.save(s, data_dir, made, generated_by=caller.actor)
            details["archive_id"] = row.id
            _audit_generated(s, caller, wanted.unit, details, made)
    except archive.ArchiveError as exc:
        # The file was made: the officer gets it even when the archive's disk refuses it;
        # the audit entry says it was not kept, and the log says why.
        log.error("report not archived: %s", exc)
        details["archive_id"] = None
        with transaction(request) as s:
            _audit_generated(s, caller, wanted.unit, details, made)
    return made


def _audit_generated(
    s: Session, caller: Caller, unit: str, details: dict[str, object], made: Generated
) -> None:
    audit.record(
        s,
        caller.actor,
        "report.generated",
        f"unit:{unit}",
        details,
        at=made.generated_at,
        source=caller.address,
    )


def readable_name(made: Generated, unit_name: str) -> str:
    """``<title> - <unit> - <period>.<ext>`` in the report's language."""
    title = made.document.title.get(made.language)
    return f"{title} - {unit_name} - {made.period.label}.{made.format}"


def download(made: Generated) -> Response:
    """The report file as a download."""
    name = readable_name(made, made.document.header.unit_name or made.unit_id)
    return attachment(made.content, made.media_type, made.filename, name)


def archived(request: Request, caller: Caller, units: dict[str, str]) -> list[ArchivedReport]:
    """The newest archived reports of the caller's units."""
    t = caller.t
    titles = {r.name: r.title for r in offered(t.locale)}
    with reading(request) as s:
        rows = archive_store.list_rows(s, caller.principal.scope, limit=ARCHIVE_ROWS)
        return [
            ArchivedReport(
                id=row.id,
                title=titles.get(row.report, row.report),
                unit=units.get(row.unit_id or "", row.unit_id or t.gettext("whole district")),
                period=row.period,
                format=row.format,
                language=row.language,
                generated_at=row.generated_at,
                generated_by=row.generated_by,
                size=t.gettext("%(size)s kB", size=t.number(row.size_bytes / 1000, 1)),
                sha256=row.sha256,
                scheduled=row.schedule_id is not None,
            )
            for row in rows
        ]


def reports_page(
    request: Request,
    caller: Caller,
    *,
    form: ReportForm | None = None,
    schedule_form: ScheduleForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The Reports page: the reports, the form (refilled after a refusal), archive, schedules."""
    units = unit_choices(request, caller)
    shown = form if form is not None else blank_form(caller, units)
    unit_names = {u.id: u.name for u in units}
    reports = offered(caller.t.locale)
    principal = caller.principal
    shown_schedules = principal.can(Permission.SCHEDULES_READ)
    return page(
        request,
        caller,
        "reports.html",
        {
            "reports": reports,
            "units": units,
            "form": shown,
            "periods": period_choices(),
            "formats": FORMATS,
            "format_names": {f: caller.t.gettext(FORMAT_NAMES[f]) for f in FORMATS},
            "report_languages": LANGUAGES,
            "can_locations": caller.principal.can(Permission.REPORTS_LOCATIONS),
            "error": error,
            "archive": archived(request, caller, unit_names),
            "show_schedules": shown_schedules,
            "can_schedule": principal.can(Permission.SCHEDULES_MANAGE),
            "schedules": (
                listed(request, caller, {r.name: r.title for r in reports}, unit_names)
                if shown_schedules
                else []
            ),
            "schedule_form": schedule_form or ScheduleForm(unit=shown.unit, lang=shown.lang),
            "cadences": cadence_names(caller),
        },
        active="/reports",
        status=status,
    )


@router.get("/reports")
def reports(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The reports the caller may make, the form, the archive and the schedules."""
    return reports_page(request, caller)


@router.get("/reports/generate")
def generate_report(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """Make the report the form asks for: a download, or (HTML) the report in the browser.

    A value the caller can fix shows the page again with the reason (400).
    """
    form = form_of(request, caller)
    try:
        wanted = check(request, caller, form)
        made = make(request, caller, wanted)
    except InputError as exc:
        return reports_page(request, caller, form=form, error=str(exc), status=400)
    if made.format == "html":
        return html_view(made.content, made.media_type)
    return download(made)


@router.get("/reports/archive/{archive_id}")
def archived_file(
    request: Request,
    archive_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    caller: Annotated[Caller, Depends(reader())],
) -> Response:
    """An archived report, handed out only if it still matches its recorded SHA-256."""
    t = caller.t
    with reading(request) as s:
        row = archive_store.get(s, archive_id, caller.principal.scope)
        unit = get_unit(s, row.unit_id) if row is not None and row.unit_id else None
        unit_name = unit.name if unit is not None else t.gettext("whole district")
        if row is not None:
            s.expunge(row)
    if row is None:
        raise NotFound
    data_dir = context(request).settings.data_dir
    try:
        kept = archive.read_verified(data_dir, row)
    except archive.ArchiveError as exc:
        log.error("archived report refused: %s", exc)
        message = (
            t.gettext("This archived report no longer matches its SHA-256: it is not handed out.")
            if isinstance(exc, archive.ArchiveIntegrityError)
            else t.gettext("The file of this archived report is missing or unreadable.")
        )
        return reports_page(request, caller, error=message, status=409)
    with transaction(request) as s:
        audit.record(
            s,
            caller.actor,
            "report.downloaded",
            f"unit:{row.unit_id}",
            {"archive_id": row.id, "report": row.report, "period": row.period,
             "format": row.format, "sha256": row.sha256},
            at=now(),
            source=caller.address,
        )  # fmt: skip
    titles = {r.name: r.title for r in offered(row.language)}
    readable = f"{titles.get(row.report, row.report)} - {unit_name} - {row.period}.{row.format}"
    if row.format == "html":
        return html_view(kept.content, kept.media_type)
    return attachment(kept.content, kept.media_type, kept.filename, readable)
