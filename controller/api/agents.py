"""The routes agents talk to: CA bootstrap, enrollment, signed reports, health.

Thin on purpose: each route reads the request, calls one domain function
(:mod:`controller.enrollment`, :mod:`controller.ingest`) and renders its answer.

``POST /api/v1/reports`` is the hot path (thousands of PCs, one heartbeat every 5 minutes each)
and is served by :class:`ReportEndpoint`, a bare ASGI handler the application calls before
FastAPI's routing, dependency and middleware layers: measured, those layers cost about 0.3 ms of
event-loop time per heartbeat, more than verifying its signature. The FastAPI route of the same
path stays for anything the bare handler does not take (other methods get FastAPI's JSON 405).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Final

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from agent.envelope import HEADER as ENVELOPE_HEADER
from agent.wire import API_PREFIX, CLOCK_HEADER, SETTINGS_HEADER, EnrollRequest
from controller.api import (
    ApiError,
    Context,
    context,
    error_response,
    json_response,
    read_body,
    render_error,
    unavailable_response,
)
from controller.enrollment import enroll_committed
from controller.ingest import Ingest, IngestError, ReportNow, parse_envelope
from controller.metrics import LiveMetrics
from controller.store.db import is_unavailable
from controller.store.reports import Accepted

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
        enroll_committed, ctx.sessions, enroll_request, now, ctx.settings, ctx.on_opened
    )
    return json_response(outcome.http_status, outcome.reply())


def report_reply(
    ctx: Context, outcome: Accepted | ReportNow, seq: int, settings_header: str | None
) -> bytes | None:
    """The answer body to an accepted report; None for ``204 No Content``.

    A report stored while the agent's settings are current needs no answer beyond its status:
    204 and no body, 39 bytes less on each of ~288 heartbeats a day than a JSON 200 (commune
    links). A duplicate, or an agent with outdated settings, gets the JSON 200
    (:class:`agent.wire.IngestReply`) with the settings when they are needed, and
    ``report_now`` when a remediation waits for the agent's fresh report (issue 8).
    """
    current = (settings_header or "").strip() == ctx.settings_version
    report_now = isinstance(outcome, ReportNow)
    status = outcome.outcome if isinstance(outcome, ReportNow) else outcome
    if status == "stored" and current and not report_now:
        return None
    reply: dict[str, object] = {"status": status, "seq": seq}
    if not current:
        reply["settings"] = ctx.agent_settings
    if report_now:
        reply["report_now"] = True
    return msgspec.json.encode(reply)


@router.post("/reports")
async def post_report(request: Request) -> Response:
    """Take one signed report (gzip JSON body, ``GG-Envelope`` header); 200 after the commit.

    Normally :class:`ReportEndpoint` answers this path before FastAPI sees the request; this
    route is the same protocol for an application used without it.
    """
    ctx = context(request)
    ingest = ctx.ingest
    if ingest is None:
        return error_response(404, "not_found", "Reports are not taken on this listener.")
    headers = request.headers
    env = parse_envelope(headers.get(ENVELOPE_HEADER))
    body = await read_body(request, ingest.limits.max_body_bytes)
    outcome = await ingest.accept(env, body, clock_header=headers.get(CLOCK_HEADER))
    payload = report_reply(ctx, outcome, env.seq, headers.get(SETTINGS_HEADER))
    if payload is None:
        return Response(status_code=204)
    return Response(payload)


_ENVELOPE_KEY: Final = ENVELOPE_HEADER.lower().encode("latin-1")
_CLOCK_KEY: Final = CLOCK_HEADER.lower().encode("latin-1")
_SETTINGS_KEY: Final = SETTINGS_HEADER.lower().encode("latin-1")
_LENGTH_KEY: Final = b"content-length"


class ReportEndpoint:
    """``POST /api/v1/reports`` as a bare ASGI handler (the hot path, see the module docstring).

    Same protocol, checks, order and error bodies as the FastAPI route; only the framework is
    left out. A stored report is answered ``204`` with no header at all; a 200 answer carries
    nothing but ``content-length`` and the compact JSON: the
    agent parses every reply as JSON whatever its type (``agent.transport``), and at 288
    heartbeats a day a ``content-type`` line alone would cost a commune link 9 KB a day.
    Refusals keep the API's usual JSON response, content type included.
    """

    def __init__(self, ctx: Context, ingest: Ingest, metrics: LiveMetrics | None = None) -> None:
        self.ctx = ctx
        self.ingest = ingest
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request; never raises (a bug is logged and answered with a JSON 500)."""
        started = time.perf_counter()
        metrics = self.metrics
        try:
            status, payload = await self._handle(scope, receive)
        except ClientDisconnect:
            log.debug("client went away during a report")
            if metrics is not None:
                metrics.report_answered("disconnected", time.perf_counter() - started)
            return
        except Exception as exc:
            if not isinstance(exc, IngestError | ApiError):
                if is_unavailable(exc):
                    log.warning("database unavailable during a report: %s", exc)
                else:
                    log.exception("unhandled error in POST %s", scope.get("path"))
            response = render_error(exc)
            if metrics is not None:
                code = exc.code if isinstance(exc, IngestError | ApiError) else None
                metrics.report_refused(response.status_code, code, time.perf_counter() - started)
            await response(scope, receive, send)
            return
        if metrics is not None:
            metrics.report_answered(status, time.perf_counter() - started)
        if payload is None:
            # No content-length either: a 204 has no body by definition (RFC 9110, 15.3.5).
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(_LENGTH_KEY, str(len(payload)).encode("ascii"))],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[str, bytes | None]:
        """``(stored or duplicate, the answer body or None for 204)``."""
        envelope = clock = settings_version = length = None
        # One pass over the raw header list (names are lower-case bytes in ASGI).
        for name, value in scope["headers"]:
            if name == _ENVELOPE_KEY:
                envelope = value.decode("latin-1")
            elif name == _CLOCK_KEY:
                clock = value.decode("latin-1")
            elif name == _SETTINGS_KEY:
                settings_version = value.decode("latin-1")
            elif name == _LENGTH_KEY:
                length = value.decode("latin-1")
        env = parse_envelope(envelope)
        body = await _read_body(receive, length, self.ingest.limits.max_body_bytes)
        outcome = await self.ingest.accept(env, body, clock_header=clock)
        status = outcome.outcome if isinstance(outcome, ReportNow) else outcome
        return status, report_reply(self.ctx, outcome, env.seq, settings_version)


async def _read_body(receive: Receive, length: str | None, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes (413) before and while reading."""
    if length is not None:
        if not length.isdigit():
            raise ApiError(400, "bad_request", "The Content-Length header is not a number.")
        if int(length) > limit:
            raise ApiError(413, "too_large", f"The body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"The body is larger than {limit} bytes.")
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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
