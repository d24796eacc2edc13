"""A TLS-terminating reverse proxy that loses chosen responses after the controller answered.

It reproduces what a flaky commune link or a dying reverse proxy does: the request reaches the
controller, the controller commits and answers, and the answer never reaches the agent. The
agent must then resend the same report, and the controller must answer "duplicate" without
storing it twice.

The proxy presents a certificate issued by the controller's own CA for the controller's name, so
the agent's pinning accepts it, exactly as it would accept a real reverse proxy the operator set
up with a certificate from ``govguard``'s CA::

    with cutting_proxy(upstream, ca_file, cert_pem, key_pem, cut=lambda n: n % 3 == 0) as proxy:
        proxy.url        # "https://localhost:<port>"
        proxy.cut        # how many answers were thrown away
        proxy.forwarded  # how many requests reached the upstream
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class Proxy:
    """The running proxy and what it did."""

    host: str
    port: int
    hostname: str
    forwarded: int = 0
    cut: int = 0

    @property
    def url(self) -> str:
        """Where agents should send to instead of the controller."""
        return f"https://{self.hostname}:{self.port}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _relay(self) -> None:
        srv: Any = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPSConnection(
            srv.upstream_host, srv.upstream_port, context=srv.client_ctx, timeout=30
        )
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
        except OSError:
            self.send_error(502)
            return
        finally:
            upstream.close()
        with srv.lock:
            srv.state.forwarded += 1
            number = srv.state.forwarded
            drop = srv.cut_rule(number)
            if drop:
                srv.state.cut += 1
        if drop:
            # The controller has answered (and committed); the agent never hears it.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._relay()

    def do_POST(self) -> None:
        self._relay()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the counters."""


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        super().__init__(addr, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        sock.settimeout(30)
        return self.ctx.wrap_socket(sock, server_side=True), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that see their connection cut are the point of this proxy."""


@contextlib.contextmanager
def cutting_proxy(
    upstream_url: str,
    ca_file: Path,
    cert_pem: bytes,
    key_pem: bytes,
    *,
    cut: Callable[[int], bool],
    hostname: str = "localhost",
    host: str = "127.0.0.1",
) -> Iterator[Proxy]:
    """Relay HTTPS to ``upstream_url``; drop the answer to request number ``n`` when ``cut(n)``.

    ``cert_pem``/``key_pem`` is the proxy's own certificate (issue it from the controller's CA
    for ``hostname``); ``ca_file`` is the CA the proxy checks the upstream against.
    """
    parts = urlsplit(upstream_url)
    with tempfile.TemporaryDirectory(prefix="gg-proxy-") as tmp:
        cert_file, key_file = Path(tmp) / "proxy.crt", Path(tmp) / "proxy.key"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(cert_file, key_file)
        client_ctx = ssl.create_default_context(cafile=str(ca_file))
        httpd = _Server((host, 0), server_ctx)
        state = Proxy(host=host, port=httpd.server_address[1], hostname=hostname)
        httpd.state = state  # type: ignore[attr-defined]
        httpd.lock = threading.Lock()  # type: ignore[attr-defined]
        httpd.cut_rule = cut  # type: ignore[attr-defined]
        httpd.client_ctx = client_ctx  # type: ignore[attr-defined]
        httpd.upstream_host = parts.hostname  # type: ignore[attr-defined]
        httpd.upstream_port = parts.port or 443  # type: ignore[attr-defined]
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
