"""packaging/linux/install-agent.sh, run for real into a temporary root with the real wheel: the
agent enrolls with a real controller, the files get their modes, systemd is told through
``systemctl --root``; a second run changes nothing; wrong arguments are one clear line.

The tests reach only loopback, so the dependencies cannot be downloaded: the environment is made
beforehand by :func:`tests.support.wheel.fresh_venv` (the script keeps an existing one, as it does
on a PC where it ran before) and the script gets ``--pip-args "--no-deps --no-index"``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.controller_proc import init_controller
from tests.support.wheel import REPO, build_wheel, fresh_venv, run_outside

pytestmark = pytest.mark.integration

SCRIPT = REPO / "packaging" / "linux" / "install-agent.sh"
PIP_OFFLINE = "--no-deps --no-index"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def _install(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_outside([SCRIPT, *args])


def _prepared_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    fresh_venv(root / "opt" / "govguard")
    return root


def _snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Mode and content digest of every file and folder outside the environment."""
    out: dict[str, tuple[int, str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_relative_to(root / "opt"):
            continue
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out[str(path.relative_to(root))] = (stat.S_IMODE(st.st_mode), digest)
    return out


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="systemctl is not installed")
def test_install_enroll_and_run_again_changes_nothing(wheel: Path, tmp_path: Path) -> None:
    root = _prepared_root(tmp_path)
    config = tmp_path / "agent.yaml"
    config.write_text("probes: {gateway: false}\n", encoding="utf-8")
    with init_controller(tmp_path / "ctl") as ctl:
        token = tmp_path / "token.txt"
        token.write_text(ctl.create_token(1) + "\n", encoding="utf-8")
        args: list[str | Path] = ["--root", root, "--wheel", wheel, "--pip-args", PIP_OFFLINE]
        args += ["--config", config]
        first = _install(*args, "--controller", ctl.url, "--token-file", token)
        assert first.returncode == 0, first.stdout + first.stderr

        state = root / "var" / "lib" / "govguard-agent"
        assert (state / "identity.json").is_file()
        assert _mode(state) == 0o700
        assert _mode(root / "etc" / "govguard" / "agent.yaml") == 0o600
        assert (root / "etc" / "govguard" / "agent.yaml").read_bytes() == config.read_bytes()
        identity = json.loads((state / "identity.json").read_text(encoding="utf-8"))
        assert identity["agent_id"] in ctl.cli("agents", "list").stdout

        unit = root / "etc" / "systemd" / "system" / "govguard-agent.service"
        text = unit.read_text(encoding="utf-8")
        # Paths as the booted system sees them, never the temporary root.
        assert (
            "ExecStart=/opt/govguard/bin/govguard-agent run --state-dir /var/lib/govguard-agent "
            "--config /etc/govguard/agent.yaml" in text
        )
        assert str(root) not in text
        wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants"
        assert (wants / "govguard-agent.service").is_symlink()

        before = _snapshot(root)
        # The token was for one computer: a second enrollment would fail, so success also shows
        # that the script did not enroll again.
        second = _install(*args, "--controller", ctl.url, "--token-file", token)
        assert second.returncode == 0, second.stdout + second.stderr
        assert _snapshot(root) == before
        out = second.stdout
        for said in ("already installed", "unchanged", "already enrolled", "already enabled"):
            assert said in out, out


def test_without_a_controller_it_installs_and_says_how_to_enroll(
    wheel: Path, tmp_path: Path
) -> None:
    root = _prepared_root(tmp_path)
    done = _install("--root", root, "--wheel", wheel, "--pip-args", PIP_OFFLINE)
    assert done.returncode == 0, done.stderr
    assert "not enrolled: run `/opt/govguard/bin/govguard-agent enroll" in done.stdout
    written = (root / "etc" / "govguard" / "agent.yaml").read_text(encoding="utf-8")
    assert written.rstrip().endswith("{}")
    # An operator's edit survives the next run.
    (root / "etc" / "govguard" / "agent.yaml").write_text("interval_s: 600\n", encoding="utf-8")
    again = _install("--root", root, "--wheel", wheel, "--pip-args", PIP_OFFLINE)
    assert again.returncode == 0, again.stderr
    assert (root / "etc" / "govguard" / "agent.yaml").read_text() == "interval_s: 600\n"

    removed = _install("--root", root, "--uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not (root / "opt" / "govguard").exists()
    assert not (root / "etc" / "systemd" / "system" / "govguard-agent.service").exists()
    assert (root / "var" / "lib" / "govguard-agent").is_dir()  # the key stays without --purge
    purged = _install("--root", root, "--uninstall", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not (root / "var" / "lib" / "govguard-agent").exists()
    assert not (root / "etc" / "govguard").exists()


def test_an_offline_computer_gets_the_agent_and_no_service(wheel: Path, tmp_path: Path) -> None:
    root = _prepared_root(tmp_path)
    unit = root / "etc" / "systemd" / "system" / "govguard-agent.service"
    online = _install("--root", root, "--wheel", wheel, "--pip-args", PIP_OFFLINE)
    assert online.returncode == 0, online.stderr
    assert unit.is_file()
    # Reclassified as a classified computer: the service goes (`run` refuses offline identities).
    done = _install("--root", root, "--wheel", wheel, "--pip-args", PIP_OFFLINE, "--offline")
    assert done.returncode == 0, done.stderr
    assert "govguard-agent enroll --offline --out REQUEST" in done.stdout
    assert not unit.exists()
    wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants"
    assert not list(wants.glob("govguard*"))
    assert (root / "opt" / "govguard" / "bin" / "govguard-agent").is_file()
    assert _mode(root / "var" / "lib" / "govguard-agent") == 0o700


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], "give the agent to install", id="no wheel"),
        pytest.param(["--wheel", "agent.zip"], "takes a .whl file", id="not a wheel"),
        pytest.param(["--wheel", "missing.whl"], "no such file", id="missing wheel"),
        pytest.param(["--wheel", "{wheel}", "--controller", "https://h:8443"], "--token-file",
                     id="controller without token"),
        pytest.param(["--wheel", "{wheel}", "--controller", "http://h:8443", "--token-file",
                      "{wheel}"], "https://host:port", id="plain http"),
        pytest.param(["--wheel", "{wheel}", "--token-file", "{wheel}"], "--controller",
                     id="token without controller"),
        pytest.param(["--wheel", "{wheel}", "--prefix", "opt/gg"], "absolute",
                     id="relative prefix"),
        pytest.param(["--wheel", "{wheel}", "--purge"], "--uninstall", id="purge alone"),
        pytest.param(["--wheel", "{wheel}", "--offline", "--controller", "https://h:8443",
                      "--token-file", "{wheel}"], "never contact", id="offline with controller"),
        pytest.param(["--wheel"], "needs a value", id="option without value"),
        pytest.param(["--frobnicate"], "unknown option", id="unknown option"),
    ],
)  # fmt: skip
def test_wrong_arguments_are_one_clear_line_and_change_nothing(
    args: list[str], message: str, wheel: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    done = _install("--root", root, *(a.replace("{wheel}", str(wheel)) for a in args))
    assert done.returncode == 2
    first, hint = done.stderr.splitlines()
    assert first.startswith("install-agent: error: ") and message in first, first
    assert hint == "install-agent: see --help"
    assert list(root.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="drops root privileges with setpriv")
def test_without_root_privileges_or_a_root_folder_it_refuses(tmp_path: Path) -> None:
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(SCRIPT),
         "--wheel", "x.whl"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().startswith("install-agent: error: run as root")
