"""Login throttling: per account since its last success, per address over everything."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.auth.throttle import ThrottlePolicy, purge_attempts, record_attempt, retry_after
from controller.store.models import LoginAttempt
from tests.unit.controller.store.factories import T0

POLICY = ThrottlePolicy()
MINUTE = timedelta(minutes=1)


def _fail(s: Session, username: str, address: str, times: int, start: int = 0) -> None:
    for minute in range(start, start + times):
        record_attempt(s, username, address, False, T0 + minute * MINUTE)
    s.flush()


def test_five_failures_lock_the_account_from_every_address(session: Session) -> None:
    _fail(session, "quantri", "10.0.0.1", 4)
    now = T0 + 4 * MINUTE
    assert retry_after(session, "quantri", "10.0.0.1", now, POLICY) is None
    _fail(session, "quantri", "10.0.0.1", 1, start=4)
    # The oldest of the five ages out at T0 + 15 min: that is when the next try is allowed.
    assert retry_after(session, "quantri", "10.0.0.1", now, POLICY) == 11 * MINUTE
    assert retry_after(session, "QuanTri", "10.0.0.9", now, POLICY) == 11 * MINUTE
    # Another account from the same address is not concerned.
    assert retry_after(session, "ke-toan", "10.0.0.1", now, POLICY) is None
    # The window slides: once the oldest failure is 15 minutes old, one more try is allowed.
    assert retry_after(session, "quantri", "10.0.0.1", T0 + 15 * MINUTE, POLICY) is None


def test_usernames_are_case_insensitive(session: Session) -> None:
    for name in ("Admin", "ADMIN", "admin", "aDmin", " admin "):
        record_attempt(session, name, "10.0.0.1", False, T0)
    session.flush()
    assert set(session.scalars(select(LoginAttempt.username))) == {"admin"}
    assert retry_after(session, "admin", "10.0.0.2", T0, POLICY) is not None


def test_a_success_resets_the_account_counter(session: Session) -> None:
    _fail(session, "quantri", "10.0.0.1", 4)
    record_attempt(session, "quantri", "10.0.0.1", True, T0 + 4 * MINUTE)
    _fail(session, "quantri", "10.0.0.1", 4, start=5)
    # Eight failures in the window, but only four since the success.
    assert retry_after(session, "quantri", "10.0.0.1", T0 + 9 * MINUTE, POLICY) is None
    _fail(session, "quantri", "10.0.0.1", 1, start=9)
    assert retry_after(session, "quantri", "10.0.0.1", T0 + 9 * MINUTE, POLICY) == 11 * MINUTE


def test_twenty_failures_lock_the_address_for_every_account(session: Session) -> None:
    # Guessing across seven accounts, one try every 30 s: no account reaches its own limit.
    for i in range(19):
        record_attempt(session, f"user{i % 7}", "203.0.113.9", False, T0 + i * MINUTE / 2)
    session.flush()
    now = T0 + 10 * MINUTE
    assert retry_after(session, "quantri", "203.0.113.9", now, POLICY) is None
    record_attempt(session, "user0", "203.0.113.9", False, T0 + 19 * MINUTE / 2)
    session.flush()
    # The twentieth failure: the address waits until the first (at T0) leaves the window.
    assert retry_after(session, "quantri", "203.0.113.9", now, POLICY) == 5 * MINUTE
    assert retry_after(session, "quantri", "198.51.100.1", now, POLICY) is None
    # A success does not clear an address: many accounts may be tried from it.
    record_attempt(session, "user1", "203.0.113.9", True, now)
    session.flush()
    assert retry_after(session, "other", "203.0.113.9", now, POLICY) == 5 * MINUTE


def test_unknown_addresses_share_one_bucket(session: Session) -> None:
    policy = ThrottlePolicy(per_account=100, per_address=3)
    for name in ("a1", "a2", "a3"):
        record_attempt(session, name, None, False, T0)
    session.flush()
    assert retry_after(session, "a4", None, T0, policy) == policy.window
    assert retry_after(session, "a4", "10.0.0.1", T0, policy) is None


def test_the_wait_is_never_zero(session: Session) -> None:
    policy = ThrottlePolicy(per_account=1, window=MINUTE)
    record_attempt(session, "quantri", "10.0.0.1", False, T0)
    session.flush()
    wait = retry_after(
        session, "quantri", "10.0.0.1", T0 + MINUTE - timedelta(microseconds=1), policy
    )
    assert wait == timedelta(seconds=1)


def test_purge_attempts(session: Session) -> None:
    _fail(session, "quantri", "10.0.0.1", 10)
    assert purge_attempts(session, T0 + 4 * MINUTE) == 4
    count = session.scalar(select(func.count()).select_from(LoginAttempt))
    assert count == 6
