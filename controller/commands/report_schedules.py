"""``govguard report schedule ...`` and ``govguard report archive ...`` (docs/reports.md)."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

from controller.commands.common import (
    CliError,
    actor,
    now,
    older_than,
    open_engine,
    open_store,
    print_table,
    settings,
    when,
)
from controller.reports import archive
from controller.reports.base import ReportError
from controller.reports.schedules import (
    NewSchedule,
    create,
    remove,
    run_due,
    set_enabled,
    target,
)
from controller.store import audit, report_archive
from controller.store import report_schedules as schedule_store
from controller.store.scope import unit_subtree


def add(args: argparse.Namespace) -> int:
    """Add a schedule; every field is checked first (unknown report, unit, address...)."""
    current = settings(args)
    new = NewSchedule(
        report=args.report,
        unit_id=args.unit,
        cadence=args.cadence,
        format=args.format,
        language=args.lang,
        recipients=tuple(args.to),
        show_locations=args.show_locations,
    )
    moment = now()
    with open_store(current) as s:
        try:
            row = create(s, new, notify=current.notify, created_by=actor(), now=moment)
        except ReportError as exc:
            raise CliError(str(exc)) from None
        first = target(row, moment).label
        schedule_id = row.id
    print(
        f"added report schedule {schedule_id}: {new.report} {new.cadence} as {new.format} "
        f"({new.language}) to {len(new.recipients)} recipient(s); "
        f"the next run reports {first}"
    )
    return 0


def list_(args: argparse.Namespace) -> int:
    """Every schedule with its last period, last run and last error."""
    current = settings(args)
    with open_store(current) as s:
        rows = schedule_store.list_all(s)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": row.id,
                        "report": row.report,
                        "unit": row.unit_id,
                        "cadence": row.cadence,
                        "format": row.format,
                        "language": row.language,
                        "recipients": row.recipients,
                        "show_locations": row.show_locations,
                        "enabled": row.enabled,
                        "last_period": row.last_period,
                        "last_run_at": row.last_run_at.isoformat() if row.last_run_at else None,
                        "last_error": row.last_error,
                    }
                    for row in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    print_table(
        (
            "id",
            "report",
            "unit",
            "cadence",
            "format",
            "lang",
            "to",
            "enabled",
            "last period",
            "last run",
            "error",
        ),
        [
            (
                str(row.id),
                row.report,
                row.unit_id or "(all)",
                row.cadence,
                row.format,
                row.language,
                ", ".join(row.recipients),
                "yes" if row.enabled else "no",
                row.last_period or "-",
                when(row.last_run_at),
                (row.last_error or "")[:80],
            )
            for row in rows
        ],
        empty="no report schedules (add one with `govguard report schedule add`)",
    )
    return 0


def _change(args: argparse.Namespace, verb: str) -> int:
    current = settings(args)
    with open_store(current) as s:
        try:
            if verb == "removed":
                remove(s, args.id, actor=actor(), now=now())
            else:
                set_enabled(s, args.id, verb == "enabled", actor=actor(), now=now())
        except ReportError as exc:
            raise CliError(str(exc)) from None
    print(f"report schedule {args.id} {verb}")
    return 0


def remove_(args: argparse.Namespace) -> int:
    """Delete a schedule (its archived reports stay)."""
    return _change(args, "removed")


def enable_(args: argparse.Namespace) -> int:
    """Resume a schedule."""
    return _change(args, "enabled")


def disable_(args: argparse.Namespace) -> int:
    """Stop a schedule without deleting it."""
    return _change(args, "disabled")


def run_due_(args: argparse.Namespace) -> int:
    """Make and queue every due report now; exit 1 when one failed."""
    from controller.notify.worker import deliver_due
    from controller.store import db

    current = settings(args)
    with open_engine(current) as engine:
        sessions = db.session_factory(engine)
        result = run_due(sessions, current, now=now())
        for outcome in result.outcomes:
            if outcome.status == "sent":
                detail = f"archived as {outcome.archive_id}, {outcome.queued} message(s) queued"
            elif outcome.status == "failed":
                detail = f"failed: {outcome.error}"
            else:
                detail = "already taken by another run"
            print(f"schedule {outcome.schedule_id} {outcome.period}: {detail}")
        if not result.outcomes:
            print("no report schedule is due")
        if args.deliver:
            sent = deliver_due(sessions, current.notify, current.data_dir)
            print(f"sent {sent.sent}, to retry {sent.retried}, failed {sent.failed}")
    return 1 if result.count("failed") else 0


def archive_list(args: argparse.Namespace) -> int:
    """Archived reports, newest first, with their size and digest."""
    current = settings(args)
    with open_store(current) as s:
        units = None
        if args.unit is not None:
            units = unit_subtree(s, args.unit)
            if not units:
                raise CliError(f"--unit: unknown unit {args.unit!r} (see `govguard units list`)")
        where = report_archive.ArchiveFilter(
            report=args.report, units=units, period=args.period, schedule_id=args.schedule
        )
        rows = report_archive.list_rows(s, None, where, limit=args.limit)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": row.id,
                        "report": row.report,
                        "unit": row.unit_id,
                        "period": row.period,
                        "format": row.format,
                        "language": row.language,
                        "generated_at": row.generated_at.isoformat(),
                        "generated_by": row.generated_by,
                        "schedule_id": row.schedule_id,
                        "path": row.path,
                        "size_bytes": row.size_bytes,
                        "sha256": row.sha256,
                    }
                    for row in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    print_table(
        ("id", "report", "unit", "period", "format", "generated", "by", "bytes", "sha256"),
        [
            (
                str(row.id),
                row.report,
                row.unit_id or "-",
                row.period,
                row.format,
                when(row.generated_at),
                row.generated_by,
                str(row.size_bytes),
                row.sha256[:16],
            )
            for row in rows
        ],
        empty="no archived reports",
    )
    return 0


def archive_get(args: argparse.Namespace) -> int:
    """Copy an archived report out after checking its digest; a changed file is refused."""
    current = settings(args)
    with open_store(current) as s:
        row = report_archive.get(s, args.id)
        if row is None:
            raise CliError(f"no archived report {args.id} (see `govguard report archive list`)")
        try:
            found = archive.read_verified(current.data_dir, row)
        except archive.ArchiveError as exc:
            raise CliError(str(exc)) from None
        out: Path = args.out if args.out is not None else Path(found.filename)
        if out.is_dir():
            out = out / found.filename
        try:
            with out.open("xb") as sink:
                sink.write(found.content)
        except FileExistsError:
            raise CliError(f"{out} exists; choose another --out") from None
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
        audit.record(
            s,
            actor(),
            "report.archive.read",
            f"report_archive:{row.id}",
            {"sha256": row.sha256, "to": str(out)},
            source="cli",
        )
    print(f"wrote {out} ({len(found.content)} bytes, sha256 {found.sha256})")
    return 0


def archive_purge(args: argparse.Namespace) -> int:
    """Delete archived reports (rows and files) older than ``reports.archive_days``."""
    current = settings(args)
    age = older_than(args.older_than, timedelta(days=current.reports.archive_days))
    cutoff = now() - age
    with open_store(current) as s:
        purged = archive.purge(s, current.data_dir, before=cutoff)
        audit.record(
            s,
            actor(),
            "report.archive.purged",
            "report_archive",
            {"before": cutoff.isoformat(), "rows": purged.rows, "files": purged.files},
            source="cli",
        )
    print(
        f"removed {purged.rows} archived reports ({purged.files} files) generated before "
        f"{cutoff:%Y-%m-%d %H:%M}Z"
    )
    return 0
