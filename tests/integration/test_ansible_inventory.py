"""The real ``ansible-inventory`` reads govguard's static inventory (``govguard inventory
ansible``) and its dynamic one (``inventory/govguard_inventory.py``), on SQLite and PostgreSQL,
with a data directory made by ``govguard init`` and an organisation file imported by
``govguard inventory import``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from controller.cli import main
from controller.settings import load_settings
from controller.store import db
from controller.store.models import Agent
from tests.unit.controller.store.factories import make_agent

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ANSIBLE_INVENTORY = VENV_BIN / "ansible-inventory"
SCRIPT = REPO / "inventory" / "govguard_inventory.py"
HOSTILE = "$(touch /tmp/x){{ lookup('pipe','id') }}\"'"

ORGANISATION = """\
schema_version: 1
units:
  - {id: huyen-a, name: Huyện A, kind: legacy_district}
  - {id: xa-b, name: Xã B, kind: commune, parent: huyen-a}
assets:
  - id: xa-b-pc-01
    kind: desktop
    unit: xa-b
    tags: [signing-pc]
    connection: {address: 10.63.30.11, user: quantri}
  - id: xa-b-pc-02
    kind: laptop
    unit: xa-b
    connection: {address: pc-02.xa-b.lan, transport: winrm, user: 'XA\\govguard'}
  - id: xa-b-pc-90
    kind: desktop
    unit: xa-b
    classification: classified
    security_plan_ref: PA-BMNN-2024-07
    connection: {address: 10.63.30.90, port: 2222}
  - {id: xa-b-printer-01, kind: printer, unit: xa-b, connection: {address: 10.63.30.50}}
"""


@pytest.fixture
def district(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """``data_dir`` with the organisation above and one agent no asset lists."""
    org = tmp_path / "org.yaml"
    org.write_text(ORGANISATION, encoding="utf-8")
    assert main(["inventory", "import", str(org), "--data-dir", str(data_dir)]) == 0
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as s:
            make_agent(s, "0123abcd0123abcd", unit_id="xa-b", hostname=HOSTILE, os="linux")
            s.commit()
            assert s.get(Agent, "0123abcd0123abcd") is not None
    finally:
        engine.dispose()
    capsys.readouterr()
    return data_dir


def _ansible_inventory(source: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(source), "--list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Failed to parse" not in done.stderr and "Unable to parse" not in done.stderr
    listed: dict[str, Any] = json.loads(done.stdout)
    return listed


def _env(path: str, data_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": path,
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "GOVGUARD_DATA_DIR": str(data_dir),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
    }


def _check(listed: dict[str, Any]) -> None:
    hostvars = listed["_meta"]["hostvars"]
    assert set(hostvars) == {"xa-b-pc-01", "xa-b-pc-02", "xa-b-pc-90", "agent-0123abcd0123abcd"}
    assert listed["unit_huyen_a"]["children"] == ["unit_xa_b"]
    assert sorted(listed["unit_xa_b"]["hosts"]) == sorted(hostvars)
    assert listed["classified"]["hosts"] == ["xa-b-pc-90"]
    assert listed["tag_signing_pc"]["hosts"] == ["xa-b-pc-01"]
    assert listed["unreachable"]["hosts"] == ["agent-0123abcd0123abcd"]
    assert listed["os_linux"]["hosts"] == ["agent-0123abcd0123abcd"]
    pc = hostvars["xa-b-pc-01"]
    assert (pc["ansible_host"], pc["ansible_port"], pc["ansible_user"]) == (
        "10.63.30.11", 22, "quantri"
    )  # fmt: skip
    assert (pc["ansible_connection"], pc["govguard_unit"]) == ("ssh", "xa-b")
    win = hostvars["xa-b-pc-02"]
    assert (win["ansible_connection"], win["ansible_port"]) == ("winrm", 5986)
    assert (win["ansible_user"], win["ansible_winrm_transport"]) == ("XA\\govguard", "ntlm")
    assert hostvars["xa-b-pc-90"]["ansible_port"] == 2222
    assert hostvars["agent-0123abcd0123abcd"]["govguard_reachable"] is False
    text = json.dumps(listed)
    assert "touch" not in text and "lookup" not in text


@pytest.mark.parametrize("form", ["yaml", "json"])
def test_ansible_reads_the_static_inventory(
    district: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    out = tmp_path / f"district.{'yml' if form == 'yaml' else 'json'}"
    argv = ["inventory", "ansible", "--output", str(out), "--format", form, "--lang", "en"]
    assert main([*argv, "--data-dir", str(district)]) == 0
    assert "4 hosts, 3 with an address" in capsys.readouterr().out
    if form == "yaml":
        assert out.read_text(encoding="utf-8").startswith("# Kho máy Ansible của govguard")
    env = _env(f"{VENV_BIN}:/usr/bin:/bin", district, tmp_path)
    listed = _ansible_inventory(out, env)
    _check(listed)
    assert "Do not edit" in listed["_meta"]["hostvars"]["xa-b-pc-01"]["govguard_inventory"]


@pytest.mark.parametrize(
    "path",
    [pytest.param("venv", id="venv python first"), pytest.param("system", id="system python")],
)
def test_ansible_reads_the_dynamic_inventory(district: Path, tmp_path: Path, path: str) -> None:
    # As an operator runs it: the venv's bin first on PATH (an activated venv), or only the
    # system's, where `python3` lacks govguard's libraries and the script finds the venv's.
    search = f"{VENV_BIN}:/usr/bin:/bin" if path == "venv" else "/usr/bin:/bin"
    listed = _ansible_inventory(SCRIPT, _env(search, district, tmp_path))
    _check(listed)
    assert os.access(SCRIPT, os.X_OK)


def test_the_dynamic_inventory_answers_host_and_fails_in_one_line(
    district: Path, tmp_path: Path
) -> None:
    env = _env(f"{VENV_BIN}:/usr/bin:/bin", district, tmp_path)
    done = subprocess.run(
        [str(SCRIPT), "--host", "xa-b-pc-90"], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(done.stdout)["govguard_classified"] is True
    env["GOVGUARD_DATA_DIR"] = str(tmp_path / "missing")
    failed = subprocess.run([str(SCRIPT), "--list"], capture_output=True, text=True, env=env)
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.count("\n") == 1 and "data directory not found" in failed.stderr
