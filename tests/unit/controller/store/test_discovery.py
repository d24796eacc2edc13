"""Storing poll results: state, interfaces and uplinks, sightings with history, locations."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.discovery.results import DeviceResult, FdbEntry
from controller.store import discovery
from controller.store import discovery_queries as queries
from controller.store.dashboard._common import office_equipment
from controller.store.models import (
    ArpEntry,
    MacSighting,
    NetDeviceState,
    NetInterface,
    NetworkDevice,
)
from tests.unit.controller import networld as w

LATER = w.T0 + timedelta(minutes=15)


def _store(
    session: Session, results: list[DeviceResult], at: datetime = w.T0
) -> discovery.RoundSummary:
    return discovery.store_round(session, results, at, uplink_mac_threshold=8)


def test_a_round_stores_state_ports_sightings_arp_and_printer(session: Session) -> None:
    w.build(session)
    summary = _store(session, [w.switch(), w.router(), w.printer(), w.failed("sw-core")])
    assert (summary.devices_ok, summary.devices_failed, summary.values) == (3, 1, 170)
    # PC1 twice (its port and the uplink), PC2, stranger, secret, 10 hub MACs, router, core.
    assert summary.sightings == summary.new_sightings == 17
    assert (summary.arp_entries, summary.printers, summary.uplinks) == (2, 1, 3)

    state = session.get(NetDeviceState, "sw-1")
    assert state is not None
    assert (state.ok_at, state.error, state.serial, state.values) == (w.T0, None, "SN-SW1", 120)
    dead = session.get(NetDeviceState, "sw-core")
    assert dead is not None
    assert (dead.polled_at, dead.ok_at, dead.error) == (w.T0, None, "timeout")

    ports = {p.if_index: p for p in queries.device_interfaces(session, "sw-1")}
    assert sorted(ports) == [1, 2, 3, 4, 22, 23, 24]
    assert {i: (p.uplink, p.uplink_reason, p.mac_count) for i, p in ports.items()} == {
        1: (False, None, 1),
        2: (False, None, 1),
        3: (False, None, 1),
        4: (False, None, 1),
        22: (True, "macs", 10),
        23: (True, "device", 1),
        24: (True, "lldp", 2),
    }
    assert ports[24].neighbour == {
        "chassis_id": w.CORE_MAC,
        "port_id": "Gi1/0/1",
        "sys_name": "core",
    }
    macs = set(session.scalars(select(MacSighting.mac)))
    assert "50:c7:bf:00:01:01" not in macs and "01:00:5e:00:00:01" not in macs
    assert w.CLASSIFIED_MAC in macs  # stored lower-case

    printers = queries.printer_rows(session)
    assert [(p.device_id, p.office_id, p.pages, p.device_status) for p in printers] == [
        ("prn-1", "vp", 12345, "running")
    ]
    assert [(x["name"], x["colour"], x["percent"]) for x in printers[0].supplies] == [
        ("Black Toner", "black", 40),
        ("Drum Unit", None, 80),
        ("Waste", None, None),
    ]


def test_the_next_round_bumps_last_seen_and_keeps_history(session: Session) -> None:
    w.build(session)
    _store(session, [w.switch(stranger=False), w.router()])
    again = _store(session, [w.switch(), w.failed("rt-1", "auth: wrong community")], LATER)
    # Everything seen before again, plus the stranger.
    assert (again.sightings, again.new_sightings) == (17, 1)
    pc = session.scalar(
        select(MacSighting).where(MacSighting.mac == w.PC1_MAC, MacSighting.if_index == 1)
    )
    assert pc is not None and (pc.first_seen, pc.last_seen) == (w.T0, LATER)
    # The router did not answer: its facts, ports and ARP history stay; the error is recorded.
    state = session.get(NetDeviceState, "rt-1")
    assert state is not None
    assert (state.ok_at, state.polled_at, state.error) == (w.T0, LATER, "auth: wrong community")
    assert state.sys_name == "rt-1"
    assert session.scalar(select(NetInterface).where(NetInterface.device_id == "rt-1"))
    arp = session.scalars(select(ArpEntry).order_by(ArpEntry.ip)).all()
    assert [(a.ip, a.last_seen) for a in arp] == [("10.0.0.11", w.T0), ("10.0.0.12", w.T0)]
    # A port that disappears from the switch leaves the table of ports.
    smaller = w.switch()
    smaller = DeviceResult(
        device_id="sw-1",
        ok=True,
        elapsed_s=0.1,
        interfaces=smaller.interfaces[:2],
        fdb=(FdbEntry(w.PC1_MAC, 1, 1, 10),),
    )
    _store(session, [smaller], LATER + timedelta(minutes=15))
    assert [p.if_index for p in queries.device_interfaces(session, "sw-1")] == [1, 2]


def test_a_computer_is_located_on_its_access_port_not_the_uplink(session: Session) -> None:
    w.build(session)
    _store(session, [w.switch()])
    _store(session, [w.switch(stranger=False)], LATER)
    found = queries.host_locations(session, ["ag-pc1", "nobody"], since=w.T0)
    assert found["nobody"] == []
    [place] = found["ag-pc1"]
    assert (place.device_id, place.device_name, place.port_name, place.if_index, place.vlan) == (
        "sw-1",
        "SW-1",
        "Gi0/1",
        1,
        10,
    )
    assert (place.mac, place.first_seen, place.last_seen) == (w.PC1_MAC, w.T0, LATER)
    # Seen before the window only: not located.
    assert queries.host_locations(session, ["ag-pc1"], since=LATER + timedelta(seconds=1)) == {
        "ag-pc1": []
    }
    assets = queries.asset_locations(session, ["a-pc2", "a-mat1", "a-pc1"], since=w.T0)
    assert [(p.if_index, p.vlan) for p in assets["a-pc2"]] == [(2, 20)]
    assert [(p.if_index, p.vlan) for p in assets["a-mat1"]] == [(4, 20)]
    assert assets["a-pc1"] == []  # its MACs are the agent's, not registered on the asset


def test_the_mac_table_names_each_owner(session: Session) -> None:
    w.build(session)
    _store(session, [w.switch()])
    rows = queries.mac_table(session, since=w.T0, device_id="sw-1")
    owners = {(r.mac, r.if_index): r.owner for r in rows}
    pc1 = owners[(w.PC1_MAC, 1)]
    assert pc1 is not None and (pc1.kind, pc1.hostname, pc1.asset_id) == ("agent", "pc-1", "a-pc1")
    pc2 = owners[(w.PC2_MAC, 2)]
    assert pc2 is not None and (pc2.kind, pc2.asset_id, pc2.label) == ("asset", "a-pc2", "pc-2")
    secret = owners[(w.CLASSIFIED_MAC, 4)]
    assert secret is not None and secret.classification == "classified"
    core = owners[(w.CORE_MAC, 24)]
    assert core is not None and (core.kind, core.device_id) == ("device", "sw-core")
    assert owners[(w.STRANGER_MAC, 3)] is None
    assert [r.uplink for r in rows if r.if_index == 24] == [True, True]
    unmanaged = queries.mac_table(session, since=w.T0, unmanaged=True)
    # The hub's MACs sit behind an uplink (too many on one port): not counted as unmanaged.
    assert [(r.mac, r.device_id, r.port_name, r.vlan) for r in unmanaged] == [
        (w.STRANGER_MAC, "sw-1", "Gi0/3", 10)
    ]
    assert queries.mac_table(session, since=w.T0, scope=frozenset({"other"})) == []


def test_device_rows_and_unknown_devices(session: Session) -> None:
    w.build(session)
    summary = _store(session, [w.switch(), w.failed("ghost")])
    assert summary.unknown_devices == ("ghost",)
    assert summary.devices_failed == 0
    rows = {r.device_id: r for r in queries.device_rows(session)}
    assert sorted(rows) == ["cp-mat", "prn-1", "rt-1", "sw-1", "sw-core"]
    assert (rows["sw-1"].ports, rows["sw-1"].uplinks, rows["sw-1"].ok_at) == (7, 3, w.T0)
    assert (rows["rt-1"].polled_at, rows["rt-1"].ports) == (None, 0)
    assert queries.unknown_devices(session, ["sw-1", "ghost"]) == ["ghost"]
    assert queries.device_rows(session, scope=frozenset()) == []


def test_a_device_that_answers_as_a_printer_equips_its_office(session: Session) -> None:
    w.build(session)
    # Office vp: the register's desktops a-pc1, a-pc2 and the network printer prn-1.
    assert office_equipment(session, None)[(w.UNIT, "vp")] == [2, 1]
    session.add(
        NetworkDevice(
            id="mfp-1", kind="other", name="Máy photocopy", unit_id=w.UNIT, office_id="vp"
        )
    )
    session.flush()
    assert office_equipment(session, None)[(w.UNIT, "vp")] == [2, 1]
    mfp = w.printer()
    _store(session, [DeviceResult("mfp-1", True, 0.1, printer=mfp.printer)])
    assert office_equipment(session, None)[(w.UNIT, "vp")] == [2, 2]
    assert office_equipment(session, frozenset({"elsewhere"})) == {}
