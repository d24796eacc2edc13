"""Findings from the network: the classified tripwire by MAC, secret-use devices, unmanaged
devices per unit, printers' supplies and errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.discovery.results import DeviceResult, FdbEntry, Printer, Supply
from controller.findings import network
from controller.findings.alerts import notice_for
from controller.policy.messages import render
from controller.policy.model import Reason
from controller.settings import SnmpConfig
from controller.store import discovery
from controller.store.findings import Opened
from controller.store.models import AuditEntry, Finding
from tests.unit.controller import networld as w

CONFIG = SnmpConfig(toner_low_percent=10, sighting_stale_s=3600)


def _round(
    session: Session, results: list[DeviceResult], at: datetime = w.T0
) -> network.NetworkFindings:
    discovery.store_round(session, results, at, uplink_mac_threshold=8)
    return network.evaluate_round(session, results, at, CONFIG)


def _live(session: Session) -> dict[tuple[str, str], Finding]:
    rows = session.scalars(select(Finding).where(Finding.open_key.is_not(None)))
    return {(f.subject, f.rule_id): f for f in rows}


def test_a_classified_mac_on_a_switch_port_is_critical_once(session: Session) -> None:
    w.build(session)
    found = _round(session, [w.switch(), w.router(secret=True)])
    assert found.classified == 1
    assert Opened("asset:a-mat1", w.UNIT, "BMNN-04", "critical") in found.opened
    finding = _live(session)[("asset:a-mat1", "BMNN-04")]
    assert finding.severity == "critical"
    [evidence] = finding.evidence
    # The switch's access port wins over the router's ARP entry: that is where to unplug.
    assert (evidence["source"], evidence["matched"]) == ("switch", {"mac": w.CLASSIFIED_MAC})
    assert (evidence["device"], evidence["port"], evidence["vlan"]) == ("sw-1", "Gi0/4", 20)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "tripwire.sighting"))
    assert [a.target for a in audit] == ["asset:a-mat1"]
    # Seen again: the same finding is refreshed, no second alert.
    later = w.T0 + timedelta(minutes=15)
    again = _round(session, [w.switch()], later)
    assert again.classified == 1 and not [o for o in again.opened if o.rule_id == "BMNN-04"]
    assert _live(session)[("asset:a-mat1", "BMNN-04")].last_seen_at == later


def test_a_classified_mac_in_an_arp_table_only(session: Session) -> None:
    w.build(session)
    found = _round(session, [w.switch(secret=False), w.router(secret=True)])
    assert found.classified == 1
    [evidence] = _live(session)[("asset:a-mat1", "BMNN-04")].evidence
    assert (evidence["source"], evidence["device"], evidence["ip"]) == ("arp", "rt-1", "10.0.0.66")


def test_no_classified_mac_no_tripwire(session: Session) -> None:
    w.build(session)
    found = _round(session, [w.switch(secret=False), w.router()])
    assert found.classified == 0
    assert ("asset:a-mat1", "BMNN-04") not in _live(session)


def test_a_secret_use_copier_that_answers_or_is_seen(session: Session) -> None:
    w.build(session)
    copier = DeviceResult(device_id="cp-mat", ok=True, elapsed_s=0.1, sys_name="copier")
    found = _round(session, [copier])
    assert Opened("device:cp-mat", w.UNIT, "BMNN-08", "critical") in found.opened
    assert _live(session)[("device:cp-mat", "BMNN-08")].evidence[0]["source"] == "snmp"
    # Still in the window: it stays open though the copier is quiet now.
    soon = w.T0 + timedelta(minutes=30)
    assert _round(session, [w.failed("cp-mat")], soon).resolved == 0
    # Silent and unseen for longer than sighting_stale_s: resolved.
    late = w.T0 + timedelta(hours=2)
    assert _round(session, [w.failed("cp-mat")], late).resolved == 1
    assert ("device:cp-mat", "BMNN-08") not in _live(session)
    # Its MAC behind a switch port opens it again.
    switch = w.switch()
    seen = DeviceResult(
        device_id="sw-1",
        ok=True,
        elapsed_s=0.1,
        interfaces=switch.interfaces,
        fdb=(*switch.fdb, FdbEntry(w.COPIER_MAC, 2, 2, 20)),
    )
    reopened = _round(session, [seen], late + timedelta(minutes=15))
    assert Opened("device:cp-mat", w.UNIT, "BMNN-08", "critical") in reopened.opened
    evidence = _live(session)[("device:cp-mat", "BMNN-08")].evidence
    assert [(e["source"], e["device"], e["port"]) for e in evidence] == [
        ("switch", "sw-1", "Gi0/2")
    ]


def test_unmanaged_devices_per_unit_until_none_remain(session: Session) -> None:
    w.build(session)
    found = _round(session, [w.switch()])
    assert Opened(f"unit:{w.UNIT}", w.UNIT, "NET-01", "medium") in found.opened
    finding = _live(session)[(f"unit:{w.UNIT}", "NET-01")]
    assert finding.evidence["macs"] == 1
    assert finding.evidence["seen"] == [
        {
            "mac": w.STRANGER_MAC,
            "device": "sw-1",
            "port": "Gi0/3",
            "if_index": 3,
            "vlan": 10,
            "last_seen": w.T0.isoformat(),
        }
    ]
    # Gone from the switch, but still within sighting_stale_s: still current.
    soon = w.T0 + timedelta(minutes=15)
    assert _round(session, [w.switch(stranger=False)], soon).resolved == 0
    later = w.T0 + timedelta(hours=2)
    assert _round(session, [w.switch(stranger=False)], later).resolved == 1
    assert (f"unit:{w.UNIT}", "NET-01") not in _live(session)


def test_the_evidence_of_many_unmanaged_macs_is_capped(session: Session) -> None:
    w.build(session)
    many = [FdbEntry(f"02:aa:00:00:{n // 256:02x}:{n % 256:02x}", 3, 3, 10) for n in range(80)]
    switch = w.switch()
    crowded = DeviceResult(
        device_id="sw-1", ok=True, elapsed_s=0.1, interfaces=switch.interfaces, fdb=tuple(many)
    )
    # 80 MACs on one port make it an uplink at the default threshold: raise it for a hub-less
    # test of the cap.
    discovery.store_round(session, [crowded], w.T0, uplink_mac_threshold=1000)
    network.evaluate_round(session, [crowded], w.T0, CONFIG)
    evidence = _live(session)[(f"unit:{w.UNIT}", "NET-01")].evidence
    assert evidence["macs"] == 80 and len(evidence["seen"]) == network.EVIDENCE_CAP


@pytest.mark.parametrize(
    ("printer", "low", "errors"),
    [
        pytest.param(w.printer(), [], [], id="healthy"),
        pytest.param(w.printer(black=10), ["Black Toner"], [], id="toner at the threshold"),
        pytest.param(
            w.printer(black=5, errors=("lowToner",), status="warning"),
            ["Black Toner"],
            [],
            id="low toner explains the warning",
        ),
        pytest.param(
            w.printer(errors=("jammed", "doorOpen"), status="down"),
            [],
            ["down", "doorOpen", "jammed"],
            id="jammed and down",
        ),
        pytest.param(w.printer(status="warning"), [], ["warning"], id="unexplained warning"),
    ],
)
def test_printer_supplies_and_errors(
    session: Session, printer: DeviceResult, low: list[str], errors: list[str]
) -> None:
    w.build(session)
    _round(session, [printer])
    live = _live(session)
    supply = live.get(("device:prn-1", "PRN-01"))
    assert ([s["name"] for s in supply.evidence["supplies"]] if supply else []) == low
    error = live.get(("device:prn-1", "PRN-02"))
    assert (error.evidence["errors"] if error else []) == errors
    # Cleared at the next poll: resolved.
    _round(session, [w.printer()], w.T0 + timedelta(minutes=15))
    assert not [k for k in _live(session) if k[0] == "device:prn-1"]


def test_a_drum_named_but_untyped_counts_and_waste_does_not() -> None:
    printer = Printer(
        supplies=(
            Supply(1, "Drum Cartridge", None, 5, 100, None),
            Supply(2, "Waste Toner Box", None, 1, 100, "wasteToner"),
            Supply(3, "Cyan Ink", "cyan", 9, 100, "inkCartridge"),
        )
    )
    assert [s["name"] for s in network.low_supplies(printer, 10)] == ["Drum Cartridge", "Cyan Ink"]


def test_notices_name_the_network_rules() -> None:
    notice = notice_for(Opened("unit:xa-a", "xa-a", "NET-01", "medium"), w.T0, None)
    assert notice.subject["vi"].startswith("Thiết bị lạ trên cổng truy cập")
    assert "unit xa-a" in notice.subject["en"]
    printer = notice_for(Opened("device:prn-1", "xa-a", "PRN-01", "low"), w.T0, None)
    assert printer.subject["en"] == "Printer toner or drum low (network device prn-1, PRN-01)"


def test_the_reasons_read_in_both_languages(session: Session) -> None:
    w.build(session)
    _round(session, [w.switch(), w.printer(black=5, errors=("jammed",))])
    live = _live(session)
    texts = {
        rule: (render(Reason(**f.reason), "vi"), render(Reason(**f.reason), "en"))
        for (_, rule), f in live.items()
    }
    assert texts["NET-01"] == (
        "1 thiết bị lạ trên cổng truy cập của switch",
        "1 unmanaged devices on switch access ports",
    )
    assert texts["PRN-01"][1] == "running low: black 5%"
    assert texts["PRN-02"][1] == "printer reports: jammed"
    assert texts["BMNN-04"][1] == "classified computer asset:a-mat1 seen on the network (switch)"
