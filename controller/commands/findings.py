"""``govguard findings list|ack|exempt|evaluate``: rule failures per host and their lifecycle."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from controller import tokens
from controller.commands.common import (
    CliError,
    actor,
    now,
    open_engine,
    open_store,
    print_table,
    settings,
    when,
)
from controller.store import findings as store


def list_(args: argparse.Namespace) -> int:
    """Print findings, most severe first (live ones unless ``--status`` says otherwise)."""
    from controller.findings import UnitPaths

    statuses = args.status or ["open", "acknowledged", "exempted"]
    with open_store(settings(args)) as session:
        units = UnitPaths().subtree(session, args.unit) if args.unit else None
        try:
            found = store.list_findings(
                session,
                units=units,
                status=statuses,
                severity=args.severity,
                rule_id=args.rule,
                agent_id=args.agent,
                limit=args.limit,
            )
        except store.FindingError as exc:
            raise CliError(str(exc)) from exc
        rows = [
            (
                str(f.id),
                f.severity,
                f.status,
                f.rule_id,
                f.subject,
                f.unit_id,
                when(f.opened_at),
                when(f.resolved_at) if f.resolved_at else "-",
            )
            for f in found
        ]
    print_table(
        ("ID", "SEVERITY", "STATUS", "RULE", "HOST", "UNIT", "OPENED", "RESOLVED"),
        rows,
        "no findings",
    )
    return 0


def _finding_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CliError(f"finding id must be a number, not {text!r}") from None


def ack(args: argparse.Namespace) -> int:
    """Acknowledge a finding: someone is on it."""
    finding_id = _finding_id(args.id)
    with open_store(settings(args)) as session:
        try:
            store.acknowledge(session, finding_id, actor(), now())
        except store.FindingError as exc:
            raise CliError(str(exc)) from exc
    print(f"finding {finding_id} acknowledged")
    return 0


def resolve(args: argparse.Namespace) -> int:
    """Close a controller-raised finding (a classified PC sighting) after investigating it."""
    finding_id = _finding_id(args.id)
    with open_store(settings(args)) as session:
        try:
            store.resolve(session, finding_id, actor(), args.reason, now())
        except store.FindingError as exc:
            raise CliError(str(exc)) from exc
    print(f"finding {finding_id} resolved")
    return 0


def _until(args: argparse.Namespace, at: datetime) -> datetime:
    if (args.until is None) == (args.duration is None):
        raise CliError("give the end of the exemption: --until YYYY-MM-DD or --for DURATION")
    if args.duration is not None:
        try:
            return at + tokens.parse_duration(args.duration)
        except tokens.TokenError as exc:
            raise CliError(f"--for: {exc}") from exc
    try:
        day = datetime.strptime(args.until, "%Y-%m-%d")
    except ValueError:
        raise CliError(f"--until: {args.until!r} is not a date like 2026-12-31") from None
    return day.replace(tzinfo=UTC)


def exempt(args: argparse.Namespace) -> int:
    """Exempt a finding until a date, with a reason; the approver is who runs the command."""
    finding_id = _finding_id(args.id)
    at = now()
    until = _until(args, at)
    with open_store(settings(args)) as session:
        try:
            store.exempt(session, finding_id, actor(), args.reason, until, at)
        except store.FindingError as exc:
            raise CliError(str(exc)) from exc
    print(f"finding {finding_id} exempted until {until:%Y-%m-%d %H:%M}Z")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """Re-evaluate every host against the installed policies (after a change, or from cron)."""
    from controller.findings import Evaluator, reevaluate
    from controller.policy import PolicyError, load_installed
    from controller.store import db

    current = settings(args)
    try:
        evaluator = Evaluator(load_installed(current.data_dir))
    except PolicyError as exc:
        raise CliError(f"the policies do not load, nothing evaluated:\n{exc}") from exc
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\r{done}/{total} hosts", end="", file=sys.stderr, flush=True)

    with open_engine(current) as engine:
        totals = reevaluate(
            db.session_factory(engine),
            evaluator,
            now(),
            progress=progress,
            workers=args.workers or os.cpu_count() or 1,
        )
    if tty:
        print(file=sys.stderr)
    print(
        f"{totals.hosts} hosts × {len(evaluator.rules)} rules evaluated in {totals.seconds:.1f} s: "
        f"{totals.changes} outcomes changed, {totals.opened} findings opened, "
        f"{totals.resolved} resolved"
    )
    return 0
