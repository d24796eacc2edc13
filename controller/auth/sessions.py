"""Dashboard sessions: a random secret in the cookie, its SHA-256 in the database.

A stolen database gives no usable cookie; a new secret at every login defeats session
fixation (the caller ends the old cookie's session with :func:`end_session` before calling
:func:`start_session`); idle and absolute timeouts bound what a forgotten browser exposes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from controller.auth import Principal
from controller.store import sessions as session_store
from controller.store.models import User
from controller.store.scope import UnitScope, unit_subtree

#: ``last_seen_at`` is written at most this often, so a page with twenty requests costs one
#: write; the idle timeout is therefore exact to within this much.
SEEN_RESOLUTION = timedelta(seconds=60)
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class SessionTimeouts:
    """How long a session lives without a request (``idle``) and at all (``absolute``)."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A session that :func:`resume_session` accepted."""

    principal: Principal
    #: The token every state-changing request of this session must carry.
    csrf_token: str
    #: The stored id (SHA-256 of the cookie secret): what ``end_user_sessions(keep=...)``
    #: and the audit need, never the secret itself.
    id_hash: str
    #: When the session ends at the latest (absolute timeout), e.g. for the cookie's Max-Age.
    expires_at: datetime


def session_hash(raw: str) -> str:
    """The stored id of the cookie secret ``raw`` (hex SHA-256)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def principal_for(s: Session, user: User) -> Principal:
    """The :class:`Principal` of ``user``, with its unit scope resolved."""
    scope: UnitScope = None if user.unit_id is None else unit_subtree(s, user.unit_id)
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        unit_id=user.unit_id,
        scope=scope,
        locale=user.locale,
    )


def start_session(
    s: Session, user: User, *, address: str | None, user_agent: str | None, now: datetime
) -> tuple[str, str]:
    """Open a session for ``user``: ``(secret for the cookie, CSRF token)``.

    Only the secret's hash is stored, so the secret is shown here once and never again.
    """
    raw = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session_store.add_session(
        s,
        id_hash=session_hash(raw),
        user_id=user.id,
        csrf_token=csrf,
        now=now,
        address=address,
        # Browsers send a few hundred characters; a client may send anything.
        user_agent=user_agent[:512] if user_agent is not None else None,
    )
    return raw, csrf


def resume_session(
    s: Session, raw: str, *, now: datetime, timeouts: SessionTimeouts
) -> ActiveSession | None:
    """The session of cookie secret ``raw``, or None when it may not be used (any reason).

    None for an unknown or ended session, one idle for ``timeouts.idle`` or older than
    ``timeouts.absolute``, and one whose user is disabled; such a session is marked ended, so
    it never comes back. The caller commits (the session's ``last_seen_at`` may have moved).
    """
    if not raw or len(raw) > 256:  # a cookie this long was not made by start_session
        return None
    id_hash = session_hash(raw)
    found = session_store.get_session_and_user(s, id_hash)
    if found is None:
        return None
    row, user = found
    if row.ended_at is not None:
        return None
    expires_at = row.created_at + timeouts.absolute
    if user.disabled or now >= expires_at or now - row.last_seen_at >= timeouts.idle:
        session_store.end_session(s, id_hash, now)
        return None
    if now - row.last_seen_at >= SEEN_RESOLUTION:
        row.last_seen_at = now
    return ActiveSession(
        principal=principal_for(s, user),
        csrf_token=row.csrf_token,
        id_hash=id_hash,
        expires_at=expires_at,
    )


def end_session(s: Session, raw: str, now: datetime) -> bool:
    """End the session of cookie secret ``raw`` (logout); False if there was none open."""
    if not raw:
        return False
    return session_store.end_session(s, session_hash(raw), now)


def end_user_sessions(s: Session, user_id: int, now: datetime, keep: str | None = None) -> int:
    """End every open session of a user except ``keep``; how many were ended.

    Used when a password changes (``keep``: the session that changed it) and when a user is
    disabled. ``keep`` is that session's cookie secret or its :attr:`ActiveSession.id_hash`
    (a 64-digit hex hash; secrets are 43 characters, so the two never collide).
    """
    keep_hash: str | None = None
    if keep:
        keep_hash = keep if _HASH.fullmatch(keep) else session_hash(keep)
    return session_store.end_user_sessions(s, user_id, now, keep_hash)


def purge_sessions(s: Session, before: datetime) -> int:
    """Delete sessions ended, or last seen, before ``before``; how many were deleted."""
    return session_store.purge_sessions(s, before)


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether the request's CSRF token is the session's (constant-time comparison)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "surrogatepass"))
