"""The wheel carries everything govguard needs at run time: installed outside the checkout, the
controller initialises a data directory and finds its playbooks, and the agent its unit file."""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.wheel import REPO, build_wheel, fresh_venv, pip_install_wheel, run_outside

pytestmark = pytest.mark.integration

#: Checkout folders whose every file must be in the wheel, at the same place or at the place
#: the package's link points from.
RUNTIME_TREES = {
    "playbooks": "controller/remediation/playbooks",
    "controller/policy/packs": "controller/policy/packs",
    "controller/discovery/profiles": "controller/discovery/profiles",
    "controller/web/templates": "controller/web/templates",
    "controller/web/static": "controller/web/static",
    "controller/web/translations": "controller/web/translations",
    "controller/reports/templates": "controller/reports/templates",
    "controller/store/migrations/versions": "controller/store/migrations/versions",
    "agent/data": "agent/data",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh environment, outside the checkout, with the wheel installed: its ``bin``."""
    python = fresh_venv(tmp_path_factory.mktemp("venv") / "govguard")
    pip_install_wheel(python, wheel)
    yield python.parent


def _run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_outside([bin_dir / args[0], *args[1:]], cwd=cwd)


def test_the_wheel_holds_every_runtime_file_and_command(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        commands = archive.read(entry_points).decode()
    missing = []
    for source, packaged in RUNTIME_TREES.items():
        root = REPO / source
        files = [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        assert files, source
        wanted = (f"{packaged}/{p.relative_to(root).as_posix()}" for p in files)
        missing += [name for name in wanted if name not in names]
    assert missing == []
    # The links of the checkout arrive as files with the linked content.
    assert "controller/inventory/schema.json" in names
    assert "agent/data/govguard-agent.service" in names
    # Fetched by `make setup`, not committed: a wheel built without it has a dashboard without
    # its browser code.
    assert "controller/web/static/vendor/htmx.min.js" in names
    with zipfile.ZipFile(wheel) as archive:
        unit = archive.read("agent/data/govguard-agent.service").decode()
    assert unit == (REPO / "packaging" / "govguard-agent.service").read_text(encoding="utf-8")
    for command in ("govguard =", "govguard-agent =", "govguard-inventory ="):
        assert command in commands
    # Tests, benchmarks and the checkout's scripts are not installed.
    assert not [n for n in names if n.startswith(("tests/", "bench/", "scripts/"))]


def test_installed_outside_the_checkout_the_controller_initialises_and_finds_its_playbooks(
    installed: Path, tmp_path: Path
) -> None:
    site = installed.parent / "lib"
    where = _run(
        installed,
        "python",
        "-c",
        "import agent, controller; from controller.remediation.model import playbooks_dir; "
        "print(agent.__file__); print(controller.__file__); print(playbooks_dir(None))",
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    agent_file, controller_file, playbooks = (Path(line) for line in where.stdout.splitlines())
    for path in (agent_file, controller_file, playbooks):
        assert path.is_relative_to(site), path
        assert not path.is_relative_to(REPO), path
    shipped = sorted(p.name for p in (REPO / "playbooks").glob("*.yml"))
    assert sorted(p.name for p in playbooks.glob("*.yml")) == shipped
    assert (playbooks / "templates" / "govguard-agent.service.j2").is_file()

    helped = _run(installed, "govguard", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "init" in helped.stdout and "worker" in helped.stdout

    password = tmp_path / "password.txt"
    password.write_text("a long enough demo password 2026\n", encoding="utf-8")
    data = tmp_path / "data"
    init = _run(
        installed,
        "govguard",
        "init",
        "--data-dir",
        str(data),
        "--password-file",
        str(password),
        "--server-name",
        "localhost",
        cwd=tmp_path,
    )
    assert init.returncode == 0, init.stderr
    assert (data / "config.yaml").is_file()
    assert (data / "tls" / "ca.crt").is_file()

    # The dynamic Ansible inventory runs from the installed command on that data directory.
    listed = run_outside(
        [installed / "govguard-inventory", "--list"], cwd=tmp_path, GOVGUARD_DATA_DIR=str(data)
    )
    assert listed.returncode == 0, listed.stderr
    assert '"_meta"' in listed.stdout

    agent = _run(installed, "govguard-agent", "--version", cwd=tmp_path)
    assert agent.returncode == 0 and agent.stdout.startswith("govguard-agent ")
