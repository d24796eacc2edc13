"""The routes agents talk to: CA bootstrap, enrollment, signed reports, health.

Thin on purpose: each route reads the request, calls one domain function
(:mod:`controller.enrollment`, :mod:`controller.ingest`) and renders its answer.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Final

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from agent.envelope import HEADER as ENVELOPE_HEADER
from agent.wire import API_PREFIX, CLOCK_HEADER, SETTINGS_HEADER, EnrollRequest
from controller.api import (
    ApiError,
    Context,
    context,
    error_response,
    json_response,
    read_body,
    unavailable_response,
)
from controller.enrollment import enroll_committed
from controller.ingest import parse_envelope
from controller.store.db import is_unavailable

log = logging.getLogger(__name__)

#: An enrollment request is a few hundred bytes; anything near this is not one.
ENROLL_MAX_BYTES: Final = 64 * 1024

_ENROLL_DECODER = msgspec.json.Decoder(EnrollRequest)
PEM: Final = "application/x-pem-file"

router = APIRouter(prefix=API_PREFIX)


@router.get("/ca")
async def get_ca(request: Request) -> Response:
    """The controller CA certificate (PEM), for the agent's fingerprint-checked bootstrap."""
    ca_pem = context(request).ca_pem
    if ca_pem is None:
        return error_response(404, "no_ca", "This controller has no CA certificate.")
    return Response(ca_pem, media_type=PEM)


@router.post("/enroll")
async def post_enroll(request: Request) -> Response:
    """Enroll an agent: 201 active, 202 pending approval, 401/409/422 refused."""
    ctx = context(request)
    body = await read_body(request, ENROLL_MAX_BYTES)
    try:
        enroll_request = _ENROLL_DECODER.decode(body)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid_request", f"Invalid enrollment request: {exc}.") from exc
    except msgspec.DecodeError as exc:
        raise ApiError(422, "invalid_request", "The enrollment request is not JSON.") from exc
    now = datetime.now(UTC)
    outcome = await asyncio.to_thread(
        enroll_committed, ctx.sessions, enroll_request, now, ctx.settings
    )
    return json_response(outcome.http_status, outcome.reply())


@router.post("/reports")
async def post_report(request: Request) -> Response:
    """Take one signed report (gzip JSON body, ``GG-Envelope`` header); 200 after the commit."""
    ctx = context(request)
    ingest = ctx.ingest
    if ingest is None:
        return error_response(404, "not_found", "Reports are not taken on this listener.")
    headers = request.headers
    env = parse_envelope(headers.get(ENVELOPE_HEADER))
    body = await read_body(request, ingest.limits.max_body_bytes)
    outcome = await ingest.accept(env, body, clock_header=headers.get(CLOCK_HEADER))
    reply: dict[str, object] = {"status": outcome, "seq": env.seq}
    # Settings only when the agent's copy is stale: most heartbeats get a 30-byte answer.
    if headers.get(SETTINGS_HEADER, "").strip() != ctx.settings_version:
        reply["settings"] = ctx.agent_settings
    return json_response(200, reply)


@router.get("/health")
async def get_health(request: Request) -> Response:
    """200 when this process can reach its database, 503 otherwise (for load balancers)."""
    ctx = context(request)
    try:
        await asyncio.to_thread(_ping, ctx)
    except Exception as exc:
        if is_unavailable(exc):
            return unavailable_response()
        raise
    return json_response(200, {"status": "ok"})


def _ping(ctx: Context) -> None:
    # Checking a connection out of the pool pings it (pool_pre_ping) and fails when the
    # database is down; no query of our own is needed.
    with ctx.engine.connect():
        pass
