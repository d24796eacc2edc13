"""``govguard report NAME``: make one compliance report file from the command line.

The same :func:`controller.reports.generate.generate` as the dashboard and the schedules, so a
report looks the same wherever it is made. The file is written atomically (a temporary file
renamed into place); the command prints its path, size and SHA-256.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from agent.state import StateError, write_atomic
from controller.commands.common import CliError, actor, now, open_engine, open_store, settings
from controller.reports import period as periods
from controller.reports.base import ReportError
from controller.reports.document import LANGUAGES
from controller.reports.generate import FORMATS, Format, Generated, generate
from controller.store import audit

#: Without --period: the quarter in progress (reports are read at quarterly reviews; a
#: month or a year is one flag away).
DEFAULT_PERIOD_KIND: periods.PeriodKind = "quarter"
_BAR_WIDTH = 24


def run(args: argparse.Namespace) -> int:
    """Generate report ``args.report`` and write it to ``--out`` (default: its own name in
    the current directory)."""
    fmt = _format(args.format)
    lang = args.lang
    if lang not in LANGUAGES:
        raise CliError(f"--lang: unknown language {lang!r}; languages: {', '.join(LANGUAGES)}")
    moment = now()
    if args.period is None:
        period = periods.current(DEFAULT_PERIOD_KIND, periods.local_day(moment))
    else:
        try:
            period = periods.parse(args.period)
        except periods.PeriodError as exc:
            raise CliError(f"--period: {exc}") from exc
    current = settings(args)
    progress = Progress(sys.stderr, quiet=args.quiet)
    try:
        with open_engine(current) as engine:
            from controller.store import db

            with db.session_factory(engine)() as session:
                made = generate(
                    session,
                    args.report,
                    unit_id=args.unit,
                    # The command line is the operator's: the whole organisation is visible.
                    scope=None,
                    period=period,
                    fmt=fmt,
                    lang=lang,
                    now=moment,
                    generated_by=actor(),
                    show_locations=args.show_locations,
                    settings=current.reports,
                    progress=progress,
                )
    except ReportError as exc:
        raise CliError(str(exc)) from exc
    finally:
        progress.close()
    target = args.out if args.out is not None else Path.cwd() / made.filename
    write_atomically(target, made.content)
    with open_store(current) as s:
        # Who made which report of whom is audited wherever it is made (page, schedule, here).
        audit.record(
            s,
            actor(),
            "report.generated",
            f"unit:{made.unit_id}",
            {
                "report": made.report,
                "period": made.period.label,
                "format": made.format,
                "language": made.language,
                "size_bytes": len(made.content),
                "sha256": made.sha256,
                "show_locations": args.show_locations,
                "out": str(target),
            },
            at=moment,
            source="cli",
        )
    _summary(target, made)
    return 0


def _format(value: str | None) -> Format:
    if value is None:
        return "pdf"
    for fmt in FORMATS:
        if value.lower() == fmt:
            return fmt
    raise CliError(f"--format: unknown format {value!r}; formats: {', '.join(FORMATS)}")


def _summary(target: Path, made: Generated) -> None:
    print(f"{target}\t{len(made.content)} bytes\tsha256 {made.sha256}")


def write_atomically(target: Path, content: bytes) -> None:
    """Write ``content`` to ``target`` through a temporary file in the same directory, so a
    reader never sees half a report and a failure leaves any older file as it was."""
    if target.is_dir():
        raise CliError(f"--out: {target} is a directory")
    # A report is as readable as any file the user writes (the agent's files are private).
    umask = os.umask(0)
    os.umask(umask)
    try:
        write_atomic(target, content, mode=0o666 & ~umask)
    except StateError as exc:
        raise CliError(f"--out: {exc}") from exc


class Progress:
    """The report's progress on ``stream``: a redrawn bar on a terminal, one line per step
    otherwise (logs, cron mail), nothing with ``quiet``."""

    def __init__(self, stream: TextIO, *, quiet: bool = False) -> None:
        self._stream = stream
        self._quiet = quiet
        self._tty = stream.isatty()
        self._drawn = False

    def __call__(self, done: int, total: int, what: str) -> None:
        """Show step ``done`` of ``total`` (``what`` is being done)."""
        if self._quiet:
            return
        if not self._tty:
            print(f"report: {done}/{total} {what}", file=self._stream, flush=True)
            return
        filled = round(_BAR_WIDTH * done / total) if total else _BAR_WIDTH
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        line = f"\r[{bar}] {done}/{total} {what}"
        self._stream.write(line[:120].ljust(80))
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line (the summary goes below it)."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every ``govguard report NAME`` takes."""
    parser.add_argument(
        "--unit",
        metavar="UNIT",
        help="the unit the report is about, with every unit below it "
        "(default: the top of the organisation)",
    )
    parser.add_argument(
        "--period",
        metavar="PERIOD",
        help="2026, 2026-Q4, 2026-11, 2026-W48 or 2026-11-29 (default: the current quarter)",
    )
    parser.add_argument("--format", metavar="FORMAT", help=f"{', '.join(FORMATS)} (default: pdf)")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write the file (default: REPORT_UNIT_PERIOD.FORMAT in this directory)",
    )
    parser.add_argument("--lang", default="vi", metavar="LANG", help="vi or en (default: vi)")
    parser.add_argument(
        "--show-locations",
        action="store_true",
        help="include offices and host names of classified computers (left out by default)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
