"""POST /api/v1/enroll over real HTTPS on SQLite and PostgreSQL: tokens, keys, same hardware."""

from __future__ import annotations

import base64
import gzip
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from agent import keys
from agent.token import EnrollmentToken, format_token, secret_hash
from agent.wire import EnrollRequest
from controller.enrollment import EnrollOutcome, enroll, enroll_committed
from controller.settings import Settings
from controller.store import agents, audit, db, units
from controller.store import tokens as token_store
from controller.store.models import Agent

# The HTTPS server and report helpers are shared with the report tests.
from tests.unit.controller.test_api_reports import (
    HANG_GUARD_S,
    Sender,
    envelope,
    make_settings,
    post,
    report_json,
    serving,
    tls_files,
)

__all__ = ["tls_files"]  # a module-scoped fixture, used through pytest

UNIT = "phuong-1"
CA_FINGERPRINT = "ab" * 32


@pytest.fixture
def settings(tmp_path: Path, tls_files: tuple[bytes, bytes, bytes]) -> Settings:
    """A data directory with default limits."""
    return make_settings(tmp_path, tls_files)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[httpx.Client]:
    """A client of a running controller on the test database."""
    with serving(settings, engine) as new:
        yield new


def make_token(
    engine: Engine,
    *,
    expires_in: timedelta = timedelta(hours=1),
    max_uses: int = 1,
    uses: int = 0,
    revoked: bool = False,
) -> EnrollmentToken:
    """A token in the database in the given state; returns its parts (with the secret)."""
    token = EnrollmentToken(
        token_id=secrets.token_hex(4), secret=secrets.token_hex(16), ca_fingerprint=CA_FINGERPRINT
    )
    now = datetime.now(UTC)
    with db.session_factory(engine)() as s, s.begin():
        units.ensure_unit(s, UNIT, "Phường 1", kind="ward")
        row = token_store.add_token(
            s,
            token.token_id,
            secret_hash(token.secret),
            UNIT,
            now + expires_in,
            max_uses,
            "cli:test",
        )
        row.uses = uses
        if revoked:
            row.revoked_at = now - timedelta(minutes=1)
    return token


def request_body(token: EnrollmentToken | str, public: bytes, **fields: Any) -> dict[str, Any]:
    """An enrollment request as the agent sends it."""
    body: dict[str, Any] = {
        "token": token if isinstance(token, str) else format_token(token),
        "public_key": base64.b64encode(public).decode(),
        "hostname": "pc-van-thu",
        "machine_id": secrets.token_hex(16),
        "system_uuid": None,
        "system_serial": None,
        "macs": ["52:54:00:aa:bb:cc"],
        "os": "linux",
        "agent_version": "0.1.0",
    }
    body.update(fields)
    return body


def uses_of(engine: Engine, token: EnrollmentToken) -> int:
    """How often the token has been used."""
    with db.session_factory(engine)() as s:
        row = token_store.get_token(s, token.token_id)
        assert row is not None
        return row.uses


def all_agents(engine: Engine) -> list[Agent]:
    """Every agent row."""
    with db.session_factory(engine)() as s:
        return agents.list_agents(s)


def actions(engine: Engine) -> list[str]:
    """Audit actions about agents, oldest first."""
    with db.session_factory(engine)() as s:
        return [e.action for e in reversed(audit.list_entries(s)) if e.action.startswith("agent.")]


# --------------------------------------------------------------------------- accepted


def test_enroll_creates_an_active_agent_that_can_report(
    client: httpx.Client, engine: Engine, settings: Settings
) -> None:
    token = make_token(engine)
    key = keys.generate()
    public = keys.public_raw(key)
    response = client.post("/api/v1/enroll", json=request_body(token, public))
    assert response.status_code == 201, response.text
    reply = response.json()
    assert reply["status"] == "active"
    assert reply["key_id"] == keys.key_id(public)
    assert reply["settings"]["version"] == settings.settings_version
    [agent] = all_agents(engine)
    assert (agent.id, agent.public_key, agent.status) == (reply["agent_id"], public, "active")
    assert (agent.unit_id, agent.token_id, agent.hostname) == (UNIT, token.token_id, "pc-van-thu")
    assert agent.macs == ["52:54:00:aa:bb:cc"]
    assert uses_of(engine, token) == 1
    assert actions(engine) == ["agent.enrolled"]
    # The new identity is immediately good for a signed report.
    sender = Sender(reply["agent_id"], reply["key_id"], key)
    body = gzip.compress(report_json())
    assert post(client, envelope(sender, body), body).json()["status"] == "stored"


# --------------------------------------------------------------------------- tokens


def _text(kind: str) -> Any:
    def make(engine: Engine) -> tuple[EnrollmentToken | None, str]:
        if kind == "garbage":
            return None, "not a token at all"
        token = make_token(engine)
        if kind == "unknown id":
            other = EnrollmentToken(
                token_id="0badc0de",  # noqa: S106 - an id, not a password
                secret=token.secret,
                ca_fingerprint=CA_FINGERPRINT,
            )
            return token, format_token(other)
        wrong = EnrollmentToken(
            token_id=token.token_id, secret="0" * 32, ca_fingerprint=CA_FINGERPRINT
        )
        return token, format_token(wrong)

    return make


def _state(**state: Any) -> Any:
    def make(engine: Engine) -> tuple[EnrollmentToken | None, str]:
        token = make_token(engine, **state)
        return token, format_token(token)

    return make


@pytest.mark.parametrize(
    ("make", "code"),
    [
        pytest.param(_text("garbage"), "token_invalid", id="not a token"),
        pytest.param(_text("unknown id"), "token_unknown", id="unknown token id"),
        pytest.param(_text("wrong secret"), "token_unknown", id="wrong secret"),
        pytest.param(_state(revoked=True), "token_revoked", id="revoked"),
        pytest.param(_state(expires_in=timedelta(minutes=-1)), "token_expired", id="expired"),
        pytest.param(_state(max_uses=2, uses=2), "token_used", id="used up"),
        pytest.param(
            _state(revoked=True, expires_in=timedelta(minutes=-1), uses=1),
            "token_revoked",
            id="revoked wins over expired and used",
        ),
        pytest.param(
            _state(expires_in=timedelta(minutes=-1), uses=1),
            "token_expired",
            id="expired wins over used",
        ),
    ],
)
def test_refused_token_enrolls_nothing(
    client: httpx.Client, engine: Engine, make: Any, code: str
) -> None:
    token, text = make(engine)
    before = uses_of(engine, token) if token is not None else 0
    response = client.post(
        "/api/v1/enroll", json=request_body(text, keys.public_raw(keys.generate()))
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == code
    assert response.json()["message"]
    assert all_agents(engine) == []
    if token is not None:
        assert uses_of(engine, token) == before


# --------------------------------------------------------------------------- same computer, key


@pytest.mark.parametrize(
    "field",
    [
        pytest.param("machine_id", id="same machine id"),
        pytest.param("system_uuid", id="same system UUID"),
        pytest.param("system_serial", id="same serial number"),
    ],
)
def test_same_hardware_with_a_new_key_waits_for_approval(
    client: httpx.Client, engine: Engine, field: str
) -> None:
    token = make_token(engine, max_uses=2)
    old_key, new_key = keys.generate(), keys.generate()
    shared = {field: "4C4C4544-0042-3510-8052-B4C04F4A4E32"}
    first = client.post(
        "/api/v1/enroll", json=request_body(token, keys.public_raw(old_key), **shared)
    )
    second = client.post(
        "/api/v1/enroll", json=request_body(token, keys.public_raw(new_key), **shared)
    )
    assert first.status_code == 201
    assert second.status_code == 202, second.text
    reply = second.json()
    assert reply["status"] == "pending"
    assert "administrator must approve" in reply["message"]
    rows = {agent.id: agent for agent in all_agents(engine)}
    assert rows[reply["agent_id"]].status == "pending"
    assert rows[reply["agent_id"]].replaces == first.json()["agent_id"]
    assert uses_of(engine, token) == 2  # the pending enrollment used the token too
    assert actions(engine) == ["agent.enrolled", "agent.pending"]
    # Nothing is replaced yet: the old key still reports, the new one waits.
    body = gzip.compress(report_json())
    old = Sender(first.json()["agent_id"], first.json()["key_id"], old_key)
    new = Sender(reply["agent_id"], reply["key_id"], new_key)
    assert post(client, envelope(old, body), body).status_code == 200
    waiting = post(client, envelope(new, body), body)
    assert waiting.status_code == 403
    assert waiting.json()["error"] == "pending_approval"


def test_empty_hardware_ids_never_match(client: httpx.Client, engine: Engine) -> None:
    token = make_token(engine, max_uses=2)
    blank = {"machine_id": "", "system_uuid": None, "system_serial": "  "}
    for _ in range(2):
        public = keys.public_raw(keys.generate())
        response = client.post("/api/v1/enroll", json=request_body(token, public, **blank))
        assert response.status_code == 201, response.text
    assert [agent.status for agent in all_agents(engine)] == ["active", "active"]


def test_same_key_again_is_a_conflict_and_keeps_the_token_use(
    client: httpx.Client, engine: Engine
) -> None:
    token = make_token(engine, max_uses=3)
    public = keys.public_raw(keys.generate())
    first = client.post("/api/v1/enroll", json=request_body(token, public))
    again = client.post("/api/v1/enroll", json=request_body(token, public))
    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json()["error"] == "key_exists"
    assert uses_of(engine, token) == 1
    assert len(all_agents(engine)) == 1


def test_racing_for_the_last_use_enrolls_one(client: httpx.Client, engine: Engine) -> None:
    token = make_token(engine, max_uses=1)
    results: list[tuple[int, str]] = []

    def enroll() -> None:
        response = client.post(
            "/api/v1/enroll", json=request_body(token, keys.public_raw(keys.generate()))
        )
        results.append((response.status_code, response.json().get("error", "")))

    threads = [threading.Thread(target=enroll) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_GUARD_S)
    assert sorted(results)[0] == (201, "")
    # The losers are told the token is used up, or (SQLite, writers racing) to retry later.
    assert {outcome for outcome in results[1:] if outcome[0] != 201} <= {
        (401, "token_used"),
        (503, "unavailable"),
    }
    assert [status for status, _ in results].count(201) == 1
    assert uses_of(engine, token) == 1
    assert len(all_agents(engine)) == 1


# --------------------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    ("change", "says"),
    [
        pytest.param({"public_key": "not base64!"}, "base64", id="key not base64"),
        pytest.param(
            {"public_key": base64.b64encode(b"short").decode()}, "32-byte", id="key too short"
        ),
        pytest.param({"hostname": ""}, "hostname", id="empty hostname"),
        pytest.param({"hostname": "pc\x00"}, "NUL", id="NUL in hostname"),
        pytest.param({"system_serial": "x" * 300}, "longer", id="serial too long"),
        pytest.param({"macs": ["52:54:00:00:00:00"] * 65}, "macs", id="too many MACs"),
        pytest.param({"hostname": 42}, "$.hostname", id="hostname not a string"),
        pytest.param({"token": None}, "$.token", id="no token"),
    ],
)
def test_invalid_request_is_422_and_keeps_the_token(
    client: httpx.Client, engine: Engine, change: dict[str, Any], says: str
) -> None:
    token = make_token(engine)
    body = request_body(token, keys.public_raw(keys.generate()))
    body.update(change)
    response = client.post("/api/v1/enroll", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert says in response.json()["message"]
    assert uses_of(engine, token) == 0
    assert all_agents(engine) == []


def test_not_json_and_too_large_are_refused(client: httpx.Client, engine: Engine) -> None:
    not_json = client.post("/api/v1/enroll", content=b"token=abc")
    too_large = client.post("/api/v1/enroll", content=b"{" + b" " * 70000 + b"}")
    assert not_json.status_code == 422
    assert not_json.json()["error"] == "invalid_request"
    assert too_large.status_code == 413
    assert too_large.json()["error"] == "too_large"
    assert all_agents(engine) == []


# --------------------------------------------------------------------------- lost answers, races


def _enroll_twice_then_repeat(
    client: httpx.Client, engine: Engine, status: str
) -> tuple[EnrollmentToken, dict[str, Any], httpx.Response]:
    """Enroll (a second key of the same PC when ``status`` is pending); returns the last request."""
    token = make_token(engine, max_uses=1 if status == "active" else 2)
    hardware = {"machine_id": "lost-reply-mid", "system_serial": "SN-1"}
    if status == "pending":
        old = request_body(token, keys.public_raw(keys.generate()), **hardware)
        assert client.post("/api/v1/enroll", json=old).status_code == 201
    body = request_body(token, keys.public_raw(keys.generate()), **hardware)
    first = client.post("/api/v1/enroll", json=body)
    assert first.json()["status"] == status, first.text
    return token, body, first


@pytest.mark.parametrize(
    ("status", "code", "uses"),
    [
        pytest.param("active", 201, 1, id="active agent, single-use token"),
        pytest.param("pending", 202, 2, id="pending agent"),
    ],
)
def test_a_repeated_enrollment_gets_the_same_answer(
    client: httpx.Client, engine: Engine, status: str, code: int, uses: int
) -> None:
    token, body, first = _enroll_twice_then_repeat(client, engine, status)
    # The agent never saw `first` (the answer was lost) and sends the same request again.
    again = client.post("/api/v1/enroll", json=body)
    assert again.status_code == code, again.text
    assert again.json()["agent_id"] == first.json()["agent_id"]
    assert again.json()["key_id"] == first.json()["key_id"]
    assert again.json()["status"] == status
    assert uses_of(engine, token) == uses  # no further use of the token
    assert len(all_agents(engine)) == uses
    assert actions(engine)[-1] == "agent.enroll_repeated"


def test_a_repeat_after_approval_is_active(client: httpx.Client, engine: Engine) -> None:
    _, body, first = _enroll_twice_then_repeat(client, engine, "pending")
    with db.session_factory(engine)() as s, s.begin():
        agents.approve_agent(s, first.json()["agent_id"], datetime.now(UTC))
    again = client.post("/api/v1/enroll", json=body)
    assert again.status_code == 201, again.text
    assert (again.json()["agent_id"], again.json()["status"]) == (
        first.json()["agent_id"],
        "active",
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("token", id="another token"),
        pytest.param("machine_id", id="another machine id"),
        pytest.param("system_serial", id="serial gone"),
        pytest.param("revoked", id="agent revoked since"),
    ],
)
def test_a_registered_key_with_anything_else_is_a_conflict(
    client: httpx.Client, engine: Engine, change: str
) -> None:
    token, body, first = _enroll_twice_then_repeat(client, engine, "active")
    other = make_token(engine)
    if change == "token":
        body["token"] = format_token(other)
    elif change == "machine_id":
        body["machine_id"] = "another-mid"
    elif change == "system_serial":
        body["system_serial"] = None
    else:
        with db.session_factory(engine)() as s, s.begin():
            agents.revoke_agent(s, first.json()["agent_id"], datetime.now(UTC))
    again = client.post("/api/v1/enroll", json=body)
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "key_exists"
    assert (uses_of(engine, token), uses_of(engine, other)) == (1, 0)
    assert "agent.enroll_repeated" not in actions(engine)


def _advisory_lock_waiters(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
        )


def test_one_computer_enrolling_twice_at_once_gets_one_active_agent(
    engine: Engine, settings: Settings
) -> None:
    """Two keys of one PC (two tokens) enroll while the first transaction is still open."""
    sessions = db.session_factory(engine)
    tokens = [make_token(engine), make_token(engine)]

    def request(token: EnrollmentToken) -> EnrollRequest:
        return EnrollRequest(
            token=format_token(token),
            public_key=base64.b64encode(keys.public_raw(keys.generate())).decode(),
            hostname="pc",
            machine_id="same-mid",
            system_uuid=None,
            system_serial=None,
            macs=[],
            os="linux",
            agent_version="0.1.0",
        )

    second: list[object] = []

    def enroll_second() -> None:
        try:
            second.append(
                enroll_committed(sessions, request(tokens[1]), datetime.now(UTC), settings)
            )
        except Exception as exc:  # reported by the assertion below
            second.append(exc)

    with sessions() as s, s.begin():
        first = enroll(s, request(tokens[0]), datetime.now(UTC), settings)
        thread = threading.Thread(target=enroll_second)
        thread.start()
        if engine.dialect.name == "postgresql":
            # Without the hardware lock the second enrollment does not wait for this one: it sees
            # no agent for "same-mid" and commits a second active one.
            deadline = time.monotonic() + HANG_GUARD_S
            while not second and not _advisory_lock_waiters(engine):
                assert time.monotonic() < deadline, "the second enrollment neither ran nor waited"
                time.sleep(0.01)
    thread.join(HANG_GUARD_S)
    [outcome] = second
    assert isinstance(outcome, EnrollOutcome), outcome
    assert (first.status, outcome.status, outcome.replaces) == ("active", "pending", first.agent_id)
    assert sorted(a.status for a in all_agents(engine)) == ["active", "pending"]


def test_lock_hardware_holds_until_the_transaction_ends(engine: Engine) -> None:
    """PostgreSQL: advisory locks per identifier; SQLite: the write lock (BEGIN IMMEDIATE)."""
    sessions = db.session_factory(engine)
    keys_of = agents.hardware_lock_keys("m-1", None, "SN-1")
    assert keys_of == sorted(keys_of) and len(keys_of) == 2
    assert agents.hardware_lock_keys(None, "", None) == []
    with sessions() as holder, holder.begin():
        agents.lock_hardware(holder, "m-1", None, "SN-1")
        with engine.connect() as other:
            if engine.dialect.name == "postgresql":
                taken = [
                    other.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": k}).scalar()
                    for k in [*keys_of, *agents.hardware_lock_keys("m-2", None, None)]
                ]
                assert taken == [False, False, True]  # another computer is not held up
            else:
                other.exec_driver_sql("PRAGMA busy_timeout=0")
                with pytest.raises(OperationalError, match="locked"):
                    other.execute(text("UPDATE units SET name = name"))
            other.rollback()
    with engine.connect() as other:  # released with the transaction
        if engine.dialect.name == "postgresql":
            assert other.execute(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": keys_of[0]}
            ).scalar()
        else:
            other.execute(text("UPDATE units SET name = name"))
        other.rollback()
