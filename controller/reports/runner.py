"""The periodic report work of a controller process: due schedules, and the archive's purge.

Every process that takes agents' reports runs one :class:`ReportJobs` thread, like the
re-evaluation (:mod:`controller.findings.scheduler`); a job lease in the database
(:mod:`controller.store.jobs`) lets one process at a time run each job:

- ``reports.schedules`` every ``periodic.report_schedules_every_s`` (5 minutes):
  :func:`run_due` (each schedule is
  claimed on its own too, so a `govguard report schedule run-due` from cron never doubles it);
- ``reports.archive.purge`` daily: archived reports older than ``reports.archive_days``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from controller.periodic import PeriodicThread, run_leased
from controller.reports import archive
from controller.reports.schedules import RunResult, run_due
from controller.settings import Settings
from controller.store import audit, jobs
from controller.store.db import write_session
from controller.store.models import Job

log = logging.getLogger(__name__)

SCHEDULES_JOB = "reports.schedules"
PURGE_JOB = "reports.archive.purge"
PURGE_EVERY = timedelta(days=1)
POLL_S = 60.0


class ReportJobs(PeriodicThread):
    """Runs the report jobs when due, in a daemon thread of this process."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        poll_s: float | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        periodic = settings.periodic
        super().__init__(
            name="report-jobs", what="report jobs", poll_s=poll_s or periodic.poll_s or POLL_S
        )
        self._sessions = sessions
        self._settings = settings
        self._schedules_every = timedelta(seconds=periodic.report_schedules_every_s)
        self._lease = periodic.lease
        self._clock = clock or (lambda: datetime.now(UTC))

    def run_once(self, now: datetime | None = None) -> RunResult | None:
        """Run what is due and leased to this process; the schedules' result, or None."""
        now = now or self._clock()
        if self._claim(PURGE_JOB, now, PURGE_EVERY):
            self._guarded(PURGE_JOB, now, lambda: self._purge(now))
        if not self._claim(SCHEDULES_JOB, now, self._schedules_every):
            return None
        holder: dict[str, RunResult] = {}

        def schedules() -> dict[str, Any]:
            holder["result"] = result = run_due(self._sessions, self._settings, now=now)
            return {status: result.count(status) for status in ("sent", "failed", "skipped")}

        self._guarded(SCHEDULES_JOB, now, schedules)
        return holder.get("result")

    def _claim(self, name: str, now: datetime, every: timedelta) -> bool:
        with self._sessions() as s:
            # Most rounds find the job done or held: a read, not SQLite's write lock, says so.
            job = jobs.get(s, name)
            if job is not None and not _may_run(job, now, every):
                return False
        with self._sessions() as s, s.begin():
            write_session(s)
            return jobs.claim(s, name, self._holder, now, every=every, lease=self._lease)

    def _guarded(self, name: str, now: datetime, work: Callable[[], dict[str, Any]]) -> None:
        # The interval counts from the start of the run (at=now): a daily job stays at its hour.
        run_leased(
            self._sessions,
            name,
            self._holder,
            now,
            work,
            result=lambda figures: figures,
            lease=self._lease,
            clock=self._clock,
            at=now,
        )

    def _purge(self, now: datetime) -> dict[str, Any]:
        days = self._settings.reports.archive_days
        with self._sessions() as s, s.begin():
            write_session(s)
            purged = archive.purge(s, self._settings.data_dir, before=now - timedelta(days=days))
            if purged.rows:
                audit.record(
                    s,
                    "system:report-archive",
                    "report.archive.purged",
                    "report_archive",
                    {"days": days, "rows": purged.rows, "files": purged.files},
                    at=now,
                )
        if purged.rows:
            log.info("report archive: purged %d reports older than %d days", purged.rows, days)
        return {"rows": purged.rows, "files": purged.files}


def _may_run(job: Job, now: datetime, every: timedelta) -> bool:
    """Whether :func:`jobs.claim` could succeed now (the claim itself decides)."""
    if job.lease_until is not None and job.lease_until > now:
        return False
    if job.finished_at is None or job.finished_at <= now - every:
        return True
    return job.requested_at is not None and job.requested_at > job.finished_at
