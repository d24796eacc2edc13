"""Dashboard sessions: hashed secrets, fixation, idle and absolute timeouts, CSRF tokens."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.auth import sessions
from controller.auth.sessions import SessionTimeouts, csrf_matches, resume_session, start_session
from controller.store.models import WebSession
from tests.unit.controller.auth.conftest import MakeUser
from tests.unit.controller.store.factories import T0

TIMEOUTS = SessionTimeouts()


def _row(s: Session, raw: str) -> WebSession:
    found = s.get(WebSession, hashlib.sha256(raw.encode()).hexdigest())
    assert found is not None
    return found


def test_only_the_hash_is_stored_and_the_principal_comes_back(
    district: Session, make_user: MakeUser
) -> None:
    user = make_user("can-bo", role="operator", unit_id="xa-a")
    raw, csrf = start_session(district, user, address="10.0.0.5", user_agent="Firefox", now=T0)
    stored = list(district.scalars(select(WebSession)))
    assert [row.id_hash for row in stored] == [hashlib.sha256(raw.encode()).hexdigest()]
    assert raw not in {stored[0].id_hash, stored[0].csrf_token}
    assert (stored[0].address, stored[0].user_agent) == ("10.0.0.5", "Firefox")

    active = resume_session(district, raw, now=T0 + timedelta(minutes=1), timeouts=TIMEOUTS)
    assert active is not None
    assert active.csrf_token == csrf
    assert active.id_hash == stored[0].id_hash
    assert active.expires_at == T0 + TIMEOUTS.absolute
    principal = active.principal
    assert (principal.user_id, principal.username, principal.role) == (
        user.id,
        "can-bo",
        "operator",
    )
    assert principal.unit_id == "xa-a"
    assert principal.scope == frozenset({"xa-a", "xa-a-vp"})
    assert principal.locale == "vi"


def test_district_account_has_no_scope_limit(district: Session, make_user: MakeUser) -> None:
    raw, _ = start_session(district, make_user("quantri"), address=None, user_agent=None, now=T0)
    active = resume_session(district, raw, now=T0, timeouts=TIMEOUTS)
    assert active is not None
    assert active.principal.scope is None
    assert active.principal.sees("xa-b")


def test_a_new_secret_at_every_login_and_the_old_one_is_dead(
    district: Session, make_user: MakeUser
) -> None:
    user = make_user("quantri")
    first, first_csrf = start_session(district, user, address=None, user_agent=None, now=T0)
    # Logging in again from the same browser: the caller ends the cookie's session first.
    assert sessions.end_session(district, first, T0 + timedelta(minutes=1)) is True
    second, second_csrf = start_session(
        district, user, address=None, user_agent=None, now=T0 + timedelta(minutes=1)
    )
    assert second != first
    assert second_csrf != first_csrf
    later = T0 + timedelta(minutes=2)
    assert resume_session(district, first, now=later, timeouts=TIMEOUTS) is None
    assert resume_session(district, second, now=later, timeouts=TIMEOUTS) is not None
    assert sessions.end_session(district, first, later) is False  # already ended


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("not-a-session", id="unknown"),
        pytest.param("x" * 5000, id="absurdly long"),
    ],
)
def test_unknown_secrets_resume_nothing(district: Session, raw: str) -> None:
    assert resume_session(district, raw, now=T0, timeouts=TIMEOUTS) is None


def test_idle_timeout(district: Session, make_user: MakeUser) -> None:
    raw, _ = start_session(district, make_user("quantri"), address=None, user_agent=None, now=T0)
    seen = T0 + timedelta(minutes=29)
    assert resume_session(district, raw, now=seen, timeouts=TIMEOUTS) is not None
    # Idle 29 minutes since the last request: still alive; 30: gone.
    assert resume_session(district, raw, now=seen + timedelta(minutes=29), timeouts=TIMEOUTS)
    idle_from = seen + timedelta(minutes=29)
    gone = idle_from + TIMEOUTS.idle
    assert resume_session(district, raw, now=gone, timeouts=TIMEOUTS) is None
    assert _row(district, raw).ended_at == gone
    # Ended for good: not even a request at an earlier clock brings it back.
    assert resume_session(district, raw, now=idle_from, timeouts=TIMEOUTS) is None


def test_last_seen_is_written_at_most_once_a_minute(district: Session, make_user: MakeUser) -> None:
    raw, _ = start_session(district, make_user("quantri"), address=None, user_agent=None, now=T0)
    assert resume_session(district, raw, now=T0 + timedelta(seconds=59), timeouts=TIMEOUTS)
    assert _row(district, raw).last_seen_at == T0
    assert resume_session(district, raw, now=T0 + timedelta(seconds=60), timeouts=TIMEOUTS)
    assert _row(district, raw).last_seen_at == T0 + timedelta(seconds=60)


def test_absolute_timeout(district: Session, make_user: MakeUser) -> None:
    raw, _ = start_session(district, make_user("quantri"), address=None, user_agent=None, now=T0)
    at = T0
    # Busy all day, a request every 20 minutes: the idle timeout never fires, the absolute does.
    while at + timedelta(minutes=20) < T0 + TIMEOUTS.absolute:
        at += timedelta(minutes=20)
        assert resume_session(district, raw, now=at, timeouts=TIMEOUTS) is not None, at
    end = T0 + TIMEOUTS.absolute
    assert resume_session(district, raw, now=end, timeouts=TIMEOUTS) is None
    assert _row(district, raw).ended_at == end


def test_shorter_timeouts_are_honoured(district: Session, make_user: MakeUser) -> None:
    short = SessionTimeouts(idle=timedelta(minutes=5), absolute=timedelta(minutes=10))
    raw, _ = start_session(district, make_user("quantri"), address=None, user_agent=None, now=T0)
    assert resume_session(district, raw, now=T0 + timedelta(minutes=4), timeouts=short)
    assert resume_session(district, raw, now=T0 + timedelta(minutes=10), timeouts=short) is None


def test_a_disabled_users_session_stops_resuming(district: Session, make_user: MakeUser) -> None:
    user = make_user("can-bo", role="operator", unit_id="xa-a")
    raw, _ = start_session(district, user, address=None, user_agent=None, now=T0)
    # Disabled behind the session's back (e.g. straight in the database): still refused.
    user.disabled = True
    district.flush()
    assert resume_session(district, raw, now=T0, timeouts=TIMEOUTS) is None
    user.disabled = False
    district.flush()
    assert resume_session(district, raw, now=T0, timeouts=TIMEOUTS) is None  # it was ended


def test_end_user_sessions_keeps_one_given_by_secret_or_hash(
    district: Session, make_user: MakeUser
) -> None:
    user = make_user("quantri")
    other = make_user("khac")
    raws = [start_session(district, user, address=None, user_agent=None, now=T0)[0] for _ in "abc"]
    theirs, _ = start_session(district, other, address=None, user_agent=None, now=T0)
    assert sessions.end_user_sessions(district, user.id, T0, keep=raws[0]) == 2
    assert resume_session(district, raws[0], now=T0, timeouts=TIMEOUTS) is not None
    assert resume_session(district, raws[1], now=T0, timeouts=TIMEOUTS) is None
    assert resume_session(district, theirs, now=T0, timeouts=TIMEOUTS) is not None

    again, _ = start_session(district, user, address=None, user_agent=None, now=T0)
    active = resume_session(district, again, now=T0, timeouts=TIMEOUTS)
    assert active is not None
    assert sessions.end_user_sessions(district, user.id, T0, keep=active.id_hash) == 1
    assert resume_session(district, again, now=T0, timeouts=TIMEOUTS) is not None
    assert resume_session(district, raws[0], now=T0, timeouts=TIMEOUTS) is None


def test_purge_sessions(district: Session, make_user: MakeUser) -> None:
    user = make_user("quantri")
    ended, _ = start_session(district, user, address=None, user_agent=None, now=T0)
    sessions.end_session(district, ended, T0)
    start_session(district, user, address=None, user_agent=None, now=T0)  # never seen again
    fresh, _ = start_session(
        district, user, address=None, user_agent=None, now=T0 + timedelta(days=2)
    )
    assert sessions.purge_sessions(district, T0 + timedelta(days=1)) == 2
    assert [row.id_hash for row in district.scalars(select(WebSession))] == [
        hashlib.sha256(fresh.encode()).hexdigest()
    ]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("tok-123", True, id="same"),
        pytest.param("tok-124", False, id="different"),
        pytest.param("tok-12", False, id="prefix"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="missing"),
        pytest.param("tök-123", False, id="non-ascii"),
    ],
)
def test_csrf_matches(given: str | None, expected: bool) -> None:
    assert csrf_matches("tok-123", given) is expected
    assert csrf_matches("", given) is False
