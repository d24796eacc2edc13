"""Reachability probes, platform-neutral: gateway echo, DNS over UDP, HTTPS, TCP connect.

Every probe is bounded by its own timeout, and :func:`run_bounded` runs them concurrently in
daemon threads under one overall deadline, so a dead network (a black-holed gateway, a resolver
that never answers) cannot make the agent hang: a probe still running at the deadline is
reported as timed out and its thread is abandoned.

Names are resolved with our own DNS queries (RFC 1035) to known servers, never with
``getaddrinfo``: that cannot be bounded (glibc retries each resolver for ``timeout:5 attempts:2``,
resolv.conf(5)) and hides which server answered.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from agent.report.connectivity import DnsResult, GatewayResult, HttpsResult, TcpResult

log = logging.getLogger(__name__)

T = TypeVar("T")

DNS_PORT = 53
_TYPE_A = 1
_TYPE_AAAA = 28
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}

#: Ports tried for the TCP fallback of the gateway probe: DNS, HTTP(S), SSH, router admin.
GATEWAY_TCP_PORTS = (53, 80, 443, 22)


def _random_id() -> int:
    """A random 16-bit DNS/ICMP id (os.urandom: ``secrets`` would import hashlib and random)."""
    return int.from_bytes(os.urandom(2), "big")


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


# --------------------------------------------------------------------------------------------
# Running probes under one deadline
# --------------------------------------------------------------------------------------------


def run_bounded(
    tasks: Sequence[Callable[[], T]], deadline_seconds: float, on_timeout: Callable[[int], T]
) -> list[T]:
    """Run ``tasks`` concurrently; a task still running after the deadline gets ``on_timeout(i)``.

    Daemon threads, not a ThreadPoolExecutor: the executor's workers are joined at interpreter
    exit, so one stuck probe would keep the agent from exiting.
    """
    results: list[Any] = [None] * len(tasks)
    done = [False] * len(tasks)

    def runner(i: int, task: Callable[[], T]) -> None:
        try:
            results[i] = task()
            done[i] = True
        except Exception:  # a probe bug must not lose the other results
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
    return [results[i] if done[i] else on_timeout(i) for i in range(len(tasks))]


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


# --------------------------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------------------------


def build_query(name: str, qtype: int, ident: int) -> bytes:
    """A standard recursive query (RFC 1035 section 4.1) for ``name``."""
    labels = name.rstrip(".").encode("idna").split(b".")
    qname = b"".join(bytes([len(label)]) + label for label in labels if label) + b"\x00"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, 1)


def _skip_name(packet: bytes, offset: int) -> int:
    while True:
        length = packet[offset]
        if length & 0xC0 == 0xC0:  # compression pointer ends the name (RFC 1035 4.1.4)
            return offset + 2
        offset += 1 + length
        if length == 0:
            return offset


def parse_response(packet: bytes, ident: int) -> tuple[int, list[str]]:
    """(rcode, addresses of A/AAAA answers) of a response; ValueError if it is not ours."""
    if len(packet) < 12:
        raise ValueError("short DNS response")
    rid, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", packet[:12])
    if rid != ident or not flags & 0x8000:
        raise ValueError("not the response to our query")
    rcode = flags & 0xF
    offset = 12
    try:
        for _ in range(qd):
            offset = _skip_name(packet, offset) + 4
        addresses: list[str] = []
        for _ in range(an):
            offset = _skip_name(packet, offset)
            rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", packet[offset : offset + 10])
            offset += 10
            rdata = packet[offset : offset + rdlen]
            offset += rdlen
            if rtype == _TYPE_A and rdlen == 4:
                addresses.append(socket.inet_ntop(socket.AF_INET, rdata))
            elif rtype == _TYPE_AAAA and rdlen == 16:
                addresses.append(socket.inet_ntop(socket.AF_INET6, rdata))
    except (IndexError, struct.error) as exc:
        raise ValueError("malformed DNS response") from exc
    return rcode, addresses


def dns_query(name: str, server: str, qtype: int, timeout: float) -> tuple[int, list[str], float]:
    """Send one query over UDP and wait for its answer: (rcode, addresses, latency ms).

    Raises OSError (TimeoutError, ConnectionRefusedError) or ValueError.
    """
    host, port = split_server(server)
    if not _is_ip(host):
        raise ValueError(f"DNS server must be an IP address, not {host}")
    family, addr = _sockaddr(host, port)
    ident = _random_id()
    query = build_query(name, qtype, ident)
    end = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect(addr)  # connected: the kernel drops datagrams from other sources
        start = time.perf_counter()
        sock.send(query)
        while True:
            sock.settimeout(max(0.001, end - time.monotonic()))
            packet = sock.recv(4096)
            with contextlib.suppress(ValueError):
                rcode, addresses = parse_response(packet, ident)
                return rcode, addresses, _ms(start)


def probe_dns(name: str, server: str, timeout: float) -> DnsResult:
    """Resolve ``name`` at ``server``: the A record, then AAAA when there is no A."""
    start = time.perf_counter()
    try:
        rcode, addresses, _lat = dns_query(name, server, _TYPE_A, timeout)
        if rcode == 0 and not addresses:
            rest = max(0.05, timeout - (time.perf_counter() - start))
            rcode, addresses, _lat = dns_query(name, server, _TYPE_AAAA, rest)
    except TimeoutError:
        return DnsResult(name=name, server=server, ok=False, error=f"no answer in {timeout:g} s")
    except ConnectionRefusedError:
        return DnsResult(name=name, server=server, ok=False, error="refused (port unreachable)")
    except (OSError, ValueError, UnicodeError) as exc:
        return DnsResult(name=name, server=server, ok=False, error=_reason(exc))
    ok = rcode == 0 and bool(addresses)
    return DnsResult(
        name=name,
        server=server,
        ok=ok,
        rcode=rcode,
        addresses=addresses,
        latency_ms=_ms(start),
        error=None if ok else RCODE_NAMES.get(rcode, f"rcode {rcode}") if rcode else "no address",
    )


def resolve(host: str, servers: Sequence[str], timeout: float) -> list[str]:
    """Addresses of ``host``: an IP literal, the hosts file, then each server in turn."""
    if _is_ip(host):
        return [host]
    found = hosts_lookup(host)
    if found:
        return found
    if not servers:
        raise OSError(f"cannot resolve {host}: no DNS server known")
    end = time.monotonic() + timeout
    last = "no answer"
    for server in servers:
        left = end - time.monotonic()
        if left <= 0:
            break
        result = probe_dns(host, server, left)
        if result.ok:
            return result.addresses
        last = result.error or last
        if result.rcode == 3:  # NXDOMAIN is an answer, asking the next server will not help
            break
    raise OSError(f"cannot resolve {host}: {last}")


# --------------------------------------------------------------------------------------------
# TCP
# --------------------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


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
    except (OSError, ValueError) as exc:
        return TcpResult(
            name=name, host=host, port=port, role=role, ok=False, address=address,
            error=_reason(exc),
        )  # fmt: skip
    return TcpResult(
        name=name, host=host, port=port, role=role, ok=True, address=address, latency_ms=_ms(t0)
    )


# --------------------------------------------------------------------------------------------
# HTTPS
# --------------------------------------------------------------------------------------------


class HttpsSpec(NamedTuple):
    """What :func:`probe_https` needs from a configured target."""

    # A NamedTuple, not a dataclass: importing dataclasses (and inspect with it) costs ~13 ms
    # of the agent's start-up CPU.
    name: str
    url: str
    role: str
    ca_file: str | None
    timeout: float
    ok_statuses: Sequence[int] = ()


def _split_url(url: str) -> tuple[str, int, str]:
    rest = url.removeprefix("https://")
    hostport, slash, path = rest.partition("/")
    path = "/" + path if slash else "/"
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port = int(tail[1:]) if tail.startswith(":") else 443
    elif ":" in hostport:
        host, _, p = hostport.rpartition(":")
        port = int(p)
    else:
        host, port = hostport, 443
    return host, port, path


def _name(rdns: Any) -> str:
    """``((('commonName', 'x'),), ...)`` from getpeercert() -> ``CN=x, O=y``."""
    short = {"commonName": "CN", "organizationName": "O", "countryName": "C"}
    parts = [f"{short.get(k, k)}={v}" for rdn in rdns or () for k, v in rdn]
    return ", ".join(parts)


_contexts: dict[str | None, Any] = {}
_contexts_lock = threading.Lock()


def _tls_context(ca_file: str | None) -> Any:
    """One verifying context per CA file, shared: loading the system store costs ~10 ms CPU."""
    import ssl

    with _contexts_lock:
        if ca_file not in _contexts:
            _contexts[ca_file] = ssl.create_default_context(cafile=ca_file)
        return _contexts[ca_file]


def reset_tls_contexts() -> None:
    """Forget cached TLS contexts, so a changed CA file is read again on the next round."""
    with _contexts_lock:
        _contexts.clear()


def probe_https(spec: HttpsSpec, servers: Sequence[str]) -> HttpsResult:
    """GET the URL: status, latency, TLS version and the certificate, verified."""
    # Imported here: ssl and http.client cost ~30 ms of CPU, paid only when a target exists.
    import ssl
    from http.client import HTTPException, HTTPSConnection

    start = time.perf_counter()
    base: dict[str, Any] = {"name": spec.name, "url": spec.url, "role": spec.role}
    try:
        host, port, path = _split_url(spec.url)
    except ValueError:
        return HttpsResult(**base, ok=False, error="invalid URL")
    try:
        addresses = resolve(host, servers, spec.timeout)
    except OSError as exc:
        return HttpsResult(**base, ok=False, error=_reason(exc))
    base["address"] = addresses[0]
    try:
        ctx = _tls_context(spec.ca_file)
    except (OSError, ssl.SSLError) as exc:
        return HttpsResult(**base, ok=False, error=f"cannot load ca_file: {_reason(exc)}")
    left = max(0.05, spec.timeout - (time.perf_counter() - start))
    conn = HTTPSConnection(host, port, timeout=left, context=ctx)

    def open_resolved(_addr: Any, timeout: float = left, source: Any = None) -> socket.socket:
        # Connect to the addresses we resolved ourselves; TLS still checks the URL's host name.
        sock, base["address"] = connect_any(addresses, port, timeout)
        return sock

    conn._create_connection = open_resolved  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    try:
        conn.connect()
        # Read the TLS facts now: http.client drops conn.sock once a "close" response arrives.
        sock: Any = conn.sock
        cert = sock.getpeercert()
        tls_version = sock.version()
        conn.request("GET", path, headers={"User-Agent": "govguard-agent", "Connection": "close"})
        response = conn.getresponse()
        latency = _ms(t0)
        status = response.status
        response.close()
    except ssl.SSLCertVerificationError as exc:
        return HttpsResult(
            **base,
            ok=False,
            cert_verified=False,
            verify_error=exc.verify_message or _reason(exc),
            error="certificate verification failed",
        )
    except (OSError, HTTPException, ValueError) as exc:
        return HttpsResult(**base, ok=False, error=_reason(exc))
    finally:
        conn.close()
    not_after: datetime | None = None
    days_left: float | None = None
    if cert and cert.get("notAfter"):
        expiry = ssl.cert_time_to_seconds(cert["notAfter"])
        not_after = datetime.fromtimestamp(expiry, tz=UTC)
        days_left = round((expiry - time.time()) / 86400, 2)
    expected = status in spec.ok_statuses if spec.ok_statuses else 200 <= status < 400
    return HttpsResult(
        **base,
        ok=expected,
        status=status,
        latency_ms=latency,
        tls_version=tls_version,
        cert_verified=True,
        cert_subject=_name(cert.get("subject")) if cert else None,
        cert_issuer=_name(cert.get("issuer")) if cert else None,
        cert_not_after=not_after,
        cert_days_left=days_left,
        error=None if expected else f"unexpected HTTP status {status}",
    )


# --------------------------------------------------------------------------------------------
# Gateway
# --------------------------------------------------------------------------------------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class _NoMethod(Exception):  # noqa: N818 - a state, like FactUnavailable
    """This ICMP method cannot be used here (not permitted, not supported)."""


def _echo(address: str, timeout: float, raw: bool) -> float:
    """One ICMP echo; returns the round trip in ms. Raises OSError (PermissionError: not allowed).

    Datagram ICMP sockets ("ping sockets") exist since Linux 3.0 for groups inside
    net.ipv4.ping_group_range (icmp(7)); the kernel then owns the identifier. Raw sockets need
    CAP_NET_RAW (raw(7)) and see every ICMP packet, so replies are matched on id and sequence.
    """
    family, addr = _sockaddr(address, 0)
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
    end = time.monotonic() + timeout
    try:
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        # EACCES/EPERM outside ping_group_range or without CAP_NET_RAW; on Windows, which has
        # no ping sockets, WSAEPROTONOSUPPORT (not errno's value): the method is not available.
        raise _NoMethod(str(exc)) from exc
    with sock:
        start = time.perf_counter()
        sock.sendto(packet, addr)
        while True:
            sock.settimeout(max(0.001, end - time.monotonic()))
            data, peer = sock.recvfrom(2048)
            if raw and not v6:
                data = data[(data[0] & 0x0F) * 4 :]  # raw IPv4 sockets include the IP header
            if len(data) < 8 or peer[0].partition("%")[0] != addr[0]:
                continue
            rtype, _code, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
            if rtype == reply_type and rseq == seq and (rid == ident or not raw):
                return _ms(start)


def _tcp_knock(address: str, timeout: float) -> tuple[bool, float | None, str | None]:
    """Connect to a few ports at once; an accept or a refusal (RST) proves the host is there."""
    results: list[tuple[bool, float | None, str | None]] = []
    lock = threading.Lock()
    answered = threading.Event()

    def knock(port: int) -> None:
        start = time.perf_counter()
        try:
            connect(address, port, timeout).close()
            outcome: tuple[bool, float | None, str | None] = (True, _ms(start), None)
        except ConnectionRefusedError:
            outcome = (True, _ms(start), None)
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                outcome = (False, None, exc.strerror)
            else:
                outcome = (False, None, _reason(exc))
        with lock:
            results.append(outcome)
            if outcome[0] or len(results) == len(GATEWAY_TCP_PORTS):
                answered.set()

    for port in GATEWAY_TCP_PORTS:
        threading.Thread(target=knock, args=(port,), daemon=True).start()
    answered.wait(timeout + 0.2)
    with lock:
        good = [r for r in results if r[0]]
        if good:
            return good[0]
        return False, None, results[0][2] if results else "timed out"


def probe_gateway(
    address: str, interface: str | None, timeout: float, zone: str | None = None
) -> GatewayResult:
    """Is the gateway there? ICMP echo (ping socket, else raw), else TCP knocking.

    A link-local IPv6 gateway needs its zone: ``zone`` (an interface index, which works on
    Windows too, where ``if_nametoindex`` does not know adapter aliases) or else ``interface``.
    """
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
            rtt = _echo(target, timeout, raw)
        except (_NoMethod, PermissionError):
            continue  # not in ping_group_range / not root / not supported: next method
        except TimeoutError:
            # An echo went out and nothing came back. Some gateways drop ICMP: ask TCP too.
            break
        except OSError as exc:
            return GatewayResult(**base, reachable=False, method=method, error=_reason(exc))
        return GatewayResult(**base, reachable=True, method=method, latency_ms=rtt)
    ok, latency, error = _tcp_knock(target, timeout)
    return GatewayResult(**base, reachable=ok, method="tcp", latency_ms=latency, error=error)
