"""Facts that psutil (or plain text parsing) gives identically on Linux and Windows.

Both ``_linux.security`` and ``_windows.security`` call these, so the two reports agree on how a
listening socket or a remote-control tool is found. Nothing here reads OS-specific files or runs
commands; the callers pass in what only they can learn (installed software, service names).
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterable
from typing import Literal

import psutil

from agent.catalog import ProductSignature
from agent.errors import FactUnavailable
from agent.platform._common import host_path
from agent.report.security import ListeningPort, RemoteTool

log = logging.getLogger(__name__)

__all__ = [
    "clear_cache",
    "find_remote_tools",
    "listening_ports",
    "parse_sshd_config",
    "process_names",
]

#: How long one snapshot of the process list is reused. One collection (all sections) takes well
#: under this, so every fact of one report sees the same snapshot, and the next run (minutes
#: later) takes a fresh one.
PROCESS_CACHE_SECONDS = 30.0

_process_cache: tuple[float, frozenset[str]] | None = None


def clear_cache() -> None:
    """Forget the cached process list (tests; or a caller starting a new collection)."""
    global _process_cache
    _process_cache = None


def process_names() -> set[str]:
    """Names of the running processes (``clamd``, ``AnyDesk.exe``), one snapshot per collection.

    Processes that vanish or deny access while being listed are skipped: psutil.process_iter
    already tolerates NoSuchProcess, and ``name`` is readable for every process on Linux and for
    almost every one on Windows without administrator rights.
    """
    global _process_cache
    now = time.monotonic()
    if _process_cache is not None and now - _process_cache[0] < PROCESS_CACHE_SECONDS:
        return set(_process_cache[1])
    try:
        names = list_process_names()
    except (psutil.Error, OSError) as exc:
        raise FactUnavailable(f"cannot list processes: {exc}") from exc
    _process_cache = (now, frozenset(names))
    return names


def psutil_process_names() -> set[str]:
    """Process names through psutil (every OS)."""
    names: set[str] = set()
    for proc in psutil.process_iter(["name"]):
        name = proc.info.get("name")
        if name:
            names.add(str(name))
    return names


#: The kernel truncates /proc/<pid>/comm to TASK_COMM_LEN - 1 characters (proc(5)).
_COMM_MAX = 15


def proc_comm_names() -> set[str]:
    """Process names read straight from /proc/<pid>/comm (Linux).

    psutil builds a Process object and parses /proc/<pid>/stat for each process, about 0.2 ms
    each on the development VM: 50 ms on a desktop with 250 processes. One small read per
    process gives the same names. As psutil does, a name cut at 15 characters is completed from
    the first argument of cmdline when that starts with it.
    """
    # Plain strings and open(), not a Path per process: this loop runs for every process.
    proc = str(host_path("/proc"))
    names: set[str] = set()
    for entry in os.listdir(proc):  # noqa: PTH208
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/comm", encoding="utf-8", errors="replace") as fh:  # noqa: PTH123
                name = fh.read().rstrip("\n")
            if len(name) >= _COMM_MAX:
                with open(f"{proc}/{entry}/cmdline", "rb") as fh:  # noqa: PTH123
                    first = fh.read().split(b"\0", 1)[0].decode("utf-8", "replace")
                full = first.rsplit("/", 1)[-1]
                if full.startswith(name):
                    name = full
        except OSError:
            continue  # the process ended, or hides its details (hidepid=): skip it
        if name:
            names.add(name)
    return names


#: Lists the running process names; chosen once for the OS, replaceable in tests.
list_process_names: Callable[[], set[str]] = (
    proc_comm_names if sys.platform.startswith("linux") else psutil_process_names
)


def _process_name(pid: int | None, cache: dict[int, str | None]) -> str | None:
    if pid is None:
        return None
    if pid not in cache:
        try:
            cache[pid] = psutil.Process(pid).name()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            cache[pid] = None
    return cache[pid]


def listening_ports() -> list[ListeningPort]:
    """TCP sockets in LISTEN and UDP sockets bound without a peer, with their owning process.

    Unprivileged, psutil cannot map another user's socket to its process on Linux: ``pid`` is
    then ``None`` (the socket itself is still reported). Connected UDP sockets (a DNS client's
    ephemeral port) have a remote address and are not listeners.
    """
    try:
        conns = psutil.net_connections(kind="inet")
    except psutil.AccessDenied as exc:
        # macOS and some hardened kernels refuse the whole table to non-root.
        raise FactUnavailable("permission denied listing sockets (run as root)") from exc
    except (psutil.Error, OSError) as exc:
        raise FactUnavailable(f"cannot list sockets: {exc}") from exc
    names: dict[int, str | None] = {}
    found: dict[tuple[str, str, int, int | None], ListeningPort] = {}
    protocol: Literal["tcp", "udp"]
    for conn in conns:
        if not conn.laddr:
            continue
        if conn.type == socket.SOCK_STREAM:
            if conn.status != psutil.CONN_LISTEN:
                continue
            protocol = "tcp"
        elif conn.type == socket.SOCK_DGRAM:
            if conn.raddr:
                continue
            protocol = "udp"
        else:
            continue
        address, port = conn.laddr.ip, conn.laddr.port
        key = (protocol, address, port, conn.pid)
        if key in found:
            continue  # one socket per worker process (nginx, sshd) would repeat it
        found[key] = ListeningPort(
            protocol=protocol,
            address=address,
            port=port,
            pid=conn.pid,
            process=_process_name(conn.pid, names),
        )
    return sorted(found.values(), key=lambda p: (p.protocol, p.port, p.address, p.pid or 0))


def find_remote_tools(
    catalogue: Iterable[ProductSignature],
    installed_names: Iterable[str],
    service_names: Iterable[str],
) -> list[RemoteTool]:
    """Match the remote-tool catalogue against installed software, services and processes.

    ``installed_names`` are package names or uninstall DisplayNames; ``service_names`` are unit
    or service names (and display names). A process counts only when its executable name is one
    the catalogue lists (``runs_as``), so that a portable AnyDesk started from Downloads is found
    while an unrelated process that merely contains a tool's name is not.
    """
    # Names joined by newlines: one regex scan per product instead of one per name (a Linux
    # desktop has ~2,000 packages, a Windows PC a few hundred uninstall entries).
    installed_text = "\n".join(n.replace("\n", " ") for n in installed_names)
    services_text = "\n".join(n.replace("\n", " ") for n in service_names)
    try:
        processes: set[str] | None = process_names()
    except FactUnavailable as exc:
        log.warning("remote tools: process list unavailable: %s", exc.reason)
        processes = None
    tools: list[RemoteTool] = []
    for sig in catalogue:
        evidence: list[Literal["installed", "service", "process"]] = []
        details: list[str] = []
        hit = _first_match(sig, installed_text)
        if hit is not None:
            evidence.append("installed")
            details.append(hit)
        svc = _first_match(sig, services_text)
        if svc is not None:
            evidence.append("service")
            details.append(f"service {svc}")
        running_as = sorted(p for p in processes or () if sig.runs_as(p))
        if running_as:
            evidence.append("process")
            if not details:
                details.append(f"process {running_as[0]}")
        if evidence:
            tools.append(
                RemoteTool(
                    name=sig.name,
                    evidence=evidence,
                    running=bool(running_as),
                    detail="; ".join(details) or None,
                )
            )
    return tools


def _first_match(sig: ProductSignature, lines: str) -> str | None:
    joined = "|".join(f"(?:{p})" for p in sig.patterns)
    try:
        found = re.search(joined, lines, re.IGNORECASE)
    except re.error:
        log.warning("invalid pattern in catalogue entry %s", sig.name)
        return None
    if found is None:
        return None
    start = lines.rfind("\n", 0, found.start()) + 1
    end = lines.find("\n", found.end())
    return lines[start : end if end >= 0 else len(lines)]


#: Keywords that may be given several times and accumulate (sshd_config(5): Port, ListenAddress,
#: HostKey ...); for every other keyword "the first obtained value will be used".
_CUMULATIVE = frozenset(
    {"port", "listenaddress", "hostkey", "hostcertificate", "acceptenv", "subsystem", "setenv"}
)


_LINE = re.compile(r"^([^\s=]+)(?:\s*=\s*|\s+)(.*)$")


def parse_sshd_config(text: str) -> dict[str, list[str]]:
    """Global settings of an sshd_config text: lower-cased keyword -> its arguments.

    Per sshd_config(5) keywords are case-insensitive, arguments may be quoted, ``Keyword=value``
    is accepted, and the first value obtained for a keyword wins (except the cumulative ones such
    as Port, whose values are collected in order). Lines after the first ``Match`` belong to a
    conditional block and are ignored: they do not describe the server's global behaviour.
    ``Include`` must already be expanded by the caller (only it can read the files).
    """
    settings: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            continue
        keyword, rest = m.group(1).lower(), m.group(2)
        if keyword == "match":
            break
        try:
            args = shlex.split(rest, comments=True)
        except ValueError:
            log.debug("sshd_config: unbalanced quotes on %r", raw)
            args = rest.split()
        if not args:
            continue
        if keyword in _CUMULATIVE:
            settings.setdefault(keyword, []).extend(args)
        elif keyword not in settings:
            settings[keyword] = args
    return settings
