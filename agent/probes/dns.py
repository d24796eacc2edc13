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


class NotOurs(ValueError):  # noqa: N818 - a state, like FactUnavailable
    """A datagram that is not the answer to our query: ignored, the wait goes on."""


class Truncated(Exception):  # noqa: N818 - a state, like FactUnavailable
    """TC set: the answer did not fit in UDP (RFC 1035 4.1.1), so its content is not known."""


_TC = 0x0200


def _skip_name(packet: bytes, offset: int) -> int:
    while True:
        length = packet[offset]
        if length & 0xC0 == 0xC0:  # compression pointer ends the name (RFC 1035 4.1.4)
            return offset + 2
        offset += 1 + length
        if length == 0:
            return offset


def _question(packet: bytes, offset: int) -> tuple[bytes, int, int, int]:
    """(lower-case wire name, qtype, qclass, next offset) of the question at ``offset``."""
    labels: list[bytes] = []
    while True:
        length = packet[offset]
        if length & 0xC0:  # a pointer here could only point backwards into the header
            raise IndexError("compressed question name")
        offset += 1
        if length == 0:
            break
        if offset + length > len(packet):
            raise IndexError("label past the end")
        labels.append(packet[offset : offset + length].lower())
        offset += length
    qtype, qclass = struct.unpack("!HH", packet[offset : offset + 4])
    return b".".join(labels), qtype, qclass, offset + 4


def parse_response(
    packet: bytes, ident: int, name: str | None = None, qtype: int | None = None
) -> tuple[int, list[str]]:
    """(rcode, addresses of A/AAAA answers) of the response to our query.

    Raises NotOurs for a datagram that is not the answer (another id, not a response, or a
    question other than ``name``/``qtype``: RFC 5452 section 4.3), Truncated when TC is set,
    and ValueError for a malformed response that carries our id.
    """
    if len(packet) < 2 or int.from_bytes(packet[:2], "big") != ident:
        raise NotOurs("not the response to our query")
    if len(packet) < 12:
        raise ValueError("malformed DNS response (short header)")
    _rid, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", packet[:12])
    if not flags & 0x8000:
        raise NotOurs("not a response")
    rcode = flags & 0xF
    offset = 12
    try:
        if name is not None and qtype is not None and (qd or rcode == 0):
            # An error answer may leave the question out; a NOERROR one must echo it.
            want = name.rstrip(".").encode("idna").lower()
            if qd != 1:
                raise NotOurs("the question is not ours")
            qname, rtype, rclass, offset = _question(packet, offset)
            if (qname, rtype, rclass) != (want, qtype, 1):
                raise NotOurs("the question is not ours")
        else:
            for _ in range(qd):
                offset = _skip_name(packet, offset) + 4
        if flags & _TC:
            raise Truncated("truncated (TC): answer did not fit in UDP")
        addresses: list[str] = []
        for _ in range(an):
            offset = _skip_name(packet, offset)
            if offset + 10 > len(packet):
                raise IndexError("record header past the end")
            rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", packet[offset : offset + 10])
            offset += 10
            if offset + rdlen > len(packet):
                raise IndexError("record data past the end")
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

    Raises OSError (TimeoutError, ConnectionRefusedError), Truncated, or ValueError (a server
    given by name, a malformed answer: reported at once rather than waited out).
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
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            sock.settimeout(left)
            packet = sock.recv(4096)
            with contextlib.suppress(NotOurs):
                rcode, addresses = parse_response(packet, ident, name, qtype)
                return rcode, addresses, _ms(start)


def probe_dns(name: str, server: str, timeout: float) -> DnsResult:
    """Resolve ``name`` at ``server``: the A record, then AAAA when there is no A."""
    start = time.perf_counter()
    try:
        rcode, addresses, _lat = dns_query(name, server, _TYPE_A, timeout)
        if rcode == 0 and not addresses:
            rest = timeout - (time.perf_counter() - start)
            if rest <= 0:
                raise TimeoutError("timed out")  # the A query used the whole budget
            rcode, addresses, _lat = dns_query(name, server, _TYPE_AAAA, rest)
    except TimeoutError:
        return DnsResult(name=name, server=server, ok=False, error=f"no answer in {timeout:g} s")
    except ConnectionRefusedError:
        return DnsResult(name=name, server=server, ok=False, error="refused (port unreachable)")
    except Truncated as exc:
        # The server answered, but what it said is not known: neither success nor failure.
        return DnsResult(name=name, server=server, ok=None, error=str(exc))
    except (OSError, ValueError, UnicodeError, OverflowError) as exc:
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
