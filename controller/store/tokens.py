"""Enrollment tokens: stored by id with the hash of their secret, consumed atomically."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controller.store.models import EnrollmentToken, utcnow
from controller.store.scope import UnitScope


def add_token(
    s: Session,
    token_id: str,
    secret_hash: str,
    unit_id: str,
    expires_at: datetime,
    max_uses: int,
    created_by: str,
    note: str | None = None,
) -> EnrollmentToken:
    """Store a new token (its secret only as ``secret_hash``)."""
    if max_uses < 1:
        raise ValueError("a token must allow at least one use")
    token = EnrollmentToken(
        id=token_id,
        secret_hash=secret_hash,
        unit_id=unit_id,
        expires_at=expires_at,
        max_uses=max_uses,
        uses=0,
        created_by=created_by,
        note=note,
    )
    s.add(token)
    s.flush()
    return token


def get_token(s: Session, token_id: str) -> EnrollmentToken | None:
    """The token with this id, or None."""
    return s.get(EnrollmentToken, token_id)


def consume_token(s: Session, token_id: str, now: datetime | None = None) -> bool:
    """Use the token once if it is still valid; True when this call got the use.

    One conditional UPDATE, so two enrollments racing for the last use cannot both win: the
    database re-checks ``uses < max_uses`` on the locked row (PostgreSQL) or under the single
    writer lock (SQLite).
    """
    moment = now or utcnow()
    result = s.execute(
        update(EnrollmentToken)
        .where(
            EnrollmentToken.id == token_id,
            EnrollmentToken.uses < EnrollmentToken.max_uses,
            EnrollmentToken.revoked_at.is_(None),
            EnrollmentToken.expires_at > moment,
        )
        .values(uses=EnrollmentToken.uses + 1)
        # "fetch" updates a token already loaded in this session with the new count.
        .execution_options(synchronize_session="fetch")
    )
    return getattr(result, "rowcount", 0) == 1


def revoke_token(s: Session, token_id: str, now: datetime | None = None) -> bool:
    """Revoke a token; False when it does not exist or was already revoked."""
    result = s.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == token_id, EnrollmentToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return getattr(result, "rowcount", 0) == 1


def list_tokens(
    s: Session, scope: UnitScope = None, limit: int | None = None
) -> list[EnrollmentToken]:
    """Every token of the units in ``scope`` (None: all), newest first."""
    query = select(EnrollmentToken).order_by(EnrollmentToken.created_at.desc(), EnrollmentToken.id)
    if scope is not None:
        query = query.where(EnrollmentToken.unit_id.in_(sorted(scope)))
    if limit is not None:
        query = query.limit(limit)
    return list(s.scalars(query))
