"""The typed result of polling one device: what the poller gives and the store keeps.

Values are already decoded (MACs as ``aa:bb:cc:dd:ee:ff``, speeds in Mbit/s, statuses as
booleans or names), so nothing downstream knows about OIDs or SNMP types.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Interface:
    """One row of IF-MIB ifTable/ifXTable."""

    if_index: int
    #: ifName, else ifDescr.
    name: str | None = None
    alias: str | None = None
    descr: str | None = None
    if_type: int | None = None
    mac: str | None = None
    admin_up: bool | None = None
    oper_up: bool | None = None
    #: ifHighSpeed, else ifSpeed / 10**6.
    speed_mbps: int | None = None
    in_errors: int | None = None
    out_errors: int | None = None


@dataclass(frozen=True, slots=True)
class FdbEntry:
    """A MAC learnt on a bridge port (BRIDGE-MIB dot1dTpFdbTable or Q-BRIDGE dot1qTpFdbTable).

    ``if_index`` is the bridge port mapped through dot1dBasePortIfIndex (None when the map has
    no row for it); ``vlan`` 0 when the table does not say (BRIDGE-MIB).
    """

    mac: str
    bridge_port: int
    if_index: int | None
    vlan: int = 0


@dataclass(frozen=True, slots=True)
class LldpNeighbour:
    """A row of LLDP-MIB lldpRemTable: who is on the other end of a local port."""

    local_port: int
    #: The local port as an ifIndex when it can be mapped (lldpLocPortNum is usually ifIndex).
    if_index: int | None
    chassis_id: str | None = None
    port_id: str | None = None
    sys_name: str | None = None
    #: lldpRemSysCapEnabled names (``bridge``, ``router``, ``wlanAccessPoint``, ...).
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArpRow:
    """An IP-to-MAC entry (IP-MIB ipNetToPhysicalTable, else ipNetToMediaTable)."""

    ip: str
    mac: str
    if_index: int | None = None


@dataclass(frozen=True, slots=True)
class Supply:
    """A Printer-MIB prtMarkerSuppliesTable row (toner, drum, waste...).

    ``level`` and ``max_capacity`` are as the printer says: -1 means *other*, -2 *unknown*,
    -3 *some remaining*; ``percent`` is None when it cannot be computed.
    """

    index: int
    name: str
    colour: str | None = None
    level: int | None = None
    max_capacity: int | None = None
    #: prtMarkerSuppliesType name (``toner``, ``opc``, ``wasteToner``, ``ink``...).
    kind: str | None = None

    @property
    def percent(self) -> int | None:
        """Remaining share in whole percent, or None when the printer does not say."""
        if self.level is None or self.max_capacity is None:
            return None
        if self.level < 0 or self.max_capacity <= 0:
            return None
        return max(0, min(100, round(100 * self.level / self.max_capacity)))


@dataclass(frozen=True, slots=True)
class Printer:
    """HOST-RESOURCES hrPrinterTable/hrDeviceTable and Printer-MIB state of a network printer."""

    #: hrPrinterStatus name: ``other``, ``unknown``, ``idle``, ``printing``, ``warmup``.
    status: str | None = None
    #: hrDeviceStatus name: ``unknown``, ``running``, ``warning``, ``testing``, ``down``.
    device_status: str | None = None
    #: hrPrinterDetectedErrorState bits set, by name (``lowToner``, ``noPaper``, ``jammed``...).
    errors: tuple[str, ...] = ()
    #: prtMarkerLifeCount (the first marker): pages over the printer's life.
    pages: int | None = None
    supplies: tuple[Supply, ...] = ()
    #: prtAlertDescription of the active alerts.
    alerts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceResult:
    """Everything one poll of one device gave, or why it gave nothing.

    ``ok`` False: ``error`` says why (``timeout``: no answer within the retries; ``auth``:
    wrong community or SNMPv3 credentials; ``config``: no usable credential; otherwise the
    transport's message). A device that answered the system group but failed a table still
    counts as ok; ``warnings`` name what was missing.
    """

    device_id: str
    ok: bool
    elapsed_s: float
    error: str | None = None
    #: The profile that matched (by sysObjectID), e.g. ``generic-switch``.
    profile: str | None = None
    sys_name: str | None = None
    sys_descr: str | None = None
    sys_object_id: str | None = None
    uptime_s: int | None = None
    sys_location: str | None = None
    sys_contact: str | None = None
    #: ENTITY-MIB entPhysicalSerialNum of the chassis (the first non-empty one).
    serial: str | None = None
    interfaces: tuple[Interface, ...] = ()
    fdb: tuple[FdbEntry, ...] = ()
    lldp: tuple[LldpNeighbour, ...] = ()
    arp: tuple[ArpRow, ...] = ()
    printer: Printer | None = None
    #: Variable bindings received in this poll.
    values: int = 0
    warnings: tuple[str, ...] = field(default=())
