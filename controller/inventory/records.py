"""The fields of each kind of inventory record, and their two spellings.

A record is a flat ``{column: value}`` dict in the store's vocabulary (``headcount_can_bo``,
``parent_id``); the organisation file spells the same fields as YAML paths (``headcount.can_bo``,
``parent``). One table per kind maps the two, so the loader, the diff, the apply step and the
export all agree on what a field is and on its default, and a re-import of an export is a no-op.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

ValueType = Literal["str", "int", "date", "list", "bool", "connection"]
Record = dict[str, Any]


@dataclass(frozen=True)
class Field:
    """One field: where it sits in the YAML entry, its column, its type and default."""

    path: tuple[str, ...]
    column: str
    type: ValueType = "str"
    default: Any = None

    @property
    def label(self) -> str:
        """The YAML spelling shown to operators: ``headcount.can_bo``."""
        return ".".join(self.path)


def _headcount() -> tuple[Field, ...]:
    return tuple(
        Field(("headcount", name), f"headcount_{name}", "int")
        for name in ("can_bo", "cong_chuc", "vien_chuc")
    )


#: The kinds in the order they are applied (a kind only refers to kinds before it).
KINDS = ("units", "offices", "officials", "snmp_credentials", "assets", "network_devices")

FIELDS: dict[str, tuple[Field, ...]] = {
    "units": (
        Field(("name",), "name"),
        Field(("kind",), "kind"),
        Field(("parent",), "parent_id"),
        Field(("code",), "code"),
        *_headcount(),
        Field(("organisational_certificate", "issuer"), "org_cert_issuer"),
        Field(("organisational_certificate", "serial"), "org_cert_serial"),
        Field(("organisational_certificate", "expires_on"), "org_cert_expires_on", "date"),
    ),
    "offices": (Field(("name",), "name"), *_headcount()),
    "officials": (
        Field(("name",), "name"),
        Field(("unit",), "unit_id"),
        Field(("office",), "office_id"),
        Field(("position",), "position"),
        Field(("category",), "category"),
        Field(("roles",), "roles", "list", ()),
        Field(("personal_certificate", "status"), "cert_status"),
        Field(("personal_certificate", "issuer"), "cert_issuer"),
        Field(("personal_certificate", "serial"), "cert_serial"),
        Field(("personal_certificate", "expires_on"), "cert_expires_on", "date"),
    ),
    "snmp_credentials": (
        Field(("version",), "version"),
        Field(("description",), "description"),
    ),
    "assets": (
        Field(("kind",), "kind"),
        Field(("unit",), "unit_id"),
        Field(("office",), "office_id"),
        Field(("hostname",), "hostname"),
        Field(("macs",), "macs", "list", ()),
        Field(("serial",), "serial"),
        Field(("machine_id",), "machine_id"),
        Field(("model",), "model"),
        Field(("assigned_user",), "assigned_user"),
        Field(("classification",), "classification", default="normal"),
        Field(("state",), "state", default="in_use"),
        Field(("tags",), "tags", "list", ()),
        Field(("for_secret_use",), "for_secret_use", "bool", False),
        Field(("security_plan_ref",), "security_plan_ref"),
        Field(("security_plan_approved_at",), "security_plan_approved_at", "date"),
        Field(("security_plan_reviewed_at",), "security_plan_reviewed_at", "date"),
        Field(("sanitisation_ref",), "sanitisation_ref"),
        Field(("purchased_at",), "purchased_at", "date"),
        Field(("connection",), "connection", "connection"),
    ),
    "network_devices": (
        Field(("kind",), "kind"),
        Field(("name",), "name"),
        Field(("unit",), "unit_id"),
        Field(("office",), "office_id"),
        Field(("hostname",), "hostname"),
        Field(("ip",), "ip"),
        Field(("macs",), "macs", "list", ()),
        Field(("serial",), "serial"),
        Field(("model",), "model"),
        Field(("snmp_credential",), "snmp_credential"),
        Field(("for_secret_use",), "for_secret_use", "bool", False),
    ),
}

#: The field that names an entry in the file (offices are keyed ``unit/office`` in records).
ID_FIELD = {kind: "name" if kind == "snmp_credentials" else "id" for kind in KINDS}


def normalise_mac(mac: str) -> str:
    """``AA-BB-CC-DD-EE-FF`` → ``aa:bb:cc:dd:ee:ff`` (the one spelling stored and compared)."""
    return mac.strip().lower().replace("-", ":")


#: The keys of an asset's ``connection`` in the order they are stored and exported.
CONNECTION_KEYS = ("address", "port", "user", "transport")


def normalise_connection(value: dict[str, Any]) -> dict[str, Any]:
    """An asset's ``connection`` as stored: only the keys given (defaults depend on the host's
    OS and are filled in by the Ansible inventory), IP addresses in their one spelling
    (``2001:DB8::1`` → ``2001:db8::1``) and DNS names in lower case."""
    out: dict[str, Any] = {key: value[key] for key in CONNECTION_KEYS if value.get(key) is not None}
    if "address" in out:
        try:
            out["address"] = str(ipaddress.ip_address(str(out["address"])))
        except ValueError:
            out["address"] = str(out["address"]).lower()
    if "port" in out:
        out["port"] = int(out["port"])
    for key in ("user", "transport"):
        if key in out:
            out[key] = str(out[key])
    return out


def _canonical(field: Field, value: Any) -> Any:
    """The value as stored and compared: dates as :class:`date`, lists sorted, defaults filled."""
    if value is None:
        return list(field.default) if field.type == "list" else field.default
    if field.type == "date":
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if field.type == "list":
        items = [str(item) for item in value]
        if field.column == "macs":
            items = [normalise_mac(item) for item in items]
        # Order carries no meaning for MACs, tags or roles: sorting makes re-imports stable.
        return sorted(items)
    if field.type == "bool":
        return bool(value)
    if field.type == "connection":
        return normalise_connection(value) if isinstance(value, dict) and value else None
    if field.type == "int":
        return int(value)
    return str(value)


def from_entry(kind: str, entry: dict[str, Any]) -> Record:
    """The record of one YAML entry (already schema-valid)."""
    record: Record = {}
    for field in FIELDS[kind]:
        value: Any = entry
        for step in field.path:
            value = value.get(step) if isinstance(value, dict) else None
        record[field.column] = _canonical(field, value)
    return record


def from_row(kind: str, row: Any) -> Record:
    """The record of one stored row (an ORM object with the columns as attributes).

    A field the row has no column for (an asset's MACs, kept in their own table) comes out
    empty; the caller fills it in.
    """
    return {
        field.column: _canonical(field, getattr(row, field.column, None)) for field in FIELDS[kind]
    }


def to_entry(kind: str, record: Record) -> dict[str, Any]:
    """The YAML entry of a record: empty and default-False fields left out, dates as text."""
    entry: dict[str, Any] = {}
    for field in FIELDS[kind]:
        value = record.get(field.column)
        if value is None or value == [] or (field.type == "bool" and not value):
            continue
        if isinstance(value, date):
            value = value.isoformat()
        target = entry
        for step in field.path[:-1]:
            target = target.setdefault(step, {})
        target[field.path[-1]] = value
    return entry


def changed_fields(kind: str, old: Record, new: Record) -> list[str]:
    """The YAML labels of the fields whose values differ."""
    return [field.label for field in FIELDS[kind] if old.get(field.column) != new.get(field.column)]
