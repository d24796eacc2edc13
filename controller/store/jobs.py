"""Job leases: periodic work that exactly one of several controller processes runs.

A process *claims* a job with one conditional UPDATE (no row lock held while it works): the
claim succeeds only when no unexpired lease exists and the job is due (asked for, or its
interval has passed). While it works it *renews* the lease (:class:`controller.periodic.
LeaseKeeper`), so a run may last longer than the lease; a process that dies mid-run stops
renewing, its lease expires and another takes over. Every end is fenced on the holder: a run
whose lease was taken over meanwhile changes nothing of the job and is recorded ``lost``.

Each run's end is kept in ``job_runs`` (bounded: :data:`HISTORY_DAYS` days and at most
:data:`HISTORY_PER_JOB` rows per job), so an operator sees which process ran what, when.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from controller.store.models import Base, Job, JobRun

_JOBS = Base.metadata.tables["jobs"]

#: Outcomes of a run in ``job_runs``.
OUTCOMES: Final = ("ok", "failed", "lost")
#: Runs older than this are pruned from the history ...
HISTORY_DAYS: Final = 90
#: ... and a job keeps at most this many (a job every few seconds must not grow it unbounded).
HISTORY_PER_JOB: Final = 2000
#: A run's result or error is cut to this many characters in the history.
RESULT_CHARS: Final = 500


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


def renew(s: Session, name: str, holder: str, until: datetime) -> bool:
    """Extend the lease ``holder`` holds on ``name`` to ``until``; False when it is no longer
    the holder's (another process took the job over, or the run already ended)."""
    result = s.execute(
        update(_JOBS)
        .where(_JOBS.c.name == name, _JOBS.c.holder == holder, _JOBS.c.lease_until.is_not(None))
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


def finish(
    s: Session,
    name: str,
    holder: str,
    at: datetime,
    result: dict[str, Any],
    *,
    started: datetime,
    ended: datetime | None = None,
    scheduled: bool = True,
) -> bool:
    """Record the end of the run ``holder`` claimed at ``started`` and free the lease.

    ``at`` is the job's ``finished_at``, from which its interval counts (a daily job passes its
    start to stay at its hour); ``ended`` (default ``at``) is when the run really ended, for
    the history. A run that is not ``scheduled`` (an SNMP round of a few devices) leaves the
    job's schedule as it was. False, and the job left as it is, when the lease was taken over
    meanwhile.
    """
    values = {"finished_at": at, "last_result": result} if scheduled else {}
    ours = _end(s, name, holder, **values)
    record_run(s, name, holder, started, ended or at, "ok" if ours else "lost", result)
    return ours


def fail(
    s: Session, name: str, holder: str, *, started: datetime, ended: datetime, error: str
) -> None:
    """Free the lease without recording a finished run (the job is due again at once) and keep
    the failure in the history."""
    ours = _end(s, name, holder)
    record_run(s, name, holder, started, ended, "failed" if ours else "lost", error)


def release(s: Session, name: str, holder: str) -> None:
    """Give the lease up without recording a run (a stop before any work was done)."""
    _end(s, name, holder)


def _end(s: Session, name: str, holder: str, **values: Any) -> bool:
    result = s.execute(
        update(_JOBS)
        .where(_JOBS.c.name == name, _JOBS.c.holder == holder, _JOBS.c.lease_until.is_not(None))
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


def record_run(
    s: Session,
    name: str,
    holder: str,
    started: datetime,
    ended: datetime,
    outcome: str,
    result: dict[str, Any] | str | None,
) -> None:
    """Add a run to the history of ``name`` and prune the job's oldest runs."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown run outcome {outcome!r}")
    text = result if isinstance(result, str) or result is None else json.dumps(result)
    s.execute(
        insert(JobRun).values(
            name=name,
            holder=holder,
            started_at=started,
            finished_at=ended,
            outcome=outcome,
            result=None if text is None else text[:RESULT_CHARS],
        )
    )
    prune_runs(s, name, before=ended - timedelta(days=HISTORY_DAYS), keep=HISTORY_PER_JOB)


def prune_runs(s: Session, name: str, *, before: datetime, keep: int) -> int:
    """Delete the runs of ``name`` that started before ``before`` or beyond the newest ``keep``;
    how many were deleted."""
    newest_kept = (
        select(JobRun.id)
        .where(JobRun.name == name)
        .order_by(JobRun.id.desc())
        .offset(keep)
        .limit(1)
        .scalar_subquery()
    )
    result = s.execute(
        delete(JobRun)
        .where(JobRun.name == name, or_(JobRun.started_at < before, JobRun.id <= newest_kept))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def runs(s: Session, name: str | None = None, *, limit: int = 50) -> Sequence[JobRun]:
    """The newest runs (of ``name``, or of every job), newest first."""
    query = select(JobRun)
    if name is not None:
        query = query.where(JobRun.name == name)
    return s.scalars(query.order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)).all()


def all_jobs(s: Session) -> Sequence[Job]:
    """Every job the processes have claimed or been asked for, by name."""
    return s.scalars(select(Job).order_by(Job.name)).all()


def get(s: Session, name: str) -> Job | None:
    """The job's row (None before its first request or claim)."""
    return s.scalar(select(Job).where(Job.name == name))
