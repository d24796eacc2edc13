"""The Network page: polled devices, one device's ports and MAC table, the MAC search, printers
with their toner, switch port shutdowns, and "poll now".

The web process never polls: it holds no SNMP secrets (ARCHITECTURE.md). "Poll now" only asks
for a round (``jobs.request``) that ``govguard worker`` takes; approving a port shutdown is
:mod:`controller.web.pages.ports`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from controller.api import context
from controller.auth import Permission
from controller.discovery import enforcement
from controller.store import audit, jobs
from controller.store.dashboard import QueryError
from controller.store.dashboard.network import (
    DEVICE_SORTS,
    OPEN_ACTION_STATES,
    POLL_STATUSES,
    ROUND_JOB,
    DeviceQuery,
    count_open_port_actions,
    device_ports,
    get_device,
    list_devices,
    list_port_actions,
    list_printers,
    round_state,
)
from controller.store.dashboard.network_macs import (
    MAC_SORTS,
    MacHistory,
    device_macs,
    search_mac,
)
from controller.store.units import list_units_in
from controller.web.forms import page_number
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

#: Who may ask for a round: operators and administrators (as for acting on findings).
ACT = Permission.FINDINGS_ACT
#: Who gets the Approve / Reject / Undo buttons (the routes of pages/ports.py check it again).
PORTS = Permission.PORTS_MANAGE
#: The devices list's query-string filters.
DEVICE_FILTERS = ("unit", "kind", "status", "q", "sort")
#: MACs per page of a device's table (a core switch can show thousands).
MACS_PER_PAGE = 100


def _can_locations(caller: Caller) -> bool:
    return caller.principal.can(Permission.REPORTS_LOCATIONS)


def _sort_links(
    kept: list[tuple[str, str]], current: str, columns: tuple[str, ...]
) -> dict[str, str]:
    """For each sortable column, the query string that sorts by it (again: the other way)."""
    base = [(k, v) for k, v in kept if k not in ("sort", "page", "done")]
    return {
        column: urlencode([*base, ("sort", f"-{column}" if current == column else column)])
        for column in columns
    }


def _tabs_context(request: Request, caller: Caller) -> dict[str, object]:
    with reading(request) as s:
        pending = count_open_port_actions(s, caller.principal.scope)
    return {"pending_actions": pending}


@router.get("/network")
def network_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The network devices of the caller's units, their last poll, and what waits for approval."""
    params = request.query_params
    t = caller.t
    unit = params.get("unit") or None
    if unit is not None and not caller.principal.sees(unit):
        raise NotFound
    status = params.get("status") or None
    if status is not None and status not in POLL_STATUSES:
        raise InputError(t.gettext("Unknown poll status."))
    sort = params.get("sort") or "name"
    query = DeviceQuery(
        unit=unit,
        kind=(params.get("kind") or "").strip()[:40] or None,
        status=status,
        q=(params.get("q") or "").strip()[:200] or None,
        sort=sort,
        page=page_number(params.get("page"), t),
    )
    scope = caller.principal.scope
    try:
        with reading(request) as s:
            result = list_devices(s, scope, query)
            units = [(u.id, u.name) for u in list_units_in(s, scope)]
            actions = list_port_actions(
                s, scope, buttons=enforcement.buttons, states=OPEN_ACTION_STATES, limit=50
            )
            job = round_state(s, now())
    except QueryError as exc:
        raise InputError(str(exc)) from None
    kept = [(k, v) for k, v in params.multi_items() if k in DEVICE_FILTERS and v]
    return page(
        request,
        caller,
        "network.html",
        {
            **_tabs_context(request, caller),
            "tab": "devices",
            "result": result,
            "units": units,
            "filters": {name: params.get(name) or "" for name in DEVICE_FILTERS},
            "query_string": urlencode(kept),
            "sort_links": _sort_links(kept, sort, DEVICE_SORTS),
            "actions": actions,
            "job": job,
            "interval_s": context(request).settings.snmp.interval_s,
            "can_poll": caller.principal.can(ACT),
            "can_act": caller.principal.can(PORTS),
            "now": now(),
        },
    )


@router.post("/network/poll")
def poll_now(request: Request, caller: Annotated[Caller, Depends(actor(ACT))]) -> Response:
    """Ask the worker for an SNMP round as soon as it can; audited. Nothing is polled here."""
    at = now()
    with transaction(request) as s:
        jobs.request(s, ROUND_JOB, at)
        audit.record(
            s, caller.actor, "snmp.round_requested", f"job:{ROUND_JOB}", at=at,
            source=caller.address,
        )  # fmt: skip
    return done("/network", "poll_requested")


@router.get("/network/devices/{device_id}")
def device_page(
    request: Request, device_id: str, caller: Annotated[Caller, Depends(reader())]
) -> Response:
    """One device: its last poll, its ports, its MAC table (with whose each MAC is)."""
    params = request.query_params
    t = caller.t
    scope = caller.principal.scope
    snmp = context(request).settings.snmp
    moment = now()
    sort = params.get("sort") or "port"
    port = params.get("port") or None
    try:
        with reading(request) as s:
            device = get_device(s, scope, device_id[:200])
            if device is None:
                raise NotFound
            ports = device_ports(s, device.id)
            macs = device_macs(
                s,
                scope,
                device.id,
                since=moment - timedelta(seconds=snmp.sighting_stale_s),
                show_locations=_can_locations(caller),
                port=port,
                sort=sort,
                page=page_number(params.get("page"), t),
                per_page=MACS_PER_PAGE,
            )
            actions = list_port_actions(
                s, scope, buttons=enforcement.buttons, device_id=device.id, limit=50
            )
    except QueryError as exc:
        raise InputError(str(exc)) from None
    kept = [(k, v) for k, v in params.multi_items() if k in ("port", "sort") and v]
    return page(
        request,
        caller,
        "network_device.html",
        {
            **_tabs_context(request, caller),
            "tab": "devices",
            "d": device,
            "ports": ports,
            "macs": macs,
            "result": macs,
            "port_filter": port or "",
            "query_string": urlencode(kept),
            "sort_links": _sort_links(kept, sort, MAC_SORTS),
            "actions": actions,
            "can_act": caller.principal.can(PORTS),
            "now": moment,
        },
        active="/network",
    )


@router.get("/network/macs")
def mac_search_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """Where a MAC address (or the MACs with its first digits) was seen, with the history."""
    text = (request.query_params.get("mac") or "").strip()[:60]
    snmp = context(request).settings.snmp
    moment = now()
    results: tuple[MacHistory, ...] = ()
    if text:
        try:
            with reading(request) as s:
                results = search_mac(
                    s,
                    caller.principal.scope,
                    text,
                    since=moment - timedelta(seconds=snmp.sighting_stale_s),
                    show_locations=_can_locations(caller),
                )
        except QueryError:
            raise InputError(
                caller.t.gettext(
                    "%(value)s is not a MAC address: write it like aa:bb:cc:dd:ee:ff, or its "
                    "first digits (at least four).",
                    value=text[:40],
                )
            ) from None
    return page(
        request,
        caller,
        "network_macs.html",
        {
            **_tabs_context(request, caller),
            "tab": "macs",
            "mac": text,
            "results": results,
            "now": moment,
        },
        active="/network",
    )


@router.get("/network/printers")
def printers_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """Network printers per office: status, errors, pages, toner per colour."""
    params = request.query_params
    unit = params.get("unit") or None
    if unit is not None and not caller.principal.sees(unit):
        raise NotFound
    low_percent = context(request).settings.snmp.toner_low_percent
    try:
        with reading(request) as s:
            result = list_printers(
                s,
                caller.principal.scope,
                unit=unit,
                low_percent=low_percent,
                page=page_number(params.get("page"), caller.t),
            )
            units = [(u.id, u.name) for u in list_units_in(s, caller.principal.scope)]
    except QueryError as exc:
        raise InputError(str(exc)) from None
    return page(
        request,
        caller,
        "network_printers.html",
        {
            **_tabs_context(request, caller),
            "tab": "printers",
            "result": result,
            "units": units,
            "unit": unit or "",
            "low_percent": low_percent,
            "query_string": urlencode([("unit", unit)] if unit else []),
            "now": now(),
        },
        active="/network",
    )


@router.get("/network/ports")
def port_actions_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """Switch port shutdowns: waiting for approval first, then what was done, newest first."""
    with reading(request) as s:
        actions = list_port_actions(
            s, caller.principal.scope, buttons=enforcement.buttons, limit=200
        )
    return page(
        request,
        caller,
        "network_ports.html",
        {
            **_tabs_context(request, caller),
            "tab": "ports",
            "actions": actions,
            "can_act": caller.principal.can(PORTS),
        },
        active="/network",
    )
