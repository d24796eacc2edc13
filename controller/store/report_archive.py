"""Rows of the report archive: one per generated report file kept in the data directory.

The files themselves are written and read by :mod:`controller.reports.archive`; this module only
reads and writes the ``report_archive`` table, always narrowed to a unit scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, true, update
from sqlalchemy.orm import Session

from controller.store.models import ReportArchive
from controller.store.scope import UnitScope


@dataclass(frozen=True, slots=True)
class ArchiveFilter:
    """What an archive listing is narrowed to (every field optional)."""

    report: str | None = None
    #: Only these units (a unit's subtree, computed by the caller).
    units: frozenset[str] | None = None
    period: str | None = None
    schedule_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _visible(scope: UnitScope) -> ColumnElement[bool]:
    # Rows of the whole organisation (no unit) are visible only to accounts of the whole
    # organisation, like every unit-less object (controller.store.scope.in_scope).
    if scope is None:
        return true()
    return ReportArchive.unit_id.in_(sorted(scope))


def add(s: Session, row: ReportArchive) -> ReportArchive:
    """Insert ``row`` and flush, so its id is known (the file name starts with it)."""
    s.add(row)
    s.flush()
    return row


def get(s: Session, archive_id: int, scope: UnitScope = None) -> ReportArchive | None:
    """The row ``archive_id`` if ``scope`` may see it, else None (as if it did not exist)."""
    return s.scalar(select(ReportArchive).where(ReportArchive.id == archive_id, _visible(scope)))


def list_rows(
    s: Session, scope: UnitScope, where: ArchiveFilter | None = None, *, limit: int = 200
) -> list[ReportArchive]:
    """The newest ``limit`` rows ``scope`` may see that match ``where``, newest first."""
    where = where or ArchiveFilter()
    query = select(ReportArchive).where(_visible(scope))
    if where.report is not None:
        query = query.where(ReportArchive.report == where.report)
    if where.units is not None:
        query = query.where(ReportArchive.unit_id.in_(sorted(where.units)))
    if where.period is not None:
        query = query.where(ReportArchive.period == where.period)
    if where.schedule_id is not None:
        query = query.where(ReportArchive.schedule_id == where.schedule_id)
    if where.since is not None:
        query = query.where(ReportArchive.generated_at >= where.since)
    if where.until is not None:
        query = query.where(ReportArchive.generated_at < where.until)
    query = query.order_by(ReportArchive.generated_at.desc(), ReportArchive.id.desc())
    return list(s.scalars(query.limit(limit)))


def older_than(s: Session, before: datetime) -> list[ReportArchive]:
    """Every row generated before ``before``, oldest first (what a purge removes)."""
    return list(
        s.scalars(
            select(ReportArchive)
            .where(ReportArchive.generated_at < before)
            .order_by(ReportArchive.generated_at, ReportArchive.id)
        )
    )


def delete_rows(s: Session, ids: Sequence[int]) -> int:
    """Delete the rows ``ids``; returns how many there were."""
    if not ids:
        return 0
    result = s.execute(
        delete(ReportArchive)
        .where(ReportArchive.id.in_(list(ids)))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def detach_schedule(s: Session, schedule_id: int) -> None:
    """Keep the files of a removed schedule: their rows just stop naming it."""
    s.execute(
        update(ReportArchive)
        .where(ReportArchive.schedule_id == schedule_id)
        .values(schedule_id=None)
        .execution_options(synchronize_session=False)
    )
