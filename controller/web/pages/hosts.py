"""Computers: the list (filters, search, sort, pages), its CSV export, and one computer's page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response, StreamingResponse

from controller.api import context
from controller.auth import Permission
from controller.charts import status_strip
from controller.csvcells import BOM, safe_text
from controller.remediation.model import ISOLATION_PLAYBOOK
from controller.store.dashboard import (
    HostDetail,
    HostPage,
    HostQuery,
    QueryError,
    host_detail,
    iter_hosts_csv,
    list_hosts,
)
from controller.store.dashboard.remediation import host_jobs
from controller.store.dashboard.remediation_subjects import host_subject
from controller.store.discovery_queries import host_locations
from controller.store.units import list_units_in
from controller.web.forms import page_number
from controller.web.pages.remediation import offered
from controller.web.policies import remediations, rule_titles
from controller.web.security import Caller, InputError, NotFound, now, reader, reading
from controller.web.view import page

router = APIRouter()

#: How far back a host page looks for the switch ports its computer was seen on.
LOCATION_HISTORY = timedelta(days=30)
#: Filters the list understands (query-string names).
FILTERS = ("unit", "os", "rule", "state", "outcome", "q", "classified", "sort")


def host_query(request: Request, caller: Caller) -> HostQuery:
    """The hosts query of a request's query string (shared by the page, CSV and API)."""
    params = request.query_params
    unit = params.get("unit") or None
    if unit is not None and not caller.principal.sees(unit):
        raise NotFound
    classified = params.get("classified") or ""
    if classified not in ("", "yes", "no"):
        raise InputError(caller.t.gettext("Unknown value of the classified filter."))
    return HostQuery(
        unit=unit,
        os=params.get("os") or None,
        rule=(params.get("rule") or "").strip().upper() or None,
        state=params.get("state") or None,
        outcome=params.get("outcome") or None,
        q=(params.get("q") or "").strip() or None,
        classified=None if not classified else classified == "yes",
        sort=params.get("sort") or "hostname",
        page=page_number(params.get("page"), caller.t),
        now=now(),
    )


def load_hosts(request: Request, caller: Caller) -> HostPage:
    """The page of computers the request asks for, in the caller's scope."""
    query = host_query(request, caller)
    try:
        with reading(request) as s:
            return list_hosts(s, caller.principal.scope, query)
    except QueryError as exc:
        raise InputError(str(exc)) from None


def load_host(request: Request, caller: Caller, agent_id: str) -> HostDetail:
    """One computer of the caller's scope (unknown and out of scope: the same 404)."""
    with reading(request) as s:
        detail = host_detail(s, caller.principal.scope, agent_id[:200], now=now())
    if detail is None:
        raise NotFound
    return detail


@router.get("/hosts")
def hosts_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The computers of the caller's units."""
    result = load_hosts(request, caller)
    with reading(request) as s:
        units = [(u.id, u.name) for u in list_units_in(s, caller.principal.scope)]
    params = request.query_params
    filters = {name: params.get(name) or "" for name in FILTERS}
    kept = [(k, v) for k, v in params.multi_items() if k in FILTERS and v]
    return page(
        request,
        caller,
        "hosts.html",
        {
            "result": result,
            "units": units,
            "filters": filters,
            "query_string": urlencode(kept),
            "sort_links": _sort_links(kept, filters["sort"] or "hostname"),
        },
    )


def _sort_links(kept: list[tuple[str, str]], current: str) -> dict[str, str]:
    """For each sortable column, the query string that sorts by it (again: the other way)."""
    base = [(k, v) for k, v in kept if k != "sort"]
    links = {}
    for column in ("hostname", "unit", "os", "last_seen", "findings"):
        target = f"-{column}" if current == column else column
        links[column] = urlencode([*base, ("sort", target)])
    return links


def _csv_lines(rows: Iterator[list[str]]) -> Iterator[bytes]:
    yield BOM.encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        # Agent-supplied text must never run as a formula in Excel.
        writer.writerow([safe_text(v) for v in row])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()


@router.get("/hosts.csv")
def hosts_csv(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """Every computer matching the filters (no pages), as CSV for Excel."""
    query = host_query(request, caller)
    session = context(request).sessions()
    lines = iter_hosts_csv(session, caller.principal.scope, query)
    try:
        # The first line comes before the response starts: a bad filter is a 400, not a
        # cut-off file.
        header = next(lines)
    except QueryError as exc:
        session.close()
        raise InputError(str(exc)) from None

    def rows() -> Iterator[list[str]]:
        # The session lives as long as the download streams.
        try:
            yield header
            yield from lines
        finally:
            session.close()

    stamp = now().strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        _csv_lines(rows()),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="govguard-hosts-{stamp}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/hosts/{agent_id}")
def host_page(
    request: Request, agent_id: str, caller: Annotated[Caller, Depends(reader())]
) -> Response:
    """Everything known about one computer."""
    detail = load_host(request, caller, agent_id)
    t = caller.t
    moment = now()
    with reading(request) as s:
        locations = host_locations(s, [detail.agent_id], since=moment - LOCATION_HISTORY)
        asset_id = detail.asset.id if detail.asset is not None else None
        history = host_jobs(s, caller.principal.scope, detail.agent_id, asset_id)
        # The workflow's own idea of "classified" (an asset for secret use counts too).
        subject = host_subject(s, caller.principal.scope, detail.agent_id)
    rules = remediations(request)
    classified = subject.classified if subject is not None else True
    failing = subject.failing if subject is not None else ()
    stale = timedelta(seconds=context(request).settings.snmp.sighting_stale_s)
    strip = status_strip(
        [(t.datetime(p.at), p.internet) for p in detail.connectivity_history],
        title=t.gettext("Internet reachability, one cell per report"),
        legend=(t.gettext("reachable"), t.gettext("unreachable"), t.gettext("unknown")),
    )
    lan_strip = status_strip(
        [(t.datetime(p.at), p.lan) for p in detail.connectivity_history],
        title=t.gettext("LAN reachability, one cell per report"),
        legend=(t.gettext("reachable"), t.gettext("unreachable"), t.gettext("unknown")),
    )
    return page(
        request,
        caller,
        "host.html",
        {
            "h": detail,
            "titles": rule_titles(request, t.locale),
            "internet_strip": strip,
            "lan_strip": lan_strip,
            # A computer moved between ports shows each; the newest first, three at most.
            "locations": locations.get(detail.agent_id, [])[:3],
            "located_since": moment - stale,
            # Remediation: this computer's jobs, and the failing rules a job may fix here.
            "remediation_history": history,
            "remedies": offered(rules, failing, classified),
            "remediable": {
                rule_id
                for rule_id, r in rules.items()
                if not classified or r.playbook == ISOLATION_PLAYBOOK
            },
            "can_remediate": caller.principal.can(Permission.REMEDIATE),
        },
        active="/hosts",
    )
