"""Reads of what SNMP polls found: who each MAC belongs to, where a computer is plugged in, the
current MAC tables, and the devices' and printers' state (written by
:func:`controller.store.discovery.store_round`).

"Where is this computer" (:func:`host_locations`, :func:`asset_locations`) counts access ports
only, never an uplink where every MAC of the building passes; "who is behind each MAC of this
switch" is :func:`mac_table`. The CLI, the network findings and the host page read here; the
dashboard's paged and scoped views are in :mod:`controller.store.dashboard.network`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from controller.store.discovery import normal_mac
from controller.store.findings import open_key
from controller.store.models import (
    Agent,
    ArpEntry,
    Asset,
    AssetMac,
    Finding,
    MacSighting,
    NetDeviceState,
    NetInterface,
    NetworkDevice,
    PrinterState,
)
from controller.store.scope import UnitScope

_PORT_NAME = func.coalesce(NetInterface.name, NetInterface.descr)


def _sighting_rows() -> Select[*tuple[Any, ...]]:
    """Sightings with their device and port, in :class:`MacRow`'s column order (owner apart)."""
    return (
        select(
            MacSighting.mac,
            MacSighting.device_id,
            NetworkDevice.name,
            NetworkDevice.unit_id,
            MacSighting.if_index,
            _PORT_NAME,
            MacSighting.vlan,
            NetInterface.uplink,
            MacSighting.first_seen,
            MacSighting.last_seen,
        )
        .join(NetworkDevice, NetworkDevice.id == MacSighting.device_id)
        .outerjoin(
            NetInterface,
            and_(
                NetInterface.device_id == MacSighting.device_id,
                NetInterface.if_index == MacSighting.if_index,
            ),
        )
    )


@dataclass(frozen=True, slots=True)
class PortLocation:
    """Where a MAC was learnt: "switch S, port P, VLAN V" (an access port, not an uplink)."""

    device_id: str
    device_name: str
    port_name: str | None
    if_index: int
    vlan: int
    last_seen: datetime
    #: The MAC that was seen there (a computer may have several).
    mac: str = ""
    first_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class Owner:
    """Whom a MAC belongs to: an enrolled computer, an asset of the register, a network device.

    ``kind`` is ``agent`` (then ``hostname`` and, when linked, ``asset_id``), ``asset`` (a
    registered machine without an agent) or ``device`` (a network device of the file).
    """

    kind: str
    unit_id: str
    agent_id: str | None = None
    hostname: str | None = None
    asset_id: str | None = None
    device_id: str | None = None
    classification: str | None = None

    @property
    def label(self) -> str:
        """A short name: the hostname, else the asset or device id."""
        return self.hostname or self.asset_id or self.device_id or self.agent_id or "?"


@dataclass(frozen=True, slots=True)
class MacRow:
    """A current row of a switch's MAC table, with its owner (None: unmanaged)."""

    mac: str
    device_id: str
    device_name: str
    unit_id: str
    if_index: int
    port_name: str | None
    vlan: int
    uplink: bool
    first_seen: datetime
    last_seen: datetime
    owner: Owner | None


@dataclass(frozen=True, slots=True)
class ArpSeen:
    """An ARP entry seen in a round."""

    mac: str
    ip: str
    device_id: str
    device_name: str
    unit_id: str
    if_index: int | None


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A network device of the organisation file with its last poll."""

    device_id: str
    name: str
    kind: str
    unit_id: str
    office_id: str | None
    ip: str | None
    credential: str | None
    for_secret_use: bool
    polled_at: datetime | None
    ok_at: datetime | None
    error: str | None
    elapsed_s: float | None
    profile: str | None
    sys_name: str | None
    sys_descr: str | None
    uptime_s: int | None
    serial: str | None
    values: int
    ports: int
    uplinks: int


@dataclass(frozen=True, slots=True)
class PrinterRow:
    """A network printer's last polled state, with its place in the organisation."""

    device_id: str
    name: str
    unit_id: str
    office_id: str | None
    updated_at: datetime
    ok_at: datetime | None
    status: str | None
    device_status: str | None
    errors: tuple[str, ...]
    pages: int | None
    #: ``{"index", "name", "colour", "kind", "level", "max", "percent"}`` per supply.
    supplies: tuple[dict[str, Any], ...]
    alerts: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Who a MAC belongs to


def known_macs(s: Session) -> dict[str, Owner]:
    """``{mac: owner}`` of every MAC the controller knows: network devices of the file, assets
    of the register, computers with an agent (in that order of precedence, the last wins: an
    enrolled computer is named by its hostname, with its asset when linked)."""
    found: dict[str, Owner] = {}
    for device_id, unit_id, macs in s.execute(
        select(NetworkDevice.id, NetworkDevice.unit_id, NetworkDevice.macs).where(
            NetworkDevice.retired_at.is_(None)
        )
    ):
        for mac in macs or ():
            found[normal_mac(mac)] = Owner("device", unit_id, device_id=device_id)
    linked: dict[str, tuple[str | None, str | None]] = {}
    for asset_id, unit_id, hostname, agent_id, classification, mac in s.execute(
        select(
            Asset.id,
            Asset.unit_id,
            Asset.hostname,
            Asset.agent_id,
            Asset.classification,
            AssetMac.mac,
        )
        .join(AssetMac, AssetMac.asset_id == Asset.id)
        .where(Asset.retired_at.is_(None))
    ):
        found[normal_mac(mac)] = Owner(
            "asset",
            unit_id,
            agent_id=agent_id,
            hostname=hostname,
            asset_id=asset_id,
            classification=classification,
        )
    for asset_id, agent_id, classification in s.execute(
        select(Asset.id, Asset.agent_id, Asset.classification).where(
            Asset.retired_at.is_(None), Asset.agent_id.is_not(None)
        )
    ):
        if agent_id is not None:
            linked[agent_id] = (asset_id, classification)
    for agent_id, unit_id, hostname, macs in s.execute(
        select(Agent.id, Agent.unit_id, Agent.hostname, Agent.macs).where(Agent.status != "revoked")
    ):
        link = linked.get(agent_id, (None, None))
        owner = Owner(
            "agent",
            unit_id,
            agent_id=agent_id,
            hostname=hostname,
            asset_id=link[0],
            classification=link[1],
        )
        for mac in macs or ():
            found[normal_mac(mac)] = owner
    return found


# --------------------------------------------------------------------------------------------
# Locating computers


def _locations(
    s: Session, macs_of: dict[str, set[str]], since: datetime
) -> dict[str, list[PortLocation]]:
    everything = sorted({mac for macs in macs_of.values() for mac in macs})
    found: dict[str, list[PortLocation]] = {key: [] for key in macs_of}
    if not everything:
        return found
    at_mac: dict[str, list[PortLocation]] = defaultdict(list)
    for start in range(0, len(everything), 900):
        rows = s.execute(
            select(
                MacSighting.mac,
                MacSighting.device_id,
                NetworkDevice.name,
                _PORT_NAME,
                MacSighting.if_index,
                MacSighting.vlan,
                MacSighting.first_seen,
                MacSighting.last_seen,
            )
            .join(NetworkDevice, NetworkDevice.id == MacSighting.device_id)
            .outerjoin(
                NetInterface,
                and_(
                    NetInterface.device_id == MacSighting.device_id,
                    NetInterface.if_index == MacSighting.if_index,
                ),
            )
            .where(
                MacSighting.mac.in_(everything[start : start + 900]),
                MacSighting.last_seen >= since,
                # A port without an interface row is taken as an access port (see store_round).
                NetInterface.uplink.is_not(True),
            )
        )
        for mac, device_id, device_name, port, if_index, vlan, first, last in rows:
            at_mac[mac].append(
                PortLocation(device_id, device_name, port, if_index, vlan, last, mac, first)
            )
    for key, macs in macs_of.items():
        places = [place for mac in macs for place in at_mac.get(mac, ())]
        places.sort(key=lambda p: (p.last_seen, p.device_id, p.if_index), reverse=True)
        found[key] = places
    return found


def host_locations(
    s: Session, agent_ids: Sequence[str], *, since: datetime
) -> dict[str, list[PortLocation]]:
    """Where each computer sits: the access-port sightings of its MACs (those it reported,
    and its linked asset's) last seen at or after ``since``, newest first.

    Every id asked for is a key (an empty list: not seen on any polled switch, or unknown).
    """
    ids = sorted(set(agent_ids))
    if not ids:
        return {}
    macs_of: dict[str, set[str]] = {agent_id: set() for agent_id in ids}
    for agent_id, macs in s.execute(select(Agent.id, Agent.macs).where(Agent.id.in_(ids))):
        macs_of[agent_id] = {normal_mac(m) for m in macs or () if m}
    for linked_agent, mac in s.execute(
        select(Asset.agent_id, AssetMac.mac)
        .join(AssetMac, AssetMac.asset_id == Asset.id)
        .where(Asset.agent_id.in_(ids), Asset.retired_at.is_(None))
    ):
        if linked_agent is not None:
            macs_of.setdefault(linked_agent, set()).add(normal_mac(mac))
    return _locations(s, macs_of, since)


def asset_locations(
    s: Session, asset_ids: Sequence[str], *, since: datetime
) -> dict[str, list[PortLocation]]:
    """:func:`host_locations` for assets of the register, by their registered MACs (a computer
    without an agent, a classified one); every id asked for is a key."""
    ids = sorted(set(asset_ids))
    if not ids:
        return {}
    macs_of: dict[str, set[str]] = {asset_id: set() for asset_id in ids}
    for asset_id, mac in s.execute(
        select(AssetMac.asset_id, AssetMac.mac).where(AssetMac.asset_id.in_(ids))
    ):
        macs_of[asset_id].add(normal_mac(mac))
    return _locations(s, macs_of, since)


# --------------------------------------------------------------------------------------------
# MAC tables, devices, printers


def mac_table(
    s: Session,
    *,
    since: datetime,
    device_id: str | None = None,
    scope: UnitScope = None,
    unmanaged: bool = False,
    access_only: bool = False,
    owners: dict[str, Owner] | None = None,
    limit: int | None = None,
) -> list[MacRow]:
    """The current MAC table (sightings last seen at or after ``since``) of one device or of
    every device in ``scope``, each MAC joined to its owner (:func:`known_macs`; None: an
    unmanaged device). ``unmanaged`` keeps only MACs without an owner on access ports.
    Ordered by device, port, VLAN, MAC. ``owners`` lets a caller reuse one index.
    """
    query = (
        _sighting_rows()
        .where(MacSighting.last_seen >= since)
        .order_by(MacSighting.device_id, MacSighting.if_index, MacSighting.vlan, MacSighting.mac)
    )
    if device_id is not None:
        query = query.where(MacSighting.device_id == device_id)
    if scope is not None:
        query = query.where(NetworkDevice.unit_id.in_(sorted(scope)))
    if unmanaged or access_only:
        query = query.where(NetInterface.uplink.is_not(True))
    index = owners if owners is not None else known_macs(s)
    rows: list[MacRow] = []
    for mac, dev, name, unit, if_index, port, vlan, uplink, first, last in s.execute(query):
        owner = index.get(mac)
        if unmanaged and owner is not None:
            continue
        rows.append(
            MacRow(mac, dev, name, unit, if_index, port, vlan, bool(uplink), first, last, owner)
        )
        if limit is not None and len(rows) >= limit:
            break
    return rows


def round_sightings(
    s: Session, at: datetime, macs: Iterable[str], *, since: datetime | None = None
) -> list[MacRow]:
    """Sightings of these MACs in the round stored at ``at`` (or, with ``since``, last seen at
    or after it), access ports first, owners left out: what the classified tripwire checks."""
    wanted = sorted({normal_mac(m) for m in macs})
    if not wanted:
        return []
    rows: list[MacRow] = []
    for start in range(0, len(wanted), 900):
        rows.extend(_round_rows(s, at, wanted[start : start + 900], since))
    rows.sort(key=lambda r: (r.mac, r.uplink, r.device_id, r.if_index))
    return rows


def _round_rows(s: Session, at: datetime, macs: list[str], since: datetime | None) -> list[MacRow]:
    query = _sighting_rows().where(
        MacSighting.mac.in_(macs),
        MacSighting.last_seen == at if since is None else MacSighting.last_seen >= since,
    )
    return [
        MacRow(mac, dev, name, unit, if_index, port, vlan, bool(uplink), first, last, None)
        for mac, dev, name, unit, if_index, port, vlan, uplink, first, last in s.execute(query)
    ]


def round_arp(
    s: Session, at: datetime, macs: Iterable[str], *, since: datetime | None = None
) -> list[ArpSeen]:
    """ARP entries of these MACs seen in the round stored at ``at`` (or since ``since``)."""
    wanted = sorted({normal_mac(m) for m in macs})
    found: list[ArpSeen] = []
    for start in range(0, len(wanted), 900):
        rows = s.execute(
            select(
                ArpEntry.mac,
                ArpEntry.ip,
                ArpEntry.device_id,
                NetworkDevice.name,
                NetworkDevice.unit_id,
                ArpEntry.if_index,
            )
            .join(NetworkDevice, NetworkDevice.id == ArpEntry.device_id)
            .where(
                ArpEntry.mac.in_(wanted[start : start + 900]),
                ArpEntry.last_seen == at if since is None else ArpEntry.last_seen >= since,
            )
        )
        found.extend(ArpSeen(*row) for row in rows)
    found.sort(key=lambda a: (a.mac, a.device_id, a.ip))
    return found


def device_rows(s: Session, *, scope: UnitScope = None) -> list[DeviceRow]:
    """Every live network device in ``scope`` with its last poll (None fields: never polled)
    and its port and uplink counts, by unit then id."""
    ports = {
        device_id: (int(n), int(up or 0))
        for device_id, n, up in s.execute(
            select(
                NetInterface.device_id,
                func.count(),
                func.sum(case((NetInterface.uplink.is_(True), 1), else_=0)),
            ).group_by(NetInterface.device_id)
        )
    }
    query = (
        select(NetworkDevice, NetDeviceState)
        .outerjoin(NetDeviceState, NetDeviceState.device_id == NetworkDevice.id)
        .where(NetworkDevice.retired_at.is_(None))
        .order_by(NetworkDevice.unit_id, NetworkDevice.id)
    )
    if scope is not None:
        query = query.where(NetworkDevice.unit_id.in_(sorted(scope)))
    rows: list[DeviceRow] = []
    for device, state in s.execute(query):
        n, up = ports.get(device.id, (0, 0))
        rows.append(
            DeviceRow(
                device_id=device.id,
                name=device.name,
                kind=device.kind,
                unit_id=device.unit_id,
                office_id=device.office_id,
                ip=device.ip,
                credential=device.snmp_credential,
                for_secret_use=device.for_secret_use,
                polled_at=state.polled_at if state else None,
                ok_at=state.ok_at if state else None,
                error=state.error if state else None,
                elapsed_s=state.elapsed_s if state else None,
                profile=state.profile if state else None,
                sys_name=state.sys_name if state else None,
                sys_descr=state.sys_descr if state else None,
                uptime_s=state.uptime_s if state else None,
                serial=state.serial if state else None,
                values=state.values if state else 0,
                ports=n,
                uplinks=up,
            )
        )
    return rows


def device_interfaces(s: Session, device_id: str) -> list[NetInterface]:
    """The ports of one device as of its last good poll, by ifIndex."""
    return list(
        s.scalars(
            select(NetInterface)
            .where(NetInterface.device_id == device_id)
            .order_by(NetInterface.if_index)
        )
    )


def unknown_devices(s: Session, device_ids: Iterable[str]) -> list[str]:
    """The ids among ``device_ids`` that name no live network device of the file."""
    ids = sorted(set(device_ids))
    if not ids:
        return []
    live = set(
        s.scalars(
            select(NetworkDevice.id).where(
                NetworkDevice.id.in_(ids), NetworkDevice.retired_at.is_(None)
            )
        )
    )
    return [i for i in ids if i not in live]


def printer_rows(s: Session, *, scope: UnitScope = None) -> list[PrinterRow]:
    """Every polled network printer's last state in ``scope``, by unit, office and id."""
    query = (
        select(NetworkDevice, PrinterState, NetDeviceState.ok_at)
        .join(PrinterState, PrinterState.device_id == NetworkDevice.id)
        .outerjoin(NetDeviceState, NetDeviceState.device_id == NetworkDevice.id)
        .where(NetworkDevice.retired_at.is_(None))
        .order_by(NetworkDevice.unit_id, NetworkDevice.office_id, NetworkDevice.id)
    )
    if scope is not None:
        query = query.where(NetworkDevice.unit_id.in_(sorted(scope)))
    return [
        PrinterRow(
            device_id=device.id,
            name=device.name,
            unit_id=device.unit_id,
            office_id=device.office_id,
            updated_at=state.updated_at,
            ok_at=ok_at,
            status=state.status,
            device_status=state.device_status,
            errors=tuple(state.errors or ()),
            pages=state.pages,
            supplies=tuple(state.supplies or ()),
            alerts=tuple(state.alerts or ()),
        )
        for device, state, ok_at in s.execute(query)
    ]


# --------------------------------------------------------------------------------------------
# Findings the network raises (controller.findings.network)


@dataclass(frozen=True, slots=True)
class SecretUseDevice:
    """A network device the organisation file marks for secret documents (BMNN-08)."""

    device_id: str
    unit_id: str
    macs: tuple[str, ...]
    ok_at: datetime | None


def secret_use_devices(s: Session) -> list[SecretUseDevice]:
    """Live network devices with ``for_secret_use``, with their last answer to SNMP."""
    rows = s.execute(
        select(NetworkDevice.id, NetworkDevice.unit_id, NetworkDevice.macs, NetDeviceState.ok_at)
        .outerjoin(NetDeviceState, NetDeviceState.device_id == NetworkDevice.id)
        .where(NetworkDevice.retired_at.is_(None), NetworkDevice.for_secret_use.is_(True))
        .order_by(NetworkDevice.id)
    )
    return [
        SecretUseDevice(device_id, unit_id, tuple(normal_mac(m) for m in macs or ()), ok_at)
        for device_id, unit_id, macs, ok_at in rows
    ]


def device_units(s: Session, device_ids: Iterable[str]) -> dict[str, str]:
    """``{device_id: unit_id}`` of these network devices."""
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    return {
        device_id: unit_id
        for device_id, unit_id in s.execute(
            select(NetworkDevice.id, NetworkDevice.unit_id).where(NetworkDevice.id.in_(ids))
        )
    }


def live_findings(s: Session, rule_id: str, kind: str) -> dict[str, Finding]:
    """The live (not resolved) findings of ``rule_id`` on subjects ``<kind>:...``, by subject."""
    rows = s.scalars(
        select(Finding).where(
            Finding.rule_id == rule_id,
            Finding.open_key.is_not(None),
            Finding.subject.like(f"{kind}:%"),
        )
    )
    return {f.subject: f for f in rows}


def close_finding(s: Session, subject: str, rule_id: str, at: datetime) -> bool:
    """Resolve the live finding of ``subject`` for ``rule_id`` (its cause is gone); whether
    there was one."""
    result = s.execute(
        update(Finding)
        .where(Finding.open_key == open_key(subject, rule_id))
        .values(open_key=None, status="resolved", resolved_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1
