"""``govguard serve`` as a real process: how it stops on SIGTERM, how it keeps connections.

An idle kept-alive TLS connection must not hold the stop for the grace period
(:data:`controller.server.GRACEFUL_S`), and a request in flight when the signal comes must
still get its answer, with its report stored before the process exits. Agents' connections
outlive their heartbeat interval, and a new one resumes the TLS session (bytes on commune
links).
"""

from __future__ import annotations

import asyncio
import http.client
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
import uvloop

from agent.transport import Reply, Transport, TransportError
from agent.wire import REPORTS_PATH
from controller.app import Surface
from controller.pki import create_ca, issue_server_cert
from controller.server import (
    DEFAULT_KEEP_ALIVE_S,
    GRACEFUL_S,
    _config,
    _unsent_bytes,
    keep_alive_s,
)
from controller.settings import AgentsConfig, ControllerConfig, load_settings, settings_for
from controller.store.db import make_engine
from tests.support.controller_proc import LOOPBACK, Controller, enroll_agents, init_controller

#: A stop with nothing in flight takes well under a second; the grace period is 20 s.
QUICK_STOP_S = 5.0


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    """A started controller on SQLite, killed at the end if a test left it running."""
    ctl = init_controller(tmp_path / "ctl")
    ctl.start()
    try:
        yield ctl
    finally:
        ctl.kill()


def _tls(ctl: Controller) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ctl.ca_file))


def _sigterm_and_wait(ctl: Controller) -> tuple[int, float]:
    """Send SIGTERM; the exit status and the seconds it took (a hang fails the test)."""
    assert ctl.proc is not None
    started = time.monotonic()
    ctl.proc.send_signal(signal.SIGTERM)
    try:
        code = ctl.proc.wait(timeout=GRACEFUL_S + 10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"govguard serve did not exit after SIGTERM:\n{ctl.log_tail()}")
    return code, time.monotonic() - started


def test_sigterm_closes_idle_keep_alive_connections_at_once(controller: Controller) -> None:
    # One client kept alive after a request, one that finished the handshake and sent nothing.
    used = http.client.HTTPSConnection(LOOPBACK, controller.port, context=_tls(controller))
    used.request("GET", "/api/v1/ca")
    answer = used.getresponse()
    answer.read()
    assert answer.status == 200
    assert answer.getheader("connection") != "close"  # really kept alive
    silent = _tls(controller).wrap_socket(
        socket.create_connection((LOOPBACK, controller.port), timeout=10),
        server_hostname=LOOPBACK,
    )
    try:
        code, took = _sigterm_and_wait(controller)
        # The server dropped both: the silent client reads the end of the connection.
        assert silent.recv(1) == b""
    finally:
        silent.close()
        used.close()
    log = controller.log_tail()
    assert code == 0, log
    assert took < QUICK_STOP_S, f"stopping took {took:.1f} s:\n{log}"
    assert "timeout graceful shutdown exceeded" not in log
    assert "govguard stopped" in log


@dataclass
class _Captured:
    """The request the agent's daemon would have sent."""

    envelope: str = ""
    body: bytes = b""
    headers: Mapping[str, str] | None = None

    def post_report(
        self, envelope_header: str, body: bytes, extra_headers: Mapping[str, str] | None = None
    ) -> Reply:
        """Keep the request and fail the delivery, so the report stays queued."""
        self.envelope, self.body, self.headers = envelope_header, body, extra_headers
        raise TransportError("captured for the test")


def _read_response(tls: ssl.SSLSocket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response, read until the server closes the connection."""
    data = b""
    while chunk := tls.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def test_sigterm_lets_an_upload_in_flight_finish_and_stores_it(tmp_path: Path, db_url: str) -> None:
    ctl = init_controller(tmp_path / "ctl", database_url=db_url)
    with ctl:
        (agent,) = enroll_agents(ctl, tmp_path / "agents", 1)
        captured = _Captured()
        daemon = agent.daemon(captured)
        try:
            daemon.cycle()
        finally:
            daemon.close()
        assert captured.body, "the daemon sent nothing"

        head = [
            f"POST {REPORTS_PATH} HTTP/1.1",
            f"Host: {LOOPBACK}:{ctl.port}",
            f"GG-Envelope: {captured.envelope}",
            *(f"{name}: {value}" for name, value in (captured.headers or {}).items()),
            f"Content-Length: {len(captured.body)}",
            # The server answers "100 Continue" when the application starts reading the body:
            # proof that the request is in flight before the signal is sent.
            "Expect: 100-continue",
        ]
        half = len(captured.body) // 2
        # Another agent idle in its keep-alive pool must not hold the stop after the answer.
        idle = http.client.HTTPSConnection(LOOPBACK, ctl.port, context=_tls(ctl))
        idle.request("GET", "/api/v1/ca")
        idle.getresponse().read()
        tls = _tls(ctl).wrap_socket(
            socket.create_connection((LOOPBACK, ctl.port), timeout=30), server_hostname=LOOPBACK
        )
        with tls:
            tls.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii"))
            assert tls.recv(4096).startswith(b"HTTP/1.1 100 ")
            tls.sendall(captured.body[:half])

            assert ctl.proc is not None
            ctl.proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)  # the server has begun stopping and waits for this request
            assert ctl.proc.poll() is None, ctl.log_tail()
            tls.sendall(captured.body[half:])
            status, headers, body = _read_response(tls)
            answered = time.monotonic()

        code = ctl.proc.wait(timeout=GRACEFUL_S + 10)
        took = time.monotonic() - answered
        idle.close()
        log = ctl.log_tail()
        assert status in (200, 204), body
        assert headers.get("connection") == "close"  # no further request on a stopping server
        assert code == 0, log
        assert took < QUICK_STOP_S, f"exit {took:.1f} s after the answer:\n{log}"
        assert "timeout graceful shutdown exceeded" not in log
        ctl.proc = None
        # The writer stored the report before the process exited.
        assert [(a, s) for a, s, _ in ctl.reports()] == [(agent.agent_id, 1)]


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel's send queue is read on Linux")
def test_a_response_the_client_has_not_read_yet_counts_as_unsent(tmp_path: Path) -> None:
    """What keeps a stopping server from cutting off a slow reader: the unsent byte count."""
    ca_cert, ca_key = create_ca("test CA")
    cert, key = issue_server_cert(ca_cert, ca_key, [LOOPBACK])
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_tls = ssl.create_default_context(cadata=ca_cert.decode())
    size = 16 * 1024 * 1024  # more than loopback's socket buffers hold

    def read_all(sock: ssl.SSLSocket) -> int:
        got = 0
        while got < size and (chunk := sock.recv(1 << 20)):
            got += len(chunk)
        return got

    async def scenario() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[asyncio.Transport] = loop.create_future()

        class Accept(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                # uvloop's TLS transport is not an asyncio.Transport subclass, but behaves as one.
                accepted.set_result(cast(asyncio.Transport, transport))

        server = await loop.create_server(Accept, LOOPBACK, 0, ssl=server_tls)
        port = server.sockets[0].getsockname()[1]
        raw = await loop.run_in_executor(None, socket.create_connection, (LOOPBACK, port), 10)
        client = await loop.run_in_executor(
            None, lambda: client_tls.wrap_socket(raw, server_hostname=LOOPBACK)
        )
        try:
            transport = await asyncio.wait_for(accepted, 10)
            await asyncio.sleep(0.2)  # the handshake's last bytes (session tickets) arrive
            idle = _unsent_bytes(transport)
            transport.write(b"x" * size)
            await asyncio.sleep(0.2)
            stalled = _unsent_bytes(transport)  # the client reads nothing yet
            received = loop.run_in_executor(None, read_all, client)
            deadline = time.monotonic() + 10
            while (drained := _unsent_bytes(transport)) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert await received == size
            transport.abort()
            return idle, stalled, drained
        finally:
            client.close()
            server.close()
            await server.wait_closed()

    result: list[tuple[int, int, int]] = []
    # Its own thread: a fresh uvloop loop, as in `govguard serve`, away from pytest's.
    runner = threading.Thread(target=lambda: result.append(uvloop.run(scenario())))
    runner.start()
    runner.join(60)
    [(idle, stalled, drained)] = result
    assert idle == 0
    assert stalled > 1024 * 1024
    assert drained == 0


@pytest.mark.parametrize(
    ("interval_s", "jitter", "surface", "expected"),
    [
        pytest.param(300, 0.1, "agents", 390, id="default: 5 min + 10 % + 60 s margin"),
        pytest.param(300, 0.1, "all", 390, id="agents and admin on one port"),
        pytest.param(300, 0.1, "admin", DEFAULT_KEEP_ALIVE_S, id="admin UI: uvicorn's default"),
        pytest.param(600, 0.2, "agents", 780, id="10 min + 20 %"),
        pytest.param(3600, 0.1, "agents", DEFAULT_KEEP_ALIVE_S, id="hourly: not worth holding"),
    ],
)
def test_agent_connections_outlive_the_heartbeat_interval(
    tmp_path: Path, interval_s: int, jitter: float, surface: Surface, expected: int
) -> None:
    agents = AgentsConfig(interval_s=interval_s, full_every_s=86400, jitter=jitter)
    settings = settings_for(tmp_path, ControllerConfig(agents=agents))
    assert keep_alive_s(settings, surface) == expected


def test_served_config_keeps_agents_and_sends_one_session_ticket(tmp_path: Path) -> None:
    settings = load_settings(init_controller(tmp_path / "ctl").data_dir)
    engine = make_engine(settings.database_url)
    try:
        config = _config(settings, "agents", engine)
        config.load()
    finally:
        engine.dispose()
    assert config.timeout_keep_alive == 390
    assert config.ssl is not None
    assert config.ssl.num_tickets == 1  # agents resume with the last one; a second is waste


def test_an_agent_reconnecting_resumes_its_tls_session(controller: Controller) -> None:
    """The real server (uvicorn, the data directory's certificate) resumes sessions."""
    with Transport(controller.url, controller.ca_file) as transport:
        assert transport.post_json("/api/v1/enroll", b"{}").status in {400, 422}
        assert transport.post_json("/api/v1/enroll", b"{}").status in {400, 422}
        assert (transport.connections, transport.resumed) == (1, 0)  # kept alive
        transport.disconnect()
        assert transport.post_json("/api/v1/enroll", b"{}").status in {400, 422}
        assert (transport.connections, transport.resumed) == (2, 1)
