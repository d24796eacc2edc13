"""Turn walked SNMP columns into :mod:`controller.discovery.results` records.

Input is what :class:`controller.discovery.snmp.Client` gives: per symbol name (the profile's),
``{row index: value}``. Each function decodes one part (interfaces, forwarding table, LLDP, ARP,
serial, printer) and knows the index layout of its tables; none does any I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from controller.discovery.results import (
    ArpRow,
    FdbEntry,
    Interface,
    LldpNeighbour,
    Printer,
    Supply,
)
from controller.discovery.snmp import Oid, Value

__all__ = [
    "Columns",
    "arp",
    "fdb",
    "interfaces",
    "lldp",
    "mac",
    "printer",
    "serial",
    "text",
]

#: Walked columns by symbol name: ``{"ifName": {(1,): b"Gi1/0/1", ...}, ...}``.
Columns = Mapping[str, Mapping[Oid, Value]]

# LldpSystemCapabilitiesMap (IEEE 802.1AB-2005, LLDP-MIB): BITS, bit 0 first.
LLDP_CAPABILITIES = (
    "other",
    "repeater",
    "bridge",
    "wlanAccessPoint",
    "router",
    "telephone",
    "docsisCableDevice",
    "stationOnly",
)
# hrPrinterDetectedErrorState (RFC 2790; bits 8-15 added by RFC 3805 section 2.2.13.4).
PRINTER_ERRORS = (
    "lowPaper",
    "noPaper",
    "lowToner",
    "noToner",
    "doorOpen",
    "jammed",
    "offline",
    "serviceRequested",
    "inputTrayMissing",
    "outputTrayMissing",
    "markerSupplyMissing",
    "outputNearFull",
    "outputFull",
    "inputTrayEmpty",
    "overduePreventMaint",
)
# hrPrinterStatus and hrDeviceStatus (RFC 2790).
PRINTER_STATUS = {1: "other", 2: "unknown", 3: "idle", 4: "printing", 5: "warmup"}
DEVICE_STATUS = {1: "unknown", 2: "running", 3: "warning", 4: "testing", 5: "down"}
# PrtMarkerSuppliesTypeTC (IANA-PRINTER-MIB).
SUPPLY_TYPES = [
    "other",
    "unknown",
    "toner",
    "wasteToner",
    "ink",
    "inkCartridge",
    "inkRibbon",
    "wasteInk",
    "opc",
    "developer",
    "fuserOil",
    "solidWax",
    "ribbonWax",
    "wasteWax",
    "fuser",
    "coronaWire",
    "fuserOilWick",
    "cleanerUnit",
    "fuserCleaningPad",
    "transferUnit",
    "tonerCartridge",
    "fuserOiler",
    "water",
    "wasteWater",
    "glueWaterAdditive",
    "wastePaper",
    "bindingSupply",
    "bandingSupply",
    "stitchingWire",
    "shrinkWrap",
    "paperWrap",
    "staples",
    "inserts",
    "covers",
]
# LLDP-MIB LldpChassisIdSubtype / LldpPortIdSubtype values that carry a MAC or an address.
_CHASSIS_MAC, _CHASSIS_ADDRESS = 4, 5
_PORT_MAC, _PORT_ADDRESS = 3, 4
# ENTITY-MIB PhysicalClass chassis(3): the box itself, whose serial is the device's.
_CHASSIS = 3
# ifHighSpeed is in Mbit/s; ifSpeed in bit/s, stuck at 2^32-1 above 4 Gbit/s.
_MEGA = 1_000_000


def mac(value: Value) -> str | None:
    """Six octets as ``aa:bb:cc:dd:ee:ff``; None for anything else."""
    if isinstance(value, bytes) and len(value) == 6:
        return ":".join(f"{b:02x}" for b in value)
    return None


def _mac_of(octets: Oid) -> str | None:
    if len(octets) == 6 and all(0 <= b <= 255 for b in octets):
        return ":".join(f"{b:02x}" for b in octets)
    return None


def text(value: Value) -> str | None:
    """A DisplayString as text (UTF-8, else Latin-1), trailing NULs and spaces gone; None if
    empty. Bytes that are not text (a binary id) come back as colon-separated hex."""
    if value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    raw = value.rstrip(b"\x00").strip()
    if not raw:
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        decoded = raw.decode("latin-1")
    if any(ord(c) < 32 and c not in "\t\r\n" for c in decoded):
        return ":".join(f"{b:02x}" for b in raw)
    return decoded


def _int(value: Value) -> int | None:
    return value if isinstance(value, int) else None


def _indexes(columns: Columns, *names: str) -> list[Oid]:
    seen: dict[Oid, None] = {}
    for name in names:
        seen.update(dict.fromkeys(columns.get(name, {})))
    return sorted(seen)


def interfaces(columns: Columns) -> tuple[Interface, ...]:
    """IF-MIB ifTable and ifXTable rows, by ifIndex."""
    names = [
        "ifDescr",
        "ifType",
        "ifSpeed",
        "ifPhysAddress",
        "ifAdminStatus",
        "ifOperStatus",
        "ifInErrors",
        "ifOutErrors",
        "ifName",
        "ifHighSpeed",
        "ifAlias",
    ]
    col = {name: columns.get(name, {}) for name in names}
    result = []
    for index in _indexes(columns, *names):
        if len(index) != 1:
            continue
        descr = text(col["ifDescr"].get(index))
        high = _int(col["ifHighSpeed"].get(index))
        speed = _int(col["ifSpeed"].get(index))
        speed_mbps = high if high or speed is None else speed // _MEGA
        admin = _int(col["ifAdminStatus"].get(index))
        oper = _int(col["ifOperStatus"].get(index))
        result.append(
            Interface(
                if_index=index[0],
                name=text(col["ifName"].get(index)) or descr,
                alias=text(col["ifAlias"].get(index)),
                descr=descr,
                if_type=_int(col["ifType"].get(index)),
                mac=mac(col["ifPhysAddress"].get(index)),
                admin_up=None if admin is None else admin == 1,
                oper_up=None if oper is None else oper == 1,
                speed_mbps=speed_mbps,
                in_errors=_int(col["ifInErrors"].get(index)),
                out_errors=_int(col["ifOutErrors"].get(index)),
            )
        )
    return tuple(result)


def bridge_ports(columns: Columns) -> dict[int, int]:
    """BRIDGE-MIB dot1dBasePortIfIndex: bridge port number → ifIndex."""
    return {
        index[0]: value
        for index, value in columns.get("dot1dBasePortIfIndex", {}).items()
        if len(index) == 1 and isinstance(value, int) and value > 0
    }


def fdb(columns: Columns, own_macs: frozenset[str] = frozenset()) -> tuple[FdbEntry, ...]:
    """MACs learnt per bridge port: Q-BRIDGE-MIB dot1qTpFdbTable (index FdbId.MAC), else
    BRIDGE-MIB dot1dTpFdbTable (index MAC, no VLAN).

    An FdbId is mapped to its VLAN through dot1qVlanFdbId when the agent has it (index
    TimeMark.VlanIndex); otherwise it is taken as the VLAN (what IVL switches number them).
    The device's own interface MACs (``own_macs``) and port 0 (unknown port) are left out.
    """
    ports = bridge_ports(columns)
    vlan_of: dict[int, int] = {}
    for index, fdb_id in columns.get("dot1qVlanFdbId", {}).items():
        if len(index) == 2 and isinstance(fdb_id, int):
            vlan_of.setdefault(fdb_id, index[1])
    result: dict[tuple[str, int, int], FdbEntry] = {}
    for index, port in columns.get("dot1qTpFdbPort", {}).items():
        address = _mac_of(index[1:])
        if address is None or not isinstance(port, int) or port <= 0 or address in own_macs:
            continue
        vlan = vlan_of.get(index[0], index[0])
        entry = FdbEntry(mac=address, bridge_port=port, if_index=ports.get(port), vlan=vlan)
        result[(address, port, vlan)] = entry
    if not result:
        for index, port in columns.get("dot1dTpFdbPort", {}).items():
            address = _mac_of(index)
            if address is None or not isinstance(port, int) or port <= 0 or address in own_macs:
                continue
            result[(address, port, 0)] = FdbEntry(address, port, ports.get(port), 0)
    return tuple(sorted(result.values(), key=lambda e: (e.vlan, e.bridge_port, e.mac)))


def _address(value: Value) -> str | None:
    # LLDP-MIB network addresses are an IANA address family octet, then the address.
    if isinstance(value, bytes) and len(value) == 5 and value[0] == 1:
        return str(ipaddress.IPv4Address(value[1:]))
    if isinstance(value, bytes) and len(value) == 17 and value[0] == 2:
        return str(ipaddress.IPv6Address(value[1:]))
    return text(value)


def _bits(value: Value, names: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, bytes):
        return ()
    found = []
    for position, name in enumerate(names):
        octet, bit = divmod(position, 8)
        if octet < len(value) and value[octet] & (0x80 >> bit):
            found.append(name)
    return tuple(found)


def lldp(columns: Columns, if_indexes: frozenset[int] = frozenset()) -> tuple[LldpNeighbour, ...]:
    """LLDP-MIB lldpRemTable (index TimeMark.LocalPortNum.RemIndex).

    The local port is taken as an ifIndex when the device has an interface of that number,
    else through dot1dBasePortIfIndex (some agents number LLDP ports as bridge ports).
    """
    names = [
        "lldpRemChassisIdSubtype",
        "lldpRemChassisId",
        "lldpRemPortIdSubtype",
        "lldpRemPortId",
        "lldpRemSysName",
        "lldpRemSysCapEnabled",
    ]
    col = {name: columns.get(name, {}) for name in names}
    ports = bridge_ports(columns)
    result = []
    for index in _indexes(columns, *names):
        if len(index) != 3:
            continue
        local = index[1]
        chassis = col["lldpRemChassisId"].get(index)
        chassis_kind = col["lldpRemChassisIdSubtype"].get(index)
        port = col["lldpRemPortId"].get(index)
        port_kind = col["lldpRemPortIdSubtype"].get(index)
        if local in if_indexes:
            if_index: int | None = local
        else:
            if_index = ports.get(local)
        result.append(
            LldpNeighbour(
                local_port=local,
                if_index=if_index,
                chassis_id=mac(chassis)
                if chassis_kind == _CHASSIS_MAC
                else _address(chassis)
                if chassis_kind == _CHASSIS_ADDRESS
                else text(chassis),
                port_id=mac(port)
                if port_kind == _PORT_MAC
                else _address(port)
                if port_kind == _PORT_ADDRESS
                else text(port),
                sys_name=text(col["lldpRemSysName"].get(index)),
                capabilities=_bits(col["lldpRemSysCapEnabled"].get(index), LLDP_CAPABILITIES),
            )
        )
    return tuple(result)


def arp(columns: Columns) -> tuple[ArpRow, ...]:
    """IP-MIB ipNetToPhysicalTable (index IfIndex.AddressType.Length.Address), else
    ipNetToMediaTable (index IfIndex.IPv4 address)."""
    result: dict[tuple[str, str], ArpRow] = {}
    for index, value in columns.get("ipNetToPhysicalPhysAddress", {}).items():
        address = mac(value)
        if address is None or len(index) < 3:
            continue
        kind, size, octets = index[1], index[2], index[3:]
        if len(octets) != size or not all(0 <= o <= 255 for o in octets):
            continue
        if kind == 1 and size == 4:
            ip = str(ipaddress.IPv4Address(bytes(octets)))
        elif kind == 2 and size == 16:
            ip = str(ipaddress.IPv6Address(bytes(octets)))
        else:
            continue
        result[(ip, address)] = ArpRow(ip=ip, mac=address, if_index=index[0])
    if not result:
        for index, value in columns.get("ipNetToMediaPhysAddress", {}).items():
            address = mac(value)
            if address is None or len(index) != 5 or not all(0 <= o <= 255 for o in index[1:]):
                continue
            ip = str(ipaddress.IPv4Address(bytes(index[1:])))
            result[(ip, address)] = ArpRow(ip=ip, mac=address, if_index=index[0])
    return tuple(sorted(result.values(), key=lambda r: (r.ip, r.mac)))


def serial(columns: Columns) -> str | None:
    """ENTITY-MIB entPhysicalSerialNum of the first chassis, else the first one not empty."""
    serials = columns.get("entPhysicalSerialNum", {})
    classes = columns.get("entPhysicalClass", {})
    found = [(index, text(value)) for index, value in sorted(serials.items())]
    for index, value in found:
        if value and classes.get(index) == _CHASSIS:
            return value
    return next((value for _, value in found if value), None)


def printer(columns: Columns) -> Printer | None:
    """HOST-RESOURCES hrPrinterTable with Printer-MIB supplies, pages and alerts; None for a
    device with neither printer rows nor supplies."""
    statuses = columns.get("hrPrinterStatus", {})
    supplies_descr = columns.get("prtMarkerSuppliesDescription", {})
    if not statuses and not supplies_descr:
        return None
    device_index = min(statuses) if statuses else None
    errors: tuple[str, ...] = ()
    status = device_status = None
    if device_index is not None:
        status = PRINTER_STATUS.get(_int(statuses[device_index]) or 0)
        errors = _bits(
            columns.get("hrPrinterDetectedErrorState", {}).get(device_index), PRINTER_ERRORS
        )
        device_status = DEVICE_STATUS.get(
            _int(columns.get("hrDeviceStatus", {}).get(device_index)) or 0
        )
    colorants = columns.get("prtMarkerColorantValue", {})
    kinds = columns.get("prtMarkerSuppliesType", {})
    supplies = []
    for index in _indexes(columns, "prtMarkerSuppliesDescription", "prtMarkerSuppliesLevel"):
        if len(index) != 2:
            continue
        colorant = _int(columns.get("prtMarkerSuppliesColorantIndex", {}).get(index))
        kind = _int(kinds.get(index))
        supplies.append(
            Supply(
                index=index[1],
                name=text(supplies_descr.get(index)) or f"supply {index[1]}",
                colour=text(colorants.get((index[0], colorant))) if colorant else None,
                level=_int(columns.get("prtMarkerSuppliesLevel", {}).get(index)),
                max_capacity=_int(columns.get("prtMarkerSuppliesMaxCapacity", {}).get(index)),
                kind=SUPPLY_TYPES[kind - 1] if kind and 0 < kind <= len(SUPPLY_TYPES) else None,
            )
        )
    lives = columns.get("prtMarkerLifeCount", {})
    pages = _int(lives[min(lives)]) if lives else None
    alerts = tuple(
        description
        for _, value in sorted(columns.get("prtAlertDescription", {}).items())
        if (description := text(value))
    )
    return Printer(
        status=status,
        device_status=device_status,
        errors=errors,
        pages=pages,
        supplies=tuple(supplies),
        alerts=alerts,
    )
