"""DNS over UDP with queries built by the agent (RFC 1035), and name resolution for probes."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Sequence

from agent.probes._base import (
    _is_ip,
    _ms,
    _random_id,
    _reason,
    _sockaddr,
    hosts_lookup,
    split_server,
)
from agent.report.connectivity import DnsResult

_TYPE_A = 1
_TYPE_AAAA = 28
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


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
