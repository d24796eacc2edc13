"""Rows of ``report_schedules`` and the conditional updates that make each period run once.

A run *claims* a schedule for a period with one conditional UPDATE: it succeeds only while the
period is not done yet (``last_period`` is older) and no other run holds a fresh claim
(``last_run_at`` is older than the claim's lifetime). The claim stamps ``last_run_at``; the run
then *finishes* with another conditional UPDATE that only the claim's holder can make (same
``last_run_at``), in the transaction that archives the file and queues the e-mails. So two
processes never both send a period, and a process that dies mid-run leaves the period to the
next run once its claim is stale.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from controller.store.models import ReportSchedule


def add(s: Session, row: ReportSchedule) -> ReportSchedule:
    """Insert ``row`` and flush (its id is known afterwards)."""
    s.add(row)
    s.flush()
    return row


def get(s: Session, schedule_id: int) -> ReportSchedule | None:
    """The schedule ``schedule_id``, or None."""
    return s.get(ReportSchedule, schedule_id)


def list_all(s: Session) -> list[ReportSchedule]:
    """Every schedule, by id."""
    return list(s.scalars(select(ReportSchedule).order_by(ReportSchedule.id)))


def _open_for(label: str, now: datetime, claim: timedelta) -> ColumnElement[bool]:
    # Labels of one cadence sort as their periods do (2026-W09 < 2026-W10, 2026-Q4 < 2027-Q1).
    return and_(
        ReportSchedule.enabled.is_(True),
        or_(ReportSchedule.last_period.is_(None), ReportSchedule.last_period < label),
        or_(ReportSchedule.last_run_at.is_(None), ReportSchedule.last_run_at <= now - claim),
    )


def enabled(s: Session) -> list[ReportSchedule]:
    """The enabled schedules, by id."""
    return list(
        s.scalars(
            select(ReportSchedule)
            .where(ReportSchedule.enabled.is_(True))
            .order_by(ReportSchedule.id)
        )
    )


def claim(s: Session, schedule_id: int, label: str, now: datetime, claim: timedelta) -> bool:
    """Take schedule ``schedule_id`` for period ``label`` at ``now``; commit right after."""
    result = s.execute(
        update(ReportSchedule)
        .where(ReportSchedule.id == schedule_id, _open_for(label, now, claim))
        .values(last_run_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def finish(s: Session, schedule_id: int, label: str, claimed_at: datetime) -> bool:
    """Mark ``label`` done, if the claim made at ``claimed_at`` still holds (same transaction
    as the archive row and the e-mails); False when another run took the schedule over."""
    result = s.execute(
        update(ReportSchedule)
        .where(
            ReportSchedule.id == schedule_id,
            ReportSchedule.last_run_at == claimed_at,
            or_(ReportSchedule.last_period.is_(None), ReportSchedule.last_period < label),
        )
        .values(last_period=label, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def fail(s: Session, schedule_id: int, claimed_at: datetime, error: str) -> None:
    """Record ``error``; the claim stays until it is stale, which spaces the retries out."""
    s.execute(
        update(ReportSchedule)
        .where(ReportSchedule.id == schedule_id, ReportSchedule.last_run_at == claimed_at)
        .values(last_error=error)
        .execution_options(synchronize_session=False)
    )
