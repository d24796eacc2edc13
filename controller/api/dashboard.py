"""``/api/v1`` reads of the dashboard: overview, units, computers (list, one), as JSON.

The same parsing and read models as the pages (:mod:`controller.web.pages.overview`,
:mod:`controller.web.pages.hosts`), the same unit scope; dataclasses are encoded as they are.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from controller.api import json_response
from controller.web.pages.hosts import load_host, load_hosts
from controller.web.pages.overview import load_overview
from controller.web.security import Caller, reader

router = APIRouter(prefix="/api/v1")


@router.get("/overview")
def get_overview(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The overview of the caller's units."""
    return json_response(200, load_overview(request, caller))


@router.get("/units")
def get_units(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The caller's units in tree order, with their figures."""
    return json_response(200, {"units": load_overview(request, caller).units})


@router.get("/hosts")
def get_hosts(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """A page of computers: the page's query parameters."""
    return json_response(200, load_hosts(request, caller))


@router.get("/hosts/{agent_id}")
def get_host(
    request: Request, agent_id: str, caller: Annotated[Caller, Depends(reader())]
) -> Response:
    """One computer (404 when unknown or outside the caller's units)."""
    return json_response(200, load_host(request, caller, agent_id))
