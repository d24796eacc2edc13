"""What SNMP polls found, written with history (the reads are in :mod:`.discovery_queries`).

:func:`store_round` writes one round of :class:`~controller.discovery.results.DeviceResult`
values: the device's state, its interfaces (with uplink recognition), the MAC addresses learnt
on its ports and its ARP entries (first and last seen), a printer's state. A round of a province
is about 1,000 switches with hundreds of MACs each, so sightings and ARP entries are written
with one upsert statement per table (executemany), never a query per MAC.

What was stored is read through :mod:`controller.store.discovery_queries`.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    delete,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from controller.discovery.results import DeviceResult, LldpNeighbour, Printer
from controller.store.models import (
    Base,
    NetInterface,
    NetworkDevice,
    UTCDateTime,
)

log = logging.getLogger(__name__)

_STATE = Base.metadata.tables["net_device_state"]
_INTERFACES = Base.metadata.tables["net_interfaces"]
_SIGHTINGS = Base.metadata.tables["mac_sightings"]
_ARP = Base.metadata.tables["arp_entries"]
_PRINTERS = Base.metadata.tables["printer_state"]

#: Device kinds whose MAC behind a port makes that port an uplink (a printer's does not).
INFRASTRUCTURE_KINDS = ("switch", "router", "firewall", "access_point")
#: LLDP capabilities of a neighbour that make the port towards it an uplink.
UPLINK_CAPABILITIES = frozenset({"bridge", "router"})
#: A port's name as shown: ifName, else ifDescr.
#: Rows per executemany: bounds the memory of one statement on a province-sized round.
_CHUNK = 5000


def normal_mac(mac: str) -> str:
    """``AA-BB-...`` or ``aa:bb:...`` as ``aa:bb:cc:dd:ee:ff`` (the one spelling stored)."""
    return mac.strip().lower().replace("-", ":")


def _is_unicast(mac: str) -> bool:
    # The low bit of the first octet marks a group (multicast/broadcast) address, never a host.
    try:
        return int(mac[:2], 16) & 1 == 0
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class RoundSummary:
    """What :func:`store_round` wrote."""

    devices_ok: int
    devices_failed: int
    #: Variable bindings received from the devices that answered.
    values: int
    #: (MAC, device, port, VLAN) rows seen in this round, and those never seen before.
    sightings: int
    new_sightings: int
    interfaces: int
    uplinks: int
    arp_entries: int
    printers: int
    #: Seconds spent storing (the poll's own time is in each result's ``elapsed_s``).
    elapsed_s: float
    #: Results for device ids the organisation file does not have (not stored).
    unknown_devices: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Writing a round


def _insert(s: Session) -> Callable[..., Any]:
    return postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


@dataclass
class _Port:
    macs: set[str] = field(default_factory=set)
    neighbour: dict[str, Any] | None = None
    reason: str | None = None


def _neighbour(n: LldpNeighbour) -> dict[str, Any]:
    return {"chassis_id": n.chassis_id, "port_id": n.port_id, "sys_name": n.sys_name}


def _infrastructure_macs(s: Session) -> dict[str, str]:
    """``{mac: device_id}`` of switches, routers, firewalls and access points (register and
    the interfaces their last polls reported)."""
    found: dict[str, str] = {}
    live = NetworkDevice.retired_at.is_(None) & NetworkDevice.kind.in_(INFRASTRUCTURE_KINDS)
    for device_id, macs in s.execute(select(NetworkDevice.id, NetworkDevice.macs).where(live)):
        for mac in macs or ():
            found[normal_mac(mac)] = device_id
    for owner_id, port_mac in s.execute(
        select(NetInterface.device_id, NetInterface.mac)
        .join(NetworkDevice, NetworkDevice.id == NetInterface.device_id)
        .where(live, NetInterface.mac.is_not(None))
    ):
        if port_mac:
            found.setdefault(normal_mac(port_mac), owner_id)
    return found


def _ports(
    result: DeviceResult, infrastructure: dict[str, str], threshold: int
) -> dict[int, _Port]:
    """Each port's MACs, LLDP neighbour and why it is an uplink (None: an access port)."""
    own = {normal_mac(i.mac) for i in result.interfaces if i.mac}
    ports: dict[int, _Port] = defaultdict(_Port)
    for entry in result.fdb:
        mac = normal_mac(entry.mac)
        if mac in own or not _is_unicast(mac):
            continue
        ports[_port_of(entry.if_index, entry.bridge_port)].macs.add(mac)
    for n in result.lldp:
        port = ports[n.if_index if n.if_index is not None else n.local_port]
        port.neighbour = _neighbour(n)
        if UPLINK_CAPABILITIES.intersection(n.capabilities):
            port.reason = "lldp"
    for port in ports.values():
        if port.reason is not None:
            continue
        if any(infrastructure.get(mac, result.device_id) != result.device_id for mac in port.macs):
            port.reason = "device"
        elif len(port.macs) > threshold:
            port.reason = "macs"
    return ports


def _port_of(if_index: int | None, bridge_port: int) -> int:
    # Without a dot1dBasePortIfIndex row the bridge port number is kept: most switches number
    # bridge ports as their ifIndex, and a classified MAC must never be dropped for want of it.
    return if_index if if_index is not None else bridge_port


def _state_row(r: DeviceResult, at: datetime) -> dict[str, Any]:
    return {
        "device_id": r.device_id,
        "polled_at": at,
        "ok_at": at,
        "error": None,
        "elapsed_s": r.elapsed_s,
        "profile": r.profile,
        "sys_name": r.sys_name,
        "sys_descr": r.sys_descr,
        "sys_object_id": r.sys_object_id,
        "uptime_s": r.uptime_s,
        "serial": r.serial,
        "values": r.values,
    }


def _printer_row(device_id: str, p: Printer, at: datetime) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "updated_at": at,
        "status": p.status,
        "device_status": p.device_status,
        "errors": list(p.errors),
        "pages": p.pages,
        "supplies": [
            {
                "index": supply.index,
                "name": supply.name,
                "colour": supply.colour,
                "kind": supply.kind,
                "level": supply.level,
                "max": supply.max_capacity,
                "percent": supply.percent,
            }
            for supply in p.supplies
        ],
        "alerts": list(p.alerts),
    }


def store_round(
    s: Session, results: Sequence[DeviceResult], at: datetime, *, uplink_mac_threshold: int
) -> RoundSummary:
    """Store one round of poll results at ``at`` in the caller's transaction.

    Per device: the state is upserted (a failed poll records its error and time and keeps the
    last good one's ``ok_at`` and facts); when it answered, its interfaces are replaced, with
    ``mac_count`` and the uplink flag: a port whose LLDP neighbour is a bridge or router
    (``lldp``), behind which a known switch/router/AP's MAC is learnt (``device``), or with
    more than ``uplink_mac_threshold`` MACs (``macs``). MAC sightings and ARP entries seen
    again get ``last_seen = at``; new ones are inserted with ``first_seen = at``. A printer's
    state is upserted. Results for devices not in the organisation file are skipped (logged).
    """
    started = time.perf_counter()
    wanted = sorted({r.device_id for r in results})
    known = set(s.scalars(select(NetworkDevice.id).where(NetworkDevice.id.in_(wanted))))
    unknown = tuple(sorted(set(wanted) - known))
    if unknown:
        log.warning("poll results for unknown devices not stored: %s", ", ".join(unknown))
    # The last result of a device wins (a device listed twice is polled once in spirit).
    by_device = {r.device_id: r for r in results if r.device_id in known}
    ok = [r for r in by_device.values() if r.ok]
    failed = [r for r in by_device.values() if not r.ok]
    _write_states(s, ok, failed, at)
    infrastructure = _infrastructure_macs(s) if any(r.fdb for r in ok) else {}
    rows = _Rows()
    for r in ok:
        rows.add(r, at, infrastructure, uplink_mac_threshold)
    new = _write_rows(s, rows, [r.device_id for r in ok], at)
    return RoundSummary(
        devices_ok=len(ok),
        devices_failed=len(failed),
        values=sum(r.values for r in ok),
        sightings=len(rows.sightings),
        new_sightings=new,
        interfaces=len(rows.interfaces),
        uplinks=rows.uplinks,
        arp_entries=len(rows.arp),
        printers=len(rows.printers),
        elapsed_s=time.perf_counter() - started,
        unknown_devices=unknown,
    )


def _write_states(
    s: Session, ok: list[DeviceResult], failed: list[DeviceResult], at: datetime
) -> None:
    insert = _insert(s)
    if ok:
        stmt = insert(_STATE)
        columns = [c for c in _state_row(ok[0], at) if c != "device_id"]
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["device_id"], set_={c: stmt.excluded[c] for c in columns}
            ),
            [_state_row(r, at) for r in ok],
        )
    if failed:
        stmt = insert(_STATE)
        s.execute(
            # A failed poll keeps what the last good one said (ok_at, sysName, serial...).
            stmt.on_conflict_do_update(
                index_elements=["device_id"],
                set_={
                    "polled_at": stmt.excluded.polled_at,
                    "error": stmt.excluded.error,
                    "elapsed_s": stmt.excluded.elapsed_s,
                },
            ),
            [
                {
                    "device_id": r.device_id,
                    "polled_at": at,
                    "error": r.error or "unknown error",
                    "elapsed_s": r.elapsed_s,
                    "values": 0,
                }
                for r in failed
            ],
        )


#: The ifTable columns of an interface row (None for a port only the bridge tables name).
_INTERFACE_COLUMNS = (
    "name",
    "alias",
    "descr",
    "if_type",
    "mac",
    "admin_up",
    "oper_up",
    "speed_mbps",
    "in_errors",
    "out_errors",
)


@dataclass
class _Rows:
    """The rows one round writes, gathered device by device."""

    interfaces: list[dict[str, Any]] = field(default_factory=list)
    #: Keyed by the unique key: one upsert statement must not name a row twice (PostgreSQL).
    sightings: dict[tuple[str, str, int, int], dict[str, Any]] = field(default_factory=dict)
    arp: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    printers: list[dict[str, Any]] = field(default_factory=list)
    uplinks: int = 0

    def add(
        self, r: DeviceResult, at: datetime, infrastructure: dict[str, str], threshold: int
    ) -> None:
        """The rows of one device that answered."""
        ports = _ports(r, infrastructure, threshold)
        listed = set()
        for i in r.interfaces:
            listed.add(i.if_index)
            self.interfaces.append(
                _interface_row(r.device_id, i.if_index, ports.get(i.if_index))
                | {
                    "name": i.name,
                    "alias": i.alias,
                    "descr": i.descr,
                    "if_type": i.if_type,
                    "mac": normal_mac(i.mac) if i.mac else None,
                    "admin_up": i.admin_up,
                    "oper_up": i.oper_up,
                    "speed_mbps": i.speed_mbps,
                    "in_errors": i.in_errors,
                    "out_errors": i.out_errors,
                }
            )
        # A port the forwarding table or LLDP names but ifTable did not list still needs its
        # uplink flag, or every MAC behind it would be "located" there.
        for if_index, port in ports.items():
            if if_index not in listed:
                self.interfaces.append(
                    _interface_row(r.device_id, if_index, port) | dict.fromkeys(_INTERFACE_COLUMNS)
                )
        self.uplinks += sum(1 for port in ports.values() if port.reason is not None)
        own = {normal_mac(i.mac) for i in r.interfaces if i.mac}
        for entry in r.fdb:
            mac = normal_mac(entry.mac)
            if mac in own or not _is_unicast(mac):
                continue
            key = (mac, r.device_id, _port_of(entry.if_index, entry.bridge_port), entry.vlan)
            self.sightings[key] = {
                "mac": key[0],
                "device_id": key[1],
                "if_index": key[2],
                "vlan": key[3],
            }
        for row in r.arp:
            mac = normal_mac(row.mac)
            if not _is_unicast(mac) or mac == "00:00:00:00:00:00":
                continue
            self.arp[(r.device_id, row.ip, mac)] = {
                "device_id": r.device_id,
                "ip": row.ip,
                "mac": mac,
                "if_index": row.if_index,
            }
        if r.printer is not None:
            self.printers.append(_printer_row(r.device_id, r.printer, at))


def _interface_row(device_id: str, if_index: int, port: _Port | None) -> dict[str, Any]:
    port = port or _Port()
    return {
        "device_id": device_id,
        "if_index": if_index,
        "mac_count": len(port.macs),
        "uplink": port.reason is not None,
        "uplink_reason": port.reason,
        "neighbour": port.neighbour,
    }


def _stamp(s: Session, at: datetime) -> ColumnElement[Any]:
    """``at`` written into the statement as an SQL literal.

    Every row of a round has the same time: bound per row, its conversion was a third of the
    time spent writing a province's round of sightings.
    """
    rendered = literal(at, UTCDateTime()).compile(
        dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True}
    )
    return literal_column(str(rendered), UTCDateTime())


def _write_rows(s: Session, rows: _Rows, ok_ids: list[str], at: datetime) -> int:
    """Write the round's rows; returns how many sightings were new."""
    insert = _insert(s)
    stamp = _stamp(s, at)
    if ok_ids:
        s.execute(delete(_INTERFACES).where(_INTERFACES.c.device_id.in_(sorted(ok_ids))))
    for chunk in _chunks(rows.interfaces):
        s.execute(insert(_INTERFACES).values(updated_at=stamp), chunk)
    if rows.arp:
        stmt = insert(_ARP).values(first_seen=stamp, last_seen=stamp)
        upsert = stmt.on_conflict_do_update(
            index_elements=["device_id", "ip", "mac"],
            set_={"last_seen": stmt.excluded.last_seen, "if_index": stmt.excluded.if_index},
        )
        for chunk in _chunks(list(rows.arp.values())):
            s.execute(upsert, chunk)
    if rows.printers:
        stmt = insert(_PRINTERS)
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["device_id"],
                set_={c: stmt.excluded[c] for c in rows.printers[0] if c != "device_id"},
            ),
            rows.printers,
        )
    if not rows.sightings:
        return 0
    stmt = insert(_SIGHTINGS).values(first_seen=stamp, last_seen=stamp)
    upsert = stmt.on_conflict_do_update(
        index_elements=["mac", "device_id", "if_index", "vlan"],
        set_={"last_seen": stmt.excluded.last_seen},
    )
    for chunk in _chunks(list(rows.sightings.values())):
        s.execute(upsert, chunk)
    # Only an insert sets first_seen to this round's time: counting them afterwards costs one
    # indexed query instead of reading every known sighting first.
    return int(
        s.scalar(
            select(func.count())
            .select_from(_SIGHTINGS)
            .where(_SIGHTINGS.c.last_seen == at, _SIGHTINGS.c.first_seen == at)
        )
        or 0
    )
