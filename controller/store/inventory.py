"""The organisation file's tables: units, offices, officials, assets, SNMP credentials, devices.

Nothing here is ever deleted: ids are referenced by users, tokens, agents and findings, so a row
that leaves the organisation file gets ``retired_at`` and comes back to life if it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from controller.store.models import (
    Agent,
    Asset,
    AssetMac,
    Base,
    EnrollmentToken,
    NetworkDevice,
    Office,
    Official,
    SnmpCredential,
    Unit,
)

#: The model of each kind of record.
MODELS: dict[str, type[Base]] = {
    "units": Unit,
    "offices": Office,
    "officials": Official,
    "snmp_credentials": SnmpCredential,
    "assets": Asset,
    "network_devices": NetworkDevice,
}


@dataclass
class StoredInventory:
    """Every inventory row, retired or not, keyed like the file (offices: ``unit/office``)."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Each asset's MACs, sorted (they live in their own table for the tripwire's index).
    asset_macs: dict[str, list[str]] = field(default_factory=dict)


def _key(kind: str, row: Any) -> str:
    if kind == "offices":
        return f"{row.unit_id}/{row.id}"
    if kind == "snmp_credentials":
        return str(row.name)
    return str(row.id)


def load_inventory_rows(s: Session) -> StoredInventory:
    """Every row of every inventory kind (one query per table)."""
    stored = StoredInventory()
    for kind, model in MODELS.items():
        stored.rows[kind] = {_key(kind, row): row for row in s.scalars(select(model))}
    for asset_id, mac in s.execute(select(AssetMac.asset_id, AssetMac.mac).order_by(AssetMac.mac)):
        stored.asset_macs.setdefault(asset_id, []).append(mac)
    return stored


def add_row(s: Session, kind: str, key: str, values: Mapping[str, Any]) -> Any:
    """Insert one row of ``kind``; ``values`` are its columns (assets: ``macs`` included)."""
    columns = dict(values)
    macs: list[str] = columns.pop("macs", []) if kind == "assets" else []
    if kind == "offices":
        columns["unit_id"], columns["id"] = key.split("/", 1)
    elif kind == "snmp_credentials":
        columns["name"] = key
    else:
        columns["id"] = key
    row = MODELS[kind](**columns)
    s.add(row)
    if kind == "assets":
        s.add_all(AssetMac(asset_id=key, mac=mac) for mac in macs)
    return row


def update_row(s: Session, kind: str, row: Any, values: Mapping[str, Any]) -> None:
    """Set the given columns of ``row`` and bring it back if it was retired."""
    columns = dict(values)
    if kind == "assets" and "macs" in columns:
        set_asset_macs(s, row.id, columns.pop("macs"))
    for column, value in columns.items():
        setattr(row, column, value)
    row.retired_at = None


def retire_row(row: Any, at: datetime) -> None:
    """Mark ``row`` as gone from the organisation (it stays for what refers to it)."""
    row.retired_at = at


def set_asset_macs(s: Session, asset_id: str, macs: Iterable[str]) -> None:
    """Replace the MACs of one asset."""
    wanted = set(macs)
    current = {m.mac: m for m in s.scalars(select(AssetMac).where(AssetMac.asset_id == asset_id))}
    for mac, row in current.items():
        if mac not in wanted:
            s.delete(row)
    s.add_all(AssetMac(asset_id=asset_id, mac=mac) for mac in sorted(wanted - set(current)))


def asset_macs(s: Session, asset_id: str) -> list[str]:
    """The expected MACs of one asset, sorted."""
    query = select(AssetMac.mac).where(AssetMac.asset_id == asset_id).order_by(AssetMac.mac)
    return list(s.scalars(query))


def find_assets_by_identity(
    s: Session,
    *,
    macs: Iterable[str] = (),
    serial: str | None = None,
    machine_ids: Iterable[str] = (),
    hostname: str | None = None,
    include_retired: bool = False,
) -> list[Asset]:
    """Assets whose MAC, serial, machine id (or system UUID) or host name matches, by id.

    The tripwire passes everything a report, an enrollment or a switch shows about a machine;
    one matching identifier is enough. MACs must be lower-case ``aa:bb:cc:dd:ee:ff``; host
    names compare case-insensitively.
    """
    conditions: list[Any] = []
    wanted_macs = sorted({mac for mac in macs if mac})
    if wanted_macs:
        conditions.append(
            Asset.id.in_(select(AssetMac.asset_id).where(AssetMac.mac.in_(wanted_macs)))
        )
    if serial:
        conditions.append(Asset.serial == serial)
    ids = sorted({value for value in machine_ids if value})
    if ids:
        conditions.append(Asset.machine_id.in_(ids))
    if hostname:
        # Host names are stored as written; Windows shows them upper-case.
        spellings = sorted({hostname, hostname.lower(), hostname.upper()})
        conditions.append(Asset.hostname.in_(spellings))
    if not conditions:
        return []
    query = select(Asset).where(or_(*conditions)).order_by(Asset.id)
    if not include_retired:
        query = query.where(Asset.retired_at.is_(None))
    return list(s.scalars(query))


def official_roles(s: Session, official_ids: Iterable[str]) -> dict[str, list[str]]:
    """The roles of each of the given officials (absent ids are left out)."""
    ids = sorted(set(official_ids))
    if not ids:
        return {}
    rows = s.execute(select(Official.id, Official.roles).where(Official.id.in_(ids)))
    return {official_id: sorted(roles or []) for official_id, roles in rows}


def unit_users(s: Session, unit_ids: Iterable[str], now: datetime) -> dict[str, tuple[int, int]]:
    """Per unit: active agents and usable enrollment tokens (units with neither left out).

    An import that retires such a unit says so: those computers keep reporting to a unit that
    no longer exists in the organisation file.
    """
    ids = sorted(set(unit_ids))
    if not ids:
        return {}
    agents = dict(
        s.execute(
            select(Agent.unit_id, func.count())
            .where(Agent.unit_id.in_(ids), Agent.status == "active")
            .group_by(Agent.unit_id)
        ).all()
    )
    tokens = dict(
        s.execute(
            select(EnrollmentToken.unit_id, func.count())
            .where(
                EnrollmentToken.unit_id.in_(ids),
                EnrollmentToken.revoked_at.is_(None),
                EnrollmentToken.expires_at > now,
                EnrollmentToken.uses < EnrollmentToken.max_uses,
            )
            .group_by(EnrollmentToken.unit_id)
        ).all()
    )
    return {
        unit_id: (agents.get(unit_id, 0), tokens.get(unit_id, 0))
        for unit_id in ids
        if agents.get(unit_id) or tokens.get(unit_id)
    }
