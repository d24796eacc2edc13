"""TCP connect probes, and the connect helpers the other probes use."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence

from agent.probes._base import (
    _ms,
    _reason,
    _sockaddr,
)
from agent.probes.dns import resolve
from agent.report.connectivity import TcpResult


def connect(address: str, port: int, timeout: float) -> socket.socket:
    """A connected TCP socket to an IP literal, within ``timeout``."""
    family, addr = _sockaddr(address, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(addr)
    except BaseException:
        sock.close()
        raise
    return sock


def connect_any(addresses: Sequence[str], port: int, timeout: float) -> tuple[socket.socket, str]:
    """Connect to the first address that accepts, in order, all within ``timeout``.

    A name may resolve to several addresses (``localhost`` to 127.0.0.1 and ::1): like
    ``socket.create_connection``, the next one is tried when one fails.
    """
    end = time.monotonic() + timeout
    error: OSError = OSError("no address")
    for address in addresses:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        try:
            return connect(address, port, left), address
        except OSError as exc:
            error = exc
    raise error


def probe_tcp(
    name: str, host: str, port: int, role: str, servers: Sequence[str], timeout: float
) -> TcpResult:
    """Connect to ``host:port`` and close at once."""
    start = time.perf_counter()
    address: str | None = None
    try:
        addresses = resolve(host, servers, timeout)
        address = addresses[0]
        left = max(0.05, timeout - (time.perf_counter() - start))
        t0 = time.perf_counter()
        sock, address = connect_any(addresses, port, left)
        sock.close()
    except (OSError, ValueError, OverflowError) as exc:  # Overflow: port > 65535 (connect)
        return TcpResult(
            name=name, host=host, port=port, role=role, ok=False, address=address,
            error=_reason(exc),
        )  # fmt: skip
    return TcpResult(
        name=name, host=host, port=port, role=role, ok=True, address=address, latency_ms=_ms(t0)
    )
