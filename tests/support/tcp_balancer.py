"""A round-robin TCP load balancer that passes TLS through, like nginx's ``stream {}`` block.

Each accepted connection goes to the next upstream in turn; bytes are copied both ways
untouched, so the agent's TLS session (and its CA pinning) ends at the controller process
itself, exactly as with the ``packaging/nginx/govguard.conf`` example::

    with tcp_balancer([("127.0.0.1", 8443), ("127.0.0.1", 8444)]) as lb:
        lb.port          # where agents connect
        lb.connections   # accepted connections per upstream, in the upstreams' order

Binds to loopback only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"
_CHUNK = 65536


@dataclass
class Balancer:
    """The running balancer and what it did."""

    port: int
    upstreams: tuple[tuple[str, int], ...]
    #: Connections handed to each upstream (same order as ``upstreams``).
    connections: list[int] = field(default_factory=list)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until ``source`` closes, then half-close ``sink``."""
    with contextlib.suppress(OSError):
        while data := source.recv(_CHUNK):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _serve(client: socket.socket, upstream: tuple[str, int]) -> None:
    try:
        server = socket.create_connection(upstream, timeout=10)
    except OSError:
        client.close()  # the agent sees a refused/closed connection and retries, as with nginx
        return
    server.settimeout(None)
    back = threading.Thread(target=_pipe, args=(server, client), daemon=True)
    back.start()
    _pipe(client, server)
    back.join()
    client.close()
    server.close()


@contextlib.contextmanager
def tcp_balancer(upstreams: Sequence[tuple[str, int]]) -> Iterator[Balancer]:
    """Listen on a free loopback port and spread connections over ``upstreams`` in turn."""
    listener = socket.create_server((LOOPBACK, 0), backlog=512)
    balancer = Balancer(
        port=listener.getsockname()[1],
        upstreams=tuple(upstreams),
        connections=[0] * len(upstreams),
    )
    stop = threading.Event()
    lock = threading.Lock()

    def accept() -> None:
        turn = 0
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with lock:
                index = turn % len(upstreams)
                turn += 1
                balancer.connections[index] += 1
            threading.Thread(
                target=_serve, args=(client, balancer.upstreams[index]), daemon=True
            ).start()

    acceptor = threading.Thread(target=accept, name="tcp-balancer", daemon=True)
    acceptor.start()
    try:
        yield balancer
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        acceptor.join(timeout=5)
