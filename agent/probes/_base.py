"""What every probe shares: the bounded runner, timing, addresses and /etc/hosts."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)


T = TypeVar("T")

DNS_PORT = 53


def _random_id() -> int:
    """A random 16-bit DNS/ICMP id (os.urandom: ``secrets`` would import hashlib and random)."""
    return int.from_bytes(os.urandom(2), "big")


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


# --------------------------------------------------------------------------------------------
# Running probes under one deadline
# --------------------------------------------------------------------------------------------


def run_bounded(
    tasks: Sequence[Callable[[], T]],
    deadline_seconds: float,
    on_missing: Callable[[int, str], T],
) -> list[T]:
    """Run ``tasks`` concurrently under one deadline.

    A task without a result gets ``on_missing(i, reason)``: the reason says whether it was cut
    off by the deadline or raised (``probe failed: <ExcType>: <message>``), so neither is
    mistaken for a probe that ran and saw the target fail.

    Daemon threads, not a ThreadPoolExecutor: the executor's workers are joined at interpreter
    exit, so one stuck probe would keep the agent from exiting.
    """
    results: list[Any] = [None] * len(tasks)
    done = [False] * len(tasks)
    failed: list[str | None] = [None] * len(tasks)

    def runner(i: int, task: Callable[[], T]) -> None:
        try:
            results[i] = task()
            done[i] = True
        except Exception as exc:  # a probe bug must not lose the other results
            failed[i] = f"probe failed: {type(exc).__name__}: {exc}"
            log.warning("probe %d failed", i, exc_info=True)

    threads = [
        threading.Thread(target=runner, args=(i, t), daemon=True, name=f"probe-{i}")
        for i, t in enumerate(tasks)
    ]
    end = time.monotonic() + deadline_seconds
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    late = f"cut off by the overall deadline ({deadline_seconds:g} s)"
    out: list[T] = []
    for i in range(len(tasks)):
        if done[i]:
            out.append(results[i])
        else:
            out.append(on_missing(i, failed[i] or late))
    return out


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------


def split_server(entry: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``v6`` or ``[v6]:port`` -> (host, port)."""
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else DNS_PORT
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port)
    return entry, DNS_PORT


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    return True


def _sockaddr(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """Socket family and address for an IP literal; ``fe80::1%eth0`` keeps its zone."""
    addr, _, zone = host.partition("%")
    ip = ipaddress.ip_address(addr)
    if ip.version == 4:
        return socket.AF_INET, (addr, port)
    scope = 0
    if zone:
        scope = int(zone) if zone.isdigit() else socket.if_nametoindex(zone)
    return socket.AF_INET6, (addr, port, 0, scope)


def _hosts_file() -> Path:
    if sys.platform == "win32":
        root = os.environ.get("SYSTEMROOT", r"C:\Windows")
        return Path(root) / "System32" / "drivers" / "etc" / "hosts"
    return Path("/etc/hosts")


def hosts_lookup(name: str, text: str | None = None) -> list[str]:
    """Addresses of ``name`` in the hosts file (hosts(5)), which the system resolver reads first."""
    if text is None:
        try:
            text = _hosts_file().read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
    wanted = name.lower().rstrip(".")
    found: list[str] = []
    for line in text.splitlines():
        fields = line.partition("#")[0].split()
        if len(fields) >= 2 and wanted in (f.lower() for f in fields[1:]) and _is_ip(fields[0]):
            found.append(fields[0])
    return found


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
