"""Session security against the running controller, one test each (issue 5, "Tests").

Straight HTTP (httpx, TLS verified against the controller's CA): cookie flags, session fixation,
CSRF, login throttling and session timeouts. Each test uses its own clients (cookie jars).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from controller.auth.sessions import session_hash
from controller.store.models import WebSession
from tests.e2e.browser import CSRF_HEADER, LOGIN_COOKIE, SESSION_COOKIE, ApiClient
from tests.e2e.world import World

pytestmark = pytest.mark.integration

Clients = Callable[[], ApiClient]
#: Stands for "the session's own CSRF token" in a parameter list made before any login.
RIGHT_TOKEN = "<the session's token>"  # noqa: S105 - a placeholder, not a secret


def _set_cookies(reply: httpx.Response) -> dict[str, list[str]]:
    """The ``Set-Cookie`` headers of ``reply`` by cookie name, split into attributes."""
    found: dict[str, list[str]] = {}
    for header in reply.headers.get_list("set-cookie"):
        parts = [part.strip() for part in header.split(";")]
        name = parts[0].split("=", 1)[0]
        found[name] = parts
    return found


def _cookie_value(reply: httpx.Response, name: str) -> str:
    return _set_cookies(reply)[name][0].split("=", 1)[1]


def _check_host_cookie(parts: list[str]) -> None:
    """The ``__Host-`` rules and the flags the issue asks for."""
    name = parts[0].split("=", 1)[0]
    flags = {part.split("=", 1)[0].lower(): part for part in parts[1:]}
    assert name.startswith("__Host-"), parts
    assert "secure" in flags, parts
    assert "httponly" in flags, parts
    assert flags.get("samesite", "").lower() == "samesite=strict", parts
    assert flags.get("path") == "Path=/", parts
    assert "domain" not in flags, parts


def _logged_in(client: ApiClient) -> bool:
    """Whether the client's cookie is a live session (``GET /api/v1/session``)."""
    reply = client.get("/api/v1/session")
    assert reply.status_code in (200, 401), reply.text
    return reply.status_code == 200


def test_session_cookies_have_the_host_prefix_and_strict_flags(world: World, api: Clients) -> None:
    form = api()
    login_page = form.http.get("/login")
    _check_host_cookie(_set_cookies(login_page)[LOGIN_COOKIE])
    reply = form.form_login(world.account("huyen-auditor"))
    assert reply.status_code == 303, reply.text
    _check_host_cookie(_set_cookies(reply)[SESSION_COOKIE])

    json_client = api()
    reply = json_client.login(world.account("huyen-auditor"))
    assert reply.status_code == 200, reply.text
    _check_host_cookie(_set_cookies(reply)[SESSION_COOKIE])


def test_login_makes_a_new_session_id_and_never_adopts_one(world: World, api: Clients) -> None:
    account = world.account("huyen-auditor")
    # An attacker plants a session id of their choice before the victim logs in.
    planted = "attacker-chosen-session-id-0123456789abcdef"
    victim = api()
    victim.http.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1", path="/")
    reply = victim.form_login(account)
    assert reply.status_code == 303, reply.text
    first = _cookie_value(reply, SESSION_COOKIE)
    assert first and first != planted
    attacker = api()
    attacker.http.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1", path="/")
    assert not _logged_in(attacker), "the planted session id was adopted at login"

    # Logging in again with a live session gives a new id and ends the old one (through the
    # JSON API: the login page itself sends a logged-in browser straight on).
    victim.http.cookies.clear()
    victim.http.cookies.set(SESSION_COOKIE, first, domain="127.0.0.1", path="/")
    reply = victim.login(account)
    assert reply.status_code == 200, reply.text
    second = _cookie_value(reply, SESSION_COOKIE)
    assert second not in (first, planted)
    old = api()
    old.http.cookies.set(SESSION_COOKIE, first, domain="127.0.0.1", path="/")
    assert not _logged_in(old), "the session id from before the login still works"
    assert _logged_in(victim)


@pytest.mark.parametrize(
    ("token", "origin"),
    [
        pytest.param(None, None, id="no token"),
        pytest.param("0" * 43, None, id="wrong token"),
        pytest.param(RIGHT_TOKEN, "https://evil.example", id="right token, foreign origin"),
    ],
)
def test_state_changes_without_the_csrf_token_are_refused(
    world: World, api: Clients, token: str | None, origin: str | None
) -> None:
    client = api()
    assert client.login(world.account("huyen-operator")).status_code == 200
    if token == RIGHT_TOKEN:
        token = client.csrf
    headers = {} if token is None else {CSRF_HEADER: token}
    if origin is not None:
        headers["Origin"] = origin
    form = {} if token is None else {"csrf_token": token}
    finding = world.hosts[-1].finding_id
    before = world.finding_status(finding)
    # The JSON API and the pages: logout, and acknowledging a finding.
    assert client.http.delete("/api/v1/session", headers=headers).status_code == 403
    reply = client.http.post("/logout", data=form, headers=headers)
    assert reply.status_code == 403, reply.text
    reply = client.http.post(f"/api/v1/findings/{finding}/ack", headers=headers)
    assert reply.status_code == 403, reply.text
    reply = client.http.post(f"/findings/{finding}/ack", data=form, headers=headers)
    assert reply.status_code == 403, reply.text
    assert _logged_in(client), "a refused request changed something: the session ended"
    assert world.finding_status(finding) == before, "a refused request acknowledged a finding"
    # The login form itself: a cross-site login (no token pair) is refused too.
    if origin is None:
        fresh = api()
        reply = fresh.form_login(
            world.account("huyen-operator"), token="" if token is None else token
        )
        assert reply.status_code == 403
        assert SESSION_COOKIE not in _set_cookies(reply)
    # With the right token (and no foreign origin) the same request goes through.
    right = client.http.delete("/api/v1/session", headers={CSRF_HEADER: client.csrf or ""})
    assert right.status_code == 204
    assert not _logged_in(client)


def test_the_sixth_login_is_refused_even_with_the_right_password(
    world: World, api: Clients
) -> None:
    account = world.account("throttled")
    client = api()
    for attempt in range(5):
        reply = client.form_login(account, password=f"wrong password {attempt}")
        assert reply.status_code == 401, f"attempt {attempt + 1}: {reply.status_code}"
    for password in (account.password, "wrong again"):
        reply = client.form_login(account, password=password)
        assert reply.status_code == 429, reply.text
        assert int(reply.headers["Retry-After"]) > 0
        assert SESSION_COOKIE not in _set_cookies(reply)
    # The JSON API shares the counter.
    reply = api().login(account)
    assert reply.status_code == 429
    assert int(reply.headers["Retry-After"]) > 0
    assert reply.json()["error"] == "throttled"
    # Other accounts from the same address still log in (5 failures < the per-address limit).
    assert api().login(world.account("huyen-auditor")).status_code == 200


@pytest.mark.parametrize(
    ("column", "age"),
    [
        pytest.param("last_seen_at", timedelta(minutes=31), id="idle 31 min"),
        pytest.param("created_at", timedelta(hours=8, minutes=1), id="8 h after login"),
    ],
)
def test_sessions_end_after_their_timeouts(
    world: World, api: Clients, column: str, age: timedelta
) -> None:
    client = api()
    assert client.login(world.account("huyen-auditor")).status_code == 200
    cookie = client.session_cookie()
    assert cookie is not None
    assert _logged_in(client)
    # Age the session in the database instead of waiting (defaults: 30 min idle, 8 h in all).
    with world.db() as session, session.begin():
        moved = session.execute(
            update(WebSession)
            .where(WebSession.id_hash == session_hash(cookie))
            .values({column: datetime.now(UTC) - age})
        )
        assert moved.rowcount == 1  # type: ignore[attr-defined]
    assert not _logged_in(client)
    reply = client.http.get("/settings", follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/login")
