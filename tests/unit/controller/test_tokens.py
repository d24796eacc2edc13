"""Creating and revoking enrollment tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from agent.token import parse_token, secret_hash
from controller.store import audit, units
from controller.store import tokens as token_store
from controller.tokens import TokenError, create_token, parse_duration, revoke_token

FINGERPRINT = "ab" * 32
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("72h", timedelta(hours=72), id="hours"),
        pytest.param("30m", timedelta(minutes=30), id="minutes"),
        pytest.param("7d", timedelta(days=7), id="days"),
        pytest.param("2w", timedelta(weeks=2), id="weeks"),
        pytest.param("90s", timedelta(seconds=90), id="seconds"),
        pytest.param(" 1d12h ", timedelta(hours=36), id="combined with spaces around"),
        pytest.param("48H", timedelta(hours=48), id="upper case"),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "not a duration", id="empty"),
        pytest.param("72", "not a duration: '72' (use a number and a unit", id="no unit"),
        pytest.param("h", "not a duration", id="no number"),
        pytest.param("3x", "not a duration", id="unknown unit"),
        pytest.param("-5h", "not a duration", id="negative"),
        pytest.param("1.5h", "not a duration", id="fraction"),
        pytest.param("72h garbage", "not a duration", id="trailing text"),
        pytest.param("0h", "more than zero", id="zero"),
        pytest.param("999999w", "too long", id="absurdly long"),
    ],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(TokenError, match=message.replace("(", r"\(")):
        parse_duration(text)


@pytest.fixture
def unit_session(session: Session) -> Session:
    units.ensure_unit(session, "xa-a", "Xã A", None, "commune")
    return session


def test_create_stores_only_the_hash(unit_session: Session) -> None:
    text = create_token(
        unit_session,
        unit_id="xa-a",
        expires=timedelta(hours=72),
        uses=3,
        created_by="cli:root",
        ca_fingerprint=FINGERPRINT,
        now=NOW,
        note="Một cửa",
    )
    unit_session.commit()
    token = parse_token(text)
    assert token.ca_fingerprint == FINGERPRINT
    stored = token_store.get_token(unit_session, token.token_id)
    assert stored is not None
    assert stored.secret_hash == secret_hash(token.secret)
    assert token.secret not in (stored.secret_hash, stored.note, stored.created_by)
    assert (stored.unit_id, stored.max_uses, stored.uses) == ("xa-a", 3, 0)
    assert stored.expires_at == NOW + timedelta(hours=72)
    assert stored.note == "Một cửa"
    [entry] = audit.list_entries(unit_session, action="token.created")
    assert (entry.actor, entry.target) == ("cli:root", f"token:{token.token_id}")
    assert token.secret not in str(entry.details)
    # The token can be used exactly three times.
    later = NOW + timedelta(hours=1)
    assert [token_store.consume_token(unit_session, token.token_id, later) for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"unit_id": "nowhere"}, "unknown unit 'nowhere'", id="unknown unit"),
        pytest.param({"uses": 0}, "from 1 to 10000, got 0", id="no uses"),
        pytest.param({"uses": 10001}, "from 1 to 10000", id="too many uses"),
        pytest.param({"expires": timedelta(0)}, "in the future", id="already expired"),
        pytest.param({"expires": timedelta(days=400)}, "at most 365 days", id="too long"),
        pytest.param({"note": "x" * 201}, "at most 200 characters", id="long note"),
    ],
)
def test_create_refuses(unit_session: Session, changes: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "unit_id": "xa-a",
        "expires": timedelta(hours=1),
        "uses": 1,
        "created_by": "cli:root",
        "ca_fingerprint": FINGERPRINT,
        "now": NOW,
    }
    arguments.update(changes)
    with pytest.raises(TokenError, match=message):
        create_token(unit_session, **arguments)  # type: ignore[arg-type]
    assert token_store.list_tokens(unit_session) == []


def test_revoke(unit_session: Session) -> None:
    text = create_token(
        unit_session,
        unit_id="xa-a",
        expires=timedelta(hours=1),
        uses=1,
        created_by="cli:root",
        ca_fingerprint=FINGERPRINT,
        now=NOW,
    )
    token_id = parse_token(text).token_id
    revoke_token(unit_session, token_id.upper(), revoked_by="cli:admin", now=NOW)
    unit_session.commit()
    stored = token_store.get_token(unit_session, token_id)
    assert stored is not None
    assert stored.revoked_at == NOW
    assert token_store.consume_token(unit_session, token_id, NOW) is False
    [entry] = audit.list_entries(unit_session, action="token.revoked")
    assert (entry.actor, entry.target) == ("cli:admin", f"token:{token_id}")
    with pytest.raises(TokenError, match="already revoked"):
        revoke_token(unit_session, token_id, revoked_by="cli:admin", now=NOW)


def test_revoke_unknown(unit_session: Session) -> None:
    with pytest.raises(TokenError, match="no token with id '0badc0de'"):
        revoke_token(unit_session, "0badc0de", revoked_by="cli:admin")
