"""Decoding walked columns: index layouts, bridge ports, VLANs, bit strings, supplies.

The inputs are column dictionaries as the SNMP client returns them; the integration tests
(tests/integration/test_snmp_*.py) poll the same tables from real agents.
"""

from __future__ import annotations

from controller.discovery import decode
from controller.discovery.results import FdbEntry

MAC = (0x52, 0x54, 0x00, 0xC1, 0xA5, 0x51)


def test_fdb_maps_bridge_ports_and_fdb_ids() -> None:
    columns: decode.Columns = {
        # bridge port 3 is ifIndex 10103 (Cisco IOS numbering); port 9 has no ifIndex
        "dot1dBasePortIfIndex": {(3,): 10103},
        # FdbId 5 is VLAN 20 on this switch (SVL numbering), FdbId 7 unmapped: taken as VLAN
        "dot1qVlanFdbId": {(0, 20): 5},
        "dot1qTpFdbPort": {
            (5, *MAC): 3,
            (7, 0, 0x1E, 0x58, 0, 0, 1): 9,
            (5, 0, 0x1E, 0x58, 0, 0, 2): 0,  # port 0: learnt, port unknown
            (5, 0, 0x1E, 0x58, 0, 0, 3): 3,  # the switch's own interface MAC
        },
        # ignored: Q-BRIDGE had rows
        "dot1dTpFdbPort": {MAC: 4},
    }
    assert decode.fdb(columns, frozenset({"00:1e:58:00:00:03"})) == (
        FdbEntry(mac="00:1e:58:00:00:01", bridge_port=9, if_index=None, vlan=7),
        FdbEntry(mac="52:54:00:c1:a5:51", bridge_port=3, if_index=10103, vlan=20),
    )


def test_fdb_falls_back_to_bridge_mib() -> None:
    columns: decode.Columns = {"dot1dBasePortIfIndex": {(4,): 4}, "dot1dTpFdbPort": {MAC: 4}}
    assert decode.fdb(columns) == (FdbEntry("52:54:00:c1:a5:51", 4, 4, 0),)


def test_lldp_subtypes_and_capabilities() -> None:
    index = (0, 25, 1)
    columns: decode.Columns = {
        "lldpRemChassisIdSubtype": {index: 5},
        "lldpRemChassisId": {index: bytes([1, 10, 63, 0, 1])},
        "lldpRemPortIdSubtype": {index: 7},
        "lldpRemPortId": {index: b"port 24\x00"},
        "lldpRemSysName": {index: b"core"},
        "lldpRemSysCapEnabled": {index: bytes([0x28])},
        "dot1dBasePortIfIndex": {(25,): 10125},
    }
    (neighbour,) = decode.lldp(columns, frozenset({1, 2}))
    assert neighbour.chassis_id == "10.63.0.1"
    assert neighbour.port_id == "port 24"
    assert neighbour.capabilities == ("bridge", "router")
    assert neighbour.if_index == 10125  # a bridge port number, mapped


def test_arp_ipv4_ipv6_and_media_fallback() -> None:
    v6 = (0xFE, 0x80, *([0] * 13), 1)
    physical: decode.Columns = {
        "ipNetToPhysicalPhysAddress": {
            (2, 1, 4, 10, 63, 1, 50): bytes(MAC),
            (2, 2, 16, *v6): bytes(MAC),
            (2, 1, 4, 10, 63, 1, 51): b"",  # incomplete entry
        }
    }
    assert [(r.ip, r.if_index) for r in decode.arp(physical)] == [
        ("10.63.1.50", 2),
        ("fe80::1", 2),
    ]
    media: decode.Columns = {"ipNetToMediaPhysAddress": {(3, 192, 168, 1, 9): bytes(MAC)}}
    assert [(r.ip, r.mac) for r in decode.arp(media)] == [("192.168.1.9", "52:54:00:c1:a5:51")]


def test_printer_bits_and_supplies() -> None:
    columns: decode.Columns = {
        "hrPrinterStatus": {(1,): 5},
        "hrDeviceStatus": {(1,): 5},
        # bits 1 (noPaper), 5 (jammed) and 8 (inputTrayMissing, RFC 3805's second octet)
        "hrPrinterDetectedErrorState": {(1,): bytes([0x44, 0x80])},
        "prtMarkerSuppliesDescription": {(1, 1): b"Black", (1, 2): b"Waste"},
        "prtMarkerSuppliesColorantIndex": {(1, 1): 1, (1, 2): 0},
        "prtMarkerSuppliesType": {(1, 1): 21, (1, 2): 4},
        "prtMarkerSuppliesMaxCapacity": {(1, 1): 200, (1, 2): -2},
        "prtMarkerSuppliesLevel": {(1, 1): 10, (1, 2): -3},
        "prtMarkerColorantValue": {(1, 1): b"black"},
        "prtMarkerLifeCount": {(1, 2): 7, (1, 1): 1234},
    }
    printer = decode.printer(columns)
    assert printer is not None
    assert (printer.status, printer.device_status) == ("warmup", "down")
    assert printer.errors == ("noPaper", "jammed", "inputTrayMissing")
    assert printer.pages == 1234
    black, waste = printer.supplies
    assert (black.colour, black.kind, black.percent) == ("black", "tonerCartridge", 5)
    assert (waste.colour, waste.kind, waste.percent) == (None, "wasteToner", None)
    assert decode.printer({"hrDeviceStatus": {(1,): 2}}) is None


def test_interfaces_speed_and_names() -> None:
    columns: decode.Columns = {
        "ifDescr": {(1,): b"eth0", (2,): b"lo"},
        "ifName": {(1,): b"Gi1/0/1"},
        "ifSpeed": {(1,): 4294967295, (2,): 10_000_000},
        "ifHighSpeed": {(1,): 10000, (2,): 0},
        "ifAdminStatus": {(1,): 1, (2,): 2},
        "ifPhysAddress": {(1,): bytes(MAC), (2,): b""},
    }
    eth, lo = decode.interfaces(columns)
    assert (eth.name, eth.descr, eth.speed_mbps, eth.admin_up, eth.mac) == (
        "Gi1/0/1",
        "eth0",
        10000,
        True,
        "52:54:00:c1:a5:51",
    )
    assert (lo.name, lo.speed_mbps, lo.admin_up, lo.mac, lo.oper_up) == (
        "lo",
        10,
        False,
        None,
        None,
    )


def test_serial_prefers_the_chassis() -> None:
    columns: decode.Columns = {
        "entPhysicalSerialNum": {(1,): b"", (2,): b"PSU1", (3,): b"FOC123"},
        "entPhysicalClass": {(1,): 3, (2,): 6, (3,): 3},
    }
    assert decode.serial(columns) == "FOC123"
    assert decode.serial({"entPhysicalSerialNum": {(5,): b"X1"}}) == "X1"
    assert decode.serial({}) is None
