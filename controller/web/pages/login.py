"""Login and logout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from controller.auth.login import LoginRefused, authenticate
from controller.auth.sessions import csrf_matches, end_session, start_session
from controller.auth.throttle import ThrottlePolicy
from controller.web.i18n import normalise_locale, translator
from controller.web.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Caller,
    actor_any,
    client_address,
    new_token,
    now,
    set_cookie_headers,
    transaction,
)
from controller.web.templating import render

router = APIRouter()


def safe_next(value: str | None) -> str:
    """Where to go after login: a path of this site only (never ``//evil`` or a full URL)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def throttle_policy(request: Request) -> ThrottlePolicy:
    """Login throttling from the controller's settings."""
    dash = request.app.state.govguard.settings.dashboard
    return ThrottlePolicy(
        per_account=dash.login_failures_per_account,
        per_address=dash.login_failures_per_address,
        window=dash.login_window,
    )


def _form(
    request: Request, *, status: int = 200, error: str | None = None, username: str = ""
) -> Response:
    locale = normalise_locale(request.query_params.get("lang"))
    token = request.cookies.get(LOGIN_COOKIE) or new_token()
    response = render(
        "login.html",
        locale,
        {
            "csrf_token": token,
            "next": safe_next(request.query_params.get("next")),
            "error": error,
            "username": username,
            "lang": locale,
        },
        status=status,
    )
    response.headers.append("set-cookie", set_cookie_headers(LOGIN_COOKIE, token, max_age=3600))
    return response


@dataclass(frozen=True)
class Opened:
    """A session just started: the cookie's secret, its CSRF token and the account."""

    secret: str
    csrf_token: str
    username: str
    role: str
    unit_id: str | None
    locale: str


def open_session(request: Request, username: str, password: str) -> Opened | LoginRefused:
    """Check the password and start a new session (a new id: any cookie that came in ends).

    A refusal is returned, not raised, from inside the transaction, so that the failed attempt
    and its audit entry are committed: throttling counts them.
    """
    address = client_address(request)
    old = request.cookies.get(SESSION_COOKIE)
    with transaction(request) as s:
        try:
            user = authenticate(
                s,
                username,
                password,
                address=address,
                now=now(),
                policy=throttle_policy(request),
            )
        except LoginRefused as refused:
            return refused
        if old:
            end_session(s, old, now())
        secret, csrf = start_session(
            s, user, address=address, user_agent=request.headers.get("user-agent"), now=now()
        )
        return Opened(secret, csrf, user.username, user.role, user.unit_id, user.locale)


@router.get("/login")
def login_form(request: Request) -> Response:
    """The login form (also when logged in: logging in again starts a new session)."""
    return _form(request)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Check the password, start a new session (a new id, whatever cookie came in), redirect."""
    t = translator(normalise_locale(request.query_params.get("lang")))
    if not csrf_matches(request.cookies.get(LOGIN_COOKIE) or "", csrf_token):
        # No token pair: a cross-site login attempt, or a form older than its cookie.
        return _form(request, status=403, error=t.gettext("The form expired; please try again."))
    opened = open_session(request, username, password)
    if isinstance(opened, LoginRefused):
        refused = opened
        if refused.reason == "throttled":
            wait = int(refused.retry_after.total_seconds()) + 1 if refused.retry_after else 60
            response = _form(
                request,
                status=429,
                error=t.gettext(
                    "Too many failed logins. Try again in %(minutes)s minutes.",
                    minutes=max(1, (wait + 59) // 60),
                ),
                username=username,
            )
            response.headers["Retry-After"] = str(wait)
            return response
        return _form(
            request,
            status=401,
            error=t.gettext("Wrong user name or password."),
            username=username,
        )
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    response.headers.append("set-cookie", set_cookie_headers(SESSION_COOKIE, opened.secret))
    response.headers.append("set-cookie", set_cookie_headers(LOGIN_COOKIE, "", max_age=0))
    return response


@router.post("/logout")
def logout(request: Request, caller: Annotated[Caller, Depends(actor_any)]) -> Response:
    """End this session and forget its cookie."""
    with transaction(request) as s:
        end_session(s, caller.session, now())
    response = RedirectResponse("/login", status_code=303)
    response.headers.append("set-cookie", set_cookie_headers(SESSION_COOKIE, "", max_age=0))
    return response
