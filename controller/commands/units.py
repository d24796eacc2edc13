"""``govguard units add|list``: the organisation tree (province, commune, department, ...)."""

from __future__ import annotations

import argparse

from controller.commands.common import (
    UNIT_ID,
    UNIT_KIND,
    CliError,
    actor,
    open_store,
    print_table,
    settings,
)
from controller.store import audit, units


def add(args: argparse.Namespace) -> int:
    """Add a unit under an existing parent (or at the top when no parent is given)."""
    unit_id: str = args.id
    name: str = args.name.strip()
    if not UNIT_ID.fullmatch(unit_id):
        raise CliError(
            f"{unit_id!r} is not a valid unit id (lower-case letters, digits and '-', at most 64)"
        )
    if not name:
        raise CliError("--name must not be empty")
    if not UNIT_KIND.fullmatch(args.kind):
        raise CliError(f"--kind: {args.kind!r} is not a valid kind (e.g. commune, department)")
    with open_store(settings(args)) as session:
        if units.get_unit(session, unit_id) is not None:
            raise CliError(f"unit {unit_id!r} already exists")
        if args.parent is not None and units.get_unit(session, args.parent) is None:
            raise CliError(f"unknown parent unit {args.parent!r} (see `govguard units list`)")
        units.ensure_unit(session, unit_id, name, args.parent, args.kind)
        audit.record(
            session, actor(), "unit.created", f"unit:{unit_id}",
            {"name": name, "kind": args.kind, "parent_id": args.parent},
        )  # fmt: skip
    print(f"added unit {unit_id} ({name})")
    return 0


def list_(args: argparse.Namespace) -> int:
    """Print every unit."""
    with open_store(settings(args)) as session:
        rows = [
            (unit.id, unit.parent_id or "-", unit.kind, unit.name)
            for unit in units.list_units(session)
        ]
    print_table(("ID", "PARENT", "KIND", "NAME"), rows, "no units")
    return 0
