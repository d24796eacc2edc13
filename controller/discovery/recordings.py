"""snmpsim ``.snmprec`` recordings of simulated switches, routers, firewalls and printers.

A recording is snmpsim's text format, one ``OID|TAG|VALUE`` line per variable, sorted by OID
(snmpsim binary-searches the file). A file's name without ``.snmprec`` is the community that
selects it. Each device is described by a spec (who is learnt on which port, which toner is
low) and rendered by one function; :mod:`.simulate` builds the specs from an organisation file,
``bench/snmp_poll.py`` uses :func:`synthetic_switch`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# snmpsim's tags: the sum of each SNMP type's ASN.1 tag (snmpsim/grammar/snmprec.py).
INTEGER = "2"
OCTETS = "4"
OCTETS_HEX = "4x"
OID = "6"
IP_ADDRESS = "64"
COUNTER32 = "65"
GAUGE32 = "66"
TIMETICKS = "67"
COUNTER64 = "70"

DEFAULT_SEED = 7

# MIB object prefixes (the tables' entries; a column is ``ENTRY.column.index``).
SYSTEM = "1.3.6.1.2.1.1"
IF_NUMBER = "1.3.6.1.2.1.2.1.0"
IF_ENTRY = "1.3.6.1.2.1.2.2.1"
IFX_ENTRY = "1.3.6.1.2.1.31.1.1.1"
IP_NET_TO_MEDIA = "1.3.6.1.2.1.4.22.1"
IP_NET_TO_PHYSICAL = "1.3.6.1.2.1.4.35.1"
DOT1D_BASE = "1.3.6.1.2.1.17.1"
DOT1D_BASE_PORT_ENTRY = "1.3.6.1.2.1.17.1.4.1"
DOT1D_TP_FDB_ENTRY = "1.3.6.1.2.1.17.4.3.1"
DOT1Q_TP_FDB_ENTRY = "1.3.6.1.2.1.17.7.1.2.2.1"
DOT1Q_VLAN_FDB_ID = "1.3.6.1.2.1.17.7.1.4.2.1.3"
DOT1Q_VLAN_STATIC_NAME = "1.3.6.1.2.1.17.7.1.4.3.1.1"
ENT_PHYSICAL_ENTRY = "1.3.6.1.2.1.47.1.1.1.1"
LLDP_LOC = "1.0.8802.1.1.2.1.3"
LLDP_LOC_PORT_ENTRY = "1.0.8802.1.1.2.1.3.7.1"
LLDP_REM_ENTRY = "1.0.8802.1.1.2.1.4.1.1"
HR_DEVICE_ENTRY = "1.3.6.1.2.1.25.3.2.1"
HR_PRINTER_ENTRY = "1.3.6.1.2.1.25.3.5.1"
PRT_GENERAL_SERIAL = "1.3.6.1.2.1.43.5.1.1.17.1"
PRT_MARKER_ENTRY = "1.3.6.1.2.1.43.10.2.1"
PRT_SUPPLIES_ENTRY = "1.3.6.1.2.1.43.11.1.1"
PRT_COLORANT_ENTRY = "1.3.6.1.2.1.43.12.1.1"
PRT_ALERT_ENTRY = "1.3.6.1.2.1.43.18.1.1"

#: lldpRemSysCapEnabled / hrPrinterDetectedErrorState are BITS: bit 0 is the first octet's
#: most significant bit (RFC 2578 section 7.1.4).
LLDP_CAPABILITIES = ("other", "repeater", "bridge", "wlanAccessPoint", "router", "telephone")
PRINTER_ERRORS = (
    "lowPaper", "noPaper", "lowToner", "noToner", "doorOpen", "jammed", "offline",
    "serviceRequested", "inputTrayMissing", "outputTrayMissing", "markerSupplyMissing",
    "outputNearFull", "outputFull", "inputTrayEmpty", "overduePreventMaint",
)  # fmt: skip
HR_PRINTER_STATUS = {"other": 1, "unknown": 2, "idle": 3, "printing": 4, "warmup": 5}
HR_DEVICE_STATUS = {"unknown": 1, "running": 2, "warning": 3, "testing": 4, "down": 5}
#: prtMarkerSuppliesType (Printer-MIB PrtMarkerSuppliesTypeTC).
SUPPLY_TYPES = {"other": 1, "toner": 3, "wasteToner": 4, "ink": 5, "opc": 9, "fuser": 15}

#: Fixed VLANs of a simulated office network: management (network devices), computers, printers.
VLAN_MANAGEMENT = 1
VLAN_COMPUTERS = 10
VLAN_PRINTERS = 20
VLAN_NAMES = {VLAN_MANAGEMENT: "default", VLAN_COMPUTERS: "may-tinh", VLAN_PRINTERS: "may-in"}


# --- the recording ------------------------------------------------------------------------------


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(arc) for arc in oid.split("."))


def _is_plain(text: str) -> bool:
    # snmpsim strips each line and reads it as ISO-8859-1: anything else goes in hex.
    return text == text.strip() and all(" " <= ch <= "~" for ch in text)


class Recording:
    """The variables of one simulated agent; :meth:`text` renders them sorted by OID."""

    def __init__(self) -> None:
        self._rows: dict[tuple[int, ...], str] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, oid: str, tag: str, value: object) -> None:
        """Set ``oid``; text that snmpsim would mangle (non-ASCII, edge spaces) goes as hex."""
        text = str(value)
        if tag == OCTETS and not _is_plain(text):
            tag, text = OCTETS_HEX, text.encode("utf-8").hex()
        self._rows[_oid_key(oid)] = f"{oid}|{tag}|{text}"

    def text(self) -> str:
        """The ``.snmprec`` file content."""
        return "".join(self._rows[key] + "\n" for key in sorted(self._rows))


def mac_hex(mac: str) -> str:
    """``aa:bb:cc:dd:ee:ff`` → ``aabbccddeeff`` (a ``4x`` value)."""
    return mac.replace(":", "").replace("-", "").lower()


def mac_index(mac: str) -> str:
    """A MAC as an OID index (six decimal arcs), as in dot1qTpFdbTable."""
    return ".".join(str(int(part, 16)) for part in mac.replace("-", ":").split(":"))


def _bits(names: Iterable[str], order: Sequence[str]) -> str:
    positions = [order.index(name) for name in names]
    octets = bytearray(max(1, (max(positions, default=0) // 8) + 1))
    for bit in positions:
        octets[bit // 8] |= 0x80 >> (bit % 8)
    return octets.hex()


def seeded_rng(*parts: object) -> random.Random:
    """A generator seeded by ``parts`` (string seeds hash the same in every process)."""
    return random.Random(":".join(str(part) for part in parts))  # noqa: S311 - invented data


def mac_from(rng: random.Random, oui: str) -> str:
    """A MAC under ``oui`` with three random octets."""
    return oui + "".join(f":{rng.randrange(256):02x}" for _ in range(3))


def offset_mac(mac: str, offset: int) -> str:
    """The MAC ``offset`` above ``mac`` (port MACs count up from a base)."""
    value = (int(mac_hex(mac), 16) + offset) % (1 << 48)
    raw = f"{value:012x}"
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


def write_recording(path: Path, recording: Recording) -> Path:
    """Write ``recording`` to ``path`` (``NAME.snmprec``: the community is NAME)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(recording.text(), encoding="ascii")
    return path


# --- MIB groups shared by every device ---------------------------------------------------------


@dataclass(frozen=True)
class SystemInfo:
    """SNMPv2-MIB system group."""

    name: str
    descr: str
    object_id: str
    #: sysUpTime in hundredths of a second.
    uptime: int = 123_456_700
    contact: str = ""
    location: str = ""
    #: sysServices: 2 a bridge, 6 bridge and router, 72 a host (RFC 3418).
    services: int = 2


@dataclass(frozen=True)
class Port:
    """One IF-MIB interface."""

    if_index: int
    descr: str
    name: str
    mac: str
    alias: str = ""
    if_type: int = 6  # ethernetCsmacd
    admin_up: bool = True
    oper_up: bool = True
    speed_mbps: int = 1000
    in_errors: int = 0
    out_errors: int = 0


def add_system(rec: Recording, info: SystemInfo) -> None:
    """The system group's scalars."""
    rec.add(f"{SYSTEM}.1.0", OCTETS, info.descr)
    rec.add(f"{SYSTEM}.2.0", OID, info.object_id)
    rec.add(f"{SYSTEM}.3.0", TIMETICKS, info.uptime)
    rec.add(f"{SYSTEM}.4.0", OCTETS, info.contact)
    rec.add(f"{SYSTEM}.5.0", OCTETS, info.name)
    rec.add(f"{SYSTEM}.6.0", OCTETS, info.location)
    rec.add(f"{SYSTEM}.7.0", INTEGER, info.services)


def add_interfaces(rec: Recording, ports: Sequence[Port]) -> None:
    """ifNumber, the ifTable columns and the ifXTable columns a poller reads."""
    rec.add(IF_NUMBER, INTEGER, len(ports))
    for port in ports:
        i = port.if_index
        # ifSpeed is a Gauge32 in bit/s that saturates above 4.29 Gbit/s (RFC 2863).
        speed_bps = min(port.speed_mbps * 1_000_000, 4_294_967_295)
        rec.add(f"{IF_ENTRY}.1.{i}", INTEGER, i)
        rec.add(f"{IF_ENTRY}.2.{i}", OCTETS, port.descr)
        rec.add(f"{IF_ENTRY}.3.{i}", INTEGER, port.if_type)
        rec.add(f"{IF_ENTRY}.5.{i}", GAUGE32, speed_bps)
        rec.add(f"{IF_ENTRY}.6.{i}", OCTETS_HEX, mac_hex(port.mac))
        rec.add(f"{IF_ENTRY}.7.{i}", INTEGER, 1 if port.admin_up else 2)
        rec.add(f"{IF_ENTRY}.8.{i}", INTEGER, 1 if port.oper_up else 2)
        rec.add(f"{IF_ENTRY}.14.{i}", COUNTER32, port.in_errors)
        rec.add(f"{IF_ENTRY}.20.{i}", COUNTER32, port.out_errors)
        rec.add(f"{IFX_ENTRY}.1.{i}", OCTETS, port.name)
        rec.add(f"{IFX_ENTRY}.15.{i}", GAUGE32, port.speed_mbps)
        rec.add(f"{IFX_ENTRY}.18.{i}", OCTETS, port.alias)


def add_chassis(rec: Recording, *, descr: str, model: str, serial: str) -> None:
    """ENTITY-MIB: the chassis (with the serial) and a power supply without one."""
    rows = ((1, descr, 3, "chassis", serial, model), (2, "Power Supply", 6, "PSU 1", "", ""))
    for index, what, ent_class, name, serial_num, model_name in rows:
        rec.add(f"{ENT_PHYSICAL_ENTRY}.2.{index}", OCTETS, what)
        rec.add(f"{ENT_PHYSICAL_ENTRY}.4.{index}", INTEGER, 0 if index == 1 else 1)
        rec.add(f"{ENT_PHYSICAL_ENTRY}.5.{index}", INTEGER, ent_class)
        rec.add(f"{ENT_PHYSICAL_ENTRY}.7.{index}", OCTETS, name)
        rec.add(f"{ENT_PHYSICAL_ENTRY}.11.{index}", OCTETS, serial_num)
        rec.add(f"{ENT_PHYSICAL_ENTRY}.13.{index}", OCTETS, model_name)


# --- switches ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """A MAC address a switch learnt on a port, in a VLAN."""

    mac: str
    vlan: int = VLAN_COMPUTERS


@dataclass(frozen=True)
class Neighbour:
    """The LLDP neighbour on a port (lldpRemTable)."""

    sys_name: str
    chassis_mac: str
    port_id: str
    sys_descr: str = ""
    capabilities: tuple[str, ...] = ("bridge",)


@dataclass(frozen=True)
class SwitchModel:
    """How a switch model numbers and names its ports."""

    name: str
    object_id: str
    descr: str
    copper: int
    sfp: int = 0
    #: ifIndex = base + bridge port number (TP-Link numbers its ports from 49153).
    if_index_base: int = 0
    port_descr: str = "GigabitEthernet1/0/{n}"
    port_name: str = "gi1/0/{n}"

    @property
    def ports(self) -> int:
        """Every front port, copper then SFP."""
        return self.copper + self.sfp


#: Cisco Business 350 (1.3.6.1.4.1.9.6.1 is Cisco's small-business product arc): 24 or 48 copper
#: ports and 4 SFP uplinks. TP-Link's smart switches sit under its enterprise number 11863.
CBS350_24 = SwitchModel(
    "CBS350-24T-4G", "1.3.6.1.4.1.9.6.1.1004.28.5", "CBS350-24T-4G 24-Port Gigabit Managed Switch",
    copper=24, sfp=4,
)  # fmt: skip
CBS350_48 = SwitchModel(
    "CBS350-48T-4G", "1.3.6.1.4.1.9.6.1.1004.52.5", "CBS350-48T-4G 48-Port Gigabit Managed Switch",
    copper=48, sfp=4,
)  # fmt: skip
TL_SG1024 = SwitchModel(
    "TL-SG1024DE", "1.3.6.1.4.1.11863.1.1.24", "TP-Link 24-Port Gigabit Easy Smart Switch",
    copper=24, if_index_base=49152, port_descr="gigabitEthernet 1/0/{n} : copper",
    port_name="Gi1/0/{n}",
)  # fmt: skip


def switch_model(model: str | None) -> SwitchModel:
    """The simulated model for an organisation file's model text (Cisco CBS350 by default)."""
    text = (model or "").upper()
    if "TP-LINK" in text or "TL-SG" in text:
        return TL_SG1024
    return CBS350_48 if "48" in text else CBS350_24


@dataclass(frozen=True)
class SwitchSpec:
    """One access switch: who is learnt on which bridge port."""

    info: SystemInfo
    model: SwitchModel
    serial: str
    #: The switch's own MAC: dot1dBaseBridgeAddress; port MACs count up from it.
    base_mac: str
    #: Bridge port → the MACs learnt there (access ports, uplinks and downlinks alike).
    learnt: Mapping[int, Sequence[Host]] = field(default_factory=dict)
    #: Bridge port → the LLDP neighbour on it.
    neighbours: Mapping[int, Neighbour] = field(default_factory=dict)
    #: Bridge port → ifAlias.
    aliases: Mapping[int, str] = field(default_factory=dict)
    #: Ports an operator shut down (ifAdminStatus down).
    shut: frozenset[int] = frozenset()
    #: Which MAC table(s) to answer: Q-BRIDGE-MIB (with VLANs), BRIDGE-MIB, or both.
    fdb: Literal["qbridge", "bridge", "both"] = "qbridge"
    seed: int = DEFAULT_SEED

    def if_index(self, port: int) -> int:
        """The ifIndex of bridge port ``port``."""
        return self.model.if_index_base + port

    def port_name(self, port: int) -> str:
        """ifName of bridge port ``port``."""
        return self.model.port_name.format(n=port)


def switch_recording(spec: SwitchSpec) -> Recording:
    """IF-MIB, BRIDGE-MIB and/or Q-BRIDGE-MIB, LLDP-MIB, ENTITY-MIB and system of a switch."""
    rng = seeded_rng(spec.seed, spec.info.name)
    rec = Recording()
    add_system(rec, spec.info)
    model = spec.model
    ports: list[Port] = []
    for n in range(1, model.ports + 1):
        connected = bool(spec.learnt.get(n)) or n in spec.neighbours
        admin_up = n not in spec.shut
        oper_up = connected and admin_up
        ports.append(
            Port(
                if_index=spec.if_index(n),
                descr=model.port_descr.format(n=n),
                name=spec.port_name(n),
                mac=offset_mac(spec.base_mac, n),
                alias=spec.aliases.get(n, ""),
                admin_up=admin_up,
                oper_up=oper_up,
                speed_mbps=1000 if oper_up else 10,
                # A few ports with errors, as on a real floor (a bad patch cable).
                in_errors=rng.choice((0, 0, 0, 0, 3, 17)) if oper_up else 0,
                out_errors=rng.choice((0, 0, 0, 0, 0, 1)) if oper_up else 0,
            )
        )
    # The management interface of a layer-2 switch: VLAN 1's SVI.
    ports.append(Port(100_000, "Vlan1", "vlan 1", spec.base_mac, if_type=136, speed_mbps=1000))
    add_interfaces(rec, ports)
    add_chassis(rec, descr=model.descr, model=model.name, serial=spec.serial)

    rec.add(f"{DOT1D_BASE}.1.0", OCTETS_HEX, mac_hex(spec.base_mac))
    rec.add(f"{DOT1D_BASE}.2.0", INTEGER, model.ports)
    rec.add(f"{DOT1D_BASE}.3.0", INTEGER, 2)  # transparent-only
    for n in range(1, model.ports + 1):
        rec.add(f"{DOT1D_BASE_PORT_ENTRY}.1.{n}", INTEGER, n)
        rec.add(f"{DOT1D_BASE_PORT_ENTRY}.2.{n}", INTEGER, spec.if_index(n))
    vlans = {VLAN_MANAGEMENT}
    for port, hosts in spec.learnt.items():
        for host in hosts:
            vlans.add(host.vlan)
            if spec.fdb in ("qbridge", "both"):
                row = f"{host.vlan}.{mac_index(host.mac)}"
                rec.add(f"{DOT1Q_TP_FDB_ENTRY}.2.{row}", INTEGER, port)
                rec.add(f"{DOT1Q_TP_FDB_ENTRY}.3.{row}", INTEGER, 3)  # learned
            if spec.fdb in ("bridge", "both"):
                row = mac_index(host.mac)
                rec.add(f"{DOT1D_TP_FDB_ENTRY}.1.{row}", OCTETS_HEX, mac_hex(host.mac))
                rec.add(f"{DOT1D_TP_FDB_ENTRY}.2.{row}", INTEGER, port)
                rec.add(f"{DOT1D_TP_FDB_ENTRY}.3.{row}", INTEGER, 3)
    for vlan in sorted(vlans):
        # dot1qVlanCurrentTable (index TimeMark.VlanIndex): each VLAN its own FDB (IVL).
        rec.add(f"{DOT1Q_VLAN_FDB_ID}.0.{vlan}", GAUGE32, vlan)
        rec.add(f"{DOT1Q_VLAN_STATIC_NAME}.{vlan}", OCTETS, VLAN_NAMES.get(vlan, f"vlan{vlan}"))
    _add_lldp(rec, spec)
    return rec


def _add_lldp(rec: Recording, spec: SwitchSpec) -> None:
    rec.add(f"{LLDP_LOC}.1.0", INTEGER, 4)  # chassis id subtype: macAddress
    rec.add(f"{LLDP_LOC}.2.0", OCTETS_HEX, mac_hex(spec.base_mac))
    rec.add(f"{LLDP_LOC}.3.0", OCTETS, spec.info.name)
    for n in range(1, spec.model.ports + 1):
        # lldpLocPortNum is the ifIndex here, as on most switches.
        local = spec.if_index(n)
        rec.add(f"{LLDP_LOC_PORT_ENTRY}.2.{local}", INTEGER, 5)  # interfaceName
        rec.add(f"{LLDP_LOC_PORT_ENTRY}.3.{local}", OCTETS, spec.port_name(n))
        rec.add(f"{LLDP_LOC_PORT_ENTRY}.4.{local}", OCTETS, spec.model.port_descr.format(n=n))
    for n, peer in sorted(spec.neighbours.items()):
        row = f"0.{spec.if_index(n)}.1"  # lldpRemTimeMark.lldpRemLocalPortNum.lldpRemIndex
        caps = _bits(peer.capabilities, LLDP_CAPABILITIES)
        supported = _bits({"bridge", "router", *peer.capabilities}, LLDP_CAPABILITIES)
        rec.add(f"{LLDP_REM_ENTRY}.4.{row}", INTEGER, 4)
        rec.add(f"{LLDP_REM_ENTRY}.5.{row}", OCTETS_HEX, mac_hex(peer.chassis_mac))
        rec.add(f"{LLDP_REM_ENTRY}.6.{row}", INTEGER, 5)
        rec.add(f"{LLDP_REM_ENTRY}.7.{row}", OCTETS, peer.port_id)
        rec.add(f"{LLDP_REM_ENTRY}.8.{row}", OCTETS, peer.port_id)
        rec.add(f"{LLDP_REM_ENTRY}.9.{row}", OCTETS, peer.sys_name)
        rec.add(f"{LLDP_REM_ENTRY}.10.{row}", OCTETS, peer.sys_descr)
        rec.add(f"{LLDP_REM_ENTRY}.11.{row}", OCTETS_HEX, supported)
        rec.add(f"{LLDP_REM_ENTRY}.12.{row}", OCTETS_HEX, caps)


#: OUIs of the computers on a synthetic switch (Dell, HP, Lenovo) and of upstream servers.
_PC_OUIS = ("d8:9e:f3", "3c:52:82", "e4:54:e8", "98:fa:9b")
UPSTREAM_OUIS = ("00:50:56", "00:0c:29", "52:54:00")


def synthetic_switch(
    name: str, *, ports: int = 48, seed: int = DEFAULT_SEED, occupancy: float = 0.8,
    upstream: int = 24,
) -> SwitchSpec:  # fmt: skip
    """A made-up access switch with ``ports`` ports, for benchmarks and tests.

    A share ``occupancy`` of the access ports has one computer each (VLAN 10), one in ten of
    them a printer instead (VLAN 20); the last port is the uplink, with ``upstream`` MACs and a
    core switch as LLDP neighbour.
    """
    rng = seeded_rng(seed, name)
    model = SwitchModel(
        f"CBS350-{ports}T", CBS350_48.object_id, f"CBS350 {ports}-Port Gigabit Managed Switch",
        copper=ports,
    )  # fmt: skip
    base_mac = mac_from(rng, "00:1e:58")
    uplink = ports
    access = rng.sample(range(1, uplink), round((uplink - 1) * occupancy))
    learnt: dict[int, list[Host]] = {}
    for n in sorted(access):
        vlan = VLAN_PRINTERS if rng.random() < 0.1 else VLAN_COMPUTERS
        learnt[n] = [Host(mac_from(rng, rng.choice(_PC_OUIS)), vlan)]
    learnt[uplink] = [
        Host(mac_from(rng, rng.choice(UPSTREAM_OUIS)), rng.choice((VLAN_COMPUTERS, VLAN_PRINTERS)))
        for _ in range(upstream)
    ]
    core = Neighbour("core-sw", mac_from(rng, "00:1e:58"), "gi1/0/1", "core switch")
    info = SystemInfo(
        name=name, descr=model.descr, object_id=model.object_id,
        uptime=rng.randrange(10**6, 10**9), location="bench", contact="it@example.invalid",
    )  # fmt: skip
    return SwitchSpec(
        info=info, model=model, serial=f"FOC{rng.randrange(10**8):08d}", base_mac=base_mac,
        learnt=learnt, neighbours={uplink: core}, aliases={uplink: "uplink core-sw"}, seed=seed,
    )  # fmt: skip


# --- routers and firewalls -----------------------------------------------------------------------


@dataclass(frozen=True)
class RouterSpec:
    """A router or firewall: a few interfaces and its ARP cache of the office LAN."""

    info: SystemInfo
    model: str
    serial: str
    base_mac: str
    #: ifName of each interface, ifIndex 1, 2, ...
    interfaces: tuple[str, ...]
    #: The interface (1-based position in ``interfaces``) facing the office LAN.
    lan: int
    #: (IP, MAC) pairs learnt on the LAN interface.
    arp: Sequence[tuple[str, str]] = ()
    #: IP-MIB ipNetToPhysicalTable (newer), the older ipNetToMediaTable, or both.
    arp_table: Literal["physical", "media", "both"] = "both"


def router_recording(spec: RouterSpec) -> Recording:
    """System, IF-MIB, ENTITY-MIB and the IP-MIB ARP table of a router or firewall."""
    rec = Recording()
    add_system(rec, spec.info)
    ports = [
        Port(i, name, name, offset_mac(spec.base_mac, i - 1), oper_up=i <= spec.lan)
        for i, name in enumerate(spec.interfaces, start=1)
    ]
    add_interfaces(rec, ports)
    add_chassis(rec, descr=spec.info.descr, model=spec.model, serial=spec.serial)
    for ip, mac in spec.arp:
        if spec.arp_table in ("media", "both"):
            row = f"{spec.lan}.{ip}"
            rec.add(f"{IP_NET_TO_MEDIA}.1.{row}", INTEGER, spec.lan)
            rec.add(f"{IP_NET_TO_MEDIA}.2.{row}", OCTETS_HEX, mac_hex(mac))
            rec.add(f"{IP_NET_TO_MEDIA}.3.{row}", IP_ADDRESS, ip)
            rec.add(f"{IP_NET_TO_MEDIA}.4.{row}", INTEGER, 3)  # dynamic
        if spec.arp_table in ("physical", "both"):
            # Index: ifIndex, InetAddressType ipv4(1), then the address with its length.
            row = f"{spec.lan}.1.4.{ip}"
            rec.add(f"{IP_NET_TO_PHYSICAL}.4.{row}", OCTETS_HEX, mac_hex(mac))
            rec.add(f"{IP_NET_TO_PHYSICAL}.6.{row}", INTEGER, 3)  # dynamic
            rec.add(f"{IP_NET_TO_PHYSICAL}.7.{row}", INTEGER, 1)  # reachable
    return rec


# --- printers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Supply:
    """A prtMarkerSuppliesTable row: a toner, a drum, a waste-toner box."""

    description: str
    #: prtMarkerColorantValue (``black``, ``cyan``...); None for a supply without a colorant.
    colour: str | None
    level: int
    max_capacity: int = 100
    kind: str = "toner"


@dataclass(frozen=True)
class Alert:
    """A prtAlertTable row (prtAlertCode 1104: markerTonerAlmostEmpty)."""

    description: str
    code: int = 1104
    #: prtAlertGroup: 11 markerSupplies, 8 input, 13 mediaPath.
    group: int = 11
    #: prtAlertSeverityLevel: 3 critical, 4 warning.
    severity: int = 4


@dataclass(frozen=True)
class PrinterSpec:
    """A network printer: HOST-RESOURCES printer rows and the Printer-MIB."""

    info: SystemInfo
    model: str
    serial: str
    mac: str
    supplies: tuple[Supply, ...]
    #: prtMarkerLifeCount: pages printed over the printer's life.
    pages: int
    status: str = "idle"
    device_status: str = "running"
    errors: tuple[str, ...] = ()
    alerts: tuple[Alert, ...] = ()


def printer_recording(spec: PrinterSpec) -> Recording:
    """System, IF-MIB, HOST-RESOURCES (hrDevice, hrPrinter) and Printer-MIB of a printer."""
    rec = Recording()
    add_system(rec, spec.info)
    add_interfaces(rec, [Port(1, "Ethernet", "eth0", spec.mac, speed_mbps=1000)])
    rec.add(f"{HR_DEVICE_ENTRY}.1.1", INTEGER, 1)
    rec.add(f"{HR_DEVICE_ENTRY}.2.1", OID, "1.3.6.1.2.1.25.3.1.5")  # hrDevicePrinter
    rec.add(f"{HR_DEVICE_ENTRY}.3.1", OCTETS, spec.model)
    rec.add(f"{HR_DEVICE_ENTRY}.4.1", OID, "0.0")
    rec.add(f"{HR_DEVICE_ENTRY}.5.1", INTEGER, HR_DEVICE_STATUS[spec.device_status])
    rec.add(f"{HR_DEVICE_ENTRY}.6.1", COUNTER32, len(spec.alerts))
    rec.add(f"{HR_PRINTER_ENTRY}.1.1", INTEGER, HR_PRINTER_STATUS[spec.status])
    rec.add(f"{HR_PRINTER_ENTRY}.2.1", OCTETS_HEX, _bits(spec.errors, PRINTER_ERRORS))
    rec.add(PRT_GENERAL_SERIAL, OCTETS, spec.serial)
    colours = list(dict.fromkeys(s.colour for s in spec.supplies if s.colour))
    rec.add(f"{PRT_MARKER_ENTRY}.2.1.1", INTEGER, 4)  # electrophotographicLaser
    rec.add(f"{PRT_MARKER_ENTRY}.3.1.1", INTEGER, 7)  # impressions
    rec.add(f"{PRT_MARKER_ENTRY}.4.1.1", COUNTER32, spec.pages)
    rec.add(f"{PRT_MARKER_ENTRY}.6.1.1", INTEGER, len(colours))
    for c, colour in enumerate(colours, start=1):
        rec.add(f"{PRT_COLORANT_ENTRY}.2.1.{c}", INTEGER, 1)
        rec.add(f"{PRT_COLORANT_ENTRY}.3.1.{c}", INTEGER, 3)  # process
        rec.add(f"{PRT_COLORANT_ENTRY}.4.1.{c}", OCTETS, colour)
        rec.add(f"{PRT_COLORANT_ENTRY}.5.1.{c}", INTEGER, 256)
    for s, supply in enumerate(spec.supplies, start=1):
        colorant = colours.index(supply.colour) + 1 if supply.colour else 0
        consumed = supply.kind != "wasteToner"
        rec.add(f"{PRT_SUPPLIES_ENTRY}.2.1.{s}", INTEGER, 1)
        rec.add(f"{PRT_SUPPLIES_ENTRY}.3.1.{s}", INTEGER, colorant)
        rec.add(f"{PRT_SUPPLIES_ENTRY}.4.1.{s}", INTEGER, 3 if consumed else 4)
        rec.add(f"{PRT_SUPPLIES_ENTRY}.5.1.{s}", INTEGER, SUPPLY_TYPES[supply.kind])
        rec.add(f"{PRT_SUPPLIES_ENTRY}.6.1.{s}", OCTETS, supply.description)
        rec.add(f"{PRT_SUPPLIES_ENTRY}.7.1.{s}", INTEGER, 19)  # percent
        rec.add(f"{PRT_SUPPLIES_ENTRY}.8.1.{s}", INTEGER, supply.max_capacity)
        rec.add(f"{PRT_SUPPLIES_ENTRY}.9.1.{s}", INTEGER, supply.level)
    for a, alert in enumerate(spec.alerts, start=1):
        rec.add(f"{PRT_ALERT_ENTRY}.2.1.{a}", INTEGER, alert.severity)
        rec.add(f"{PRT_ALERT_ENTRY}.3.1.{a}", INTEGER, 4)  # prtAlertTrainingLevel: trained
        rec.add(f"{PRT_ALERT_ENTRY}.4.1.{a}", INTEGER, alert.group)
        rec.add(f"{PRT_ALERT_ENTRY}.5.1.{a}", INTEGER, 1)
        rec.add(f"{PRT_ALERT_ENTRY}.6.1.{a}", INTEGER, -1)
        rec.add(f"{PRT_ALERT_ENTRY}.7.1.{a}", INTEGER, alert.code)
        rec.add(f"{PRT_ALERT_ENTRY}.8.1.{a}", OCTETS, alert.description)
        rec.add(f"{PRT_ALERT_ENTRY}.9.1.{a}", TIMETICKS, spec.info.uptime - 360_000 * a)
    return rec
