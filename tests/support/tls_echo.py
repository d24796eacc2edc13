"""A recording HTTPS server that plays a controller's part in agent-side tests.

Real TLS on loopback with a trustme CA. It records every request it parsed (method, path,
headers, body, and the exact bytes it read and wrote for it), how many connections it accepted
and how many TLS handshakes failed, and answers from a table of canned replies::

    from tests.support.tls_echo import Answer, json_answer, tls_echo

    with tls_echo(routes={("POST", "/api/v1/enroll"): json_answer(201, {...})}) as srv:
        srv.url             # "https://localhost:41234"
        srv.ca_file         # PEM of the CA that signed the server's certificate
        srv.ca_pem          # served at GET /api/v1/ca (override with ``ca_pem=``)
        srv.requests        # [Recorded(...)]
        srv.wait_for(lambda: srv.handshake_failures >= 1)

A request whose path is not in ``routes`` gets 404 with a JSON error body. ``silent_listener``
accepts TCP connections at the kernel level but never speaks, for timeout tests.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme

__all__ = [
    "Answer",
    "Recorded",
    "TlsEcho",
    "json_answer",
    "silent_listener",
    "tls_echo",
]


@dataclass(frozen=True)
class Answer:
    """A canned reply."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def json_answer(status: int, data: object) -> Answer:
    """A JSON reply."""
    return Answer(status, json.dumps(data).encode("utf-8"))


@dataclass
class Recorded:
    """One request as the server parsed it, with the bytes read for it and written in reply."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int
    bytes_in: int = 0
    bytes_out: int = 0


Route = Answer | Callable[[Recorded], Answer]


@dataclass
class TlsEcho:
    """A running recording server."""

    host: str
    port: int
    hostname: str
    ca_file: Path
    ca_pem: bytes
    routes: dict[tuple[str, str], Route]
    requests: list[Recorded] = field(default_factory=list)
    connections: int = 0
    closed: int = 0
    handshake_failures: int = 0
    #: Connections whose handshake resumed an earlier TLS session (no certificate sent).
    resumed: int = 0

    @property
    def url(self) -> str:
        """``https://<hostname>:<port>`` (no trailing slash, like a controller URL)."""
        return f"https://{self.hostname}:{self.port}"

    @property
    def address_url(self) -> str:
        """``https://<host>:<port>``: by address."""
        return f"https://{self.host}:{self.port}"

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
        """Poll ``condition`` until it holds (hang guard ``timeout_s``); returns the last value."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


class _Counting:
    """Wraps the handler's rfile/wfile and counts the bytes that pass."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.count = 0

    def readline(self, limit: int = -1) -> bytes:
        data: bytes = self.inner.readline(limit)
        self.count += len(data)
        return data

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.inner.read(size)
        self.count += len(data)
        return data

    def write(self, data: bytes) -> int:
        self.count += len(data)
        written: int = self.inner.write(data)
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        state = self.server.state
        state.connections += 1
        self.connection_no = state.connections
        try:
            # Handshake here, in the handler thread, so that a failed one is counted.
            self.request = self.server.ctx.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            state.handshake_failures += 1
            raise
        if self.request.session_reused:
            state.resumed += 1
        super().setup()
        self.rfile = _Counting(self.rfile)  # type: ignore[assignment]  # counts like a file
        self.wfile = _Counting(self.wfile)  # type: ignore[assignment]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            # Close the TLS socket now (not when it is garbage-collected) and only then count
            # it, so a test that sees ``closed`` go up knows the client can see the close too.
            self.request.close()
            self.server.state.closed += 1

    def handle_one_request(self) -> None:
        self.start_in = self.rfile.count  # type: ignore[attr-defined]
        super().handle_one_request()

    def _serve(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = Recorded(
            method=self.command,
            path=self.path,
            headers={k: v for k, v in self.headers.items()},
            body=body,
            connection=self.connection_no,
        )
        route = state.routes.get((self.command, self.path))
        if route is None:
            answer = json_answer(404, {"error": "not_found", "message": "no such path"})
        elif isinstance(route, Answer):
            answer = route
        else:
            answer = route(record)
        head = [f"HTTP/1.1 {answer.status} {_reason(answer.status)}"]
        head.append(f"Content-Type: {answer.content_type}")
        head.append(f"Content-Length: {len(answer.body)}")
        head.extend(f"{k}: {v}" for k, v in answer.headers)
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer.body
        # Recorded before the reply goes out, so a test that has its reply sees the record.
        record.bytes_in = self.rfile.count - self.start_in  # type: ignore[attr-defined]
        record.bytes_out = len(raw)
        state.requests.append(record)
        self.wfile.write(raw)
        self.wfile.flush()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests``."""


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, addr: tuple[str, int], ctx: ssl.SSLContext, state: TlsEcho, idle_timeout_s: float
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.idle_timeout_s = idle_timeout_s
        super().__init__(addr, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        # A client that goes silent must not pin a thread forever; like uvicorn's keep-alive
        # timeout, an idle kept-alive connection is closed without a word after this.
        sock.settimeout(self.idle_timeout_s)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Failed handshakes and dropped clients are what the verification tests provoke."""


@contextlib.contextmanager
def tls_echo(
    *,
    ca: trustme.CA | None = None,
    names: Sequence[str] = ("localhost", "127.0.0.1"),
    ca_pem: bytes | None = None,
    routes: Mapping[tuple[str, str], Route] | None = None,
    host: str = "127.0.0.1",
    idle_timeout_s: float = 5.0,
) -> Iterator[TlsEcho]:
    """Serve HTTPS on ``host`` (a free port) with a leaf for ``names`` issued by ``ca``.

    ``GET /api/v1/ca`` answers ``ca_pem`` (default: ``ca``'s certificate) unless ``routes``
    says otherwise. ``url`` uses ``names[0]``. A connection idle for ``idle_timeout_s`` is
    closed by the server (``closed`` counts closed connections).
    """
    authority = ca if ca is not None else trustme.CA()
    with tempfile.TemporaryDirectory(prefix="gg-tls-echo-") as tmp:
        ca_file = Path(tmp) / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_file))
        own_pem = authority.cert_pem.bytes()
        served = own_pem if ca_pem is None else ca_pem
        table: dict[tuple[str, str], Route] = {
            ("GET", "/api/v1/ca"): Answer(200, served, "application/x-pem-file")
        }
        table.update(routes or {})
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        authority.issue_cert(*names).configure_cert(ctx)
        state = TlsEcho(
            host=host, port=0, hostname=names[0], ca_file=ca_file, ca_pem=own_pem, routes=table
        )
        server = _Server((host, 0), ctx, state, idle_timeout_s)
        state.port = server.server_address[1]
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield state
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


@contextlib.contextmanager
def silent_listener(host: str = "127.0.0.1") -> Iterator[int]:
    """A port whose connections the kernel completes but nobody ever reads or answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
