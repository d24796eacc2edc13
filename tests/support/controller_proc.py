"""A real ``govguard serve`` process for integration tests, and simulated agents enrolled into it.

Everything goes through the product's own entry points: ``govguard init`` makes the data
directory (CA, TLS certificate, database), ``config.yaml``'s ``listen`` is moved to a free
loopback port, ``govguard serve`` runs as a subprocess that tests may SIGKILL and start again on
the same data directory, tokens are created with ``govguard tokens create``, and agents enroll
with :func:`agent.enrollment.enroll` (a fresh Ed25519 key each, distinct hardware identities)::

    ctl = init_controller(tmp_path / "ctl", database_url=db_url)
    with ctl:                                   # started; stopped (or killed) at the end
        agents = enroll_agents(ctl, tmp_path / "agents", 10)
        daemon = agents[0].daemon(agents[0].transport())   # the real daemon, tiny reports
        daemon.cycle()
        ctl.kill(); ctl.start()
        ctl.reports()                           # [(agent_id, seq, report_id), ...]

Simulated agents queue and deliver with :class:`agent.daemon.Daemon` itself (signing, outbox,
status handling); only the collection is replaced by a small prebuilt report, so a thousand
reports cost seconds, not a thousand inventories.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from agent.report import SCHEMA_VERSION, Identity, Report
from agent.state import AgentState, load_key, state_paths
from agent.transport import Reply, Transport, TransportError

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from agent.daemon import Daemon

__all__ = [
    "Controller",
    "ControllerError",
    "CountingSender",
    "SimAgent",
    "Tally",
    "clone_controller",
    "drain",
    "enroll_agents",
    "free_port",
    "init_controller",
    "small_report",
    "start_worker",
]

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
#: Names in the test controller's certificate: agents use the address, the proxy "localhost".
SERVER_NAMES = ("127.0.0.1", "localhost")
ADMIN_PASSWORD = "correct horse battery staple 42"  # noqa: S105 - a throwaway test admin
#: Hang guard for a start; a healthy start takes one or two seconds.
START_TIMEOUT_S = 60.0
_LISTEN = re.compile(r"^  agents: \{host: [^,]+, port: \d+\}$", re.MULTILINE)


class ControllerError(RuntimeError):
    """A controller command or process failed; the message carries its output."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "controller.cli", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # One process, no forked workers: SIGKILL must take the whole controller down at once.
    env.pop("GOVGUARD_WORKERS", None)
    env.pop("GOVGUARD_DATA_DIR", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def set_listen(data_dir: Path, port: int, host: str = LOOPBACK) -> None:
    """Point ``listen.agents`` of the data directory's ``config.yaml`` at ``host:port``."""
    config = data_dir / "config.yaml"
    text = config.read_text(encoding="utf-8")
    new, count = _LISTEN.subn(f"  agents: {{host: {host}, port: {port}}}", text)
    if count != 1:
        raise ControllerError(f"{config}: no `agents:` line under `listen:` to edit")
    config.write_text(new, encoding="utf-8")


class Controller:
    """One controller data directory and (at most) one running ``govguard serve`` on it."""

    def __init__(self, data_dir: Path, port: int, host: str = LOOPBACK) -> None:
        """Use an initialised data directory whose ``listen.agents`` is ``host:port``."""
        self.data_dir = data_dir
        self.port = port
        self.host = host
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # -- where it is ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL agents enroll with (the address is in the certificate)."""
        return f"https://{self.host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The controller CA certificate agents pin."""
        return self.data_dir / "tls" / "ca.crt"

    @property
    def database_url(self) -> str:
        """The resolved database URL of the data directory."""
        from controller.settings import load_settings

        return load_settings(self.data_dir).database_url

    # -- the process ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the serve process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> Controller:
        """Start ``govguard serve`` and return once it answers HTTPS (raises if it died)."""
        if self.running:
            raise ControllerError(f"{self.data_dir}: the controller is already running")
        log = self.log_path.open("ab")
        try:
            log.write(f"--- start {self.starts + 1}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                _command("-v", "serve", "--data-dir", str(self.data_dir)),
                cwd=REPO,
                env=_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        self.starts += 1
        self.wait_listening(timeout_s)
        return self

    def wait_listening(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until ``GET /api/v1/ca`` answers over verified TLS."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ControllerError(
                    f"govguard serve exited with status {self.proc.returncode}:\n{self.log_tail()}"
                )
            conn = http.client.HTTPSConnection(self.host, self.port, context=ctx, timeout=5)
            try:
                conn.request("GET", "/api/v1/ca")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            if time.monotonic() > deadline:
                raise ControllerError(
                    f"govguard serve did not answer within {timeout_s:g} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the serve process (a crash: no graceful shutdown) and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM (graceful), SIGKILL if it does not exit within ``grace_s``.

        Idle kept-alive connections do not hold the stop (``controller.server`` drops them), so
        agents' transports may stay open.
        """
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.proc = None

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the serve log (for failure messages)."""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def __enter__(self) -> Controller:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the command line ----------------------------------------------------------------

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``govguard ARGS --data-dir DIR``; raises with its output when it fails."""
        done = subprocess.run(
            _command(*args, "--data-dir", str(self.data_dir)),
            cwd=REPO,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and done.returncode != 0:
            raise ControllerError(
                f"govguard {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}"
            )
        return done

    def create_token(self, uses: int, *, unit: str = "root", expires: str = "1h") -> str:
        """A new enrollment token for ``uses`` computers (``govguard tokens create``)."""
        out = self.cli(
            "tokens", "create", "--unit", unit, "--uses", str(uses), "--expires", expires
        )
        token = out.stdout.strip()
        if not token.startswith("gg1."):
            raise ControllerError(f"govguard tokens create printed no token: {out.stdout!r}")
        return token

    # -- the database --------------------------------------------------------------------

    def reports(self) -> list[tuple[str, int, str]]:
        """Every stored report as ``(agent_id, seq, report_id)``, read straight from the DB."""
        from sqlalchemy import select

        from controller.store.db import make_engine
        from controller.store.models import Report as ReportRow

        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(select(ReportRow.agent_id, ReportRow.seq, ReportRow.report_id))
                return [(str(a), int(s), str(r)) for a, s, r in rows]
        finally:
            engine.dispose()

    def report_count(self) -> int:
        """How many report rows the database holds."""
        from sqlalchemy import func, select

        from controller.store.db import make_engine
        from controller.store.models import Report as ReportRow

        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(ReportRow)).scalar_one())
        finally:
            engine.dispose()


def init_controller(
    data_dir: Path,
    *,
    database_url: str | None = None,
    port: int | None = None,
    server_names: Sequence[str] = SERVER_NAMES,
) -> Controller:
    """``govguard init`` a new data directory listening on ``127.0.0.1:port`` (not started)."""
    password_file = data_dir.parent / f"{data_dir.name}-password.txt"
    password_file.write_text(ADMIN_PASSWORD + "\n", encoding="utf-8")
    args = ["init", "--data-dir", str(data_dir), "--password-file", str(password_file)]
    for name in server_names:
        args += ["--server-name", name]
    if database_url is not None:
        args += ["--database-url", database_url]
    done = subprocess.run(
        _command(*args),
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise ControllerError(f"govguard init failed ({done.returncode}): {done.stderr.strip()}")
    port = port or free_port()
    set_listen(data_dir, port)
    return Controller(data_dir, port)


def clone_controller(source: Controller, data_dir: Path, *, port: int | None = None) -> Controller:
    """A second data directory with the same config (database) and TLS files, another port.

    Two ``govguard serve`` processes on one PostgreSQL database, as behind a load balancer.
    """
    data_dir.mkdir(mode=0o700)
    shutil.copy2(source.data_dir / "config.yaml", data_dir / "config.yaml")
    shutil.copytree(source.data_dir / "tls", data_dir / "tls")
    port = port or free_port()
    set_listen(data_dir, port)
    return Controller(data_dir, port)


def start_worker(data_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``govguard worker`` on ``data_dir`` (SNMP and SSH rounds, remediation runs),
    its output appended to ``log_path``; the caller terminates it."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            _command("-v", "worker", "--data-dir", str(data_dir)),
            cwd=REPO,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


# --------------------------------------------------------------------------- agents


def small_report(hostname: str) -> Report:
    """A tiny but schema-valid full report (what the simulated agents "collect")."""
    return Report(
        schema_version=SCHEMA_VERSION,
        kind="full",
        agent_version="0.1.0",
        collected_at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
        identity=Identity(hostname=hostname, macs=[]),
    )


@dataclass
class SimAgent:
    """An agent enrolled with the real enrollment code, in its own state directory."""

    index: int
    state_dir: Path
    state: AgentState

    @property
    def hostname(self) -> str:
        """The host name it enrolled with."""
        return f"sim-pc-{self.index:03d}"

    @property
    def agent_id(self) -> str:
        """Its id at the controller."""
        return self.state.agent_id

    def transport(
        self, url: str | None = None, *, timeout_s: float = 10.0, server_hostname: str | None = None
    ) -> Transport:
        """A transport with this agent's pinned CA, to its controller or to ``url``."""
        return Transport(
            url or self.state.controller_url,
            state_paths(self.state_dir).ca,
            timeout_s=timeout_s,
            server_hostname=server_hostname,
        )

    def daemon(self, sender: object, *, config: AgentConfig | None = None) -> Daemon:
        """The real :class:`agent.daemon.Daemon` of this agent, collecting a small report.

        Its outbox is an SQLite connection: build the daemon in the thread that uses it.
        """
        from agent.daemon import Daemon
        from agent.outbox import Outbox

        report = small_report(self.hostname)
        return Daemon(
            self.state_dir,
            state=self.state,
            key=load_key(self.state_dir),
            outbox=Outbox(state_paths(self.state_dir).outbox),
            sender=sender,  # type: ignore[arg-type]
            config=config,
            collect=lambda _config: report,
        )

    def queued(self) -> int:
        """Reports still in this agent's outbox (opens it read-only for the caller's thread)."""
        from agent.outbox import Outbox

        with Outbox(state_paths(self.state_dir).outbox) as outbox:
            return outbox.stats().queued


def identity(index: int, namespace: str = "") -> Identity:
    """A distinct hardware identity for simulated computer ``index``."""
    tag = f"{namespace}-{index:04d}"
    digits = hashlib.sha256(tag.encode()).hexdigest()
    return Identity(
        hostname=f"sim-pc-{index:03d}",
        machine_id=digits[:32],
        system_uuid=f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-8{digits[17:20]}-{digits[20:32]}",
        system_serial=f"SN-{digits[:12].upper()}",
        macs=[f"52:54:00:{digits[0:2]}:{digits[2:4]}:{digits[4:6]}"],
    )


def enroll_agents(
    controller: Controller,
    base_dir: Path,
    count: int,
    *,
    token: str | None = None,
    url: str | None = None,
    first: int = 0,
    parallel: int = 1,
) -> list[SimAgent]:
    """Enroll ``count`` agents (state dirs ``base_dir/agent-NNN``), ``parallel`` at a time.

    One token for all of them (``govguard tokens create --uses count``) unless ``token`` is
    given; ``url`` is the controller URL they enroll with (default: ``controller.url``).
    One at a time by default: concurrent enrollments on SQLite are refused with "database is
    locked" (a read-then-write transaction cannot upgrade its lock; see the faults report).
    """
    from agent.enrollment import enroll

    token = token or controller.create_token(count)
    target = url or controller.url
    namespace = controller.data_dir.name

    def one(index: int) -> SimAgent:
        state_dir = base_dir / f"agent-{index:03d}"
        state = enroll(
            target, token, state_dir, identity=identity(index, namespace), timeout_s=30.0
        )
        if state.status != "active":
            raise ControllerError(f"agent {index} enrolled as {state.status}, not active")
        return SimAgent(index, state_dir, state)

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, range(first, first + count)))


# --------------------------------------------------------------------------- delivery


@dataclass
class Tally:
    """What one agent's sender saw: answers by status and ``status`` field, transport errors."""

    stored: int = 0
    duplicate: int = 0
    transport_errors: int = 0
    other: dict[int, int] = field(default_factory=dict)  # HTTP status -> count (not 200)

    def add(self, other: Tally) -> None:
        """Sum ``other`` into this tally."""
        self.stored += other.stored
        self.duplicate += other.duplicate
        self.transport_errors += other.transport_errors
        for status, count in other.other.items():
            self.other[status] = self.other.get(status, 0) + count


class CountingSender:
    """Wraps a :class:`Transport` for the daemon and counts every answer (one thread only)."""

    def __init__(self, transport: Transport) -> None:
        """Count what ``transport`` gets back."""
        self.transport = transport
        self.tally = Tally()

    def post_report(
        self, envelope_header: str, body: bytes, extra_headers: Mapping[str, str] | None = None
    ) -> Reply:
        """POST through the transport and count the outcome."""
        try:
            reply = self.transport.post_report(envelope_header, body, extra_headers)
        except TransportError:
            self.tally.transport_errors += 1
            raise
        if reply.status == 204:
            self.tally.stored += 1
        elif reply.status == 200:
            if reply.data.get("status") == "stored":
                self.tally.stored += 1
            elif reply.data.get("status") == "duplicate":
                self.tally.duplicate += 1
        else:
            self.tally.other[reply.status] = self.tally.other.get(reply.status, 0) + 1
        return reply

    def close(self) -> None:
        """Close the transport (the daemon calls it on close)."""
        self.transport.close()


def drain(daemon: Daemon, deadline: float) -> None:
    """Deliver until the outbox is empty, sleeping until each retry is due (monotonic deadline).

    The daemon's own :meth:`agent.daemon.Daemon.deliver` does the work; this only replaces the
    service loop's sleeping, which waits for the next collection too.
    """
    from agent.daemon import Cycle

    while time.monotonic() < deadline:
        stats = daemon.outbox.stats()
        if stats.queued == 0:
            return
        due = stats.next_attempt_at
        if due is not None and due > time.time():
            time.sleep(min(due - time.time(), 1.0))
            continue
        daemon.deliver(Cycle())
