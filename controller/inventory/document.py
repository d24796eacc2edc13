"""Read an organisation file: YAML with line numbers, the JSON Schema, then cross-references.

Every problem becomes one ``FILE:LINE: where: what`` message; :func:`load_inventory` reports all
of them at once (an operator fixing a 3,000-line file wants the full list, not one per run).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from controller.inventory.records import ID_FIELD, KINDS, Record, from_entry
from controller.policy.yamlsrc import LineDict, LineList, YamlError, load_yaml

#: The schema ships inside the package (a link to the repository's inventory/schema.json).
SCHEMA_PATH = Path(__file__).with_name("schema.json")


class InventoryError(Exception):
    """An organisation file that cannot be imported; ``errors`` are ``FILE:LINE: ...`` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors[0] if len(errors) == 1 else f"{len(errors)} errors")
        self.errors = errors


@dataclass
class Inventory:
    """A valid organisation file as records per kind, keyed by id (offices: ``unit/office``)."""

    path: Path
    records: dict[str, dict[str, Record]] = field(default_factory=dict)


@functools.cache
def _validator() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def office_key(unit_id: str, office_id: str) -> str:
    """The key of an office in records and messages: ``unit/office``."""
    return f"{unit_id}/{office_id}"


def _dates_to_text(node: Any) -> None:
    # YAML turns unquoted 2025-03-01 into a date; the schema (like JSON) only knows strings.
    items: Iterable[tuple[Any, Any]]
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return
    for key, value in items:
        if isinstance(value, date):
            node[key] = value.isoformat()
        else:
            _dates_to_text(value)


def _line(doc: Any, path: Iterable[Any]) -> int:
    """The line of the node at ``path`` (the nearest enclosing line when it has none)."""
    line = getattr(doc, "line", 1) or 1
    node = doc
    for step in path:
        in_dict = isinstance(node, LineDict) and step in node
        in_list = isinstance(node, LineList) and isinstance(step, int) and step < len(node)
        if not (in_dict or in_list):
            break
        line = node.line_of(step)
        node = node[step]
    return line


def _where(path: Iterable[Any]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "(top)"


def _schema_errors(source: Path, doc: Any) -> list[str]:
    errors = sorted(_validator().iter_errors(doc), key=lambda e: _line(doc, e.absolute_path))
    return [
        f"{source}:{_line(doc, error.absolute_path)}: {_where(error.absolute_path)}: "
        f"{error.message}"
        for error in errors
    ]


class _Checker:
    """The checks a schema cannot express: unique ids, MACs and serials, and references."""

    def __init__(self, source: Path, doc: LineDict) -> None:
        self.source = source
        self.doc = doc
        self.errors: list[tuple[int, str]] = []
        self.inventory = Inventory(source, {kind: {} for kind in KINDS})
        self.lines: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}

    def error(self, line: int, message: str) -> None:
        self.errors.append((line, f"{self.source}:{line}: {message}"))

    def entries(self, kind: str) -> list[tuple[LineDict, int]]:
        items: LineList = self.doc.get(kind) or LineList()
        return [(entry, items.line_of(i)) for i, entry in enumerate(items)]

    def add(self, kind: str, key: str, entry: LineDict, line: int, record: Record) -> None:
        if key in self.inventory.records[kind]:
            first = self.lines[kind][key]
            self.error(line, f"{kind}: duplicate id {key!r} (first at line {first})")
            return
        self.inventory.records[kind][key] = record
        self.lines[kind][key] = line

    def run(self) -> None:
        for kind in KINDS:
            if kind == "offices":
                continue
            for entry, line in self.entries(kind):
                self.add(kind, entry[ID_FIELD[kind]], entry, line, from_entry(kind, entry))
                if kind == "units":
                    self.inventory.records[kind][entry["id"]]["inventory_managed"] = True
                    for office, office_line in _offices(entry):
                        key = office_key(entry["id"], office["id"])
                        record = from_entry("offices", office)
                        self.add("offices", key, office, office_line, record)
        self.check_units()
        self.check_members()
        self.check_identities()

    def check_units(self) -> None:
        units = self.inventory.records["units"]
        for unit_id, record in units.items():
            line = self.lines["units"][unit_id]
            parent = record["parent_id"]
            if parent is not None and parent not in units:
                self.error(line, f"unit {unit_id}: unknown parent unit {parent!r}")
        # A loop of parents has no top: walk up from each unit and stop at a repeat.
        for unit_id in units:
            seen = [unit_id]
            parent = units[unit_id]["parent_id"]
            while parent is not None and parent in units and parent not in seen:
                seen.append(parent)
                parent = units[parent]["parent_id"]
            if parent == unit_id:
                self.error(
                    self.lines["units"][unit_id],
                    f"unit {unit_id}: its parents form a loop ({' → '.join([*seen, unit_id])})",
                )

    def place(self, kind: str, key: str, record: Record) -> None:
        """Check that a record's unit and office exist."""
        line = self.lines[kind][key]
        unit, office = record["unit_id"], record["office_id"]
        if unit not in self.inventory.records["units"]:
            self.error(line, f"{kind} {key}: unknown unit {unit!r}")
        elif (
            office is not None and office_key(unit, office) not in self.inventory.records["offices"]
        ):
            self.error(line, f"{kind} {key}: unknown office {office!r} in unit {unit!r}")

    def check_members(self) -> None:
        records = self.inventory.records
        for key, record in records["officials"].items():
            self.place("officials", key, record)
        for key, record in records["assets"].items():
            self.place("assets", key, record)
            line = self.lines["assets"][key]
            user = record["assigned_user"]
            if user is not None and user not in records["officials"]:
                self.error(line, f"asset {key}: unknown official {user!r} in assigned_user")
            if record["classification"] == "classified" and not record["security_plan_ref"]:
                self.error(line, f"asset {key}: a classified asset needs security_plan_ref")
        for key, record in records["network_devices"].items():
            self.place("network_devices", key, record)
            credential = record["snmp_credential"]
            if credential is not None and credential not in records["snmp_credentials"]:
                self.error(
                    self.lines["network_devices"][key],
                    f"network device {key}: unknown SNMP credential {credential!r} "
                    "(declare it under snmp_credentials)",
                )

    def check_identities(self) -> None:
        # Two machines with one MAC or serial would make the tripwire match the wrong one.
        for column in ("macs", "serial", "machine_id"):
            owners: dict[str, str] = {}
            for kind in ("assets", "network_devices"):
                for key, record in self.inventory.records[kind].items():
                    value = record.get(column)
                    values = value if isinstance(value, list) else [value]
                    for item in values:
                        if item is None:
                            continue
                        if item in owners:
                            what = "MAC" if column == "macs" else column.replace("_", " ")
                            self.error(
                                self.lines[kind][key],
                                f"{kind} {key}: duplicate {what} {item} (also {owners[item]})",
                            )
                        else:
                            owners[item] = key


def _offices(unit: LineDict) -> list[tuple[LineDict, int]]:
    offices: LineList = unit.get("offices") or LineList()
    return [(office, offices.line_of(i)) for i, office in enumerate(offices)]


def load_inventory(path: Path) -> Inventory:
    """Read and check an organisation file; raises :class:`InventoryError` with every problem."""
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise InventoryError([str(exc)]) from exc
    if not isinstance(doc, LineDict):
        raise InventoryError([f"{path}:1: the file must be a mapping with schema_version, units"])
    _dates_to_text(doc)
    errors = _schema_errors(path, doc)
    if errors:
        raise InventoryError(errors)
    checker = _Checker(path, doc)
    checker.run()
    if checker.errors:
        raise InventoryError([message for _, message in sorted(checker.errors)])
    return checker.inventory
