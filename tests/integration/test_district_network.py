"""The example district's whole network simulated (snmpsim serving one recording per device of
inventory/example-district.yaml) and polled by `govguard snmp poll`, as the issue's "done when"
asks: every placed computer is located on its access port (never on an uplink), the network
printer is listed per office with its toner, and a classified PC plugged into a port raises the
critical BMNN-04 finding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.cli import main
from controller.discovery.simulate import simulate_organisation
from controller.settings import load_settings
from controller.store import db
from controller.store.models import (
    Finding,
    MacSighting,
    NetInterface,
    PrinterState,
)
from tests.support.snmpsim import Simulator, snmpsim

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "inventory" / "example-district.yaml"
#: A classified PC of the example district, plugged into a switch port for the tripwire.
CLASSIFIED = "huyen-cho-moi-van-phong-pc-90"


@pytest.fixture(scope="module")
def district(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Simulator, dict[str, Any]]]:
    """snmpsim serving the simulated district, and the simulation's manifest."""
    folder = tmp_path_factory.mktemp("district-sim")
    manifest = simulate_organisation(EXAMPLE, folder, classified_on_port=[CLASSIFIED])
    with snmpsim(folder) as simulator:
        yield simulator, manifest


def _organisation_on_loopback(path: Path, port: int) -> dict[str, str]:
    """The example file with every network device at the simulator (an address with its SNMP
    port) and its own credential (in the simulation a device's community is its id); the
    credentials' names and communities."""
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    communities: dict[str, str] = {}
    for device in document["network_devices"]:
        name = f"sim-{device['id']}"
        device["ip"] = f"127.0.0.1:{port}"
        device["snmp_credential"] = name
        communities[name] = device["id"]
    document["snmp_credentials"] = [
        {"name": name, "version": "v2c", "description": "simulated"} for name in communities
    ]
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return communities


def test_poll_of_the_simulated_district(
    district: tuple[Simulator, dict[str, Any]],
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    simulator, manifest = district
    organisation = tmp_path / "district.yaml"
    communities = _organisation_on_loopback(organisation, simulator.port)
    assert main(["inventory", "import", str(organisation), "--data-dir", str(data_dir)]) == 0
    engine = db.make_engine(load_settings(data_dir).database_url)
    sessions = db.session_factory(engine)
    secrets = data_dir / "secrets"
    secrets.mkdir(exist_ok=True)
    snmp = secrets / "snmp.yaml"
    snmp.write_text(
        json.dumps({name: {"version": "v2c", "community": c} for name, c in communities.items()}),
        encoding="utf-8",
    )
    snmp.chmod(0o600)
    capsys.readouterr()

    assert main(["snmp", "poll", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert len(manifest["devices"]) == len(communities) == 44

    try:
        with sessions() as s:
            _check_locations(s, manifest)
            _check_printers(s, manifest)
            classified = s.scalars(
                select(Finding).where(
                    Finding.subject == f"asset:{CLASSIFIED}", Finding.status == "open"
                )
            ).all()
            assert [(f.rule_id, f.severity) for f in classified] == [("BMNN-04", "critical")]
            assert classified[0].evidence[0]["source"] in ("switch", "arp")
    finally:
        engine.dispose()
    print(out.splitlines()[-1])

    assert main(["snmp", "printers", "--data-dir", str(data_dir)]) == 0
    listed = capsys.readouterr().out
    assert "huyen-cho-moi-van-phong-np-01" in listed or "Máy in" in listed


def _check_locations(s: Session, manifest: dict[str, Any]) -> None:
    """Each placed MAC is on the manifest's switch, ifIndex and VLAN, on an access port."""
    uplinks = {
        (device, index)
        for device, index in s.execute(
            select(NetInterface.device_id, NetInterface.if_index).where(NetInterface.uplink)
        )
    }
    seen: dict[str, set[tuple[str, int, int]]] = {}
    for mac, device, index, vlan in s.execute(
        select(MacSighting.mac, MacSighting.device_id, MacSighting.if_index, MacSighting.vlan)
    ):
        seen.setdefault(mac, set()).add((device, index, vlan))
    placements = manifest["placements"]
    assert len(placements) > 100
    for mac, place in placements.items():
        where = (place["device"], place["if_index"], place["vlan"])
        access = {spot for spot in seen.get(mac, set()) if spot[:2] not in uplinks}
        assert access == {where}, (mac, place, seen.get(mac))


def _check_printers(s: Session, manifest: dict[str, Any]) -> None:
    """Every simulated printer's supplies are stored with their percentages."""
    states = {row.device_id: row for row in s.scalars(select(PrinterState))}
    assert set(manifest["printers"]) <= set(states)
    for printer_id in manifest["printers"]:
        supplies = states[printer_id].supplies
        assert supplies and all("percent" in supply for supply in supplies)
