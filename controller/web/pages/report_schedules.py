"""Report schedules on the Reports page: operators and administrators see them, administrators
add, pause, resume and remove them, all through :mod:`controller.reports.schedules` (the checks
and audit entries of ``govguard report schedule``), within the caller's unit scope.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from controller.api import context
from controller.auth import Permission
from controller.reports import schedules
from controller.reports.base import ReportError
from controller.store import report_schedules as schedule_store
from controller.store.models import ReportSchedule
from controller.web.i18n import N_
from controller.web.security import Caller, InputError, NotFound, actor, now, reading, transaction
from controller.web.view import done

router = APIRouter()
MANAGE = Permission.SCHEDULES_MANAGE
#: A schedule id in a path: the database's integer range (a larger one is a 400, not a 500).
ScheduleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_SEPARATORS = re.compile(r"[\s,;]+")
#: How the page names each cadence (msgids).
CADENCE_NAMES = {
    "daily": N_("daily (the day before)"),
    "weekly": N_("weekly (the week before)"),
    "monthly": N_("monthly (the month before)"),
    "quarterly": N_("quarterly (the quarter before)"),
}


@dataclass(frozen=True)
class ScheduleView:
    """One schedule as the page lists it."""

    id: int
    report: str
    unit: str
    cadence: str
    format: str
    language: str
    recipients: tuple[str, ...]
    show_locations: bool
    enabled: bool
    last_period: str | None
    last_run_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class ScheduleForm:
    """The add form's values (shown back as they were when refused)."""

    report: str = ""
    unit: str = ""
    cadence: str = "monthly"
    format: str = "pdf"
    lang: str = "vi"
    recipients: str = ""
    locations: bool = False


def cadence_names(caller: Caller) -> dict[str, str]:
    """Each cadence in the caller's language, in the order offered."""
    return {code: caller.t.gettext(CADENCE_NAMES[code]) for code in schedules.CADENCES}


def listed(
    request: Request, caller: Caller, titles: dict[str, str], units: dict[str, str]
) -> list[ScheduleView]:
    """The schedules of the caller's units (a schedule of the whole organisation: only to
    accounts of the whole district)."""
    names = cadence_names(caller)
    with reading(request) as s:
        rows = [r for r in schedule_store.list_all(s) if caller.principal.sees(r.unit_id)]
        return [
            ScheduleView(
                id=r.id,
                report=titles.get(r.report, r.report),
                unit=units.get(r.unit_id or "", r.unit_id or caller.t.gettext("whole district")),
                cadence=names.get(r.cadence, r.cadence),
                format=r.format,
                language=r.language,
                recipients=tuple(r.recipients),
                show_locations=r.show_locations,
                enabled=r.enabled,
                last_period=r.last_period,
                last_run_at=r.last_run_at,
                last_error=r.last_error,
            )
            for r in rows
        ]


def recipients_of(text: str) -> tuple[str, ...]:
    """The recipients typed into the form: one per line, or separated by commas."""
    return tuple(part for part in _SEPARATORS.split(text) if part)


def refused(caller: Caller, exc: ReportError) -> InputError:
    """A refusal of the schedules module as the page shows it (the reason is English)."""
    return InputError(caller.t.gettext("The schedule was refused: %(reason)s", reason=str(exc)))


def add(request: Request, caller: Caller, form: ScheduleForm) -> None:
    """Add the schedule ``form`` describes, for a unit of the caller's scope."""
    if not form.unit or not caller.principal.sees(form.unit):
        raise NotFound
    if form.locations and not caller.principal.can(Permission.REPORTS_LOCATIONS):
        raise InputError(
            caller.t.gettext(
                "Only administrators may include locations and host names in a report."
            )
        )
    new = schedules.NewSchedule(
        report=form.report,
        unit_id=form.unit,
        cadence=form.cadence,
        format=form.format,
        language=form.lang,
        recipients=recipients_of(form.recipients),
        show_locations=form.locations,
    )
    notify = context(request).settings.notify
    try:
        with transaction(request) as s:
            schedules.create(
                s, new, notify=notify, created_by=caller.actor, now=now(), source=caller.address
            )
    except ReportError as exc:
        raise refused(caller, exc) from None


def change(
    request: Request, caller: Caller, schedule_id: int, apply: Callable[[Session], object]
) -> None:
    """Apply one change to a schedule of the caller's scope (any other: 404)."""
    with transaction(request) as s:
        row: ReportSchedule | None = schedule_store.get(s, schedule_id)
        if row is None or not caller.principal.sees(row.unit_id):
            raise NotFound
        apply(s)


@router.post("/reports/schedules")
def add_schedule(
    request: Request,
    caller: Annotated[Caller, Depends(actor(MANAGE))],
    report: Annotated[str, Form(max_length=64)] = "",
    unit: Annotated[str, Form(max_length=64)] = "",
    cadence: Annotated[str, Form(max_length=20)] = "",
    format: Annotated[str, Form(max_length=10)] = "",
    lang: Annotated[str, Form(max_length=10)] = "vi",
    recipients: Annotated[str, Form(max_length=4000)] = "",
    locations: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Add a schedule; a refusal shows the page again with the reason (400)."""
    # Imported here: the page module imports this one for the list of schedules.
    from controller.web.pages.reports import reports_page

    form = ScheduleForm(report, unit, cadence, format, lang, recipients, locations == "1")
    try:
        add(request, caller, form)
    except InputError as exc:
        return reports_page(request, caller, schedule_form=form, error=str(exc), status=400)
    return done("/reports", "schedule_added")


@router.post("/reports/schedules/{schedule_id}/disable")
def disable_schedule(
    request: Request, caller: Annotated[Caller, Depends(actor(MANAGE))], schedule_id: ScheduleId
) -> Response:
    """Pause a schedule: it sends nothing until resumed."""
    change(request, caller, schedule_id, lambda s: schedules.set_enabled(
        s, schedule_id, False, actor=caller.actor, now=now(), source=caller.address))  # fmt: skip
    return done("/reports", "schedule_disabled")


@router.post("/reports/schedules/{schedule_id}/enable")
def enable_schedule(
    request: Request, caller: Annotated[Caller, Depends(actor(MANAGE))], schedule_id: ScheduleId
) -> Response:
    """Resume a paused schedule (its next run reports on the last whole period)."""
    change(request, caller, schedule_id, lambda s: schedules.set_enabled(
        s, schedule_id, True, actor=caller.actor, now=now(), source=caller.address))  # fmt: skip
    return done("/reports", "schedule_enabled")


@router.post("/reports/schedules/{schedule_id}/remove")
def remove_schedule(
    request: Request, caller: Annotated[Caller, Depends(actor(MANAGE))], schedule_id: ScheduleId
) -> Response:
    """Remove a schedule; the reports it archived stay in the archive."""
    change(request, caller, schedule_id, lambda s: schedules.remove(
        s, schedule_id, actor=caller.actor, now=now(), source=caller.address))  # fmt: skip
    return done("/reports", "schedule_removed")
