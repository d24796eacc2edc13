"""The simulated district network: parseable recordings, and every PC on exactly one port."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from controller.discovery.recordings import (
    DOT1Q_TP_FDB_ENTRY,
    LLDP_REM_ENTRY,
    PRT_SUPPLIES_ENTRY,
    PrinterSpec,
    Recording,
    Supply,
    SystemInfo,
    printer_recording,
    switch_recording,
    synthetic_switch,
    write_recording,
)
from controller.discovery.simulate import (
    MANIFEST,
    SimulationError,
    main,
    simulate_organisation,
)
from controller.inventory import load_inventory

EXAMPLE = Path(__file__).resolve().parents[4] / "inventory" / "example-district.yaml"
LINE = re.compile(r"^(\d+(?:\.\d+)+)\|(2|4|4x|6|64|65|66|67|70)\|(.*)$")
#: The store's default ``snmp.uplink_mac_threshold``: more MACs than this make a port an uplink.
UPLINK_THRESHOLD = 8


def parse(path: Path) -> list[tuple[tuple[int, ...], str, str]]:
    """Every line of a recording as (OID, tag, value); fails on a malformed line."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        match = LINE.match(line)
        assert match, f"{path.name}:{number}: not OID|TAG|VALUE: {line!r}"
        oid, tag, value = match.groups()
        if tag == "4x":
            assert re.fullmatch(r"(?:[0-9a-f]{2})*", value), f"{path.name}:{number}: bad hex"
        rows.append((tuple(int(arc) for arc in oid.split(".")), tag, value))
    return rows


def fdb(rows: list[tuple[tuple[int, ...], str, str]]) -> list[tuple[str, int, int]]:
    """The dot1qTpFdbPort rows of a recording: (MAC, VLAN, bridge port)."""
    prefix = tuple(int(arc) for arc in f"{DOT1Q_TP_FDB_ENTRY}.2".split("."))
    out = []
    for oid, _, value in rows:
        if oid[: len(prefix)] == prefix:
            vlan, mac = oid[len(prefix)], oid[len(prefix) + 1 :]
            out.append((":".join(f"{octet:02x}" for octet in mac), vlan, int(value)))
    return out


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("district")
    return out, simulate_organisation(EXAMPLE, out)


def test_every_recording_parses_with_strictly_increasing_oids(
    district: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = district
    inventory = load_inventory(EXAMPLE)
    devices = inventory.records["network_devices"]
    files = sorted(out.glob("*.snmprec"))
    assert {f.stem for f in files} == set(devices) == set(manifest["devices"])
    for path in files:
        rows = parse(path)
        oids = [oid for oid, _, _ in rows]
        assert all(a < b for a, b in itertools.pairwise(oids)), path.name
        assert manifest["devices"][path.stem]["community"] == path.stem
        # Every device answers the system group: sysObjectID is an OID.
        assert any(oid == (1, 3, 6, 1, 2, 1, 1, 2, 0) and tag == "6" for oid, tag, _ in rows)


def test_every_unclassified_computer_is_on_exactly_one_access_port(
    district: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = district
    assets = load_inventory(EXAMPLE).records["assets"]
    expected = {
        asset_id
        for asset_id, asset in assets.items()
        if asset["macs"] and asset["classification"] != "classified"
    }
    placed_hosts = [p["host"] for p in manifest["placements"].values() if p["host_kind"] == "asset"]
    assert sorted(placed_hosts) == sorted(expected)

    # The recordings agree with the manifest: each placed MAC is learnt on one access port of
    # one switch, in the manifest's VLAN, and only seen elsewhere on uplinks and downlinks.
    seen: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for device_id, device in manifest["devices"].items():
        if device["kind"] != "switch":
            continue
        link_ports = {link["bridge_port"] for link in manifest["links"][device_id].values()}
        for mac, vlan, port in fdb(parse(out / device["file"])):
            if port not in link_ports:
                seen[mac].append((device_id, port, vlan))
    for mac, placement in manifest["placements"].items():
        assert seen[mac] == [(placement["device"], placement["bridge_port"], placement["vlan"])]
    assert set(seen) == set(manifest["placements"])


def test_classified_computers_stay_off_the_network_unless_asked(
    district: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, manifest = district
    assets = load_inventory(EXAMPLE).records["assets"]
    classified = sorted(a for a, r in assets.items() if r["classification"] == "classified")
    macs = {mac for a in classified for mac in assets[a]["macs"]}
    text = "".join(path.read_text(encoding="ascii") for path in out.glob("*.snmprec"))
    for mac in macs:
        assert ".".join(str(int(octet, 16)) for octet in mac.split(":")) not in text
        assert mac.replace(":", "") not in text
    assert set(classified) <= set(manifest["unplaced"])

    tripwire = simulate_organisation(EXAMPLE, tmp_path, classified_on_port=[classified[0]])
    mac = assets[classified[0]]["macs"][0]
    placement = tripwire["placements"][mac]
    assert placement["classified"] is True and placement["host"] == classified[0]
    switch_file = tmp_path / tripwire["devices"][placement["device"]]["file"]
    assert (mac, placement["vlan"], placement["bridge_port"]) in fdb(parse(switch_file))

    with pytest.raises(SimulationError, match="not a classified asset"):
        simulate_organisation(EXAMPLE, tmp_path, classified_on_port=["no-such-pc"])


def test_uplinks_carry_many_macs_and_a_bridge_neighbour(
    district: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = district
    for device_id, links in manifest["links"].items():
        rows = parse(out / manifest["devices"][device_id]["file"])
        rem_prefix = tuple(int(arc) for arc in f"{LLDP_REM_ENTRY}.12".split("."))
        neighbours = {
            oid[len(rem_prefix) + 1]: bytes.fromhex(value)
            for oid, _, value in rows
            if oid[: len(rem_prefix)] == rem_prefix
        }
        for link in links.values():
            assert link["macs"] > UPLINK_THRESHOLD, (device_id, link)
            caps = neighbours[link["if_index"]]
            assert caps[0] & 0x20 or caps[0] & 0x08, (device_id, link)  # bridge or router bit


def test_the_same_input_gives_the_same_bytes(
    district: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = district
    simulate_organisation(EXAMPLE, tmp_path)
    for path in sorted(out.iterdir()):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_the_first_printer_is_low_on_toner(district: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = district
    (printer_id, printer), *_ = manifest["printers"].items()
    assert printer["errors"] == ["lowToner"] and printer["supplies"][0]["percent"] <= 10
    rows = parse(out / f"{printer_id}.snmprec")
    level = tuple(int(arc) for arc in f"{PRT_SUPPLIES_ENTRY}.9.1.1".split("."))
    assert [value for oid, _, value in rows if oid == level] == [
        str(printer["supplies"][0]["level"])
    ]


def test_text_that_snmpsim_would_mangle_is_written_as_hex() -> None:
    rec = Recording()
    rec.add("1.3.6.1.2.1.1.6.0", "4", "Tầng 2 ")
    rec.add("1.3.6.1.2.1.1.5.0", "4", "sw-01")
    rec.add("1.3.6.1.2.1.1.10.0", "2", 1)
    assert rec.text().splitlines() == [
        "1.3.6.1.2.1.1.5.0|4|sw-01",
        f"1.3.6.1.2.1.1.6.0|4x|{'Tầng 2 '.encode().hex()}",
        "1.3.6.1.2.1.1.10.0|2|1",
    ]


def test_a_synthetic_switch_and_a_colour_printer_render(tmp_path: Path) -> None:
    spec = synthetic_switch("bench-0001", ports=48, upstream=30)
    assert len(spec.learnt[48]) == 30 and 48 in spec.neighbours
    path = write_recording(tmp_path / "bench-0001.snmprec", switch_recording(spec))
    assert len(fdb(parse(path))) == sum(len(hosts) for hosts in spec.learnt.values())
    colours = ("black", "cyan", "magenta", "yellow")
    printer = PrinterSpec(
        info=SystemInfo("np", "HP Color LaserJet", "1.3.6.1.4.1.11.2.3.9.1"),
        model="HP Color LaserJet Pro M454dn",
        serial="PHB1234567",
        mac="3c:52:82:00:00:01",
        supplies=tuple(Supply(f"{c} toner", c, 50) for c in colours),
        pages=1000,
    )
    text = printer_recording(printer).text()
    for colour in colours:
        assert f"|4|{colour}\n" in text


def test_cli_writes_the_folder_and_rejects_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--org", str(EXAMPLE), "--out", str(tmp_path / "sim")]) == 0
    assert (tmp_path / "sim" / MANIFEST).is_file()
    assert "recordings" in capsys.readouterr().out
    assert main(["--org", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "missing.yaml" in err[0]
