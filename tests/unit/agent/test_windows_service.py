"""The Windows service: its pywin32-free core runs the real daemon and a stop ends it cleanly, and
packaging/windows/install-agent.ps1 sets what the service and the key need.

What runs here is :class:`agent.platform._windows.service.AgentService` (what ``SvcDoRun`` and
``SvcStop`` call) against a real HTTPS endpoint. The pywin32 class, the Service Control Manager
and the PowerShell script itself need Windows: the script is checked by reading it.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from agent.daemon import NotEnrolledError
from agent.outbox import Outbox
from agent.platform._windows import service
from agent.platform._windows.service import AgentService
from agent.state import state_paths
from tests.support.ack_server import AckServer, ack_server, enroll_into

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "packaging" / "windows" / "install-agent.ps1"


def _quiet_config(tmp_path: Path) -> Path:
    config = tmp_path / "agent.yaml"
    config.write_text("probes: {gateway: false}\n", encoding="utf-8")  # nothing leaves the PC
    return config


def test_a_stop_ends_the_running_daemon_between_two_steps(tmp_path: Path) -> None:
    with ack_server() as server:
        state_dir = tmp_path / "state"
        enroll_into(state_dir, server)
        core = AgentService(state_dir, _quiet_config(tmp_path))
        failures: list[BaseException] = []

        def run() -> None:
            try:
                core.run()
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)

        thread = threading.Thread(target=run, name="service", daemon=True)
        thread.start()
        _wait_for_a_report(server, thread)
        core.stop()  # what SvcStop does
        thread.join(timeout=120)  # hang guard only
        assert not thread.is_alive(), "the daemon did not stop"
    assert failures == []
    assert server.stored
    # The stop came between two steps: the acknowledged report left the outbox, nothing is
    # half-written, and the outbox opens again.
    outbox = Outbox(state_paths(state_dir).outbox)
    try:
        assert outbox.stats().queued == 0
    finally:
        outbox.close()


def _wait_for_a_report(server: AckServer, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 180  # hang guard only
    while not server.stored and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.stored, "the service delivered nothing"


def test_a_stop_before_the_start_opens_nothing(tmp_path: Path) -> None:
    # The state folder is not enrolled: opening the daemon would raise.
    core = AgentService(tmp_path / "nothing", None)
    core.stop()
    core.run()
    assert not (tmp_path / "nothing").exists()


def test_a_computer_that_is_not_enrolled_stops_the_service_with_the_reason(
    tmp_path: Path,
) -> None:
    with pytest.raises(NotEnrolledError, match="not enrolled"):
        AgentService(tmp_path / "nothing", None).run()


def test_the_service_reads_the_config_the_installer_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROGRAMDATA", r"D:\Data")
    assert str(service.default_config_path()).replace("/", "\\") == r"D:\Data\govguard\agent.yaml"


def test_hosting_the_service_is_refused_outside_windows(capsys: pytest.CaptureFixture[str]) -> None:
    assert service.main() == 2
    assert "Windows only" in capsys.readouterr().err


# -- packaging/windows/install-agent.ps1, read (PowerShell does not run here) ----------------------


@pytest.fixture(scope="module")
def script() -> str:
    return SCRIPT.read_text(encoding="utf-8")


def _icacls_lines(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if "icacls.exe" in line]


def test_the_key_and_config_folders_are_for_system_and_administrators_only(script: str) -> None:
    assert "$ConfigDir = Join-Path $env:ProgramData 'govguard'" in script
    assert "$StateDir = Join-Path $env:ProgramData 'govguard-agent'" in script
    assert "Protect-Folder $ConfigDir" in script and "Protect-Folder $StateDir" in script
    (grant,) = [line for line in _icacls_lines(script) if "/grant:r" in line]
    # Inherited entries (Users: read under ProgramData) removed, and nobody else granted.
    assert "/inheritance:r" in grant
    assert re.findall(r'"\$\{(\w+)\}:\(OI\)\(CI\)F"', grant) == ["System", "Administrators"]
    # Entries added by hand (explicit ones survive /inheritance:r) are removed too.
    assert any('/remove "*$sid"' in line for line in _icacls_lines(script))
    assert "$System = '*S-1-5-18'" in script
    assert "$Administrators = '*S-1-5-32-544'" in script
    assert any("/setowner $Administrators" in line for line in _icacls_lines(script))
    # Files already in the folders, and the copied config, inherit the protected ACL again.
    assert any("/reset /T" in line for line in _icacls_lines(script))
    assert any("icacls.exe $ConfigFile /reset" in line for line in _icacls_lines(script))


def test_the_service_runs_as_localsystem_hosted_by_the_interpreter_and_restarts(
    script: str,
) -> None:
    assert '$BinaryPath = "`"$Python`" -m agent.platform._windows.service"' in script
    assert "New-Service -Name $ServiceName -BinaryPathName $BinaryPath" in script
    assert "start= delayed-auto obj= LocalSystem" in script
    failure = re.search(r"sc\.exe failure \$ServiceName reset= (\d+) actions= (\S+)", script)
    assert failure is not None
    actions = failure.group(2).split("/")
    assert actions[0::2] == ["restart"] * 3
    assert all(int(delay) > 0 for delay in actions[1::2])
    assert "sc.exe failureflag $ServiceName 1" in script
    assert f"$ServiceName = '{service.SERVICE_NAME}'" in script


def test_the_script_stops_on_errors_and_can_uninstall(script: str) -> None:
    assert "Set-StrictMode -Version" in script
    assert "$ErrorActionPreference = 'Stop'" in script
    assert "[switch] $Uninstall" in script and "[switch] $Purge" in script
    assert "sc.exe delete $ServiceName" in script
    # The token comes from a file only, never from the command line.
    assert "[string] $Token " not in script and "--token-file $TokenFile" in script
    # Every native command's exit status is checked: it runs inside Invoke-Checked { ... },
    # opened on its line or the line before.
    lines = script.splitlines()
    natives = [
        i
        for i, line in enumerate(lines)
        if re.search(r"\b(icacls|sc)\.exe\b", line) and not line.lstrip().startswith("#")
    ]
    assert len(natives) >= 8
    unchecked = [
        lines[i] for i in natives if not any("Invoke-Checked" in lines[j] for j in (i - 1, i))
    ]
    assert unchecked == []
