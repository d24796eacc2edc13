"""A dashboard application on a real data directory, driven through HTTP in-process.

The client talks HTTPS to ``govguard.test`` so the ``__Host-`` cookies (Secure) are kept, as a
browser keeps them; the browser suite (tests/e2e) covers what only a browser can tell.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from controller.app import create_app
from controller.auth import accounts
from controller.settings import load_settings
from controller.store import agents, findings, units
from controller.store.db import make_engine, session_factory

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


#: Passwords of the accounts :func:`district` makes.
PASSWORD = "mật khẩu thử nghiệm"  # noqa: S105 - test accounts
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@dataclass
class District:
    """Two communes under the district, an agent and findings in each, and scoped accounts."""

    agents: dict[str, str]
    findings: dict[str, list[int]]


@pytest.fixture
def district(web: Web) -> District:
    """Seed ``web``'s database: communes ``xa-a`` and ``xa-b``, agents, findings, accounts.

    Accounts (password :data:`PASSWORD`): ``op-a`` operator of xa-a, ``aud`` auditor of the
    district, ``op`` operator of the district.
    """
    settings = load_settings(web.data_dir)
    engine = make_engine(settings.database_url)
    root = None
    agents_by_unit: dict[str, str] = {}
    found: dict[str, list[int]] = {}
    try:
        with session_factory(engine).begin() as s:
            root = next(u.id for u in units.list_units(s) if u.parent_id is None)
            for unit_id, name, hostname in (
                ("xa-a", "Xã An Bình", "pc-a-<b>01</b>"),
                ("xa-b", "Xã Bình Minh", "pc-b-01"),
            ):
                units.ensure_unit(s, unit_id, name, root, "commune")
                agent_id = f"agent-{unit_id}"
                key = hashlib.sha256(agent_id.encode()).digest()
                agents.add_agent(
                    s,
                    id=agent_id,
                    key_id=hashlib.sha256(key).hexdigest()[:16],
                    public_key=key,
                    status="active",
                    unit_id=unit_id,
                    hostname=hostname,
                    macs=["52:54:00:12:34:56"],
                    os="windows",
                    agent_version="0.1.0",
                    created_at=T0,
                )
                agents_by_unit[unit_id] = agent_id
                found[unit_id] = []
                for rule_id, severity in (("ATTT-01", "high"), ("ATTT-06", "medium")):
                    finding, _new = findings.open_finding(
                        s,
                        subject=f"agent:{agent_id}",
                        unit_id=unit_id,
                        rule_id=rule_id,
                        severity=severity,
                        reason={"code": "check_failed", "values": {}},
                        evidence=[{"fact": "security.firewall.enabled", "found": False}],
                        at=T0,
                        agent_id=agent_id,
                    )
                    found[unit_id].append(finding.id)
            for username, role, unit in (
                ("op-a", "operator", "xa-a"),
                ("aud", "auditor", None),
                ("op", "operator", None),
            ):
                accounts.add_user(
                    s,
                    actor="test",
                    source="test",
                    username=username,
                    password=PASSWORD,
                    role=role,
                    unit_id=unit,
                    now=T0,
                )
    finally:
        engine.dispose()
    return District(agents_by_unit, found)
