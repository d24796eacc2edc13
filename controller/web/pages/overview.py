"""The overview (compliance by unit, findings, classified computers, e-government figures) and
the units tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from controller.charts import Point, line_chart
from controller.store.dashboard import Overview, overview
from controller.web.security import Caller, now, reader, reading
from controller.web.view import page

router = APIRouter()


def load_overview(request: Request, caller: Caller) -> Overview:
    """The overview of the caller's units (shared by the page and the API)."""
    with reading(request) as s:
        return overview(s, caller.principal.scope, now=now())


def _trend_chart(data: Overview, caller: Caller) -> object:
    t = caller.t
    points = [Point(t.date(p.day, "short"), p.compliance.rate) for p in data.trend]
    return line_chart(points, title=t.gettext("Compliance over the last 30 days"))


@router.get("/")
def overview_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """What needs attention first: sightings, then units behind, findings, figures."""
    data = load_overview(request, caller)
    return page(
        request,
        caller,
        "overview.html",
        {
            "o": data,
            "sighted": [c for c in data.classified if c.status == "sighted"],
            "trend_chart": _trend_chart(data, caller) if data.trend else None,
        },
        active="/",
    )


@router.get("/units")
def units_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The units of the caller's scope as a tree, with hosts and compliance of each subtree."""
    data = load_overview(request, caller)
    return page(request, caller, "units.html", {"o": data}, active="/units")
