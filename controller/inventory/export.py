"""Write the stored organisation back as a file that re-imports with no change."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy.orm import Session

from controller.inventory.plan import stored_record
from controller.inventory.records import ID_FIELD, KINDS, to_entry
from controller.store.inventory import load_inventory_rows

HEADER = (
    "# Tệp tổ chức govguard (docs/inventory.md), xuất từ cơ sở dữ liệu.\n"
    "# govguard organisation file (docs/inventory.md), exported from the database.\n"
)


def export_document(s: Session, title: str | None = None) -> dict[str, Any]:
    """The organisation file's content: every unit the file manages and everything not retired."""
    stored = load_inventory_rows(s)
    doc: dict[str, Any] = {"schema_version": 1}
    if title:
        doc["title"] = title
    offices: dict[str, list[dict[str, Any]]] = {}
    for _key, row in sorted(stored.rows["offices"].items()):
        if row.retired_at is None:
            entry = {"id": row.id, **to_entry("offices", stored_record("offices", row, stored))}
            offices.setdefault(row.unit_id, []).append(entry)
    for kind in KINDS:
        if kind == "offices":
            continue
        entries = []
        for key, row in sorted(stored.rows[kind].items()):
            if row.retired_at is not None or (kind == "units" and not row.inventory_managed):
                continue
            entry = {ID_FIELD[kind]: key, **to_entry(kind, stored_record(kind, row, stored))}
            if kind == "units" and key in offices:
                entry["offices"] = offices[key]
            entries.append(entry)
        if entries or kind == "units":
            doc[kind] = entries
    return doc


def export_yaml(s: Session, title: str | None = None) -> str:
    """:func:`export_document` as YAML text (UTF-8, Vietnamese kept readable)."""
    body = yaml.safe_dump(export_document(s, title), allow_unicode=True, sort_keys=False, width=100)
    return HEADER + body
