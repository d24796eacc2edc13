"""The systemd units of packaging/: ``systemd-analyze verify`` accepts them, and each keeps the
house's service settings (restart, ordering, hardening, the right account)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
UNITS = sorted(
    p.name
    for pattern in ("govguard-*.service", "govguard-*.timer")
    for p in PACKAGING.glob(pattern)
)
#: Long-running services (the purge is a oneshot started by its timer).
DAEMONS = ("govguard-controller.service", "govguard-worker.service", "govguard-agent.service")


def _unit(name: str) -> configparser.RawConfigParser:
    """The unit's sections; repeated keys (SystemCallFilter=) keep their last value."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(PACKAGING / name, encoding="utf-8")
    return parser


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verifies_every_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart= exists: point /opt/govguard at this environment, which has
    # the same commands (govguard, govguard-agent).
    venv = Path(sys.executable).parent.parent
    for name in UNITS:
        text = (PACKAGING / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/opt/govguard/", f"{venv}/"), encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", *UNITS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""


@pytest.mark.parametrize("name", DAEMONS)
def test_every_daemon_restarts_on_failure_and_is_hardened(name: str) -> None:
    unit = _unit(name)
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert service["Type"] == "exec"
    assert service["KillSignal"] == "SIGTERM"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["UMask"] == "0077"
    assert service["StateDirectoryMode"] == "0700"
    assert "network-online.target" in unit["Unit"]["After"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize(
    "name", ["govguard-controller.service", "govguard-worker.service", "govguard-purge.service"]
)
def test_controller_side_services_run_unprivileged_after_postgresql(name: str) -> None:
    unit = _unit(name)
    assert "postgresql.service" in unit["Unit"]["After"].split()
    # Ordering only: a controller on SQLite, or with PostgreSQL elsewhere, must still start.
    assert "postgresql.service" not in unit["Unit"].get("Requires", "")
    service = unit["Service"]
    assert (service["User"], service["Group"]) == ("govguard", "govguard")
    assert service["CapabilityBoundingSet"] == ""
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["UMask"] == "0077"
    assert unit["Unit"]["ConditionPathExists"] == "/var/lib/govguard/config.yaml"


def test_the_worker_unit_runs_the_worker_after_the_controller() -> None:
    unit = _unit("govguard-worker.service")
    assert unit["Service"]["ExecStart"].split()[1:] == [
        "worker",
        "--data-dir",
        "/var/lib/govguard",
    ]
    assert "govguard-controller.service" in unit["Unit"]["After"].split()
    # Long enough for remediation.stop (60 s) plus an SSH command's timeout and more.
    assert int(unit["Service"]["TimeoutStopSec"].removesuffix("s")) >= 120


def test_the_agent_unit_reads_the_config_the_installers_write() -> None:
    unit = _unit("govguard-agent.service")
    assert unit["Service"]["ExecStart"].endswith("--config /etc/govguard/agent.yaml")
    assert unit["Unit"]["ConditionPathExists"] == "/var/lib/govguard-agent/identity.json"


def test_the_backup_service_runs_the_documented_backup() -> None:
    """docs/backup.md schedules ``govguard backup`` of the standard data directory."""
    service = _unit("govguard-backup.service")["Service"]
    assert service["ExecStart"].startswith(
        "/opt/govguard/bin/govguard backup --data-dir /var/lib/govguard"
    )
    assert "govguard-backup.timer" in UNITS
