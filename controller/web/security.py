"""Who is calling: the session cookie, role checks, CSRF and the caller's address.

Routes declare what they need with one dependency: ``Depends(reader())`` for a page that
reads, ``Depends(actor(Permission.FINDINGS_ACT))`` for a form that changes something (the
CSRF token is checked there, once, for every state-changing route). Objects outside the
caller's unit scope are answered exactly like unknown ones (404), so a commune officer cannot
even learn that another commune's host exists.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy.orm import Session

from controller.api import context
from controller.auth import Permission, Principal
from controller.auth.sessions import SessionTimeouts, csrf_matches, resume_session
from controller.store.db import write_session
from controller.web.i18n import Translator, normalise_locale, translator

SESSION_COOKIE = "__Host-gg_session"
#: Double-submit token of the login form (there is no session to hold it yet).
LOGIN_COOKIE = "__Host-gg_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(Exception):  # noqa: N818 - a condition, not an error
    """No valid session: pages redirect to the login form, the API answers 401."""


class Forbidden(Exception):  # noqa: N818
    """The caller's role does not allow this, or the CSRF token is missing or wrong (403)."""

    def __init__(self, reason: str = "forbidden") -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(Exception):  # noqa: N818
    """Unknown, or outside the caller's unit scope: the same answer for both (404)."""


class InputError(ValueError):
    """A request the caller can fix (400); the message is shown to them, translated."""


@dataclass(frozen=True)
class Caller:
    """The logged-in account behind one request."""

    principal: Principal
    csrf_token: str
    #: The raw session secret from the cookie (to end this session at logout).
    session: str
    address: str

    @property
    def t(self) -> Translator:
        """The caller's language."""
        return translator(self.principal.locale)

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        return self.principal.actor


def client_address(request: Request) -> str:
    """The peer's address (a reverse proxy's forwarded address is applied by the server)."""
    return request.client.host if request.client is not None else "unknown"


def now() -> datetime:
    """The current time (aware UTC)."""
    return datetime.now(UTC)


@contextmanager
def transaction(request: Request) -> Iterator[Session]:
    """One database transaction for a route: committed on success, rolled back on error.

    A writer from its start on SQLite (:func:`controller.store.db.write_session`): nearly every
    dashboard transaction reads, then writes (a session's ``last_seen_at``, a login attempt, an
    audit entry), and a deferred one is refused at once ("database is locked") when another
    connection, e.g. the background re-evaluation, committed in between.
    """
    with context(request).sessions.begin() as s:
        write_session(s)
        yield s


@contextmanager
def reading(request: Request) -> Iterator[Session]:
    """A read-only transaction for a page's data: no write lock, so a page being read never
    makes ingest wait on SQLite (WAL readers and the writer run side by side)."""
    with context(request).sessions() as s:
        try:
            yield s
        finally:
            s.rollback()


def timeouts(request: Request) -> SessionTimeouts:
    """The session timeouts from the controller's settings."""
    dash = context(request).settings.dashboard
    return SessionTimeouts(idle=dash.session_idle, absolute=dash.session_absolute)


def current_caller(request: Request) -> Caller | None:
    """The caller of a valid session, or None (cached on the request)."""
    if "caller" in request.scope.get("state", {}):
        cached: Caller | None = request.state.caller
        return cached
    raw = request.cookies.get(SESSION_COOKIE)
    caller = None
    if raw:
        with transaction(request) as s:
            active = resume_session(s, raw, now=now(), timeouts=timeouts(request))
        if active is not None:
            caller = Caller(active.principal, active.csrf_token, raw, client_address(request))
    request.state.caller = caller
    return caller


def request_locale(request: Request) -> str:
    """The language of a page: the account's, else ``?lang=``, else Vietnamese."""
    caller = current_caller(request)
    if caller is not None:
        return caller.principal.locale
    return normalise_locale(request.query_params.get("lang"))


def reader(permission: Permission = Permission.READ) -> Callable[[Request], Caller]:
    """Dependency: a logged-in caller whose role grants ``permission``."""

    def dependency(request: Request) -> Caller:
        caller = current_caller(request)
        if caller is None:
            raise LoginRequired
        if not caller.principal.can(permission):
            raise Forbidden("role")
        return caller

    return dependency


def actor(permission: Permission) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency of a state-changing route: ``reader(permission)`` plus the CSRF check."""
    check_role = reader(permission)

    async def dependency(request: Request) -> Caller:
        caller = check_role(request)
        await check_csrf(request, caller.csrf_token)
        return caller

    return dependency


async def check_csrf(request: Request, expected: str) -> None:
    """Refuse an unsafe request whose token (form field or header) does not match ``expected``.

    The Origin header, when the browser sends one, must also be this site: a second line of
    defence should a token ever leak into a page of another origin.
    """
    if request.method not in _UNSAFE:
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != _own_origin(request):
        raise Forbidden("origin")
    given = request.headers.get(CSRF_HEADER)
    if given is None and _is_form(request):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not csrf_matches(expected, given):
        raise Forbidden("csrf")


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def _own_origin(request: Request) -> str:
    url = request.url
    default = {"https": 443, "http": 80}.get(url.scheme)
    port = "" if url.port in (None, default) else f":{url.port}"
    return f"{url.scheme}://{url.hostname}{port}"


def new_token() -> str:
    """A random token for the login form's double submit."""
    return secrets.token_urlsafe(24)


def set_cookie_headers(name: str, value: str, *, max_age: int | None = None) -> str:
    """A ``Set-Cookie`` value with the ``__Host-`` rules: Secure, Path=/, no Domain.

    HttpOnly so no script can read it; SameSite=Strict so no other site's page can make the
    browser send it (the first line of defence against CSRF).
    """
    parts = [f"{name}={value}", "Path=/", "Secure", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


#: Dependency of a state-changing route any logged-in account may use (logout, own settings).
actor_any = actor(Permission.READ)
