"""Login attempts (``login_attempts``), kept for throttling; queries only.

The rules live in :mod:`controller.auth.throttle`; usernames arrive here already normalised.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from controller.store.models import LoginAttempt


def add_attempt(s: Session, *, username: str, address: str, ok: bool, at: datetime) -> None:
    """Record one attempt."""
    s.add(LoginAttempt(username=username, address=address, ok=ok, at=at))


def last_success(s: Session, username: str) -> datetime | None:
    """When ``username`` last logged in successfully, or None."""
    found: datetime | None = s.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.ok.is_(True)
        )
    )
    return found


def nth_newest_failure(
    s: Session,
    *,
    after: datetime,
    n: int,
    username: str | None = None,
    address: str | None = None,
) -> datetime | None:
    """The time of the ``n``-th newest failure after ``after`` (of one account or one address).

    None when there are fewer than ``n``: one indexed query that answers both "over the limit?"
    and "until when?", without counting every failure of an address under attack.
    """
    query = select(LoginAttempt.at).where(LoginAttempt.ok.is_(False), LoginAttempt.at > after)
    if username is not None:
        query = query.where(LoginAttempt.username == username)
    if address is not None:
        query = query.where(LoginAttempt.address == address)
    found: datetime | None = s.scalar(
        query.order_by(LoginAttempt.at.desc()).offset(max(n, 1) - 1).limit(1)
    )
    return found


def purge_attempts(s: Session, before: datetime) -> int:
    """Delete attempts older than ``before``; how many were deleted."""
    result = s.execute(delete(LoginAttempt).where(LoginAttempt.at < before))
    return int(getattr(result, "rowcount", 0))
