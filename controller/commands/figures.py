"""``govguard figures set|list|delete|import``: declared figures of the readiness report.

Figures the system cannot observe (documents signed, QLVB accounts, online services, ISO,
training; the data network and organisational certificates where no agent shows them) are
entered per unit and period; the report labels them *declared*. Every change is audited.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.commands.common import CliError, actor, now, open_store, print_table, settings, when
from controller.store import declared
from controller.store.scope import unit_subtree


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"


def set_(args: argparse.Namespace) -> int:
    """Enter (or replace) one unit's figure for a period."""
    try:
        numerator, denominator = declared.parse_value(args.value)
        with open_store(settings(args)) as session:
            figure = declared.checked(
                session, args.unit, args.period, args.metric, numerator, denominator, args.source
            )
            replaced = declared.set_figure(session, figure, actor=actor(), at=now())
    except declared.DeclaredError as exc:
        raise CliError(str(exc)) from None
    value = _number(figure.numerator)
    if figure.denominator is not None:
        value += f"/{_number(figure.denominator)}"
    verb = "replaced" if replaced else "set"
    print(f"{verb} {figure.metric} = {value} for {figure.unit_id}, period {figure.period}")
    return 0


def delete(args: argparse.Namespace) -> int:
    """Remove one unit's figure for a period."""
    try:
        with open_store(settings(args)) as session:
            gone = declared.delete_figure(
                session, args.unit, args.period, args.metric, actor=actor(), at=now()
            )
    except declared.DeclaredError as exc:
        raise CliError(str(exc)) from None
    if not gone:
        raise CliError(
            f"no figure {args.metric} for {args.unit}, period {args.period} "
            "(see `govguard figures list`)"
        )
    print(f"deleted {args.metric} for {args.unit}, period {args.period}")
    return 0


def list_(args: argparse.Namespace) -> int:
    """Print the declared figures (of a unit and the units below it, of a period)."""
    try:
        with open_store(settings(args)) as session:
            scope = None
            if args.unit is not None:
                scope = unit_subtree(session, args.unit)
                if not scope:
                    raise CliError(f"unknown unit {args.unit!r} (see `govguard units list`)")
            found = declared.list_figures(session, scope, args.period)
    except declared.DeclaredError as exc:
        raise CliError(str(exc)) from None
    rows = [
        (
            f.unit_id,
            f.period,
            f.metric,
            _number(f.numerator),
            _number(f.denominator),
            f.source or "-",
            f.entered_by,
            when(f.entered_at),
        )
        for f in found
    ]
    print_table(
        ("UNIT", "PERIOD", "METRIC", "NUMERATOR", "DENOMINATOR", "SOURCE", "BY", "AT"),
        rows,
        "no declared figures",
    )
    return 0


def import_(args: argparse.Namespace) -> int:
    """Check a figures file and store all of it, or nothing when any entry is wrong."""
    path: Path = args.file
    try:
        with open_store(settings(args)) as session:
            added, replaced = declared.import_figures(session, path, actor=actor(), at=now())
    except declared.DeclaredFileError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        raise CliError(f"{len(exc.errors)} error(s) in {path}; nothing imported") from None
    print(f"{path}: imported {added + replaced} figure(s) ({added} added, {replaced} replaced)")
    return 0
