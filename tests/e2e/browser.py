"""Helpers of the browser suite: Debian's chromium, the script trap, logins, screenshots, API.

The browser is always the system's ``chromium`` (Playwright's ``executable_path``); nothing ever
downloads one. Every page gets :data:`TRAP_SCRIPT` before its own scripts: assigning
``window.__xss`` (what every hostile payload of :mod:`tests.e2e.world` does) logs a console
error, and :class:`Trap` fails the test on any console error, uncaught page error or JS dialog.

Selectors the suite relies on (the contract between templates and tests): ``<html lang>``, the
page's ``h1``, menu links ``nav a[href="/hosts"]``, data tables ``table.data`` with rows
``tr[data-id="ID"]``, ``.empty-state``, flash messages ``.flash.ok`` / ``.flash.error``, the
login form's ``input[name=username|password|csrf_token]``, ``form.lang-switch button[value=en]``,
``form#language select[name=locale]`` on /settings, ``form#logout button``, row actions as
``form[action="/findings/ID/ack"]``, ``form[action="/findings/ID/exempt"]`` (fields ``reason``,
``until``), ``form[action="/agents/ID/approve"]``, ``form[action="/enrollment/tokens"]`` (fields
``unit``, ``ttl``, ``uses``, ``note``), ``form[action="/bundles"]`` with ``input[name=bundle]``,
and the hosts filter's fields named as its query parameters (``unit``, ``q``). Remediation:
``form.remediate`` (a computer's page, ``select[name=rule]``), ``a.remediate`` (a finding's row),
``form#remediate`` (``/remediation/new``; rows ``table.remediations tr[data-id=RULE]`` with
``code.playbook`` and ``td.approval``), on a job's page ``#job-status``, ``form#approve``,
``form#reject``, ``form#cancel``, ``.diff-host[data-id="diff-HOST"] pre.diff``, ``.job-error``,
``table.targets``, ``table.runs``, the live log ``ol.log li[data-id="event-ID"]`` and its poller
``#log-poll``; ``table.jobs tr[data-id="job-ID"]`` on ``/remediation`` and
``table.remediation-history`` on a computer's page.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from tests.support.controller_proc import REPO

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Dialog, Page

    from tests.e2e.world import Account, World

__all__ = [
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "TRAP_SCRIPT",
    "ApiClient",
    "Trap",
    "artifacts_dir",
    "chromium_path",
    "login",
    "shot",
]

SESSION_COOKIE = "__Host-gg_session"
LOGIN_COOKIE = "__Host-gg_login"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_FIELD = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]*)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')

#: Runs before any script of every page: a payload that assigns ``window.__xss`` is reported
#: at once (as a console error), even if the page navigates away before the test looks.
TRAP_SCRIPT = """
(() => {
  let value;
  Object.defineProperty(window, "__xss", {
    configurable: false,
    get() { return value; },
    set(v) { value = v; console.error("XSS payload ran: window.__xss = " + v); },
  });
})();
"""


def chromium_path() -> str | None:
    """Debian's chromium, or None when it is not installed."""
    return shutil.which("chromium")


def artifacts_dir() -> Path:
    """Where screenshots go: ``$GOVGUARD_ARTIFACTS`` or ``tests/artifacts/e2e/`` (gitignored)."""
    folder = Path(os.environ.get("GOVGUARD_ARTIFACTS") or REPO / "tests" / "artifacts" / "e2e")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shot(page: Page, name: str) -> Path:
    """Save a full-page PNG of ``page`` as ``NAME.png`` in the artifacts folder."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
    path = artifacts_dir() / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class Trap:
    """Collects what must never happen on a page: dialogs, console errors, uncaught errors."""

    problems: list[str] = field(default_factory=list)
    #: How many ``confirm()`` dialogs the test expects (see :meth:`expect_confirm`).
    confirms: int = 0
    #: Console errors matching one of these are expected (e.g. a page answered 403 on purpose).
    allowed: list[re.Pattern[str]] = field(default_factory=lambda: [re.compile(r"favicon\.ico")])

    def attach(self, page: Page) -> None:
        """Watch ``page``."""
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught error: {error}"))

    def allow(self, pattern: str) -> None:
        """Expect console errors matching ``pattern`` (regex on text and URL)."""
        self.allowed.append(re.compile(pattern))

    def allow_http_errors(self) -> None:
        """Expect "Failed to load resource" errors: the test opens forbidden or missing pages."""
        self.allow(r"Failed to load resource: the server responded with a status of 4\d\d")

    def expect_confirm(self) -> None:
        """Accept the next ``confirm()`` (a bulk action asks once); any other dialog still fails."""
        self.confirms += 1

    def _dialog(self, dialog: Dialog) -> None:
        if dialog.type == "confirm" and self.confirms > 0:
            self.confirms -= 1
            dialog.accept()
            return
        self.problems.append(f"JS dialog ({dialog.type}): {dialog.message!r}")
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "") if message.location else ""
        text = f"{message.text} ({where})"
        if "__xss" in message.text or not any(p.search(text) for p in self.allowed):
            self.problems.append(f"console error: {text}")

    def check(self, page: Page | None = None) -> None:
        """Fail if anything was caught, or if ``page`` has ``window.__xss`` set."""
        if page is not None and not page.is_closed():
            value = page.evaluate("() => window.__xss")
            if value is not None:
                self.problems.append(f"window.__xss = {value!r} on {page.url}")
        if self.problems:
            found = "\n  ".join(self.problems)
            self.problems = []
            raise AssertionError(f"the page did something it must never do:\n  {found}")


def login(page: Page, world: World, account: Account, *, next_path: str = "/") -> None:
    """Log ``account`` in through the login form and wait for the page it lands on."""
    target = f"{world.url}/login" + (f"?next={next_path}" if next_path != "/" else "")
    page.goto(target)
    page.fill("input[name=username]", account.username)
    page.fill("input[name=password]", account.password)
    with page.expect_navigation():
        page.click("form button[type=submit], form input[type=submit]")
    landed = urlsplit(page.url).path
    if landed == "/login":
        raise AssertionError(f"{account.username} could not log in: {page.inner_text('body')}")


class ApiClient:
    """An httpx client of the JSON API with one account's session cookie and CSRF token.

    TLS is verified against the controller's own CA (its certificate names 127.0.0.1).
    """

    def __init__(self, world: World) -> None:
        """A client with no session yet."""
        context = ssl.create_default_context(cafile=str(world.controller.ca_file))
        self.http = httpx.Client(base_url=world.url, verify=context, timeout=30.0)
        self.csrf: str | None = None

    def login(self, account: Account) -> httpx.Response:
        """``POST /api/v1/session``; keeps the cookie and the CSRF token it answers."""
        reply = self.http.post(
            "/api/v1/session", json={"username": account.username, "password": account.password}
        )
        if reply.status_code == 200:
            self.csrf = str(reply.json()["csrf_token"])
        return reply

    def login_form(self, next_path: str = "/") -> str:
        """``GET /login``: the hidden ``csrf_token`` of the form (its cookie is kept)."""
        reply = self.http.get("/login", params={"next": next_path})
        assert reply.status_code == 200, reply.text
        found = _CSRF_FIELD.search(reply.text)
        assert found is not None, "the login form has no csrf_token field"
        return found.group(1)

    def form_login(
        self, account: Account, *, password: str | None = None, token: str | None = None
    ) -> httpx.Response:
        """Log in through the HTML form (``GET /login``, then ``POST /login``), not following.

        ``token`` overrides the form's csrf_token (``""`` sends none).
        """
        form_token = self.login_form()
        data = {
            "username": account.username,
            "password": account.password if password is None else password,
            "csrf_token": form_token if token is None else token,
        }
        return self.http.post("/login", data=data)

    def page_csrf(self, path: str = "/settings") -> str:
        """The session's CSRF token as a page carries it (``<meta name="csrf-token">``)."""
        reply = self.http.get(path)
        found = _CSRF_META.search(reply.text)
        assert found is not None, f"{path}: no csrf-token meta ({reply.status_code})"
        return found.group(1)

    def session_cookie(self) -> str | None:
        """The current session cookie's value."""
        for cookie in self.http.cookies.jar:
            if cookie.name == SESSION_COOKIE:
                return cookie.value
        return None

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        """GET ``path`` with the session."""
        return self.http.get(path, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, *, csrf: bool = True, **kwargs: object) -> httpx.Response:
        """POST ``path`` with the session and (unless ``csrf`` is False) the CSRF header."""
        headers = dict(kwargs.pop("headers", None) or {})  # type: ignore[call-overload]
        if csrf and self.csrf is not None:
            headers.setdefault(CSRF_HEADER, self.csrf)
        return self.http.post(path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_rows(page: Page, selector: str = "table.data tr[data-id]") -> Iterator[str]:
    """The ``data-id`` of every data row on ``page``."""
    for row in page.query_selector_all(selector):
        value = row.get_attribute("data-id")
        if value is not None:
            yield value
