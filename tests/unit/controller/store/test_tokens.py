"""Enrollment tokens: uses, expiry and revocation are checked in one atomic UPDATE."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from controller.store import tokens
from controller.store.db import session_factory
from tests.unit.controller.store.factories import T0, make_unit

NOW = T0 + timedelta(hours=1)


TOKEN_ID = "ab12cd34"  # noqa: S105 - a token id is public, its secret is not here


def _token(s: Session, token_id: str = TOKEN_ID, max_uses: int = 1, days: int = 7) -> None:
    tokens.add_token(
        s,
        token_id,
        secret_hash="0" * 64,
        unit_id=make_unit(s),
        expires_at=T0 + timedelta(days=days),
        max_uses=max_uses,
        created_by="cli:root",
        note="phòng kế toán",
    )


def test_uses_run_out(session: Session) -> None:
    _token(session, max_uses=2)
    results = [tokens.consume_token(session, "ab12cd34", NOW) for _ in range(3)]
    assert results == [True, True, False]
    token = tokens.get_token(session, "ab12cd34")
    assert token is not None
    assert token.uses == 2


@pytest.mark.parametrize(
    ("now", "revoke", "expected"),
    [
        pytest.param(NOW, False, True, id="valid"),
        pytest.param(T0 + timedelta(days=7, seconds=1), False, False, id="expired"),
        pytest.param(T0 + timedelta(days=7), False, False, id="expires exactly now"),
        pytest.param(NOW, True, False, id="revoked"),
    ],
)
def test_consume_checks_expiry_and_revocation(
    session: Session, now: object, revoke: bool, expected: bool
) -> None:
    _token(session)
    if revoke:
        assert tokens.revoke_token(session, "ab12cd34", NOW)
    assert tokens.consume_token(session, "ab12cd34", now) is expected  # type: ignore[arg-type]
    token = tokens.get_token(session, "ab12cd34")
    assert token is not None
    assert token.uses == (1 if expected else 0)


def test_unknown_token_is_not_consumed(session: Session) -> None:
    assert tokens.consume_token(session, "ffffffff", NOW) is False


def test_consume_without_explicit_time_uses_now(session: Session) -> None:
    _token(session, days=100_000)
    assert tokens.consume_token(session, "ab12cd34")


def test_racing_enrollments_get_exactly_the_allowed_uses(engine: Engine) -> None:
    factory = session_factory(engine)
    with factory() as s, s.begin():
        _token(s, max_uses=3)
    results: list[bool] = []
    start = threading.Barrier(8)

    def enroll() -> None:
        with factory() as s, s.begin():
            start.wait(timeout=30)
            results.append(tokens.consume_token(s, "ab12cd34", NOW))

    threads = [threading.Thread(target=enroll) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False] * 5 + [True] * 3
    with factory() as s:
        token = tokens.get_token(s, "ab12cd34")
        assert token is not None
        assert token.uses == 3


def test_revoke_and_list(session: Session) -> None:
    _token(session, "aaaaaaaa")
    _token(session, "bbbbbbbb")
    assert tokens.revoke_token(session, "aaaaaaaa", NOW) is True
    assert tokens.revoke_token(session, "aaaaaaaa", NOW) is False  # already revoked
    assert tokens.revoke_token(session, "cccccccc", NOW) is False  # unknown
    listed = {t.id: t for t in tokens.list_tokens(session)}
    assert set(listed) == {"aaaaaaaa", "bbbbbbbb"}
    assert listed["aaaaaaaa"].revoked_at == NOW
    assert listed["bbbbbbbb"].revoked_at is None
    assert listed["bbbbbbbb"].note == "phòng kế toán"


def test_a_token_needs_a_use(session: Session) -> None:
    with pytest.raises(ValueError, match="at least one use"):
        _token(session, max_uses=0)
