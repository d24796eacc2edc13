"""Dashboard sessions (``web_sessions``): only the SHA-256 of each cookie secret is stored.

Queries only; the rules (timeouts, fixation, CSRF) live in :mod:`controller.auth.sessions`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from controller.store.models import User, WebSession


def add_session(
    s: Session,
    *,
    id_hash: str,
    user_id: int,
    csrf_token: str,
    now: datetime,
    address: str | None,
    user_agent: str | None,
) -> WebSession:
    """Store a new session that starts (and was last seen) at ``now``."""
    row = WebSession(
        id_hash=id_hash,
        user_id=user_id,
        csrf_token=csrf_token,
        created_at=now,
        last_seen_at=now,
        address=address,
        user_agent=user_agent,
    )
    s.add(row)
    s.flush()
    return row


def get_session_and_user(s: Session, id_hash: str) -> tuple[WebSession, User] | None:
    """The session with this hash and its user in one query, or None when unknown.

    Ended sessions are returned too: the caller decides (and they cost the same query).
    """
    row = s.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.id_hash == id_hash)
    ).first()
    if row is None:
        return None
    return row[0], row[1]


def end_session(s: Session, id_hash: str, now: datetime) -> bool:
    """Mark the session ended at ``now``; False when it was unknown or already ended."""
    result = s.execute(
        update(WebSession)
        .where(WebSession.id_hash == id_hash, WebSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))


def end_user_sessions(s: Session, user_id: int, now: datetime, keep_hash: str | None = None) -> int:
    """End every open session of ``user_id`` except ``keep_hash``; how many were ended."""
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
    if keep_hash is not None:
        query = query.where(WebSession.id_hash != keep_hash)
    result = s.execute(query.values(ended_at=now).execution_options(synchronize_session="fetch"))
    return int(getattr(result, "rowcount", 0))


def purge_sessions(s: Session, before: datetime) -> int:
    """Delete sessions ended before ``before`` or not seen since; how many were deleted."""
    result = s.execute(
        delete(WebSession)
        .where(or_(WebSession.ended_at < before, WebSession.last_seen_at < before))
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0))
