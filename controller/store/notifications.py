"""The notification outbox: queue deliveries once, claim due ones, record the outcome.

Several controller processes may deliver from one database. A process claims rows in one short
transaction (PostgreSQL: a transaction advisory lock, so two claims never interleave and split
one recipient's digest between two processes, and ``FOR UPDATE SKIP LOCKED``; SQLite: the write
lock taken first) by
setting them to ``sending`` under its own worker id, sends outside any transaction, then records
the result only on rows it still holds. A claim whose ``claimed_until`` has passed (the process
died mid-send) is taken over by the next pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from controller.store.db import write_session
from controller.store.models import Notification

#: pg_advisory_xact_lock key of a claim ("ggnt"): the same in every controller process.
_CLAIM_LOCK: Final = 0x67676E74


@dataclass(frozen=True)
class NewDelivery:
    """One row to queue: a notice for one recipient on one channel."""

    dedupe_key: str
    event_key: str
    unit_id: str
    severity: str
    kind: str
    channel: str
    recipient: str
    language: str
    subject: dict[str, str]
    body: dict[str, str]
    data: Any
    occurred_at: datetime
    digest: bool
    next_attempt_at: datetime


def add_deliveries(s: Session, deliveries: Sequence[NewDelivery]) -> int:
    """Queue ``deliveries``; rows whose dedupe key is already queued are skipped.

    Returns how many were new. Runs in the caller's transaction (queue the notice in the same
    transaction as the finding that caused it).
    """
    if not deliveries:
        return 0
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    added = 0
    for item in deliveries:
        statement = (
            insert(Notification)
            .values(
                dedupe_key=item.dedupe_key,
                event_key=item.event_key,
                unit_id=item.unit_id,
                severity=item.severity,
                kind=item.kind,
                channel=item.channel,
                recipient=item.recipient,
                language=item.language,
                subject=item.subject,
                body=item.body,
                data=item.data,
                occurred_at=item.occurred_at,
                digest=item.digest,
                status="queued",
                attempts=0,
                next_attempt_at=item.next_attempt_at,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Notification.id)
        )
        if s.execute(statement).first() is not None:
            added += 1
    return added


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Notification.status == "queued", Notification.next_attempt_at <= now),
        and_(Notification.status == "sending", Notification.claimed_until < now),
    )


def any_due(s: Session, now: datetime) -> bool:
    """True when some row is due (a read: cheaper than a claim, which takes SQLite's lock)."""
    return s.scalar(select(Notification.id).where(_due(now)).limit(1)) is not None


def claim_due(
    s: Session, *, worker: str, now: datetime, lease: timedelta, limit: int = 500
) -> list[Notification]:
    """Claim up to ``limit`` due rows for ``worker`` and return them (the caller commits).

    ``s`` must not have begun its transaction yet (SQLite's write lock is taken first).
    Each claim counts as an attempt.
    """
    write_session(s)
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(func.pg_advisory_xact_lock(_CLAIM_LOCK)))
    ids = list(
        s.scalars(
            select(Notification.id)
            .where(_due(now))
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    s.execute(
        update(Notification)
        .where(Notification.id.in_(ids), _due(now))
        .values(
            status="sending",
            claimed_by=worker,
            claimed_until=now + lease,
            attempts=Notification.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return list(
        s.scalars(
            select(Notification)
            .where(Notification.id.in_(ids), Notification.claimed_by == worker)
            .order_by(Notification.id)
            .execution_options(populate_existing=True)
        )
    )


def extend_claim(s: Session, ids: Sequence[int], *, worker: str, until: datetime) -> None:
    """Keep ``worker``'s claim on ``ids`` until ``until``."""
    s.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.claimed_by == worker)
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )


def _release(s: Session, ids: Sequence[int], worker: str, **values: Any) -> int:
    result = s.execute(
        update(Notification)
        .where(
            Notification.id.in_(ids),
            Notification.status == "sending",
            Notification.claimed_by == worker,
        )
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_sent(s: Session, ids: Sequence[int], *, worker: str, now: datetime) -> int:
    """Record ``ids`` as delivered; returns how many rows ``worker`` still held."""
    return _release(s, ids, worker, status="sent", sent_at=now, last_error=None)


def mark_retry(
    s: Session, ids: Sequence[int], *, worker: str, error: str, retry_at: datetime
) -> int:
    """Put ``ids`` back in the queue until ``retry_at`` with the error of this attempt."""
    return _release(s, ids, worker, status="queued", next_attempt_at=retry_at, last_error=error)


def mark_failed(s: Session, ids: Sequence[int], *, worker: str, error: str) -> int:
    """Give up on ``ids``: a permanent error, or the last allowed attempt failed."""
    return _release(s, ids, worker, status="failed", last_error=error)


def status_counts(s: Session) -> dict[str, int]:
    """How many rows are in each status."""
    rows = s.execute(select(Notification.status, func.count()).group_by(Notification.status)).all()
    return {status: int(count) for status, count in rows}


def recent(s: Session, status: str, limit: int) -> list[Notification]:
    """The ``limit`` newest rows in ``status``, newest first."""
    return list(
        s.scalars(
            select(Notification)
            .where(Notification.status == status)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


def get_by_event(s: Session, event_key: str) -> list[Notification]:
    """Every delivery of one notice, oldest first."""
    return list(
        s.scalars(
            select(Notification)
            .where(Notification.event_key == event_key)
            .order_by(Notification.id)
        )
    )
