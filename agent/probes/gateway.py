"""Default-gateway probe: ICMP echo (datagram or raw socket), else a TCP knock."""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
import threading
import time
from typing import Any, Literal

from agent.probes._base import (
    _ms,
    _random_id,
    _reason,
    _sockaddr,
)
from agent.probes.tcp import connect
from agent.report.connectivity import GatewayResult

#: Ports tried for the TCP fallback of the gateway probe: DNS, HTTP(S), SSH, router admin.
GATEWAY_TCP_PORTS = (53, 80, 443, 22)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class _NoMethod(Exception):  # noqa: N818 - a state, like FactUnavailable
    """This ICMP method cannot be used here (not permitted, not supported)."""


class _NotSent(Exception):  # noqa: N818 - a state, like FactUnavailable
    """Nothing could be sent to the gateway: a local problem, which says nothing about it."""


#: connect()/sendto() errors that come from this computer before anything goes on the wire: a
#: link-local address without (or with a wrong) scope gives EINVAL/EADDRNOTAVAIL (ipv6(7)), a
#: local firewall EPERM/EACCES. None of them is evidence that the gateway is down.
_LOCAL_ERRNOS = frozenset(
    {errno.EINVAL, errno.EADDRNOTAVAIL, errno.ENODEV, errno.EPERM, errno.EACCES}
)


def _same_ip(a: str, b: str) -> bool:
    """Address equality, not text equality: ``FE80::1`` and ``fe80:0::1`` are the same host."""
    try:
        return ipaddress.ip_address(a.partition("%")[0]) == ipaddress.ip_address(
            b.partition("%")[0]
        )
    except ValueError:
        return False


def _echo(address: str, timeout: float, raw: bool) -> float:
    """One ICMP echo; returns the round trip in ms.

    Raises TimeoutError (sent, no reply), _NoMethod/PermissionError (this method is not
    allowed), _NotSent (nothing could be sent: unknown zone, unusable address) or OSError (an
    error reported for the echo that was sent, such as host unreachable).

    Datagram ICMP sockets ("ping sockets") exist since Linux 3.0 for groups inside
    net.ipv4.ping_group_range (icmp(7)); the kernel then owns the identifier. Raw sockets need
    CAP_NET_RAW (raw(7)) and see every ICMP packet, so replies are matched on id and sequence.
    """
    end = time.monotonic() + timeout
    try:
        family, addr = _sockaddr(address, 0)
    except OSError as exc:  # if_nametoindex: no interface of that name (the zone)
        raise _NotSent(f"zone of {address}: {_reason(exc)}") from exc
    v6 = family == socket.AF_INET6
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    request_type, reply_type = (128, 129) if v6 else (8, 0)
    ident = _random_id()
    seq = 1
    payload = b"govguard-gateway"
    header = struct.pack("!BBHHH", request_type, 0, 0, ident, seq)
    # The kernel computes ICMPv6 checksums (RFC 3542 3.1) and fills ping-socket ones; raw v4: us.
    csum = 0 if v6 else _checksum(header + payload)
    packet = struct.pack("!BBHHH", request_type, 0, csum, ident, seq) + payload
    kind = socket.SOCK_RAW if raw else socket.SOCK_DGRAM
    try:
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        # EACCES/EPERM outside ping_group_range or without CAP_NET_RAW; on Windows, which has
        # no ping sockets, WSAEPROTONOSUPPORT (not errno's value): the method is not available.
        raise _NoMethod(str(exc)) from exc
    with sock:
        start = time.perf_counter()
        try:
            sock.sendto(packet, addr)
        except PermissionError:
            raise
        except (OSError, OverflowError) as exc:
            raise _NotSent(f"cannot send to {address}: {_reason(exc)}") from exc
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            sock.settimeout(left)
            data, peer = sock.recvfrom(2048)
            if raw and not v6:
                data = data[(data[0] & 0x0F) * 4 :]  # raw IPv4 sockets include the IP header
            if len(data) < 8 or not _same_ip(peer[0], addr[0]):
                continue
            rtype, _code, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
            if rtype == reply_type and rseq == seq and (rid == ident or not raw):
                return _ms(start)


def _tcp_knock(address: str, timeout: float) -> tuple[bool | None, float | None, str | None]:
    """Connect to a few ports at once; an accept or a refusal (RST) proves the host is there.

    (None, None, reason) when no connection attempt could even start (see _LOCAL_ERRNOS).
    """
    results: list[tuple[bool | None, float | None, str | None]] = []
    lock = threading.Lock()
    answered = threading.Event()

    def knock(port: int) -> None:
        start = time.perf_counter()
        outcome: tuple[bool | None, float | None, str | None]
        try:
            connect(address, port, timeout).close()
            outcome = (True, _ms(start), None)
        except ConnectionRefusedError:
            outcome = (True, _ms(start), None)
        except OverflowError as exc:
            outcome = (None, None, _reason(exc))
        except OSError as exc:
            if exc.errno in _LOCAL_ERRNOS:
                outcome = (None, None, f"cannot connect from here: {_reason(exc)}")
            elif exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                outcome = (False, None, exc.strerror)
            else:
                outcome = (False, None, _reason(exc))
        with lock:
            results.append(outcome)
            if outcome[0] or len(results) == len(GATEWAY_TCP_PORTS):
                answered.set()

    for port in GATEWAY_TCP_PORTS:
        threading.Thread(target=knock, args=(port,), daemon=True).start()
    answered.wait(timeout)
    with lock:
        good = [r for r in results if r[0]]
        if good:
            return good[0]
        bad = [r for r in results if r[0] is False]
        if bad:
            return bad[0]
        if results and len(results) == len(GATEWAY_TCP_PORTS):
            return results[0]  # every attempt failed locally: undetermined
        return False, None, "timed out"


def probe_gateway(
    address: str, interface: str | None, timeout: float, zone: str | None = None
) -> GatewayResult:
    """Is the gateway there? ICMP echo (ping socket, else raw), else TCP knocking.

    All of it within ``timeout``: the echo may use the first half, so a gateway that drops ICMP
    still leaves the TCP knock the rest (the overall deadline is only required to be at least
    one timeout). ``reachable`` is None when nothing could be sent (a local problem).

    A link-local IPv6 gateway needs its zone: ``zone`` (an interface index, which works on
    Windows too, where ``if_nametoindex`` does not know adapter aliases) or else ``interface``.
    """
    end = time.monotonic() + timeout
    target = address
    if address.lower().startswith("fe80") and "%" not in address and (zone or interface):
        target = f"{address}%{zone or interface}"
    base: dict[str, Any] = {"address": address, "interface": interface}
    methods: tuple[tuple[bool, Literal["icmp", "icmp_raw"]], ...] = (
        (False, "icmp"),
        (True, "icmp_raw"),
    )
    for raw, method in methods:
        try:
            rtt = _echo(target, max(0.001, (end - time.monotonic()) / 2), raw)
        except (_NoMethod, PermissionError):
            continue  # not in ping_group_range / not root / not supported: next method
        except _NotSent as exc:
            return GatewayResult(**base, reachable=None, method=method, error=str(exc))
        except TimeoutError:
            # An echo went out and nothing came back. Some gateways drop ICMP: ask TCP too.
            break
        except OSError as exc:
            return GatewayResult(**base, reachable=False, method=method, error=_reason(exc))
        return GatewayResult(**base, reachable=True, method=method, latency_ms=rtt)
    try:
        _sockaddr(target, 0)
    except OSError as exc:  # if_nametoindex: no interface of that name (the zone)
        why = f"zone of {target}: {_reason(exc)}"
        return GatewayResult(**base, reachable=None, method="tcp", error=why)
    ok, latency, error = _tcp_knock(target, max(0.001, end - time.monotonic()))
    return GatewayResult(**base, reachable=ok, method="tcp", latency_ms=latency, error=error)
