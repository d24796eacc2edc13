"""Findings: the list with filters, and acknowledge / exempt, one at a time or in bulk."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from controller.auth import Permission
from controller.store import findings as findings_store
from controller.store.dashboard import (
    SEVERITIES,
    FindingPage,
    FindingQuery,
    QueryError,
    list_findings_view,
)
from controller.store.units import list_units_in
from controller.web.forms import end_of_day, finding_ids, page_number
from controller.web.policies import remediations, rule_titles
from controller.web.security import (
    Caller,
    InputError,
    NotFound,
    actor,
    now,
    reader,
    reading,
    transaction,
)
from controller.web.view import done, page

router = APIRouter()

#: The status filter's choices: a name for each set of statuses.
STATUS_CHOICES = {
    "live": ("open", "acknowledged"),
    "open": ("open",),
    "acknowledged": ("acknowledged",),
    "exempted": ("exempted",),
    "resolved": ("resolved",),
    "all": ("open", "acknowledged", "exempted", "resolved"),
}


def finding_query(request: Request, caller: Caller) -> FindingQuery:
    """The findings query of a request's query string (shared by the page and the API)."""
    params = request.query_params
    t = caller.t
    status = params.get("status") or "live"
    if status not in STATUS_CHOICES:
        raise InputError(t.gettext("Unknown status filter."))
    severity = params.get("severity") or ""
    if severity and severity not in SEVERITIES:
        raise InputError(t.gettext("Unknown severity."))
    unit = params.get("unit") or None
    if unit is not None and not caller.principal.sees(unit):
        raise NotFound
    query = FindingQuery(
        status=STATUS_CHOICES[status],
        severity=(severity,) if severity else (),
        rule=(params.get("rule") or "").strip().upper() or None,
        unit=unit,
        agent=params.get("agent") or None,
        q=(params.get("q") or "").strip()[:100] or None,
        sort=params.get("sort") or "severity",
        page=page_number(params.get("page"), t),
    )
    return query


def load_findings(request: Request, caller: Caller) -> FindingPage:
    """The page of findings the request asks for, in the caller's scope."""
    query = finding_query(request, caller)
    try:
        with reading(request) as s:
            return list_findings_view(s, caller.principal.scope, query)
    except QueryError as exc:
        raise InputError(str(exc)) from None


@router.get("/findings")
def findings_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """Findings with filters, per-row actions and bulk actions."""
    result = load_findings(request, caller)
    with reading(request) as s:
        units = [(u.id, u.name) for u in list_units_in(s, caller.principal.scope)]
    params = request.query_params
    return page(
        request,
        caller,
        "findings.html",
        {
            "result": result,
            "titles": rule_titles(request, caller.t.locale),
            "units": units,
            "severities": SEVERITIES,
            "status_choices": list(STATUS_CHOICES),
            "filters": {
                "status": params.get("status") or "live",
                "severity": params.get("severity") or "",
                "rule": params.get("rule") or "",
                "unit": params.get("unit") or "",
                "q": params.get("q") or "",
                "sort": params.get("sort") or "severity",
            },
            "can_act": caller.principal.can(Permission.FINDINGS_ACT),
            # Rules a Remediate link is offered for (the form checks the computer further).
            "remediable": set(remediations(request))
            if caller.principal.can(Permission.REMEDIATE)
            else set(),
            "query_string": _without_page(request),
        },
    )


def _without_page(request: Request) -> str:
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "done")]
    return urlencode(items)


def _back(request: Request, fallback: str = "/findings") -> str:
    """Where to return after an action: the list the caller came from (same site only)."""
    referer = request.headers.get("referer") or ""
    base = f"{request.url.scheme}://{request.url.netloc}"
    if referer.startswith(base + "/"):
        path = referer[len(base) :]
        return path.split("&done=")[0].split("?done=")[0]
    return fallback


def change_findings(
    request: Request,
    caller: Caller,
    ids: list[int],
    *,
    reason: str | None = None,
    until: datetime | None = None,
) -> None:
    """Acknowledge (no ``until``) or exempt the findings ``ids`` in one transaction."""
    scope = caller.principal.scope
    try:
        with transaction(request) as s:
            for finding_id in ids:
                if until is None:
                    findings_store.acknowledge(
                        s, finding_id, caller.actor, now(), scope=scope, source=caller.address
                    )
                else:
                    findings_store.exempt(
                        s, finding_id, caller.actor, reason or "", until, now(),
                        scope=scope, source=caller.address,
                    )  # fmt: skip
    except findings_store.FindingNotFoundError:
        raise NotFound from None
    except findings_store.FindingError as exc:
        raise InputError(_explain(caller, exc)) from None


def _explain(caller: Caller, exc: findings_store.FindingError) -> str:
    t = caller.t
    text = str(exc)
    if "needs a reason" in text:
        return t.gettext("An exemption needs a reason.")
    if "in the future" in text:
        return t.gettext("An exemption must end in the future.")
    if "nothing to change" in text:
        return t.gettext("This finding is already closed.")
    return text


@router.post("/findings/{finding_id}/ack")
def acknowledge(
    request: Request,
    finding_id: int,
    caller: Annotated[Caller, Depends(actor(Permission.FINDINGS_ACT))],
) -> Response:
    """Acknowledge one finding: someone is on it."""
    change_findings(request, caller, [finding_id])
    return done(_back(request), "acknowledged")


@router.post("/findings/{finding_id}/exempt")
def exempt(
    request: Request,
    finding_id: int,
    caller: Annotated[Caller, Depends(actor(Permission.FINDINGS_ACT))],
    reason: Annotated[str, Form(max_length=1000)] = "",
    until: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Exempt one finding until the end of a day, with a reason."""
    change_findings(request, caller, [finding_id], reason=reason, until=end_of_day(until, caller.t))
    return done(_back(request), "exempted")


@router.post("/findings/bulk")
def bulk(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.FINDINGS_ACT))],
    action: Annotated[str, Form(max_length=20)] = "",
    ids: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form(max_length=1000)] = "",
    until: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Acknowledge or exempt the selected findings; all or none change."""
    t = caller.t
    selected = finding_ids(ids or [], t)
    if not selected:
        return done(_back(request), "nothing_selected")
    if action not in ("ack", "exempt"):
        raise InputError(t.gettext("Choose an action."))
    end = end_of_day(until, t) if action == "exempt" else None
    change_findings(request, caller, selected, reason=reason, until=end)
    return done(_back(request), "bulk_done")
