"""Loading an organisation file: the example validates; each mistake names FILE:LINE."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from controller.inventory import InventoryError, load_inventory
from controller.inventory.document import SCHEMA_PATH
from tests.unit.controller.inventory.conftest import EXAMPLE, SMALL, variant


def test_the_example_district_is_valid_and_realistic() -> None:
    inventory = load_inventory(EXAMPLE)
    units = inventory.records["units"].values()
    kinds = [unit["kind"] for unit in units]
    assert kinds.count("commune") + kinds.count("township") >= 18
    assert {"province", "legacy_district", "district_committee", "division"} <= set(kinds)
    assets = inventory.records["assets"].values()
    computers = [a for a in assets if a["kind"] in ("desktop", "laptop", "all_in_one")]
    assert len(computers) >= 200
    classified = [a for a in computers if a["classification"] == "classified"]
    assert classified and all(a["security_plan_ref"] for a in classified)
    assert any(a["for_secret_use"] and a["kind"] == "copier" for a in assets)
    officials = inventory.records["officials"].values()
    assert any("signing_leader" in o["roles"] for o in officials)
    assert all(d["snmp_credential"] for d in inventory.records["network_devices"].values())


def test_records_are_normalised() -> None:
    inventory = load_inventory(SMALL)
    pc = inventory.records["assets"]["xa-thanh-mai-pc-01"]
    assert pc["macs"] == ["d8:9e:f3:00:00:01"]
    assert pc["classification"] == "normal" and pc["state"] == "in_use"
    assert pc["purchased_at"].isoformat() == "2021-04-12"
    assert set(inventory.records["offices"]) == {
        "huyen-a-phong-noi-vu/chuyen-vien", "xa-thanh-mai/lanh-dao", "xa-thanh-mai/van-phong"
    }  # fmt: skip


def _line_of(path: Path, text: str) -> int:
    """The line of the last occurrence of ``text`` (a duplicate is reported where it repeats)."""
    found = [
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if text in line
    ]
    assert found, f"{text!r} not in {path}"
    return found[-1]


CASES = [
    pytest.param("    kind: desktop\n    unit: xa-thanh-mai\n    office: lanh-dao",
                 "    kind: desktoop\n    unit: xa-thanh-mai\n    office: lanh-dao",
                 "desktoop", "'desktoop' is not one of", id="schema: unknown asset kind"),
    pytest.param("    position: Chủ tịch UBND xã", "    position: Chủ tịch UBND xã\n    name: Zzz",
                 "name: Zzz", "duplicate key 'name'", id="duplicate key"),
    pytest.param("    headcount: {cong_chuc: 5}", "    headcount: {cong_chuc: -5}",
                 "cong_chuc: -5", "less than the minimum", id="schema: negative headcount"),
    pytest.param("    assigned_user: cb-0002", "    assigned_user: cb-9999",
                 "cb-9999", "unknown official 'cb-9999'", id="unknown assigned user"),
    pytest.param("    parent: ubnd-huyen-a", "    parent: ubnd-huyen-b",
                 "parent: ubnd-huyen-b", "unknown parent unit 'ubnd-huyen-b'",
                 id="unknown parent"),
    pytest.param("    office: van-phong\n    hostname: XA-THANH-MAI-PC03",
                 "    office: mot-cua\n    hostname: XA-THANH-MAI-PC03",
                 "office: mot-cua", "unknown office 'mot-cua'", id="unknown office"),
    pytest.param("    snmp_credential: snmp-xa", "    snmp_credential: snmp-huyen",
                 "snmp_credential: snmp-huyen", "unknown SNMP credential 'snmp-huyen'",
                 id="unknown credential"),
    pytest.param("macs: [d8:9e:f3:00:00:03]", "macs: [D8-9E-F3-00-00-01]",
                 "macs: [D8-9E", "duplicate MAC d8:9e:f3:00:00:01",
                 id="duplicate MAC"),
    pytest.param("    serial: VN000004D", "    serial: VN000003C",
                 "serial: VN000003C", "duplicate serial VN000003C",
                 id="duplicate serial"),
    pytest.param("  - id: cb-0002", "  - id: cb-0001", "- id: cb-0001", "duplicate id 'cb-0001'",
                 id="duplicate id"),
    pytest.param("    security_plan_ref: PA-BMNN-2024-07\n", "",
                 "classification: classified", "classified asset needs security_plan_ref",
                 id="classified without plan"),
    pytest.param("approved_at: 2024-03-15", "approved_at: 2024-02-30",
                 "2024-02-30", "is not a 'date'", id="schema: impossible date"),
    pytest.param("  - {name: snmp-xa, version: v2c}",
                 "  - {name: snmp-xa, version: v2c, community: public}", "community: public",
                 "Additional properties are not allowed ('community'", id="inline secret refused"),
    pytest.param("    kind: legacy_district", "    kind: legacy_district\n   bad: [",
                 "bad: [", "invalid YAML", id="broken YAML"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "at", "message"), CASES)
def test_each_mistake_is_reported_at_its_line(
    tmp_path: Path, old: str, new: str, at: str, message: str
) -> None:
    path = variant(tmp_path, old, new)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    expected = f"{path}:{_line_of(path, at)}:"
    assert any(error.startswith(expected) and message in error for error in caught.value.errors), (
        caught.value.errors
    )


def test_every_error_is_listed_at_once(tmp_path: Path) -> None:
    path = variant(tmp_path, "    assigned_user: cb-0002", "    assigned_user: cb-9999")
    text = path.read_text(encoding="utf-8").replace(
        "snmp_credential: snmp-xa", "snmp_credential: x"
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert len(caught.value.errors) == 2
    assert all(error.startswith(f"{path}:") for error in caught.value.errors)


def test_a_parent_loop_is_refused(tmp_path: Path) -> None:
    path = variant(
        tmp_path, "    kind: legacy_district", "    kind: legacy_district\n    parent: xa-thanh-mai"
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert any("loop" in error for error in caught.value.errors)


def test_a_missing_file_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as caught:
        load_inventory(tmp_path / "none.yaml")
    assert caught.value.errors == [
        f"{tmp_path / 'none.yaml'}: cannot read: No such file or directory"
    ]


def _properties(node: object, where: str = "") -> list[tuple[str, dict[str, object]]]:
    """Every (path, schema) under a ``properties`` keyword of the schema."""
    found: list[tuple[str, dict[str, object]]] = []
    if isinstance(node, dict):
        for name, child in (node.get("properties") or {}).items():
            found.append((f"{where}.{name}", child))
        for key, child in node.items():
            found.extend(_properties(child, f"{where}/{key}"))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_properties(child, f"{where}[{index}]"))
    return found


def test_the_schema_is_valid_and_describes_every_property() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    properties = _properties(schema)
    assert len(properties) > 50
    undescribed = [
        path
        for path, child in properties
        if "description" not in child
        and "description" not in schema["$defs"].get(str(child.get("$ref", "")).split("/")[-1], {})
    ]
    assert undescribed == []


def test_the_shipped_schema_is_the_repository_one() -> None:
    repository = EXAMPLE.parent / "schema.json"
    assert SCHEMA_PATH.read_bytes() == repository.read_bytes()


def test_the_example_is_what_its_script_writes(tmp_path: Path) -> None:
    script = EXAMPLE.parents[1] / "scripts" / "make_example_district.py"
    copy = tmp_path / "scripts" / script.name
    copy.parent.mkdir()
    copy.write_bytes(script.read_bytes())
    (tmp_path / "inventory").mkdir()
    subprocess.run([sys.executable, str(copy)], check=True, capture_output=True)
    assert (tmp_path / "inventory" / EXAMPLE.name).read_bytes() == EXAMPLE.read_bytes()
