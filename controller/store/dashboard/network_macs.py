"""MAC addresses on the Network page: a device's MAC table, the MAC search, whose MAC it is.

Sightings (``mac_sightings``) are joined to their owner one page at a time: an agent that
reported the MAC, an asset of the organisation file that lists it, a network device of the
file, or nobody (an unmanaged device). A classified computer's MAC is marked critical and, for
an account that may not see classified computers' locations (``reports.locations``), shows only
its asset id: no host name, no office, no link (as the reports redact them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, cast, func, or_, select, true
from sqlalchemy.orm import Session

from controller.store.dashboard._common import (
    QueryError,
    live_asset,
    mac_digits,
    page_bounds,
    unit_filter,
)
from controller.store.models import (
    Agent,
    ArpEntry,
    Asset,
    AssetMac,
    MacSighting,
    NetInterface,
    NetworkDevice,
    Unit,
)
from controller.store.scope import UnitScope, in_scope

MAC_SORTS = ("port", "mac", "vlan", "first_seen", "last_seen")
#: The MAC search lists at most this many addresses (a vendor prefix can match thousands).
SEARCH_MACS = 50
#: Sightings listed per address in the search (newest first).
SEARCH_HISTORY = 200


@dataclass(frozen=True, slots=True)
class MacOwner:
    """Whose MAC address it is, as far as the controller knows.

    ``kind``: ``agent`` (a computer with an agent: link to its page), ``asset`` (in the
    organisation file, no agent), ``device`` (a network device of the file), ``elsewhere`` (a
    known computer of a unit the caller does not see: nothing more is said), ``unmanaged``.
    """

    kind: str
    classified: bool = False
    agent_id: str | None = None
    hostname: str | None = None
    asset_id: str | None = None
    office_id: str | None = None
    device_id: str | None = None
    device_name: str | None = None
    unit_name: str | None = None
    #: A classified computer whose host name and office are withheld from this caller.
    redacted: bool = False


UNMANAGED = MacOwner("unmanaged")


@dataclass(frozen=True, slots=True)
class _Asset:
    id: str
    unit_id: str
    classification: str
    agent_id: str | None
    hostname: str | None
    office_id: str | None


@dataclass(frozen=True, slots=True)
class _Agent:
    id: str
    hostname: str
    unit_id: str
    offline: bool


def normal_mac(mac: str) -> str:
    """A MAC in the stored notation (``aa:bb:cc:dd:ee:ff``) from any common one."""
    digits = mac_digits(mac) or mac.strip().lower()
    if len(digits) == 12:
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    return mac.strip().lower()


def _assets_by_mac(s: Session, macs: Sequence[str]) -> dict[str, _Asset]:
    found: dict[str, _Asset] = {}
    for mac, asset_id, unit_id, classification, agent_id, hostname, office_id in s.execute(
        select(
            func.lower(AssetMac.mac),
            Asset.id,
            Asset.unit_id,
            Asset.classification,
            Asset.agent_id,
            Asset.hostname,
            Asset.office_id,
        )
        .join(Asset, Asset.id == AssetMac.asset_id)
        .where(func.lower(AssetMac.mac).in_(list(macs)), live_asset())
    ):
        found[mac] = _Asset(asset_id, unit_id, classification, agent_id, hostname, office_id)
    return found


def _agent_mac_rows(s: Session) -> Any:
    """``agents`` joined to the elements of their ``macs`` JSON list: ``(agent, mac text)``.

    One pass over the agents with the database's own JSON function (SQLite ``json_each``,
    PostgreSQL ``json_array_elements_text``): a LIKE per wanted MAC over the JSON text cost
    40 s for 100 MACs and 100,000 agents on SQLite, this under one second.
    """
    if s.get_bind().dialect.name == "postgresql":
        items = func.json_array_elements_text(cast(Agent.macs, JSON)).table_valued("value")
    else:
        items = func.json_each(Agent.macs).table_valued("value")
    return items


def _agents_by_mac(s: Session, macs: Sequence[str]) -> dict[str, _Agent]:
    """Agents that reported one of ``macs`` (their enrolled identity's MACs), active first.

    Compared as bare hex digits, so a MAC stored in another notation still matches (the hosts
    search does the same).
    """
    wanted = {mac.replace(":", ""): mac for mac in macs}
    items = _agent_mac_rows(s)
    bare = func.replace(func.replace(func.lower(items.c.value), ":", ""), "-", "")
    found: dict[str, _Agent] = {}
    rows = s.execute(
        select(Agent.id, Agent.hostname, Agent.unit_id, Agent.offline, bare)
        .select_from(Agent)
        .join(items, true())
        .where(Agent.status != "revoked", bare.in_(sorted(wanted)))
        .order_by(Agent.status != "active", Agent.id)
    )
    for agent_id, hostname, unit_id, offline, digits in rows:
        mac = wanted.get(digits)
        if mac is not None and mac not in found:
            found[mac] = _Agent(agent_id, hostname, unit_id, bool(offline))
    return found


def _devices_by_mac(s: Session, macs: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    wanted = set(macs)
    found: dict[str, tuple[str, str, str]] = {}
    # Network devices are few (a province: thousands) and their MACs are a JSON list.
    for device_id, name, unit_id, device_macs in s.execute(
        select(
            NetworkDevice.id, NetworkDevice.name, NetworkDevice.unit_id, NetworkDevice.macs
        ).where(NetworkDevice.retired_at.is_(None))
    ):
        for raw in device_macs or []:
            mac = normal_mac(str(raw))
            if mac in wanted:
                found.setdefault(mac, (device_id, name, unit_id))
    return found


def mac_owners(
    s: Session, scope: UnitScope, macs: Iterable[str], *, show_locations: bool
) -> dict[str, MacOwner]:
    """The owner of each of ``macs`` (stored notation); every MAC gets one (maybe unmanaged).

    ``show_locations``: the caller may see classified computers' host names and offices.
    """
    wanted = sorted({normal_mac(m) for m in macs})
    if not wanted:
        return {}
    assets = _assets_by_mac(s, wanted)
    agents = _agents_by_mac(s, wanted)
    linked_ids = {a.agent_id for a in assets.values() if a.agent_id} - {
        a.id for a in agents.values()
    }
    by_id: dict[str, _Agent] = {}
    if linked_ids:
        by_id = {
            agent_id: _Agent(agent_id, hostname, unit_id, bool(offline))
            for agent_id, hostname, unit_id, offline in s.execute(
                select(Agent.id, Agent.hostname, Agent.unit_id, Agent.offline).where(
                    Agent.id.in_(sorted(linked_ids))
                )
            )
        }
    agent_assets: dict[str, _Asset] = {}
    agent_ids = sorted({a.id for a in agents.values()})
    if agent_ids:
        for asset_id, unit_id, classification, agent_id, hostname, office_id in s.execute(
            select(
                Asset.id,
                Asset.unit_id,
                Asset.classification,
                Asset.agent_id,
                Asset.hostname,
                Asset.office_id,
            ).where(Asset.agent_id.in_(agent_ids), live_asset())
        ):
            if agent_id is None:
                continue
            agent_assets[agent_id] = _Asset(
                asset_id, unit_id, classification, agent_id, hostname, office_id
            )
    devices = _devices_by_mac(s, [m for m in wanted if m not in assets and m not in agents])
    names: dict[str, str] = {uid: name for uid, name in s.execute(select(Unit.id, Unit.name))}
    owners: dict[str, MacOwner] = {}
    for mac in wanted:
        asset = assets.get(mac)
        agent = agents.get(mac)
        if agent is None and asset is not None and asset.agent_id:
            agent = by_id.get(asset.agent_id)
        if asset is None and agent is not None:
            asset = agent_assets.get(agent.id)
        if agent is not None or asset is not None:
            owners[mac] = _computer(agent, asset, scope, names, show_locations)
        elif mac in devices:
            device_id, name, unit_id = devices[mac]
            visible = in_scope(scope, unit_id)
            owners[mac] = MacOwner(
                "device" if visible else "elsewhere",
                device_id=device_id if visible else None,
                device_name=name if visible else None,
                unit_name=names.get(unit_id) if visible else None,
            )
        else:
            owners[mac] = UNMANAGED
    return owners


def _computer(
    agent: _Agent | None,
    asset: _Asset | None,
    scope: UnitScope,
    names: dict[str, str],
    show_locations: bool,
) -> MacOwner:
    classified = (asset is not None and asset.classification == "classified") or (
        agent is not None and agent.offline
    )
    unit_id = agent.unit_id if agent is not None else asset.unit_id if asset is not None else None
    if not in_scope(scope, unit_id):
        return MacOwner("elsewhere", classified=classified)
    redacted = classified and not show_locations
    hostname = agent.hostname if agent is not None else asset.hostname if asset else None
    return MacOwner(
        "agent" if agent is not None else "asset",
        classified=classified,
        agent_id=agent.id if agent is not None else None,
        hostname=None if redacted else hostname,
        asset_id=asset.id if asset is not None else None,
        office_id=None if redacted or asset is None else asset.office_id,
        unit_name=names.get(unit_id) if unit_id else None,
        redacted=redacted,
    )


# --------------------------------------------------------------------------- a device's MAC table


@dataclass(frozen=True, slots=True)
class MacRow:
    """A MAC address a device's forwarding table shows now."""

    mac: str
    if_index: int
    port_name: str | None
    uplink: bool
    vlan: int
    first_seen: datetime
    last_seen: datetime
    #: The newest IP the ARP tables in scope show for it.
    ip: str | None
    owner: MacOwner


@dataclass(frozen=True, slots=True)
class MacPage:
    """One page of a device's MAC table."""

    rows: tuple[MacRow, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the table fills (at least 1)."""
        return max(1, -(-self.total // self.per_page))


def _port_filter(port: str | None) -> list[ColumnElement[bool]]:
    if port is None or port == "":
        return []
    if port == "access":
        return [or_(NetInterface.uplink.is_(False), NetInterface.uplink.is_(None))]
    if port == "uplink":
        return [NetInterface.uplink.is_(True)]
    if port.isdigit() and len(port) <= 9:
        return [MacSighting.if_index == int(port)]
    raise QueryError(f"port must be access, uplink or an ifIndex, not {port[:20]!r}")


def _mac_sort(query: Any, sort: str) -> Any:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in MAC_SORTS:
        raise QueryError(f"sort must be one of {', '.join(MAC_SORTS)} (- first for descending)")

    def direction(column: Any) -> Any:
        return column.desc() if descending else column.asc()

    keys = {
        "port": [direction(MacSighting.if_index), MacSighting.vlan, MacSighting.mac],
        "mac": [direction(MacSighting.mac), MacSighting.if_index],
        "vlan": [direction(MacSighting.vlan), MacSighting.if_index, MacSighting.mac],
        "first_seen": [direction(MacSighting.first_seen), MacSighting.mac],
        "last_seen": [direction(MacSighting.last_seen), MacSighting.mac],
    }[key]
    return query.order_by(*keys, MacSighting.id)


def newest_ips(s: Session, scope: UnitScope, macs: Sequence[str]) -> dict[str, str]:
    """The IP the newest ARP entry of a device in ``scope`` gives each of ``macs``."""
    if not macs:
        return {}
    found: dict[str, tuple[datetime, str]] = {}
    for mac, ip, last_seen in s.execute(
        select(ArpEntry.mac, ArpEntry.ip, ArpEntry.last_seen)
        .join(NetworkDevice, NetworkDevice.id == ArpEntry.device_id)
        .where(ArpEntry.mac.in_(list(macs)), unit_filter(NetworkDevice.unit_id, scope))
    ):
        if mac not in found or last_seen > found[mac][0]:
            found[mac] = (last_seen, ip)
    return {mac: ip for mac, (_at, ip) in found.items()}


def device_macs(
    s: Session,
    scope: UnitScope,
    device_id: str,
    *,
    since: datetime,
    show_locations: bool,
    port: str | None = None,
    sort: str = "port",
    page: int = 1,
    per_page: int = 100,
) -> MacPage:
    """One page of the MACs ``device_id`` shows now (last seen at or after ``since``).

    ``port``: ``access`` (not uplinks), ``uplink``, or one ifIndex. The caller checked the
    device is in ``scope`` (:func:`controller.store.dashboard.network.get_device`); ``scope``
    still limits whose host names the owners show.
    """
    offset, limit = page_bounds(page, per_page)
    conditions = [
        MacSighting.device_id == device_id,
        MacSighting.last_seen >= since,
        *_port_filter(port),
    ]
    joined = (NetInterface.device_id == MacSighting.device_id) & (
        NetInterface.if_index == MacSighting.if_index
    )
    total = int(
        s.scalar(
            select(func.count())
            .select_from(MacSighting)
            .outerjoin(NetInterface, joined)
            .where(*conditions)
        )
        or 0
    )
    query = (
        select(MacSighting, NetInterface.name, NetInterface.descr, NetInterface.uplink)
        .outerjoin(NetInterface, joined)
        .where(*conditions)
    )
    rows = s.execute(_mac_sort(query, sort).offset(offset).limit(limit)).all()
    macs = sorted({row[0].mac for row in rows})
    owners = mac_owners(s, scope, macs, show_locations=show_locations)
    ips = newest_ips(s, scope, macs)
    return MacPage(
        rows=tuple(
            MacRow(
                mac=sighting.mac,
                if_index=sighting.if_index,
                port_name=name or descr,
                uplink=bool(uplink),
                vlan=sighting.vlan,
                first_seen=sighting.first_seen,
                last_seen=sighting.last_seen,
                ip=ips.get(sighting.mac),
                owner=owners.get(normal_mac(sighting.mac), UNMANAGED),
            )
            for sighting, name, descr, uplink in rows
        ),
        total=total,
        page=page,
        per_page=per_page,
    )


# --------------------------------------------------------------------------- the MAC search


@dataclass(frozen=True, slots=True)
class Sighting:
    """Where a MAC address was seen: a device's port, a VLAN, from when to when."""

    device_id: str
    device_name: str
    unit_name: str
    if_index: int
    port_name: str | None
    uplink: bool
    vlan: int
    first_seen: datetime
    last_seen: datetime
    #: Still in the device's table (seen at or after the search's ``since``).
    current: bool


@dataclass(frozen=True, slots=True)
class ArpSeen:
    """An IP address a router's or switch's ARP table gave the MAC."""

    device_id: str
    device_name: str
    ip: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class MacHistory:
    """Everything known about one MAC address in the caller's scope."""

    mac: str
    owner: MacOwner
    #: Newest first; access ports and uplinks alike (``uplink`` tells them apart).
    sightings: tuple[Sighting, ...]
    arp: tuple[ArpSeen, ...]

    @property
    def located(self) -> Sighting | None:
        """The newest sighting on an access port: where the device is plugged in."""
        return next((x for x in self.sightings if not x.uplink), None)


def search_pattern(text: str) -> tuple[str, bool]:
    """``(mac, exact)`` for a search text: a whole MAC, or the first digits of one.

    Any common notation (``AA-BB-CC-DD-EE-FF``, ``aabb.ccdd.eeff``, ``aa:bb:cc``); a text that
    is not (part of) a MAC raises :class:`QueryError`.
    """
    digits = mac_digits(text)
    if digits is None:
        raise QueryError(f"{text.strip()[:40]!r} is not a MAC address (at least 4 hex digits)")
    colon = ":".join(digits[i : i + 2] for i in range(0, len(digits), 2))
    return colon, len(digits) == 12


def search_mac(
    s: Session,
    scope: UnitScope,
    text: str,
    *,
    since: datetime,
    show_locations: bool,
) -> tuple[MacHistory, ...]:
    """The MACs matching ``text`` (a MAC or its first digits) seen by devices in ``scope``.

    At most :data:`SEARCH_MACS` addresses, each with its newest :data:`SEARCH_HISTORY`
    sightings and its ARP entries. ``since``: sightings at or after it are current.
    """
    mac, exact = search_pattern(text)
    in_scope_devices = unit_filter(NetworkDevice.unit_id, scope)
    match = MacSighting.mac == mac if exact else MacSighting.mac.like(f"{mac}%")
    arp_match = ArpEntry.mac == mac if exact else ArpEntry.mac.like(f"{mac}%")
    found = set(
        s.scalars(
            select(MacSighting.mac)
            .join(NetworkDevice, NetworkDevice.id == MacSighting.device_id)
            .where(match, in_scope_devices)
            .distinct()
            .order_by(MacSighting.mac)
            .limit(SEARCH_MACS)
        )
    )
    found |= set(
        s.scalars(
            select(ArpEntry.mac)
            .join(NetworkDevice, NetworkDevice.id == ArpEntry.device_id)
            .where(arp_match, in_scope_devices)
            .distinct()
            .order_by(ArpEntry.mac)
            .limit(SEARCH_MACS)
        )
    )
    macs = sorted(found)[:SEARCH_MACS]
    if not macs:
        return ()
    owners = mac_owners(s, scope, macs, show_locations=show_locations)
    results: list[MacHistory] = []
    for one in macs:
        sightings = tuple(
            Sighting(
                device_id=x.device_id,
                device_name=device_name,
                unit_name=unit_name,
                if_index=x.if_index,
                port_name=port_name or port_descr,
                uplink=bool(uplink),
                vlan=x.vlan,
                first_seen=x.first_seen,
                last_seen=x.last_seen,
                current=x.last_seen >= since,
            )
            for x, device_name, unit_name, port_name, port_descr, uplink in s.execute(
                select(
                    MacSighting,
                    NetworkDevice.name,
                    Unit.name,
                    NetInterface.name,
                    NetInterface.descr,
                    NetInterface.uplink,
                )
                .join(NetworkDevice, NetworkDevice.id == MacSighting.device_id)
                .join(Unit, Unit.id == NetworkDevice.unit_id)
                .outerjoin(
                    NetInterface,
                    (NetInterface.device_id == MacSighting.device_id)
                    & (NetInterface.if_index == MacSighting.if_index),
                )
                .where(MacSighting.mac == one, in_scope_devices)
                .order_by(MacSighting.last_seen.desc(), MacSighting.id.desc())
                .limit(SEARCH_HISTORY)
            )
        )
        arp = tuple(
            ArpSeen(entry.device_id, device_name, entry.ip, entry.first_seen, entry.last_seen)
            for entry, device_name in s.execute(
                select(ArpEntry, NetworkDevice.name)
                .join(NetworkDevice, NetworkDevice.id == ArpEntry.device_id)
                .where(ArpEntry.mac == one, in_scope_devices)
                .order_by(ArpEntry.last_seen.desc())
                .limit(SEARCH_HISTORY)
            )
        )
        results.append(MacHistory(one, owners.get(one, UNMANAGED), sightings, arp))
    return tuple(results)
