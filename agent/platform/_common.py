"""Helpers every platform module uses to read files and run commands.

Both go through module-level hooks (``HOST_ROOT`` and ``runner``) so that tests replay recorded
``/proc``, ``/sys`` and command outputs from ``tests/fixtures/`` instead of this machine's state.
Every failure becomes :class:`FactUnavailable` with a reason a person can act on.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.errors import FactUnavailable

#: Prefix for every absolute path read through :func:`host_path`; tests point it at a fixture tree.
HOST_ROOT = Path("/")

#: Default limit for one external command. Collection must never hang on a stuck tool.
COMMAND_TIMEOUT_SECONDS = 10.0


def host_path(path: str) -> Path:
    """Map an absolute path on the host (``/proc/meminfo``) to where it is read from."""
    return HOST_ROOT / path.lstrip("/")


def read_text(path: str) -> str:
    """Read a text file of the host, or raise :class:`FactUnavailable` saying why not."""
    try:
        return host_path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise FactUnavailable(f"{path} does not exist") from exc
    except PermissionError as exc:
        raise FactUnavailable(f"permission denied reading {path} (run as root)") from exc
    except OSError as exc:
        raise FactUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_bytes(path: str) -> bytes:
    """Read a binary file of the host (EDID blobs), or raise :class:`FactUnavailable`."""
    try:
        return host_path(path).read_bytes()
    except FileNotFoundError as exc:
        raise FactUnavailable(f"{path} does not exist") from exc
    except PermissionError as exc:
        raise FactUnavailable(f"permission denied reading {path} (run as root)") from exc
    except OSError as exc:
        raise FactUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_optional(path: str) -> str | None:
    """Read a small sysfs/procfs attribute; ``None`` when absent or unreadable."""
    try:
        return host_path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def list_dir(path: str) -> list[str]:
    """Sorted entries of a host directory; empty when it does not exist."""
    try:
        # os.listdir, not Path.iterdir: no Path object per entry (thousands under /proc, fonts).
        return sorted(os.listdir(host_path(path)))  # noqa: PTH208
    except FileNotFoundError:
        return []
    except PermissionError as exc:
        raise FactUnavailable(f"permission denied listing {path} (run as root)") from exc
    except NotADirectoryError:
        return []


def _run_subprocess(argv: Sequence[str], timeout: float) -> str:
    exe = shutil.which(argv[0])
    if exe is None:
        raise FactUnavailable(f"command not found: {argv[0]}")
    try:
        proc = subprocess.run(
            [exe, *argv[1:]],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            # A fixed C locale keeps tool output parseable on localized systems.
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )
    except subprocess.TimeoutExpired as exc:
        raise FactUnavailable(f"{argv[0]} did not answer within {timeout:g} s") from exc
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise FactUnavailable(f"permission denied running {argv[0]}") from exc
        raise FactUnavailable(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = f": {err[0][:200]}" if err else ""
        raise FactUnavailable(f"{argv[0]} exited with status {proc.returncode}{detail}")
    return proc.stdout.decode("utf-8", "replace")


#: Runs a command and returns its standard output; replaced by a fixture replayer in tests.
runner: Callable[[Sequence[str], float], str] = _run_subprocess


def run(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_SECONDS) -> str:
    """Run a command (never through a shell) and return its output, or raise FactUnavailable."""
    return runner(argv, timeout)


def have_command(name: str) -> bool:
    """Whether a command is installed (honours the test runner's recorded commands)."""
    if runner is not _run_subprocess:
        return getattr(runner, "has", lambda _n: False)(name) is True
    return shutil.which(name) is not None
