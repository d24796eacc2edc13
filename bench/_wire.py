"""Bytes on the TLS stream: a loopback TCP relay that counts what passes each way.

bench/ingest.py puts it between the agent's own HTTPS client and the controller, so the count
is the TLS stream exactly as both ends write it: handshake messages, session tickets, record
headers, padding and authentication tags, alerts. It cannot see IP and TCP headers (the kernel
adds and strips those), so the figures exclude them.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from agent.transport import pinned_context

_CHUNK = 65536
#: After one direction ended, how long the other may still pass bytes (the peer's close).
_CLOSE_GRACE_S = 2.0


class Counts(NamedTuple):
    """Bytes relayed client to server (``up``) and back (``down``), and connections accepted."""

    up: int
    down: int
    connections: int

    @property
    def total(self) -> int:
        """Both directions."""
        return self.up + self.down


class CountingProxy:
    """Relay TCP connections from a loopback port to ``upstream_port``, counting bytes.

    Counted before forwarding, so by the time a client holds a reply its bytes are counted, and
    by the time a server answers the request its bytes are too: the counts can be read as soon
    as a request returns. The closing exchange of a connection comes later; wait for it with
    :meth:`wait_idle`.
    """

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        """Listen on a free loopback port (:attr:`port`); relaying starts with :meth:`start`."""
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        # accept() is not reliably woken by close() from another thread: poll a stop flag.
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._cond = threading.Condition()
        self._up = self._down = self._connections = self._open = 0
        self._stop = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)

    def start(self) -> CountingProxy:
        """Start accepting connections."""
        self._acceptor.start()
        return self

    def close(self) -> None:
        """Stop accepting; relays still open end when their peers close."""
        self._stop.set()
        if self._acceptor.is_alive():
            self._acceptor.join()
        self._listener.close()

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def counts(self) -> Counts:
        """What was relayed since the last :meth:`reset`."""
        with self._cond:
            return Counts(self._up, self._down, self._connections)

    def reset(self) -> None:
        """Start counting from zero."""
        with self._cond:
            self._up = self._down = self._connections = 0

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every relayed connection has ended (both directions closed)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._open:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"a relayed connection stayed open for {timeout:.0f} s")
                self._cond.wait(left)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._cond:
                self._connections += 1
                self._open += 1
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                return
            with client, upstream:
                for sock in (client, upstream):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                done = threading.Event()
                pumps = [
                    threading.Thread(target=self._pump, args=(client, upstream, True, done)),
                    threading.Thread(target=self._pump, args=(upstream, client, False, done)),
                ]
                for pump in pumps:
                    pump.daemon = True
                    pump.start()
                done.wait()
                # One side closed: the other gets a moment to answer (its close_notify or
                # FIN), then both sockets go, which also ends a pump still blocked in recv.
                pumps[0].join(_CLOSE_GRACE_S)
                pumps[1].join(_CLOSE_GRACE_S)
                for sock in (client, upstream):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                for pump in pumps:
                    pump.join()
        finally:
            with self._cond:
                self._open -= 1
                self._cond.notify_all()

    def _pump(
        self, src: socket.socket, dst: socket.socket, upward: bool, done: threading.Event
    ) -> None:
        try:
            while data := src.recv(_CHUNK):
                with self._cond:
                    if upward:
                        self._up += len(data)
                    else:
                        self._down += len(data)
                dst.sendall(data)
            # Pass the end of stream on, as the peer would see it without a relay.
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            done.set()


def tls_version(port: int, ca_file: Path, server_hostname: str = "localhost") -> str:
    """The TLS version and cipher the agent's pinned context negotiates with ``port``."""
    context: ssl.SSLContext = pinned_context(ca_file)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        cipher = tls.cipher()
        return f"{tls.version()} {cipher[0] if cipher else '?'}"
