"""Read an organisation file: YAML with line numbers, the JSON Schema, then cross-references.

Every problem becomes one ``FILE:LINE: where: what`` message; :func:`load_inventory` reports all
of them at once (an operator fixing a 3,000-line file wants the full list, not one per run).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from controller.inventory.records import ID_FIELD, KINDS, Record, from_entry
from controller.policy.yamlsrc import LineDict, LineList, LineLoader


class _Loader(LineLoader):
    """Line-numbered safe YAML that keeps dates as text (the schema checks them, with a line)."""


# Otherwise PyYAML builds dates itself and 2024-02-30 fails with a ValueError and no line.
def _timestamp_as_text(loader: _Loader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)

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


def _read(path: Path) -> Any:
    """Parse ``path`` (errors as ``FILE:LINE: invalid YAML: ...``, like the policy loader)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise InventoryError([f"{path}: not UTF-8 text: {exc.reason}"]) from exc
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise InventoryError([f"{path}:{line}: invalid YAML: {what}"]) from exc
    except yaml.YAMLError as exc:
        raise InventoryError([f"{path}: invalid YAML: {exc}"]) from exc


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
        self.entries_of: dict[str, dict[str, LineDict]] = {kind: {} for kind in KINDS}

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
        self.entries_of[kind][key] = entry

    def line_of(self, kind: str, key: str, name: str) -> int:
        """The line of field ``name`` of an entry (the entry's line when the field is absent)."""
        entry = self.entries_of[kind][key]
        return entry.line_of(name) if name in entry else self.lines[kind][key]

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
            parent = record["parent_id"]
            if parent is not None and parent not in units:
                self.error(
                    self.line_of("units", unit_id, "parent"),
                    f"unit {unit_id}: unknown parent unit {parent!r}",
                )
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
        unit, office = record["unit_id"], record["office_id"]
        offices = self.inventory.records["offices"]
        if unit not in self.inventory.records["units"]:
            self.error(self.line_of(kind, key, "unit"), f"{kind} {key}: unknown unit {unit!r}")
        elif office is not None and office_key(unit, office) not in offices:
            self.error(
                self.line_of(kind, key, "office"),
                f"{kind} {key}: unknown office {office!r} in unit {unit!r}",
            )

    def check_members(self) -> None:
        records = self.inventory.records
        for key, record in records["officials"].items():
            self.place("officials", key, record)
        for key, record in records["assets"].items():
            self.place("assets", key, record)
            user = record["assigned_user"]
            if user is not None and user not in records["officials"]:
                self.error(
                    self.line_of("assets", key, "assigned_user"),
                    f"asset {key}: unknown official {user!r} in assigned_user",
                )
            if record["classification"] == "classified" and not record["security_plan_ref"]:
                self.error(
                    self.line_of("assets", key, "classification"),
                    f"asset {key}: a classified asset needs security_plan_ref",
                )
        for key, record in records["network_devices"].items():
            self.place("network_devices", key, record)
            credential = record["snmp_credential"]
            if credential is not None and credential not in records["snmp_credentials"]:
                self.error(
                    self.line_of("network_devices", key, "snmp_credential"),
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
                                self.line_of(kind, key, column),
                                f"{kind} {key}: duplicate {what} {item} (also {owners[item]})",
                            )
                        else:
                            owners[item] = key


def _offices(unit: LineDict) -> list[tuple[LineDict, int]]:
    offices: LineList = unit.get("offices") or LineList()
    return [(office, offices.line_of(i)) for i, office in enumerate(offices)]


def load_inventory(path: Path) -> Inventory:
    """Read and check an organisation file; raises :class:`InventoryError` with every problem."""
    doc = _read(path)
    if not isinstance(doc, LineDict):
        raise InventoryError([f"{path}:1: the file must be a mapping with schema_version, units"])
    errors = _schema_errors(path, doc)
    if errors:
        raise InventoryError(errors)
    checker = _Checker(path, doc)
    checker.run()
    if checker.errors:
        raise InventoryError([message for _, message in sorted(checker.errors)])
    return checker.inventory
