"""A small network for the discovery store and findings tests, and the poll results it gives.

Unit ``xa-a`` (commune) with office ``vp``; devices of the organisation file:

- ``sw-1`` access switch (MAC 50:c7:bf:00:00:01): port 1 the PC ``pc-1`` (agent ``ag-pc1``,
  VLAN 10), port 2 the asset ``a-pc2`` without an agent (VLAN 20), port 3 an unknown device
  (VLAN 10), port 4 the classified PC ``a-mat1`` (VLAN 20); port 24 towards the core (LLDP
  neighbour with the bridge capability, every MAC of the building seen there too); port 23 with
  the router's MAC behind it; port 22 with ten MACs of a desk hub.
- ``sw-core`` core switch (50:c7:bf:00:00:99), ``rt-1`` router (50:c7:bf:00:00:aa) with an ARP
  table, ``prn-1`` network printer (office ``vp``), ``cp-mat`` a copier for secret use.

Results are built as :class:`DeviceResult` values, the contract between poller and store.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from controller.discovery.results import (
    ArpRow,
    DeviceResult,
    FdbEntry,
    Interface,
    LldpNeighbour,
    Printer,
    Supply,
)
from controller.store import units
from controller.store.models import Asset, AssetMac, NetworkDevice, Office
from tests.unit.controller.store.factories import make_agent

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
UNIT = "xa-a"
PC1_MAC = "52:54:00:00:00:01"
PC2_MAC = "52:54:00:00:00:02"
STRANGER_MAC = "02:00:00:00:00:99"
CLASSIFIED_MAC = "de:ad:be:ef:00:01"
COPIER_MAC = "00:80:77:00:00:01"
CORE_MAC = "50:c7:bf:00:00:99"
ROUTER_MAC = "50:c7:bf:00:00:aa"
HUB_MACS = tuple(f"02:11:22:33:44:{n:02x}" for n in range(10))


def build(s: Session) -> None:
    """The organisation: unit, office, devices, the PC's agent, the assets."""
    units.ensure_unit(s, UNIT, "Xã A", kind="commune")
    s.add(Office(unit_id=UNIT, id="vp", name="Văn phòng"))

    def device(device_id: str, kind: str, **more: object) -> NetworkDevice:
        return NetworkDevice(id=device_id, kind=kind, name=device_id.upper(), unit_id=UNIT, **more)

    s.add_all(
        [
            device("sw-1", "switch", ip="127.0.0.1", macs=["50:c7:bf:00:00:01"]),
            device("sw-core", "switch", macs=[CORE_MAC]),
            device("rt-1", "router", macs=[ROUTER_MAC]),
            device("prn-1", "printer", office_id="vp", macs=["00:1b:a9:00:00:01"]),
            device("cp-mat", "other", for_secret_use=True, macs=[COPIER_MAC]),
        ]
    )
    make_agent(s, "ag-pc1", unit_id=UNIT, hostname="pc-1", macs=[PC1_MAC.upper()])
    s.add_all(
        [
            Asset(id="a-pc1", kind="desktop", unit_id=UNIT, office_id="vp", agent_id="ag-pc1"),
            Asset(id="a-pc2", kind="desktop", unit_id=UNIT, office_id="vp", hostname="pc-2"),
            Asset(id="a-mat1", kind="desktop", unit_id=UNIT, classification="classified"),
        ]
    )
    s.flush()
    s.add_all(
        [AssetMac(asset_id="a-pc2", mac=PC2_MAC), AssetMac(asset_id="a-mat1", mac=CLASSIFIED_MAC)]
    )
    s.flush()


def switch(
    *,
    secret: bool = True,
    stranger: bool = True,
    elapsed_s: float = 0.25,
) -> DeviceResult:
    """A good poll of ``sw-1``; ``secret``/``stranger``: whether those MACs are on their ports."""
    ports = [
        Interface(i, name=f"Gi0/{i}", mac=f"50:c7:bf:00:01:{i:02x}", oper_up=True, admin_up=True)
        for i in (1, 2, 3, 4, 22, 23, 24)
    ]
    fdb = [FdbEntry(PC1_MAC, 1, 1, 10), FdbEntry(PC2_MAC, 2, 2, 20)]
    if stranger:
        fdb.append(FdbEntry(STRANGER_MAC, 3, 3, 10))
    if secret:
        fdb.append(FdbEntry(CLASSIFIED_MAC.upper(), 4, 4, 20))
    fdb += [FdbEntry(mac, 22, 22, 10) for mac in HUB_MACS]
    fdb.append(FdbEntry(ROUTER_MAC, 23, 23, 10))
    # Behind the uplink: the core, and the PC again (flooded frames), which must not locate it.
    fdb += [FdbEntry(CORE_MAC, 24, 24, 10), FdbEntry(PC1_MAC, 24, 24, 10)]
    # The switch's own port MAC and a multicast address are never sightings.
    fdb += [FdbEntry("50:c7:bf:00:01:01", 1, 1, 10), FdbEntry("01:00:5e:00:00:01", 1, 1, 10)]
    lldp = [LldpNeighbour(24, 24, "50:c7:bf:00:00:99", "Gi1/0/1", "core", ("bridge",))]
    return DeviceResult(
        device_id="sw-1",
        ok=True,
        elapsed_s=elapsed_s,
        profile="generic-switch",
        sys_name="sw-1",
        sys_descr="Access switch",
        sys_object_id="1.3.6.1.4.1.9.1.1",
        uptime_s=1000,
        serial="SN-SW1",
        interfaces=tuple(ports),
        fdb=tuple(fdb),
        lldp=tuple(lldp),
        values=120,
    )


def router(*, secret: bool = False) -> DeviceResult:
    """A good poll of ``rt-1`` with its ARP table (the classified PC's MAC when ``secret``)."""
    arp = [ArpRow("10.0.0.11", PC1_MAC, 1), ArpRow("10.0.0.12", PC2_MAC, 1)]
    if secret:
        arp.append(ArpRow("10.0.0.66", CLASSIFIED_MAC, 1))
    return DeviceResult(
        device_id="rt-1",
        ok=True,
        elapsed_s=0.1,
        sys_name="rt-1",
        interfaces=(Interface(1, name="ge-0/0/0", mac=ROUTER_MAC),),
        arp=tuple(arp),
        values=20,
    )


def printer(
    *, black: int = 40, errors: tuple[str, ...] = (), status: str = "running"
) -> DeviceResult:
    """A good poll of ``prn-1``: black toner at ``black`` %, a drum at 80 %."""
    return DeviceResult(
        device_id="prn-1",
        ok=True,
        elapsed_s=0.2,
        sys_name="prn-1",
        printer=Printer(
            status="idle",
            device_status=status,
            errors=errors,
            pages=12345,
            supplies=(
                Supply(1, "Black Toner", "black", black, 100, "toner"),
                Supply(2, "Drum Unit", None, 80, 100, "opc"),
                Supply(3, "Waste", None, -3, -2, "wasteToner"),
            ),
        ),
        values=30,
    )


def failed(device_id: str, error: str = "timeout") -> DeviceResult:
    """A poll that got no answer."""
    return DeviceResult(device_id=device_id, ok=False, elapsed_s=4.0, error=error)
