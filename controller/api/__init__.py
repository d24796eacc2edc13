"""The controller's JSON API: shared pieces of every router.

Every refusal has the same body, ``{"error": "<code>", "message": "<English sentence>"}``
(:class:`agent.wire.ErrorReply`), whatever raised it: a domain refusal, a framework error (404,
405, a request FastAPI could not parse) or a bug. A bug is logged with its traceback here and
answered with a JSON 500, never with the traceback; an unreachable database is a 503 with
``Retry-After`` so that agents back off and retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.wire import AgentSettings, ErrorReply
from controller.enrollment import EnrollmentRefused
from controller.findings.incremental import OnOpened
from controller.ingest import RETRY_AFTER_S, Ingest, IngestError
from controller.settings import Settings
from controller.store.db import is_unavailable

log = logging.getLogger(__name__)

JSON: Final = "application/json"
_HTTP_CODES: Final = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """A refusal raised by the HTTP layer itself (body too large, unreadable request)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Context:
    """What the routes of one application share (``app.state.govguard``)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    #: None on an admin-only listener, which takes no reports.
    ingest: Ingest | None
    #: The CA certificate agents bootstrap from; None when the data directory has none.
    ca_pem: bytes | None
    #: What agents are told, and its version as sent in ``GG-Settings`` (computed once).
    agent_settings: AgentSettings
    settings_version: str
    #: Queues notices for findings opened outside ingest (a classified PC enrolling online).
    on_opened: OnOpened | None = None


def context(request: Request) -> Context:
    """The application's :class:`Context`."""
    ctx: Context = request.app.state.govguard
    return ctx


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
    """A JSON response encoded with msgspec (structs, dicts, lists)."""
    return Response(
        msgspec.json.encode(payload), status_code=status, media_type=JSON, headers=headers
    )


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    retry_after: int | None = None,
    last_seq: int | None = None,
) -> Response:
    """The one error body of the API."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = ErrorReply(error=code, message=message, last_seq=last_seq)
    return json_response(status, body, headers)


def unavailable_response() -> Response:
    """503 while the database cannot be reached."""
    return error_response(
        503,
        "unavailable",
        "The database is unavailable; try again later.",
        retry_after=RETRY_AFTER_S,
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes (413) before and while reading."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ApiError(400, "bad_request", "The Content-Length header is not a number.")
        if int(length) > limit:
            raise ApiError(413, "too_large", f"The body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"The body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def render_error(exc: Exception) -> Response:
    """The JSON error response for a refusal of any layer."""
    if isinstance(exc, IngestError):
        return error_response(
            exc.status,
            exc.code,
            exc.message,
            retry_after=exc.retry_after,
            last_seq=exc.last_seq,
        )
    if isinstance(exc, EnrollmentRefused | ApiError):
        return error_response(exc.status, exc.code, exc.message)
    if isinstance(exc, StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else "Request refused."
        return error_response(
            exc.status_code, code, detail if detail.endswith(".") else detail + "."
        )
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        what = first.get("msg", "invalid value")
        return error_response(422, "invalid_request", f"Invalid request: {what} at {where}.")
    if is_unavailable(exc):
        return unavailable_response()
    return error_response(500, "internal", "Internal error; see the server log.")


async def _handle(_request: Request, exc: Exception) -> Response:
    return render_error(exc)


class CatchAll:
    """Outermost middleware: an exception nobody handled becomes a JSON 500 (or 503).

    Starlette's own last-resort handler re-raises after answering, so the server would log the
    same traceback a second time; this one logs it once and stops it here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            log.debug("client went away during %s", scope.get("path"))
        except Exception as exc:
            if is_unavailable(exc):
                log.warning("database unavailable during %s: %s", scope.get("path"), exc)
            else:
                log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            response = render_error(exc)
            if not started:
                await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` answer with the API's JSON error body."""
    for kind in (
        IngestError,
        EnrollmentRefused,
        ApiError,
        StarletteHTTPException,
        RequestValidationError,
    ):
        app.add_exception_handler(kind, _handle)
    app.add_middleware(CatchAll)
