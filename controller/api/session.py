"""``/api/v1/session``: log in and out of the JSON API (the dashboard's session cookie).

API clients log in with JSON (a cross-site HTML form cannot send ``application/json`` without
the browser asking first), keep the ``__Host-gg_session`` cookie and send the returned
``csrf_token`` as ``X-CSRF-Token`` with every POST, PUT, PATCH or DELETE.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from controller.api import ApiError, json_response, read_body
from controller.auth.login import LoginRefused
from controller.auth.sessions import end_session
from controller.web.pages.login import open_session
from controller.web.security import (
    SESSION_COOKIE,
    Caller,
    actor_any,
    now,
    reader,
    set_cookie_headers,
    transaction,
)

router = APIRouter(prefix="/api/v1")


class Credentials(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``POST /api/v1/session``."""

    username: str
    password: str


def _who(caller_username: str, role: str, unit_id: str | None, locale: str) -> dict[str, object]:
    return {"username": caller_username, "role": role, "unit_id": unit_id, "locale": locale}


@router.post("/session")
async def post_session(request: Request) -> Response:
    """Log in: 200 with the CSRF token and the account, and the session cookie."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise ApiError(415, "unsupported_media_type", "Send the credentials as application/json.")
    body = await read_body(request, 16 * 1024)
    try:
        credentials = msgspec.json.decode(body, type=Credentials)
    except msgspec.DecodeError as exc:
        raise ApiError(400, "bad_request", f"Invalid credentials body: {exc}.") from None
    # The password hash costs ~50 ms of CPU and the database is synchronous: off the event loop.
    return await run_in_threadpool(_login_sync, request, credentials)


def _login_sync(request: Request, credentials: Credentials) -> Response:
    opened = open_session(request, credentials.username, credentials.password)
    if isinstance(opened, LoginRefused):
        if opened.reason == "throttled":
            wait = int(opened.retry_after.total_seconds()) + 1 if opened.retry_after else 60
            return json_response(
                429,
                {"error": "throttled", "message": "Too many failed logins; try again later."},
                {"Retry-After": str(wait)},
            )
        return json_response(
            401, {"error": "invalid_login", "message": "Wrong user name or password."}
        )
    who = _who(opened.username, opened.role, opened.unit_id, opened.locale)
    response = json_response(200, {"csrf_token": opened.csrf_token, "user": who})
    response.headers.append("set-cookie", set_cookie_headers(SESSION_COOKIE, opened.secret))
    return response


@router.get("/session")
def get_session(caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The logged-in account and its CSRF token."""
    p = caller.principal
    return json_response(
        200,
        {"csrf_token": caller.csrf_token, "user": _who(p.username, p.role, p.unit_id, p.locale)},
    )


@router.delete("/session")
def delete_session(request: Request, caller: Annotated[Caller, Depends(actor_any)]) -> Response:
    """Log out: the session ends and its cookie is cleared."""
    with transaction(request) as s:
        end_session(s, caller.session, now())
    response = Response(status_code=204)
    response.headers.append("set-cookie", set_cookie_headers(SESSION_COOKIE, "", max_age=0))
    return response
