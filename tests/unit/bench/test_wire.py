"""The counting relay of bench/ingest.py's wire figures: it must pass and count every byte."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from bench._wire import CountingProxy, Counts


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A loopback server that answers each chunk with the chunk twice, until the client closes."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data * 2)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield int(server.getsockname()[1])
    stop.set()
    acceptor.join()
    server.close()


def exchange(port: int, message: bytes) -> bytes:
    """Send ``message``, read the doubled answer, close."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(message)
        answer = b""
        while len(answer) < 2 * len(message):
            answer += sock.recv(65536)
    return answer


def test_relays_and_counts_each_direction(echo_port: int) -> None:
    with CountingProxy(echo_port) as proxy:
        assert exchange(proxy.port, b"x" * 1000) == b"x" * 2000
        proxy.wait_idle()
        assert proxy.counts() == Counts(up=1000, down=2000, connections=1)


def test_reset_counts_from_zero_and_connections_add_up(echo_port: int) -> None:
    with CountingProxy(echo_port) as proxy:
        exchange(proxy.port, b"first")
        proxy.wait_idle()
        proxy.reset()
        for _ in range(3):
            exchange(proxy.port, b"abc")
        proxy.wait_idle()
        counts = proxy.counts()
    assert counts == Counts(up=9, down=18, connections=3)
    assert counts.total == 27


def test_counts_are_complete_when_the_answer_arrives(echo_port: int) -> None:
    """Read without waiting for the close: what the client holds is already counted."""
    with CountingProxy(echo_port) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            sock.sendall(b"hello")
            answer = b""
            while len(answer) < 10:
                answer += sock.recv(65536)
            assert proxy.counts() == Counts(up=5, down=10, connections=1)
        proxy.wait_idle()
