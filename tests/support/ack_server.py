"""A minimal but honest report endpoint over real HTTPS, for the agent daemon's tests.

It does what the controller's ``POST /api/v1/reports`` does, in the same order, with the shared
code: parse the ``GG-Envelope`` header (:func:`agent.envelope.from_header`), look up the agent's
public key, check key id and status, the body digest and the Ed25519 signature
(:func:`agent.keys.verify`), and only then gunzip and decode the report with the report model.
A repeated ``(agent, seq)`` answers ``duplicate`` and stores nothing. Settings are sent back when
the agent's ``GG-Settings`` version differs from the server's.

Tests can force answers: every entry of ``server.forced`` (a status, or a status and a JSON
object) answers one request, before any check, to play an unavailable or refusing controller::

    with ack_server() as server:
        key, state = enroll_into(state_dir, server)
        server.forced.extend([503, 503])       # the next two requests fail
        ...
        server.stored                          # the reports accepted, in order
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import socketserver
import ssl
import tempfile
import threading
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import keys
from agent.envelope import HEADER, Envelope, EnvelopeError, body_digest, from_header
from agent.report import Report, decode
from agent.state import AgentState, save_key, save_state, state_paths
from agent.wire import CLOCK_HEADER, REPORTS_PATH, SETTINGS_HEADER, AgentSettings

__all__ = ["AckServer", "Received", "ack_server", "enroll_into"]

MAX_BODY = 1024 * 1024


@dataclass
class Received:
    """A report the server stored."""

    envelope: Envelope
    report: Report
    header: str
    body: bytes
    clock: str | None
    settings_version: str | None


@dataclass
class AckServer:
    """State of a running server; tests read and change it between requests."""

    url: str
    ca_file: Path
    hostname: str
    agents: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # id -> (public, status)
    settings: AgentSettings = field(default_factory=AgentSettings)
    forced: deque[int | tuple[int, dict[str, Any]]] = field(default_factory=deque)
    stored: list[Received] = field(default_factory=list)
    seen: dict[tuple[str, int], str] = field(default_factory=dict)  # (agent, seq) -> report id
    answers: list[int] = field(default_factory=list)  # every status answered, in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, agent_id: str, public: bytes, status: str = "active") -> None:
        """Know an agent (as enrollment would have recorded it)."""
        self.agents[agent_id] = (public, status)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        state: AckServer = self.server.state  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(state, 413, {"error": "too_large", "message": "Body too large."})
            return
        body = self.rfile.read(length)
        with state.lock:
            status, reply = self._handle(state, body)
        self._answer(state, status, reply)

    def _handle(self, state: AckServer, body: bytes) -> tuple[int, dict[str, Any]]:
        if state.forced:
            forced = state.forced.popleft()
            if isinstance(forced, tuple):
                return forced
            return forced, {"error": f"forced_{forced}", "message": "Forced by the test."}
        if self.path != REPORTS_PATH:
            return 404, {"error": "not_found", "message": "No such path."}
        try:
            env = from_header(self.headers.get(HEADER) or "")
        except EnvelopeError as exc:
            return 400, {"error": "bad_envelope", "message": str(exc)}
        known = state.agents.get(env.agent_id)
        if known is None:
            return 401, {"error": "unknown_agent", "message": "Unknown agent."}
        public, status = known
        if keys.key_id(public) != env.key_id:
            return 401, {"error": "wrong_key", "message": "Wrong key."}
        if status == "revoked":
            return 403, {"error": "revoked", "message": "This agent was revoked."}
        if status == "pending":
            return 403, {"error": "pending_approval", "message": "Waiting for approval."}
        if body_digest(body) != env.digest:
            return 401, {"error": "bad_digest", "message": "Digest mismatch."}
        if not keys.verify(public, env):
            return 401, {"error": "bad_signature", "message": "Bad signature."}
        try:
            report = decode(gzip.decompress(body))
        except (OSError, EOFError, zlib.error):
            return 400, {"error": "bad_gzip", "message": "Not gzip."}
        except ValueError as exc:  # msgspec errors are ValueErrors
            return 422, {"error": "schema", "message": str(exc)}
        if report.kind != env.kind:
            return 422, {"error": "schema", "message": "Envelope kind differs from the report."}
        reply: dict[str, Any] = {"seq": env.seq}
        if (env.agent_id, env.seq) in state.seen:
            reply["status"] = "duplicate"
        else:
            state.seen[(env.agent_id, env.seq)] = env.report_id
            reply["status"] = "stored"
            state.stored.append(
                Received(
                    envelope=env,
                    report=report,
                    header=self.headers[HEADER],
                    body=body,
                    clock=self.headers.get(CLOCK_HEADER),
                    settings_version=self.headers.get(SETTINGS_HEADER),
                )
            )
        if self.headers.get(SETTINGS_HEADER) != str(state.settings.version):
            import msgspec

            reply["settings"] = msgspec.to_builtins(state.settings)
        return 200, reply

    def _answer(self, state: AckServer, status: int, reply: dict[str, Any]) -> None:
        data = json.dumps(reply, separators=(",", ":")).encode()
        state.answers.append(status)
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``stored`` and ``answers``."""


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        super().__init__(addr, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        sock.settimeout(10)
        return self.ctx.wrap_socket(sock, server_side=True), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Dropped clients are expected in tests."""


@contextlib.contextmanager
def ack_server(hostname: str = "localhost") -> Iterator[AckServer]:
    """Serve the report endpoint over HTTPS on 127.0.0.1 (certificate from a trustme CA)."""
    import trustme

    with tempfile.TemporaryDirectory(prefix="gg-ack-") as tmp:
        ca = trustme.CA()
        leaf = ca.issue_cert(hostname, "127.0.0.1")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        leaf.configure_cert(ctx)
        ca_file = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        httpd = _Server(("127.0.0.1", 0), ctx)
        state = AckServer(
            url=f"https://{hostname}:{httpd.server_address[1]}",
            ca_file=ca_file,
            hostname=hostname,
        )
        httpd.state = state  # type: ignore[attr-defined]
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


def enroll_into(
    state_dir: Path,
    server: AckServer,
    *,
    agent_id: str = "0123456789abcdef",
    status: str = "active",
) -> AgentState:
    """Write an enrolled agent's state into ``state_dir`` and register it with ``server``.

    What ``govguard-agent enroll`` leaves behind, minus the enrollment exchange itself: a new
    key, ``identity.json`` and the pinned CA.
    """
    key = keys.generate()
    public = keys.public_raw(key)
    state = AgentState(
        controller_url=server.url,
        server_hostname=server.hostname,
        agent_id=agent_id,
        key_id=keys.key_id(public),
        status="pending" if status == "pending" else "active",
        enrolled_at="2026-11-28T00:00:00Z",
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    save_key(state_paths(state_dir).key, key)
    state_paths(state_dir).ca.write_bytes(server.ca_file.read_bytes())
    save_state(state_dir, state)
    server.register(agent_id, public, status)
    return state


# --------------------------------------------------------------------------------------------
# A computer and a clock for the daemon's tests
# --------------------------------------------------------------------------------------------


class FakeClock:
    """Epoch seconds that move only when the daemon sleeps (or the test says so)."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the sleep and jump ahead."""
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class FakeHost:
    """The facts of one office PC; tests change them between collections.

    Every collection also changes the values a real computer changes on every run (free disk
    space, probe latencies, durations, signature age), which must not count as a change.
    ``packages`` sets the size of the inventory (a Windows PC has a few hundred programs).
    """

    hostname: str = "ubnd-xa-01"
    firewall: bool = True
    internet: bool = True
    packages: int = 40
    extra_package: str | None = None
    runs: int = 0
    configs: list[Any] = field(default_factory=list)

    def collect(self, config: Any) -> Report:
        """A collector for :class:`agent.daemon.Daemon` (records the config it was given)."""
        from datetime import UTC, datetime

        from agent.report import (
            SCHEMA_VERSION,
            CollectorRun,
            Connectivity,
            Hardware,
            Identity,
            Security,
            Software,
        )
        from agent.report.connectivity import HttpsResult, Internet
        from agent.report.hardware import Partition
        from agent.report.security import AntiMalware, Firewall
        from agent.report.software import Package, Service

        self.runs += 1
        self.configs.append(config)
        n = self.runs
        names = [f"Program {i:04d} {_word(i)}" for i in range(self.packages)]
        if self.extra_package:
            names.append(self.extra_package)
        return Report(
            schema_version=SCHEMA_VERSION,
            kind="full",
            agent_version="0.1.0",
            collected_at=datetime.fromtimestamp(1_795_000_000 + 300 * n, UTC),
            identity=Identity(
                hostname=self.hostname, machine_id="0f" * 16, macs=["52:54:00:12:34:56"]
            ),
            hardware=Hardware(
                partitions=[
                    Partition(
                        device="C:",
                        mountpoint="C:\\",
                        size_bytes=256_000_000_000,
                        used_bytes=100_000_000_000 + n * 4096,
                        free_bytes=156_000_000_000 - n * 4096,
                        used_percent=round(39.0 + n / 1000, 3),
                    )
                ]
            ),
            software=Software(
                package_manager="windows",
                packages=[
                    Package(
                        name=name,
                        version=f"{i % 17}.{i % 5}.{(i * 7919) % 10007}",
                        publisher=f"Vendor {_word(i * 3)}",
                    )
                    for i, name in enumerate(names)
                ],
                services=[
                    Service(name=f"svc{_word(i)}", running=(i + n) % 3 == 0)
                    for i in range(self.packages // 2)
                ],
            ),
            connectivity=Connectivity(
                https=[
                    HttpsResult(
                        name="portal",
                        url="https://dichvucong.gov.vn/",
                        role="internet",
                        ok=self.internet,
                        status=200 if self.internet else None,
                        latency_ms=40.0 + n % 13,
                        error=None if self.internet else "connect: timed out",
                    )
                ],
                internet=Internet(reachable=self.internet, succeeded=int(self.internet), total=1),
                duration_ms=120.0 + n % 7,
            ),
            security=Security(
                firewall=Firewall(enabled=self.firewall, product="Windows Defender Firewall"),
                antimalware=[
                    AntiMalware(
                        name="Windows Defender",
                        source="defender",
                        enabled=True,
                        signature_age_days=round(0.01 * n, 2),
                    )
                ],
            ),
            collectors=[CollectorRun(name="identity", duration_ms=1.0 + n % 3, ok=True)],
        )


def _word(i: int) -> str:
    """A deterministic pseudo-word, so package names do not compress unrealistically well."""
    letters = "aeioubcdfghklmnpqrstvxy"
    out = []
    for _ in range(7):
        i = (i * 1103515245 + 12345) % 2**31
        out.append(letters[i % len(letters)])
    return "".join(out)
