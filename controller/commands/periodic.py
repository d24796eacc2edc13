"""``govguard periodic list|runs``: the leased periodic jobs and their history (docs/scale-out.md).

Several controller processes share one database; each periodic job (the re-evaluation, report
schedules, SNMP and SSH rounds...) is run by one of them at a time under a lease
(:mod:`controller.store.jobs`). ``list`` shows each job's lease holder, last run and next due
time; ``runs`` shows who ran what, when, and how it ended.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.commands.common import CliError, now, open_store, print_table, settings
from controller.settings import Settings
from controller.store import jobs
from controller.store.models import Job, JobRun


@dataclass(frozen=True)
class Schedule:
    """How often a job runs and which command's processes run it."""

    #: None: only when asked for (or not a scheduled job at all).
    every: timedelta | None
    runs_in: str


def schedules(current: Settings) -> dict[str, Schedule]:
    """Every periodic job of the controller, by name, with its interval from ``current``."""
    from controller.discovery import rounds, ssh_rounds
    from controller.findings import scheduler
    from controller.reports import runner

    periodic = current.periodic

    def every(seconds: int) -> timedelta | None:
        return timedelta(seconds=seconds) if seconds else None

    return {
        scheduler.JOB: Schedule(every(periodic.reevaluate_every_s), "serve"),
        runner.SCHEDULES_JOB: Schedule(every(periodic.report_schedules_every_s), "serve"),
        runner.PURGE_JOB: Schedule(runner.PURGE_EVERY, "serve"),
        rounds.JOB: Schedule(every(current.snmp.interval_s), "worker"),
        ssh_rounds.JOB: Schedule(every(current.ssh.interval_s), "worker"),
    }


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def next_due(job: Job | None, schedule: Schedule | None, at: datetime) -> str:
    """When ``job`` runs next, as the claim decides it (``running``, ``now``, a time, ``on
    request``)."""
    if job is not None and job.lease_until is not None and job.lease_until > at:
        return "running"
    if (
        job is not None
        and job.requested_at is not None
        and (job.finished_at is None or job.requested_at > job.finished_at)
    ):
        return "now (asked for)"
    if schedule is None or schedule.every is None:
        return "on request"
    if job is None or job.finished_at is None:
        return "now"
    due = job.finished_at + schedule.every
    return "now" if due <= at else _time(due)


def _job_row(
    name: str, job: Job | None, last: JobRun | None, schedule: Schedule | None, at: datetime
) -> dict[str, Any]:
    held = job is not None and job.lease_until is not None and job.lease_until > at
    return {
        "job": name,
        "runs_in": schedule.runs_in if schedule is not None else "-",
        "every_s": (
            int(schedule.every.total_seconds())
            if schedule is not None and schedule.every is not None
            else None
        ),
        "holder": job.holder if held and job is not None else None,
        "lease_until": _iso(job.lease_until) if held and job is not None else None,
        "last_started_at": _iso(last.started_at) if last is not None else None,
        "last_finished_at": _iso(last.finished_at) if last is not None else None,
        "last_holder": last.holder if last is not None else None,
        "last_outcome": last.outcome if last is not None else None,
        "next_due": next_due(job, schedule, at),
    }


def list_(args: argparse.Namespace) -> int:
    """Print every periodic job: who holds it, its last run, when it is due next."""
    current = settings(args)
    known = schedules(current)
    at = now()
    with open_store(current) as session:
        rows_by_name = {job.name: job for job in jobs.all_jobs(session)}
        names = sorted(set(known) | set(rows_by_name))
        last = {name: next(iter(jobs.runs(session, name, limit=1)), None) for name in names}
    rows = [_job_row(n, rows_by_name.get(n), last[n], known.get(n), at) for n in names]
    if args.json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    table = []
    for row in rows:
        run = last[row["job"]]
        table.append(
            (
                row["job"],
                row["runs_in"],
                f"{row['every_s']} s" if row["every_s"] is not None else "-",
                row["holder"] or "-",
                _time(run.started_at if run is not None else None),
                row["last_holder"] or "-",
                row["last_outcome"] or "-",
                row["next_due"],
            )
        )
    print_table(
        ("JOB", "IN", "EVERY", "HELD BY", "LAST RUN", "BY", "OUTCOME", "NEXT DUE"),
        table,
        "no periodic jobs",
    )
    return 0


def runs(args: argparse.Namespace) -> int:
    """Print the newest runs (of one job), newest first."""
    if args.limit < 1:
        raise CliError(f"--limit must be at least 1, not {args.limit}")
    current = settings(args)
    with open_store(current) as session:
        found = list(jobs.runs(session, args.job, limit=args.limit))
    if args.json:
        json.dump(
            [
                {
                    "job": run.name,
                    "holder": run.holder,
                    "started_at": _iso(run.started_at),
                    "finished_at": _iso(run.finished_at),
                    "outcome": run.outcome,
                    "result": run.result,
                }
                for run in found
            ],
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        print()
        return 0
    print_table(
        ("JOB", "HELD BY", "STARTED", "SECONDS", "OUTCOME", "RESULT"),
        [
            (
                run.name,
                run.holder,
                _time(run.started_at),
                f"{(run.finished_at - run.started_at).total_seconds():.1f}",
                run.outcome,
                (run.result or "")[:80],
            )
            for run in found
        ],
        f"no runs of {args.job}" if args.job else "no runs yet",
    )
    return 0
