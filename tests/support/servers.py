"""Small, self-stopping test servers: HTTPS with a trustme CA, a UDP DNS responder, a TCP listener.

Used by the connectivity unit tests, the network-namespace scenarios and the benchmark. Each one
is a context manager that binds first (so the port is known and listening when the ``with`` body
starts), serves from daemon threads and stops on exit::

    from tests.support.servers import dns_server, https_server, tcp_listener

    with https_server("127.0.0.1", 0) as web, dns_server("127.0.0.1", 0, {
        "portal.test": ["127.0.0.1"],
    }) as dns, tcp_listener("127.0.0.1", 0) as tcp:
        web.url       # "https://localhost:41234/"
        web.ca_file   # PEM of the CA that signed the server's certificate (for ``ca_file``)
        web.not_after # the leaf certificate's expiry, aware UTC datetime
        dns.address   # "127.0.0.1:53535", a DNS ``servers`` entry of the agent's config
        tcp.port

Port ``0`` picks a free port; the chosen one is on the yielded object. Only ever bind to
loopback or to addresses of a network namespace the test created itself.

Run as a program to serve inside a network namespace (``ip netns exec NS python -m
tests.support.servers ...``); it exits by itself after ``--lifetime`` seconds::

    python -m tests.support.servers --lifetime 60 \\
        --https 10.231.3.2:443 --cert-chain leaf.pem --key leaf.key \\
        --dns 10.231.3.2:53 --record portal.test=10.231.3.2 --tcp 10.231.3.2:8080

It prints ``ready`` on stdout once every socket is bound.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import socket
import socketserver
import ssl
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DnsServer",
    "HttpsServer",
    "TcpListener",
    "dns_server",
    "https_server",
    "main",
    "tcp_listener",
]

# DNS wire constants (RFC 1035 section 4.1, RFC 3596 for AAAA).
_TYPE_A = 1
_TYPE_AAAA = 28
_CLASS_IN = 1
RCODE_NOERROR = 0
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_REFUSED = 5


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------------------------
# HTTPS
# --------------------------------------------------------------------------------------------


@dataclass
class HttpsServer:
    """A running HTTPS server.

    ``ca_file`` is ``None`` when the server was started from ``cert_chain``/``key`` files
    (the caller holds the CA then).
    """

    host: str
    port: int
    hostname: str
    ca_file: str | None
    not_after: datetime | None
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``https://<hostname>:<port>/``: the name the certificate was issued for."""
        return f"https://{_hostport(self.hostname, self.port)}/"

    @property
    def address_url(self) -> str:
        """``https://<host>:<port>/``: by address (the certificate also covers it)."""
        return f"https://{_hostport(self.host, self.port)}/"


class _HttpsHandler(http.server.BaseHTTPRequestHandler):
    server_version = "govguard-test"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        srv: Any = self.server
        srv.state.requests.append(self.path)
        body: bytes = srv.body
        self.send_response(srv.status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests`` instead."""


class _TlsHttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, addr: tuple[str, int], family: socket.AddressFamily, ctx: ssl.SSLContext
    ) -> None:
        self.address_family = family
        self.ctx = ctx
        super().__init__(addr, _HttpsHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        sock.settimeout(5)
        # Handshake in the handler thread (do_handshake_on_connect), so one client that
        # never speaks TLS does not block the accept loop.
        return self.ctx.wrap_socket(sock, server_side=True), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that drop or fail the handshake are expected (verification tests)."""


@contextlib.contextmanager
def https_server(
    host: str = "127.0.0.1",
    port: int = 0,
    ca: Any = None,
    *,
    hostname: str = "localhost",
    status: int = 200,
    body: bytes = b"ok\n",
    not_after: datetime | None = None,
    cert_chain: str | None = None,
    key: str | None = None,
) -> Iterator[HttpsServer]:
    """Serve HTTPS on ``host:port``; every GET/HEAD answers ``status`` with ``body``.

    ``ca`` is a ``trustme.CA`` (a new one when ``None``); it issues a leaf for ``hostname`` and
    ``host`` valid until ``not_after`` (trustme's default when ``None``). Its PEM is written to a
    temporary ``ca_file``. Alternatively pass ``cert_chain`` and ``key`` PEM files.
    """
    with tempfile.TemporaryDirectory(prefix="gg-https-") as tmp:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca_file: str | None = None
        expiry: datetime | None = None
        if cert_chain is not None and key is not None:
            ctx.load_cert_chain(cert_chain, key)
            expiry = _pem_not_after(Path(cert_chain).read_bytes())
        else:
            import trustme

            authority = ca if ca is not None else trustme.CA()
            leaf = authority.issue_cert(hostname, host, not_after=not_after)
            leaf.configure_cert(ctx)
            ca_file = str(Path(tmp) / "ca.pem")
            authority.cert_pem.write_to_path(ca_file)
            expiry = _pem_not_after(leaf.cert_chain_pems[0].bytes())
        httpd = _TlsHttpServer((host, port), _family(host), ctx)
        state = HttpsServer(
            host=host,
            port=httpd.server_address[1],
            hostname=hostname,
            ca_file=ca_file,
            not_after=expiry,
        )
        httpd.state = state  # type: ignore[attr-defined]
        httpd.status = status  # type: ignore[attr-defined]
        httpd.body = body  # type: ignore[attr-defined]
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield state
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)


def _pem_not_after(pem: bytes) -> datetime | None:
    """Expiry of the first certificate of a PEM chain (cryptography comes with trustme)."""
    try:
        from cryptography import x509
    except ImportError:  # pragma: no cover - trustme depends on cryptography
        return None
    cert = x509.load_pem_x509_certificate(pem)
    return cert.not_valid_after_utc


# --------------------------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------------------------


@dataclass
class DnsServer:
    """A running UDP DNS responder."""

    host: str
    port: int
    queries: list[tuple[str, int]] = field(default_factory=list)

    @property
    def address(self) -> str:
        """``host:port`` (``[v6]:port``), as a DNS ``servers`` entry of the agent config."""
        return _hostport(self.host, self.port)


def _read_name(packet: bytes, offset: int) -> tuple[str, int]:
    """Read an uncompressed QNAME (queries never use compression)."""
    labels: list[str] = []
    while True:
        length = packet[offset]
        offset += 1
        if length == 0:
            return ".".join(labels), offset
        if length & 0xC0:
            raise ValueError("compressed name in question")
        labels.append(packet[offset : offset + length].decode("ascii", "replace"))
        offset += length


def dns_answer(
    query: bytes, records: Mapping[str, Sequence[str]], rcode: int | None = None
) -> tuple[bytes, str, int] | None:
    """Build the response to ``query``; ``None`` for a packet that is not a query.

    A and AAAA answers come from ``records`` (name -> addresses, IPv4 and IPv6 mixed; names
    compared case-insensitively without the trailing dot). A known name without an address of
    the asked type gets NOERROR with no answer (NODATA), an unknown one NXDOMAIN, unless
    ``rcode`` forces one.
    """
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    try:
        name, end = _read_name(query, 12)
        qtype, qclass = struct.unpack("!HH", query[end : end + 4])
    except (IndexError, ValueError, struct.error):
        return None
    question = query[12 : end + 4]
    table = {k.lower().rstrip("."): list(v) for k, v in records.items()}
    key = name.lower().rstrip(".")
    answers: list[bytes] = []
    if rcode is None:
        if key not in table:
            rcode = RCODE_NXDOMAIN
        else:
            rcode = RCODE_NOERROR
            for addr in table[key]:
                if qtype == _TYPE_A and ":" not in addr:
                    rdata = socket.inet_pton(socket.AF_INET, addr)
                elif qtype == _TYPE_AAAA and ":" in addr:
                    rdata = socket.inet_pton(socket.AF_INET6, addr)
                else:
                    continue
                # 0xC00C: pointer to the question's name at offset 12; TTL 60 s.
                answers.append(struct.pack("!HHHIH", 0xC00C, qtype, qclass, 60, len(rdata)) + rdata)
    # QR=1, copy opcode and RD, RA=1, AA=1.
    rflags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | (rcode & 0xF)
    header = struct.pack("!HHHHHH", ident, rflags, 1, len(answers), 0, 0)
    return header + question + b"".join(answers), key, qtype


@contextlib.contextmanager
def dns_server(
    host: str = "127.0.0.1",
    port: int = 0,
    records: Mapping[str, Sequence[str]] | None = None,
    *,
    rcode: int | None = None,
    silent: bool = False,
) -> Iterator[DnsServer]:
    """Answer DNS queries over UDP on ``host:port`` from ``records`` (see :func:`dns_answer`).

    ``rcode`` forces a response code (``RCODE_SERVFAIL``...); ``silent`` swallows every query
    without answering, to test timeouts.
    """
    table = dict(records or {})
    sock = socket.socket(_family(host), socket.SOCK_DGRAM)
    sock.bind((host, port))
    sock.settimeout(0.05)
    state = DnsServer(host=host, port=sock.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                packet, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = dns_answer(packet, table, rcode)
            if reply is None:
                continue
            data, name, qtype = reply
            state.queries.append((name, qtype))
            if not silent:
                with contextlib.suppress(OSError):
                    sock.sendto(data, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


# --------------------------------------------------------------------------------------------
# TCP
# --------------------------------------------------------------------------------------------


@dataclass
class TcpListener:
    """A running TCP listener that accepts and closes every connection."""

    host: str
    port: int
    accepted: int = 0


@contextlib.contextmanager
def tcp_listener(host: str = "127.0.0.1", port: int = 0) -> Iterator[TcpListener]:
    """Listen on ``host:port``; accept each connection and close it at once."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.settimeout(0.05)
    state = TcpListener(host=host, port=sock.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _peer = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            state.accepted += 1
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


# --------------------------------------------------------------------------------------------
# Program: serve inside a network namespace
# --------------------------------------------------------------------------------------------


def _split(hostport: str) -> tuple[str, int]:
    host, _, port = hostport.rpartition(":")
    return host.strip("[]"), int(port)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve what the arguments ask for until ``--lifetime`` seconds have passed."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.servers")
    parser.add_argument("--lifetime", type=float, default=60.0, help="exit after N seconds")
    parser.add_argument("--https", action="append", default=[], metavar="HOST:PORT")
    parser.add_argument("--cert-chain", help="PEM: leaf certificate then its chain")
    parser.add_argument("--key", help="PEM: the leaf's private key")
    parser.add_argument("--status", type=int, default=200, help="HTTP status to answer")
    parser.add_argument("--dns", action="append", default=[], metavar="HOST:PORT")
    parser.add_argument("--record", action="append", default=[], metavar="NAME=ADDR")
    parser.add_argument("--tcp", action="append", default=[], metavar="HOST:PORT")
    args = parser.parse_args(argv)
    records: dict[str, list[str]] = {}
    for item in args.record:
        name, _, addr = item.partition("=")
        records.setdefault(name, []).append(addr)
    deadline = time.monotonic() + args.lifetime
    with contextlib.ExitStack() as stack:
        for item in args.https:
            if args.cert_chain is None or args.key is None:
                parser.error("--https needs --cert-chain and --key")
            host, port = _split(item)
            stack.enter_context(
                https_server(
                    host, port, cert_chain=args.cert_chain, key=args.key, status=args.status
                )
            )
        for item in args.dns:
            stack.enter_context(dns_server(*_split(item), records))
        for item in args.tcp:
            stack.enter_context(tcp_listener(*_split(item)))
        print("ready", flush=True)
        while time.monotonic() < deadline:
            time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
