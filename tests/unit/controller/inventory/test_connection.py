"""An asset's ``connection:`` (how Ansible reaches it): checked, imported, exported, re-imported."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from controller.cli import main
from controller.inventory import InventoryError, load_inventory
from controller.settings import load_settings
from controller.store import db
from controller.store.models import Asset
from tests.unit.controller.inventory.conftest import variant

ANCHOR = "    tags: [signing-pc]\n"


def _with(tmp_path: Path, connection: str) -> Path:
    return variant(tmp_path, ANCHOR, f"{ANCHOR}    connection: {connection}\n")


@pytest.mark.parametrize(
    ("connection", "stored"),
    [
        pytest.param("{address: 10.63.30.11}", {"address": "10.63.30.11"}, id="address only"),
        pytest.param(
            "{address: 2001:DB8::11, port: 5985, user: 'XA\\govguard', transport: winrm}",
            {"address": "2001:db8::11", "port": 5985, "user": "XA\\govguard", "transport": "winrm"},
            id="IPv6 and a Windows account",
        ),
        pytest.param(
            "{address: PC-01.Xa-Thanh-Mai.lan, user: quantri, port: 2222}",
            {"address": "pc-01.xa-thanh-mai.lan", "port": 2222, "user": "quantri"},
            id="DNS name",
        ),
        pytest.param("{transport: local}", {"transport": "local"}, id="local, no address"),
    ],
)
def test_a_valid_connection_is_normalised(
    tmp_path: Path, connection: str, stored: dict[str, object]
) -> None:
    records = load_inventory(_with(tmp_path, connection)).records["assets"]
    assert records["xa-thanh-mai-pc-01"]["connection"] == stored
    assert records["xa-thanh-mai-pc-03"]["connection"] is None


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        pytest.param("{address: '10.0.0.1; touch /tmp/x'}", "address", id="shell in address"),
        pytest.param("{address: '10.0.0.300'}", "address", id="bad IPv4"),
        pytest.param("{address: 'fe80::1%eth0'}", "address", id="IPv6 with a zone"),
        pytest.param("{address: '-oProxyCommand=id'}", "address", id="option as address"),
        pytest.param("{address: pc.lan, port: 0}", "port", id="port 0"),
        pytest.param("{address: pc.lan, port: 65536}", "port", id="port too high"),
        pytest.param("{address: pc.lan, user: 'a b'}", "user", id="space in user"),
        pytest.param("{address: pc.lan, user: '{{ x }}'}", "user", id="braces in user"),
        pytest.param("{address: pc.lan, user: '\"q\"'}", "user", id="quotes in user"),
        pytest.param("{address: pc.lan, transport: telnet}", "transport", id="unknown transport"),
        pytest.param("{user: quantri}", "'address' is a required property", id="no address"),
        pytest.param("{address: pc.lan, password: x}", "password", id="a password"),
    ],
)
def test_a_bad_connection_is_refused_at_its_line(
    tmp_path: Path, connection: str, message: str
) -> None:
    path = _with(tmp_path, connection)
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    line = path.read_text(encoding="utf-8").splitlines().index(f"    connection: {connection}")
    assert len(err.value.errors) == 1
    assert err.value.errors[0].startswith(f"{path}:{line + 1}: assets[0].connection")
    assert message in err.value.errors[0]


def test_import_export_and_reimport_round_trip_the_connection(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _with(tmp_path, "{address: 10.63.30.11, user: quantri}")
    assert main(["inventory", "import", str(path), "--data-dir", str(data_dir)]) == 0
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as s:
            stored = s.scalars(select(Asset.connection).where(Asset.id == "xa-thanh-mai-pc-01"))
            assert stored.one() == {"address": "10.63.30.11", "user": "quantri"}
    finally:
        engine.dispose()
    capsys.readouterr()
    exported = tmp_path / "export.yaml"
    assert main(["inventory", "export", "--out", str(exported), "--data-dir", str(data_dir)]) == 0
    assets = {a["id"]: a for a in yaml.safe_load(exported.read_text(encoding="utf-8"))["assets"]}
    assert assets["xa-thanh-mai-pc-01"]["connection"] == {
        "address": "10.63.30.11",
        "user": "quantri",
    }
    assert "connection" not in assets["xa-thanh-mai-pc-03"]
    capsys.readouterr()
    assert (
        main(["inventory", "import", str(exported), "--lang", "en", "--data-dir", str(data_dir)])
        == 0
    )
    assert capsys.readouterr().out.strip() == f"{exported}: no changes"
    # Changing only the port is one change of one field.
    changed = _with(tmp_path, "{address: 10.63.30.11, user: quantri, port: 2222}")
    assert (
        main(["inventory", "import", str(changed), "--lang", "en", "--data-dir", str(data_dir)])
        == 0
    )
    assert "  ~ xa-thanh-mai-pc-01: connection" in capsys.readouterr().out
