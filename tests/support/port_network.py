"""A small district network for the port-enforcement tests: two communes' switches, an access
port where a registered classified computer is plugged in, and uplinks that also see its MAC.

Units::

    huyen ─┬─ xa-a ── xa-a-vp        sw-a (xa-a-vp): 1, 2 access; 24 uplink (LLDP)
           └─ xa-b                    sw-b (xa-b):    1 access;    24 uplink (many MACs)

The classified asset ``pc-mat-01`` (unit xa-a, MAC :data:`CLASSIFIED_MAC`) is learnt on sw-a
port 1, on both uplinks, and on sw-b port 1, as switches behind a trunk would show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from controller.findings import tripwire
from controller.store.models import (
    Asset,
    AssetMac,
    MacSighting,
    NetInterface,
    NetworkDevice,
    SnmpCredential,
    Unit,
)

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
CLASSIFIED_MAC = "52:54:00:aa:00:01"
ASSET = "pc-mat-01"
SUBJECT = f"asset:{ASSET}"
#: (device, unit, ports: (if_index, name, uplink reason or None)).
SWITCHES = (
    ("sw-a", "xa-a-vp", ((1, "Gi1/0/1", None), (2, "Gi1/0/2", None), (24, "Gi1/0/24", "lldp"))),
    ("sw-b", "xa-b", ((1, "Gi1/0/1", None), (24, "Gi1/0/24", "macs"))),
)


@dataclass(frozen=True)
class Seeded:
    """What :func:`seed` made that tests refer to."""

    finding_id: int
    sighting: tripwire.Sighting


def seed_units(s: Session) -> None:
    """The unit tree of the module docstring."""
    for unit_id, parent, kind in (
        ("huyen", None, "district"),
        ("xa-a", "huyen", "commune"),
        ("xa-a-vp", "xa-a", "office"),
        ("xa-b", "huyen", "commune"),
    ):
        s.add(Unit(id=unit_id, parent_id=parent, name=unit_id.upper(), kind=kind, created_at=T0))
    s.flush()


def seed_switch(
    s: Session,
    device_id: str,
    unit_id: str,
    ports: tuple[tuple[int, str, str | None], ...],
    *,
    ip: str | None = None,
    credential: str | None = None,
) -> None:
    """A switch and its ports as a poll left them (every port administratively up)."""
    if credential is not None and s.get(SnmpCredential, credential) is None:
        s.add(SnmpCredential(name=credential, version="v2c"))
        s.flush()
    s.add(
        NetworkDevice(
            id=device_id,
            kind="switch",
            name=f"Switch {device_id}",
            unit_id=unit_id,
            ip=ip,
            macs=[],
            snmp_credential=credential,
        )
    )
    s.flush()
    for if_index, name, uplink in ports:
        s.add(
            NetInterface(
                device_id=device_id,
                if_index=if_index,
                name=name,
                admin_up=True,
                oper_up=True,
                mac_count=12 if uplink else 1,
                uplink=uplink is not None,
                uplink_reason=uplink,
                updated_at=T0,
            )
        )
    s.flush()


def see_mac(s: Session, device_id: str, if_index: int, mac: str, at: datetime) -> None:
    """The switch's forwarding table showed ``mac`` on the port at ``at``."""
    s.add(
        MacSighting(
            mac=mac, device_id=device_id, if_index=if_index, vlan=10, first_seen=at, last_seen=at
        )
    )
    s.flush()


def seed_classified(s: Session) -> None:
    """The registered classified computer ``pc-mat-01`` of unit xa-a."""
    s.add(Asset(id=ASSET, kind="desktop", unit_id="xa-a", classification="classified", tags=[]))
    s.flush()
    s.add(AssetMac(asset_id=ASSET, mac=CLASSIFIED_MAC))
    s.flush()


def sight(s: Session, at: datetime) -> Seeded:
    """The tripwire's sighting of ``pc-mat-01`` on a switch, and its critical finding."""
    sighting = tripwire.Sighting(
        asset_id=ASSET,
        unit_id="xa-a",
        source="switch",
        matched={"mac": CLASSIFIED_MAC},
        detail={"device_id": "sw-a", "if_index": 1},
    )
    tripwire.raise_sightings(s, [sighting], at)
    s.flush()
    from controller.store import port_actions

    finding_id = port_actions.live_finding_id(s, SUBJECT, tripwire.RULE)
    assert finding_id is not None
    return Seeded(finding_id, sighting)


def seed(s: Session, at: datetime = T0) -> Seeded:
    """Everything of the module docstring, the sighting at ``at``; flushed, not committed."""
    seed_units(s)
    for device_id, unit_id, ports in SWITCHES:
        seed_switch(s, device_id, unit_id, ports)
    seed_classified(s)
    for device_id, if_index in (("sw-a", 1), ("sw-a", 24), ("sw-b", 1), ("sw-b", 24)):
        see_mac(s, device_id, if_index, CLASSIFIED_MAC, at)
    return sight(s, at)
