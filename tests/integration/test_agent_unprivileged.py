"""The agent runs as root/SYSTEM when installed, but an unprivileged run must not crash.

Runs the real ``govguard-agent once`` as ``nobody`` and as root on this machine: both exit 0 with
no collector failure, and what the unprivileged run could not read shows up as unknown facts
with a reason instead of guessed values.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.report import SECTION_NAMES, Report, decode

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to the nobody user"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) missing"),
]

AGENT = Path(sys.executable).with_name("govguard-agent")

# Loopback only: tests never send traffic elsewhere.
CONFIG = """\
probes:
  gateway: false
  timeout_seconds: 1
  tcp:
    - {name: closed-port, host: 127.0.0.1, port: 9, role: lan}
"""


@pytest.fixture(scope="module")
def config_file() -> Iterator[Path]:
    # pytest's tmp_path is private to root; nobody must be able to read the config.
    folder = Path(tempfile.mkdtemp(prefix="govguard-unpriv-"))
    folder.chmod(0o755)
    path = folder / "agent.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    path.chmod(0o644)
    yield path
    shutil.rmtree(folder)


def _run(config: Path, *, as_nobody: bool) -> tuple[Report, str]:
    prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if as_nobody else []
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp", "LANG": "C.UTF-8"}
    proc = subprocess.run(
        [*prefix, str(AGENT), "once", "--config", str(config)],
        capture_output=True,
        timeout=120,
        check=False,
        env=env,
        cwd="/",
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, f"exit {proc.returncode}: {stderr}"
    assert "Traceback" not in stderr
    return decode(proc.stdout), stderr


def _unknown(report: Report) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in SECTION_NAMES:
        section = getattr(report, name)
        assert section is not None, f"section {name} missing"
        found.update({f"{name}.{fact}": why for fact, why in section.unknown.items()})
    return found


def test_unprivileged_run_completes_and_explains_what_it_could_not_read(config_file: Path) -> None:
    report, _ = _run(config_file, as_nobody=True)
    assert report.errors == [], f"collectors failed unprivileged: {report.errors}"
    assert sorted(run.name for run in report.collectors) == sorted(SECTION_NAMES)
    for fact, reason in _unknown(report).items():
        assert reason.strip(), f"{fact} is unknown without a reason"


def test_root_knows_at_least_what_nobody_knows(config_file: Path) -> None:
    as_root, _ = _run(config_file, as_nobody=False)
    as_nobody, _ = _run(config_file, as_nobody=True)
    assert as_root.errors == []
    missing_for_root = set(_unknown(as_root)) - set(_unknown(as_nobody))
    assert not missing_for_root, f"root could not determine what nobody could: {missing_for_root}"
