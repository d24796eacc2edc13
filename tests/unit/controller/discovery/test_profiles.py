"""Device profiles: the shipped ones load and match; every mistake is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.discovery.profiles import SHIPPED, SYMBOLS, ProfileError, load_profiles
from controller.discovery.snmp import format_oid


def test_shipped_profiles_load() -> None:
    profiles = load_profiles(None)
    assert {"generic", "generic-switch", "generic-printer", "cisco-cbs"} <= set(profiles.profiles)
    assert not any(name.startswith("_") for name in profiles.profiles)
    cbs = profiles["cisco-cbs"]
    assert cbs.vendor == "Cisco" and cbs.kind == "switch"
    # extends: the vendor profile has the generic switch's tables
    assert {t.name for t in cbs.tables} == {t.name for t in profiles["generic-switch"].tables}
    assert "dot1qTpFdbPort" in cbs.column_names() and "hrPrinterStatus" not in cbs.column_names()
    printer = profiles["generic-printer"].column_names()
    assert {"prtMarkerSuppliesLevel", "prtMarkerColorantValue", "prtAlertDescription"} <= printer


def test_shipped_profiles_use_standard_oids() -> None:
    """A shipped profile asks each symbol at its standard OID (a typo would ask for nothing)."""
    for profile in load_profiles(None).profiles.values():
        for table in profile.tables:
            for column in table.columns:
                assert format_oid(column.oid) == SYMBOLS[column.name][1], (profile.name, column)
        for scalar in profile.scalars:
            assert format_oid(scalar.oid) == SYMBOLS[scalar.name][1], (profile.name, scalar)


@pytest.mark.parametrize(
    ("sys_object_id", "profile"),
    [
        pytest.param("1.3.6.1.4.1.9.6.1.95.48.5", "cisco-cbs", id="Cisco CBS350"),
        pytest.param("1.3.6.1.4.1.9.1.2066", "generic-switch", id="other Cisco"),
        pytest.param("1.3.6.1.4.1.11.2.3.9.1", "generic-printer", id="HP JetDirect"),
        pytest.param("1.3.6.1.4.1.8072.3.2.10", "generic", id="net-snmp on Linux"),
        pytest.param(None, "generic", id="no sysObjectID"),
        pytest.param(".1.3.6.1.4.1.2435.2.3.9.1", "generic-printer", id="leading dot"),
    ],
)
def test_match_by_sysobjectid(sys_object_id: str | None, profile: str) -> None:
    assert load_profiles(None).match(sys_object_id).name == profile


def test_extra_dir_replaces_and_extends(tmp_path: Path) -> None:
    (tmp_path / "generic-switch.yaml").write_text(
        "extends: [_base, _if]\nsysobjectid: [1.3.6.1.4.1.9.*]\n", encoding="utf-8"
    )
    (tmp_path / "acme-sw.yaml").write_text(
        "extends: [cisco-cbs]\nsysobjectid: 1.3.6.1.4.1.9.6.1.95.48.5\ndevice: {vendor: Acme}\n",
        encoding="utf-8",
    )
    profiles = load_profiles(tmp_path)
    assert "dot1qTpFdbPort" not in profiles["generic-switch"].column_names()
    # cisco-cbs (shipped) now extends the replaced generic-switch
    assert profiles["cisco-cbs"].column_names() == profiles["generic-switch"].column_names()
    assert profiles.match("1.3.6.1.4.1.9.6.1.95.48.5").name == "acme-sw"  # exact beats wildcard


TABLE = """\
metrics:
  - table: {OID: 1.3.6.1.2.1.2.2, name: ifTable}
    symbols:
      - {OID: %s, name: %s}
"""


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            {"x": "colour: red\n"}, "x.yaml:1: unknown profile key 'colour'", id="unknown key"
        ),
        pytest.param(
            {"x": TABLE % ("1.3.6.1.2.1.2.2.1.two", "ifDescr")},
            "x.yaml:4: ifDescr: bad OID '1.3.6.1.2.1.2.2.1.two'",
            id="bad OID",
        ),
        pytest.param(
            {"x": TABLE % ("1.3.6.1.2.1.2.2.1.2", "ifColour")},
            "x.yaml:4: unknown symbol 'ifColour'",
            id="unknown symbol",
        ),
        pytest.param(
            {"x": TABLE % ("1.3.6.1.2.1.31.1.1.1.1", "ifName")},
            "x.yaml:2: column ifName (1.3.6.1.2.1.31.1.1.1.1) is not inside table ifTable",
            id="column outside its table",
        ),
        pytest.param(
            {"x": "extends: [y]\n", "y": "extends: [x]\n"}, "extends: x -> y -> x", id="cycle"
        ),
        pytest.param(
            {"x": "extends: [nothing]\n"},
            "x.yaml:1: extends unknown profile 'nothing'",
            id="unknown parent",
        ),
        pytest.param(
            {"x": "sysobjectid: 1.3.6.*.1\n"}, "x.yaml:1: sysobjectid '1.3.6.*.1'", id="bad pattern"
        ),
        pytest.param(
            {
                "x": "metrics:\n  - symbol: {OID: 1.3.6.1.2.1.1.5.0, name: sysName}\n"
                "    symbols: []\n"
            },
            "x.yaml:2: symbols and metric_tags belong to a table",
            id="symbol with symbols",
        ),
        pytest.param(
            {
                "x": "metrics: [{table: {OID: 1.3.6.1.2.1.2.2, name: t}, symbols: "
                "[{OID: 1.3.6.1.2.1.2.2.1.2, name: ifDescr}], metric_tags: "
                "[{tag: i, index: 0}]}]\n"
            },
            "x.yaml:1: index is a position",
            id="bad metric tag",
        ),
        pytest.param({"Bad_Name": "{}\n"}, "Bad_Name.yaml: a profile's file name", id="file name"),
        pytest.param({"x": "metrics: [\n"}, "x.yaml:2: invalid YAML", id="not YAML"),
    ],
)
def test_loader_errors(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_profiles(tmp_path)
    assert str(tmp_path) in str(err.value)
    assert message in str(err.value)


def test_missing_extra_dir(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such profiles directory"):
        load_profiles(tmp_path / "absent")


def test_every_shipped_file_is_a_profile() -> None:
    assert sorted(p.stem for p in SHIPPED.glob("*")) == sorted(
        p.stem for p in SHIPPED.glob("*.yaml")
    )
