"""govguard built as the wheel operators install, and virtual environments to install it into.

:func:`build_wheel` builds from a copy of the checkout (so two pytest workers never share
setuptools' ``build/`` folder, and nothing left in it can slip into the wheel). The tests send
traffic only to loopback, so :func:`fresh_venv` cannot download the dependencies: it makes a new
environment whose last ``sys.path`` entry is this test environment's site-packages, and the wheel
is installed with ``--no-deps``. Only the wheel's own files live in the new environment, and the
tests check that ``agent`` and ``controller`` are imported from there, never from the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Not part of what a wheel is built from.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".bench-venv", ".demo", "build", "dist", "*.egg-info", "__pycache__",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", "tests", "bench",
)  # fmt: skip


def build_wheel(work: Path) -> Path:
    """Build govguard's wheel from a copy of the checkout in ``work``; the ``.whl`` path."""
    source = work / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=_NOT_SOURCE)
    out = work / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = out.glob("govguard-*-py3-none-any.whl")
    return wheel


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would put the checkout on ``sys.path``."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update(extra)
    return env


def run_outside(
    command: list[str | Path], *, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with :func:`clean_env` (plus ``env``), its output captured as text."""
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=clean_env(**env),
    )


def fresh_venv(path: Path) -> Path:
    """A new virtual environment at ``path`` that borrows this one's installed libraries."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(path)], check=True, timeout=300)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A plain path line: appended to sys.path after the new environment's own site-packages, and
    # the .pth files in it (this checkout's editable install) are not processed.
    borrowed = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "zz-borrowed-libraries.pth").write_text(borrowed + "\n", encoding="utf-8")
    return python


def pip_install_wheel(python: Path, wheel: Path) -> None:
    """Install ``wheel`` alone (``--no-deps``, no index) with ``python``'s pip."""
    done = run_outside(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel]
    )
    assert done.returncode == 0, done.stderr[-3000:]
