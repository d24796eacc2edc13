"""Apply a :class:`~controller.inventory.plan.Plan` inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from controller.inventory.plan import Plan
from controller.inventory.records import KINDS, Record
from controller.store import inventory as store


def _parents_first(units: dict[str, Record]) -> list[str]:
    # PostgreSQL checks units.parent_id at once: a parent row must exist before its children.
    order: list[str] = []
    placed: set[str] = set()

    def place(unit_id: str) -> None:
        if unit_id in placed:
            return
        placed.add(unit_id)
        parent = units[unit_id]["parent_id"]
        if parent in units:
            place(parent)
        order.append(unit_id)

    for unit_id in sorted(units):
        place(unit_id)
    return order


def apply_plan(s: Session, plan: Plan, stored: store.StoredInventory, at: datetime) -> None:
    """Write the plan: adds, changes (retired rows come back) and retirements."""
    for kind in KINDS:
        part = plan.kinds[kind]
        keys = _parents_first(part.add) if kind == "units" else sorted(part.add)
        for key in keys:
            store.add_row(s, kind, key, part.add[key])
        # A flush emits a table's UPDATEs before its INSERTs: new rows must exist first for a
        # change that points at them (a unit moved under a new parent).
        s.flush()
        for change in part.change:
            store.update_row(s, kind, stored.rows[kind][change.key], change.values)
        for key in part.retire:
            store.retire_row(stored.rows[kind][key], at)
        # Kind by kind: later kinds refer to earlier ones (assets → officials, units).
        s.flush()
