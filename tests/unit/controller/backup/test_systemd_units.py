"""packaging/govguard-backup.{service,timer} are units systemd accepts, running the backup the
docs describe."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PACKAGING = Path(__file__).resolve().parents[4] / "packaging"
INSTALLED = "/opt/govguard/bin/govguard"


def test_systemd_accepts_the_backup_units(tmp_path: Path) -> None:
    """`systemd-analyze verify` (Debian's systemd, installed with the test packages) with the
    ExecStart pointed at this checkout's govguard, since /opt/govguard does not exist here."""
    service = (PACKAGING / "govguard-backup.service").read_text(encoding="utf-8")
    assert f"ExecStart={INSTALLED} backup --data-dir /var/lib/govguard" in service
    here = Path(sys.executable).with_name("govguard")
    (tmp_path / "govguard-backup.service").write_text(service.replace(INSTALLED, str(here)))
    shutil.copy(PACKAGING / "govguard-backup.timer", tmp_path)
    done = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            str(tmp_path / "govguard-backup.service"),
            str(tmp_path / "govguard-backup.timer"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
