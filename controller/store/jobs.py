"""Job leases: periodic work that exactly one of several controller processes runs.

A process *claims* a job with one conditional UPDATE (no row lock held while it works): the
claim succeeds only when no unexpired lease exists and the job is due (asked for, or its
interval has passed). A process that dies mid-run loses its lease when it expires, and another
takes over.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from controller.store.models import Base, Job

_JOBS = Base.metadata.tables["jobs"]


def _ensure(s: Session, name: str) -> None:
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    s.execute(insert(_JOBS).values(name=name).on_conflict_do_nothing(index_elements=["name"]))


def request(s: Session, name: str, at: datetime) -> None:
    """Ask for a run of ``name`` as soon as a process can take it."""
    _ensure(s, name)
    s.execute(update(_JOBS).where(_JOBS.c.name == name).values(requested_at=at))


def claim(
    s: Session, name: str, holder: str, now: datetime, *, every: timedelta, lease: timedelta
) -> bool:
    """Take the lease of ``name`` if it is due and free; commit right after (the caller)."""
    _ensure(s, name)
    table = _JOBS
    due = or_(
        table.c.finished_at.is_(None),
        table.c.finished_at <= now - every,
        and_(table.c.requested_at.is_not(None), table.c.requested_at > table.c.finished_at),
    )
    free = or_(table.c.lease_until.is_(None), table.c.lease_until <= now)
    result = s.execute(
        update(table)
        .where(table.c.name == name, due, free)
        .values(holder=holder, started_at=now, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


def finish(s: Session, name: str, holder: str, at: datetime, result: dict[str, Any]) -> None:
    """Record the end of the run ``holder`` claimed and free the lease."""
    s.execute(
        update(_JOBS)
        .where(_JOBS.c.name == name, _JOBS.c.holder == holder)
        .values(finished_at=at, lease_until=None, last_result=result)
        .execution_options(synchronize_session=False)
    )


def release(s: Session, name: str, holder: str) -> None:
    """Give the lease up without recording a finished run (the run failed)."""
    s.execute(
        update(_JOBS)
        .where(_JOBS.c.name == name, _JOBS.c.holder == holder)
        .values(lease_until=None)
        .execution_options(synchronize_session=False)
    )


def get(s: Session, name: str) -> Job | None:
    """The job's row (None before its first request or claim)."""
    return s.scalar(select(Job).where(Job.name == name))
