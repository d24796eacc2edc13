"""What an import would do: per kind, the records to add, to change (and which fields), to retire.

The plan is computed from the file and the stored rows alone, so ``--dry-run`` shows exactly
what the real run then applies, and an unchanged file plans nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.inventory.document import Inventory
from controller.inventory.records import KINDS, Record, changed_fields, from_row
from controller.store.inventory import StoredInventory


@dataclass(frozen=True)
class Change:
    """One record that exists in both, with the YAML labels of the fields that differ."""

    key: str
    fields: tuple[str, ...]
    values: Record


@dataclass
class KindPlan:
    """The plan for one kind of record."""

    add: dict[str, Record] = field(default_factory=dict)
    change: list[Change] = field(default_factory=list)
    retire: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when nothing of this kind changes."""
        return not (self.add or self.change or self.retire)


@dataclass
class Plan:
    """The whole plan, one :class:`KindPlan` per kind in :data:`KINDS` order."""

    kinds: dict[str, KindPlan]

    @property
    def empty(self) -> bool:
        """True when the import would change nothing."""
        return all(kind.empty for kind in self.kinds.values())

    def counts(self) -> dict[str, dict[str, int]]:
        """``{kind: {"added": n, "changed": n, "retired": n}}`` (for the audit log)."""
        return {
            name: {"added": len(k.add), "changed": len(k.change), "retired": len(k.retire)}
            for name, k in self.kinds.items()
        }


def stored_record(kind: str, row: Any, stored: StoredInventory) -> Record:
    """The record of a stored row in the file's terms (assets get their MACs)."""
    record = from_row(kind, row)
    if kind == "assets":
        record["macs"] = list(stored.asset_macs.get(row.id, []))
    return record


def _plan_kind(kind: str, wanted: dict[str, Record], stored: StoredInventory) -> KindPlan:
    plan = KindPlan()
    rows = stored.rows[kind]
    for key, record in wanted.items():
        row = rows.get(key)
        if row is None:
            plan.add[key] = record
            continue
        labels = changed_fields(kind, stored_record(kind, row, stored), record)
        if row.retired_at is not None:
            labels.append("retired")
        if kind == "units" and not row.inventory_managed:
            # A unit made by `init` or `units add` that the file now describes.
            labels.append("inventory_managed")
        if labels:
            plan.change.append(Change(key, tuple(labels), record))
    for key, row in rows.items():
        if key in wanted or row.retired_at is not None:
            continue
        if kind == "units" and not row.inventory_managed:
            continue  # not the file's to retire
        plan.retire.append(key)
    plan.retire.sort()
    return plan


def make_plan(inventory: Inventory, stored: StoredInventory) -> Plan:
    """Compare the file with the store."""
    return Plan({kind: _plan_kind(kind, inventory.records[kind], stored) for kind in KINDS})
