"""Helpers of the remediation runner and worker tests: inventories of connection-local hosts (the
playbooks run on this machine, on files of the test) and of a host nobody answers for, and the
processes still running for a private data directory."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "playbooks"


def local_host() -> dict[str, Any]:
    """Host variables of a host reached with ``ansible_connection: local``."""
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


def inventory(hosts: dict[str, dict[str, Any]], classified: tuple[str, ...] = ()) -> dict[str, Any]:
    """An inventory of ``hosts`` (``{name: vars}``) with the ``classified`` group."""
    return {
        "all": {
            "hosts": hosts,
            "children": {"classified": {"hosts": {name: None for name in classified}}},
        }
    }


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback TCP port bound by nobody listening: a connection to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def unreachable_host(port: int) -> dict[str, Any]:
    """Host variables of an SSH host on ``port`` of the loopback (see :func:`closed_port`)."""
    return {"ansible_host": "127.0.0.1", "ansible_port": port, "ansible_user": "nobody"}


def processes_of(private_dir: Path) -> list[str]:
    """Command lines of the live processes started for ``private_dir`` (its path is in their
    environment: ANSIBLE_CONFIG), ansible-playbook's workers and module processes included."""
    marker = str(private_dir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "environ").read_bytes():
                continue
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline:  # a zombie has none (and runs nothing)
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found
