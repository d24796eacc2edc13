"""A dashboard application on a real data directory, driven through HTTP in-process.

The client talks HTTPS to ``govguard.test`` so the ``__Host-`` cookies (Secure) are kept, as a
browser keeps them; the browser suite (tests/e2e) covers what only a browser can tell.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from controller.app import create_app
from controller.settings import load_settings
from controller.store.db import make_engine

ADMIN_PASSWORD = "mật khẩu quản trị"  # noqa: S105 - the data_dir fixture's test password
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Web:
    """A client of the dashboard and the data directory behind it."""

    client: TestClient
    data_dir: Path

    def csrf(self, path: str = "/settings") -> str:
        """The CSRF token of the logged-in session, read from a page as a browser would."""
        found = _CSRF.search(self.client.get(path).text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
        """Log in through the form (its double-submit token included)."""
        form = self.client.get("/login")
        token = _CSRF.search(form.text)
        assert token is not None
        reply = self.client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert reply.status_code == 303, reply.text

    def post(self, path: str, data: dict[str, object] | None = None) -> httpx.Response:
        """POST a form with the session's CSRF token (redirects not followed)."""
        values = {"csrf_token": self.csrf(), **(data or {})}
        reply: httpx.Response = self.client.post(path, data=values, follow_redirects=False)
        return reply


@pytest.fixture
def web(data_dir: Path) -> Iterator[Web]:
    """The dashboard of ``data_dir`` (admin surface: no ingest threads), not logged in."""
    settings = load_settings(data_dir)
    engine = make_engine(settings.database_url)
    app = create_app(settings, engine=engine, surface="admin")
    try:
        with TestClient(app, base_url="https://govguard.test") as client:
            yield Web(client, data_dir)
    finally:
        engine.dispose()
