"""Audit log: who did what to which object, filtered and paginated (50 entries a page).

A scoped account reads the entries of its units only (the rule is
:func:`controller.store.dashboard.list_audit`'s).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from controller.auth import Permission
from controller.store import audit
from controller.store.dashboard import AuditPage, list_audit
from controller.web.i18n import TIME_ZONE
from controller.web.security import Caller, InputError, reader, reading
from controller.web.view import page

router = APIRouter()
PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilter:
    """The filters of the audit page, as typed (dates: YYYY-MM-DD in Vietnam time)."""

    actor: str = ""
    action: str = ""
    since: str = ""
    until: str = ""
    page: int = 1

    def query(self, page: int) -> str:
        """The query string of page ``page`` with the same filters."""
        values = {"actor": self.actor, "action": self.action, "since": self.since,
                  "until": self.until}  # fmt: skip
        kept = {k: v for k, v in values.items() if v}
        kept["page"] = str(page)
        return urlencode(kept)


def _day(caller: Caller, text: str, *, end: bool) -> dt.datetime | None:
    """The start of day ``text`` in Vietnam (the next day's start for an ``end`` date)."""
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(
            caller.t.gettext("Dates are written YYYY-MM-DD, e.g. 2026-11-29.")
        ) from None
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), tzinfo=TIME_ZONE).astimezone(dt.UTC)


def audit_page_data(
    request: Request, caller: Caller, f: AuditFilter
) -> tuple[AuditPage, list[str]]:
    """One page of entries the caller may read, and the known actions (for the filter)."""
    since = _day(caller, f.since.strip(), end=False)
    until = _day(caller, f.until.strip(), end=True)
    with reading(request) as s:
        found = list_audit(
            s,
            caller.principal.scope,
            actor=f.actor.strip() or None,
            action=f.action.strip() or None,
            since=since,
            until=until,
            page=max(1, f.page),
            per_page=PAGE_SIZE,
        )
        choices = audit.actions(s)
    return found, choices


@router.get("/audit")
def audit_page(
    request: Request,
    caller: Annotated[Caller, Depends(reader(Permission.AUDIT_READ))],
    actor: Annotated[str, Query(max_length=200)] = "",
    action: Annotated[str, Query(max_length=100)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1,
) -> Response:
    """The audit log, newest first."""
    f = AuditFilter(actor, action, since, until, page_number)
    found, choices = audit_page_data(request, caller, f)
    return page(
        request,
        caller,
        "audit.html",
        {"found": found, "f": f, "choices": choices},
        active="/audit",
    )
