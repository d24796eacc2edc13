"""The arguments of ``govguard report schedule ...`` and ``govguard report archive ...``.

Only argparse here: :mod:`controller.cli` builds every parser at start-up, and the handlers
(:mod:`controller.commands.report_schedules`) load the database layer only when they run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

# The same names as controller.reports.schedules.CADENCES and generate.FORMATS; the handlers
# check them again (with the list of reports, which needs the registry).
CADENCES = ("daily", "weekly", "monthly", "quarterly")
FORMATS = ("pdf", "xlsx", "csv", "html")

if TYPE_CHECKING:
    _Sub: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_schedule_parsers(report: _Sub, dd: argparse.ArgumentParser) -> None:
    """Add ``schedule add|list|remove|enable|disable|run-due`` and ``archive list|get|purge``
    to the ``report`` group (``dd`` is the shared ``--data-dir`` parent)."""
    _add_schedule(report, dd)
    _add_archive(report, dd)


def _add_schedule(report: _Sub, dd: argparse.ArgumentParser) -> None:
    group = report.add_parser("schedule", help="reports made and e-mailed on a schedule")
    group.set_defaults(handler=None, group_parser=group)
    sub = group.add_subparsers(dest="schedule_action", metavar="ACTION")

    add = sub.add_parser(
        "add", parents=[dd], help="mail a report every day, week, month or quarter"
    )
    add.add_argument("report", metavar="REPORT", help="report name (see `govguard report --help`)")
    add.add_argument(
        "--unit",
        metavar="ID",
        help="the unit reported on, with the units below it (default: the whole organisation)",
    )
    add.add_argument(
        "--cadence",
        required=True,
        metavar="CADENCE",
        help=f"{', '.join(CADENCES)}: each run reports the last whole period",
    )
    add.add_argument(
        "--format", default="pdf", metavar="FORMAT", help=f"{', '.join(FORMATS)} (default: pdf)"
    )
    add.add_argument(
        "--lang",
        default="vi",
        metavar="LANG",
        help="vi or en: the report and the e-mail (default: vi)",
    )
    add.add_argument(
        "--to",
        action="append",
        required=True,
        metavar="ADDRESS",
        help="an e-mail address, or webhook:NAME for a notice without the file (repeatable)",
    )
    add.add_argument(
        "--show-locations",
        action="store_true",
        help="include offices and host names of classified computers",
    )
    add.set_defaults(handler="report_schedules:add")

    listing = sub.add_parser("list", parents=[dd], help="list schedules and their last run")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler="report_schedules:list_")

    for name, text in (
        ("remove", "delete a schedule (its archived reports stay)"),
        ("enable", "resume a disabled schedule"),
        ("disable", "stop a schedule without deleting it"),
    ):
        action = sub.add_parser(name, parents=[dd], help=text)
        action.add_argument("id", type=int, metavar="ID", help="schedule id (see `list`)")
        action.set_defaults(handler=f"report_schedules:{name}_")

    run = sub.add_parser(
        "run-due",
        parents=[dd],
        help="make and mail every due report now (cron, where `govguard serve` does not run)",
    )
    run.add_argument(
        "--deliver",
        action="store_true",
        help="also send the queued e-mails now (as `govguard notify run-once`)",
    )
    run.set_defaults(handler="report_schedules:run_due_")


def _add_archive(report: _Sub, dd: argparse.ArgumentParser) -> None:
    group = report.add_parser("archive", help="generated reports kept in the data directory")
    group.set_defaults(handler=None, group_parser=group)
    sub = group.add_subparsers(dest="archive_action", metavar="ACTION")

    listing = sub.add_parser("list", parents=[dd], help="list archived reports, newest first")
    listing.add_argument("--report", metavar="REPORT", help="only this report")
    listing.add_argument("--unit", metavar="ID", help="only this unit and the units below it")
    listing.add_argument("--period", metavar="PERIOD", help="only this period, e.g. 2026-11")
    listing.add_argument("--schedule", type=int, metavar="ID", help="only this schedule's")
    listing.add_argument("--limit", type=int, default=200, metavar="N", help="at most N (200)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler="report_schedules:archive_list")

    get = sub.add_parser("get", parents=[dd], help="copy an archived report out, digest checked")
    get.add_argument("id", type=int, metavar="ID", help="archive id (see `archive list`)")
    get.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="file or folder to write (default: its name in the current folder)",
    )
    get.set_defaults(handler="report_schedules:archive_get")

    purge = sub.add_parser(
        "purge", parents=[dd], help="delete archived reports older than reports.archive_days"
    )
    purge.add_argument(
        "--older-than",
        metavar="DURATION",
        help="e.g. 400d (default: reports.archive_days of config.yaml)",
    )
    purge.set_defaults(handler="report_schedules:archive_purge")
