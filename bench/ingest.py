"""Ingest benchmark: signed reports over HTTPS into a running controller, against a bare endpoint.

Starts a real controller (``govguard init`` + ``govguard serve``) on SQLite and on PostgreSQL,
enrolls N simulated agents through the real enrollment API, builds their reports as the agent's
daemon does (``agent.report.Report`` objects, ``agent.daemon.gzip_body``), pre-signs them with
the agent's own code (``agent.keys``, ``agent.envelope``) and sends them with the agent's own
HTTPS client (``agent.transport.Transport``, CA pinning, keep-alive). In the same run the same
requests go to a *bare* endpoint (FastAPI under the same uvicorn and TLS settings, with as many
worker processes as the controller, reading and discarding the body: ``bench/_bare_app.py``),
so our ingest's cost shows as a ratio.

Figures per (database, kind): reports/s at full load (closed loop), controller CPU per report,
p50/p99 latency in a paced run at a fixed rate (open loop, latency counted from the scheduled
send time so a stall is not hidden), and bytes per host per day: on the HTTP level (request and
reply as the agent's transport counts them; the figure the 150 KB goal is compared with), as
payload only (envelope header and body), and on the TLS stream through a counting relay
(``bench/_wire.py``), once on a kept-alive connection and once with a new connection and full
handshake per report, which is what an agent reporting every 5 minutes pays (the controller
closes idle connections after 5 s).
The simulated agents send ``GG-Settings`` with the version they hold, as the daemon does.

    .venv/bin/python bench/ingest.py                    # both databases, defaults
    .venv/bin/python bench/ingest.py --quick            # 3000 reports per run, 20 agents
    .venv/bin/python bench/ingest.py --db sqlite --agents 100 --reports 20000 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from agent import keys  # noqa: E402
from agent.daemon import gzip_body, heartbeat_report  # noqa: E402
from agent.digest import POSTURE_SECTIONS  # noqa: E402
from agent.envelope import HEADER as ENVELOPE_HEADER  # noqa: E402
from agent.envelope import (  # noqa: E402
    Envelope,
    body_digest,
    new_report_id,
    to_header,
    utc_stamp,
)
from agent.report import Report  # noqa: E402
from agent.transport import Reply, Transport, TransportError  # noqa: E402
from agent.wire import SETTINGS_HEADER  # noqa: E402
from bench._wire import CountingProxy, tls_version  # noqa: E402

BIN = Path(sys.executable).parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HEARTBEATS_PER_DAY = 24 * 60 // 5
#: What the controller answers to a stored report: 204 when the agent's settings are current,
#: 200 with the settings otherwise (and from controllers before the 204 reply).
STORED = frozenset({200, 204})
#: The report kinds whose bytes are measured, smallest first.
KINDS_BY_SIZE = ("heartbeat-unchanged", "heartbeat", "full")


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until something accepts on ``port``; fail early if ``proc`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {timeout:.0f} s")


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's list, /proc/PID/task/*/children)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(v) for v in (task / "children").read_text().split())
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process tree, from /proc/PID/stat of each process.

    Sums ``pid`` and every living descendant (``GOVGUARD_WORKERS`` > 1 forks workers), each
    with the CPU of its own waited-for children (cutime, cstime).
    """
    ticks = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
            pending.extend(_children(current))
    return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running(argv: list[str], port: int, log: Path, env: dict[str, str]) -> Iterator[int]:
    """Run a server process until the block ends; yields its pid."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_listening(port, proc)
            yield proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def govguard(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    """Run the ``govguard`` CLI; exit the bench with its stderr when it fails."""
    done = subprocess.run(
        [str(BIN / "govguard"), *args], env=env, input=stdin, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"govguard {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Controller:
    """A controller data directory and where it listens."""

    name: str
    data_dir: Path
    port: int
    url: str
    ca_file: Path
    env: dict[str, str]


def init_controller(
    work: Path, name: str, database_url: str | None, ingest: dict[str, int] | None = None
) -> Controller:
    """``govguard init`` a data directory listening on a free loopback port.

    ``ingest`` overrides keys of the config's ``ingest`` block (``batch_wait_ms``, ...).
    """
    import yaml

    data_dir = work / name
    password = work / "admin-password"
    password.write_text(secrets.token_urlsafe(18) + "\n")
    env = {**os.environ, "GOVGUARD_DATA_DIR": str(data_dir)}
    args = ["init", "--data-dir", str(data_dir), "--server-name", "localhost"]
    args += ["--server-name", "127.0.0.1", "--password-file", str(password)]
    if database_url:
        args += ["--database-url", database_url]
    govguard(*args, env=env)
    port = free_port()
    config_path = data_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["listen"] = {"agents": {"host": "127.0.0.1", "port": port}, "admin": None}
    if ingest:
        config["ingest"] = {**(config.get("ingest") or {}), **ingest}
    config_path.write_text(yaml.safe_dump(config))
    return Controller(
        name=name,
        data_dir=data_dir,
        port=port,
        url=f"https://localhost:{port}",
        ca_file=data_dir / "tls" / "ca.crt",
        env=env,
    )


def root_unit(ctl: Controller) -> str:
    """The unit ``govguard init`` created: the first row ``units list`` prints after its header."""
    lines = [line for line in govguard("units", "list", env=ctl.env).splitlines() if line.strip()]
    if len(lines) < 2 or lines[0].split()[0] != "ID":
        raise SystemExit(f"govguard units list printed no unit: {lines!r}")
    return lines[1].split()[0]


# --------------------------------------------------------------------------- agents and requests


@dataclass
class SimAgent:
    """One enrolled simulated agent: its id, key id, private key and settings version."""

    agent_id: str
    key_id: str
    key: Any
    settings_version: str


def enroll_agents(ctl: Controller, count: int, work: Path) -> list[SimAgent]:
    """Enroll ``count`` agents through the real API with the agent's own enrollment code."""
    from agent.enrollment import enroll
    from agent.report.identity import Identity
    from agent.state import load_key, state_paths

    token_file = work / f"{ctl.name}.token"
    govguard(
        "tokens", "create", "--unit", root_unit(ctl), "--uses", str(count),
        "--out", str(token_file), env=ctl.env,
    )  # fmt: skip
    token = token_file.read_text().strip()
    agents = []
    for n in range(count):
        state_dir = work / f"{ctl.name}-agents" / f"a{n:05d}"
        ident = Identity(
            hostname=f"pc-{n:05d}",
            machine_id=uuid.uuid4().hex,
            system_uuid=str(uuid.uuid4()),
            system_serial=f"SN{n:08d}",
            macs=[f"02:00:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"],
        )
        state = enroll(ctl.url, token, state_dir, identity=ident)
        # The agent sends the settings version it holds (GG-Settings), as the daemon does, so
        # the controller answers without the settings block (its normal, small reply).
        settings = json.loads(state_paths(state_dir).settings.read_bytes())
        agents.append(
            SimAgent(state.agent_id, state.key_id, load_key(state_dir), str(settings["version"]))
        )
    return agents


def sample_report() -> Report:
    """A real full report of this machine, collected once as the daemon collects it."""
    from agent.config import load_config
    from agent.daemon import collect_fresh

    return collect_fresh(load_config(None))


def bodies(report: Report) -> dict[str, bytes]:
    """Bodies as the daemon queues them (``gzip_body``): a full report, a heartbeat carrying
    the connectivity and security sections (posture changed), and one without (the usual)."""
    return {
        "full": gzip_body(msgspec.structs.replace(report, kind="full", delivery=None)),
        "heartbeat": gzip_body(heartbeat_report(report, POSTURE_SECTIONS, None)),
        "heartbeat-unchanged": gzip_body(heartbeat_report(report, (), None)),
    }


Request = tuple[str, bytes, dict[str, str]]


def signed_requests(
    agents: Sequence[SimAgent], kind: str, body: bytes, per_agent: int, first_seq: int
) -> list[list[Request]]:
    """Per agent, ``per_agent`` signed requests with consecutive sequence numbers.

    Each is (envelope header, body, extra headers): the extra headers are what the agent's
    daemon adds (``GG-Settings``; ``GG-Clock`` only for a report sent late, so none here).
    """
    stamp = utc_stamp(datetime.now(UTC))
    digest = body_digest(body)
    wire_kind = "full" if kind == "full" else "heartbeat"
    out = []
    for agent in agents:
        items = []
        for seq in range(first_seq, first_seq + per_agent):
            env = Envelope(
                agent_id=agent.agent_id, key_id=agent.key_id, seq=seq,
                report_id=new_report_id(), time=stamp, kind=wire_kind, digest=digest,
            )  # fmt: skip
            extra = {SETTINGS_HEADER: agent.settings_version}
            items.append((to_header(keys.sign(agent.key, env)), body, extra))
        out.append(items)
    return out


# --------------------------------------------------------------------------- load


def _client(
    url: str,
    ca_file: str,
    work: list[list[Request]],
    interval: float | None,
    start_at: float,
    results: Any,
) -> None:
    """One client process: a thread per agent, each with its own keep-alive connection."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sizes = [0, 0]
    lock = threading.Lock()

    def agent(items: list[Request], offset: float) -> None:
        transport = Transport(url, Path(ca_file), timeout_s=60)
        local: list[float] = []
        codes: dict[int, int] = {}
        sent = received = 0
        next_at = start_at + offset
        for header, body, extra in items:
            if interval is not None:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                begin = next_at
                next_at += interval
            else:
                begin = time.monotonic()
            reply = transport.post_report(header, body, extra)
            local.append(time.monotonic() - begin)
            codes[reply.status] = codes.get(reply.status, 0) + 1
            sent += reply.sent_bytes
            received += reply.received_bytes
        transport.close()
        with lock:
            latencies.extend(local)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n
            sizes[0] += sent
            sizes[1] += received

    while time.monotonic() < start_at:
        time.sleep(0.001)
    step = (interval or 0.0) / max(len(work), 1)
    threads = [
        threading.Thread(target=agent, args=(items, n * step)) for n, items in enumerate(work)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put({"latencies": latencies, "statuses": statuses, "sizes": sizes})


@dataclass
class Run:
    """What one load run measured."""

    requests: int
    wall_s: float
    server_cpu_s: float
    latencies: list[float]
    statuses: dict[int, int]
    sent_bytes: int
    received_bytes: int

    @property
    def rate(self) -> float:
        return self.requests / self.wall_s

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def load(
    url: str,
    ca_file: Path,
    work: list[list[Request]],
    server_pid: int,
    processes: int,
    rate: float | None = None,
) -> Run:
    """Send every request of ``work`` (one list per agent) and measure.

    ``rate`` None: closed loop, as fast as the server answers. Otherwise each agent sends at
    ``rate / agents`` requests per second on a fixed schedule (open loop).
    """
    ctx = multiprocessing.get_context("fork")
    results: Any = ctx.Queue()
    interval = None if rate is None else len(work) / rate
    start_at = time.monotonic() + 1.0
    shares = [work[i::processes] for i in range(processes)]
    procs = [
        ctx.Process(target=_client, args=(url, str(ca_file), share, interval, start_at, results))
        for share in shares
        if share
    ]
    for proc in procs:
        proc.start()
    cpu_before = cpu_seconds(server_pid)
    while time.monotonic() < start_at:
        time.sleep(0.001)
    collected = []
    for _ in procs:
        try:
            collected.append(results.get(timeout=900))
        except queue.Empty:
            raise SystemExit("a client process did not finish within 15 minutes") from None
    wall = time.monotonic() - start_at
    cpu = cpu_seconds(server_pid) - cpu_before
    for proc in procs:
        proc.join()
    latencies = [v for c in collected for v in c["latencies"]]
    statuses: dict[int, int] = {}
    for c in collected:
        for code, n in c["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return Run(
        requests=len(latencies),
        wall_s=wall,
        server_cpu_s=cpu,
        latencies=latencies,
        statuses=statuses,
        sent_bytes=sum(c["sizes"][0] for c in collected),
        received_bytes=sum(c["sizes"][1] for c in collected),
    )


# --------------------------------------------------------------------------- the bench


def serve_argv(ctl: Controller) -> list[str]:
    return [str(BIN / "govguard"), "serve", "--data-dir", str(ctl.data_dir)]


def bare_argv(ctl: Controller, port: int, workers: int) -> list[str]:
    """uvicorn serving the bare endpoint with ``workers`` processes, as many as the controller."""
    tls = ctl.data_dir / "tls"
    return [
        sys.executable, "-m", "uvicorn", "bench._bare_app:app", "--host", "127.0.0.1",
        "--port", str(port), "--ssl-certfile", str(tls / "server.crt"),
        "--ssl-keyfile", str(tls / "server.key"), "--no-server-header", "--no-date-header",
        "--log-level", "warning", "--no-access-log", "--workers", str(workers),
    ]  # fmt: skip


def wait_answering(url: str, ca_file: Path, workers: int, timeout: float = 30.0) -> None:
    """Wait until the server at ``url`` answers an HTTPS request (any status will do).

    The listening socket exists before uvicorn's worker processes have imported the app, and
    a load run started then would count their start-up against the bare rate.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with Transport(url, ca_file, timeout_s=5) as transport:
                transport.post_report("probe", b"")
            break
        except TransportError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} does not answer after {timeout:.0f} s: {exc}") from None
            time.sleep(0.1)
    if workers > 1:
        # One worker answered; its siblings started at the same moment and are about as far.
        time.sleep(0.5)


def create_pg_database() -> tuple[str, str]:
    """A throwaway database on the local PostgreSQL; returns (name, URL)."""
    import psycopg

    name = f"gg_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def check_stored(reply: Reply, kind: str) -> None:
    """Exit with the controller's answer when it did not store a report the bench measures."""
    if reply.status not in STORED:
        raise SystemExit(
            f"the controller answered {reply.status} {reply.data} to a {kind} report "
            "(expected 200 or 204); byte figures would be wrong"
        )


@dataclass
class Sizes:
    """Bytes per report of one kind, request and reply together."""

    payload: int  # the GG-Envelope header line and the gzip body
    http: float  # request and reply as agent.transport counts them (the goal's figure)
    tls_kept: float  # the TLS stream on a kept-alive connection
    tls_resumed: float  # a new connection resuming the TLS session: connect, handshake, close
    tls_new: float  # the TLS stream of a new connection: connect, full handshake, close


def measure_sizes(
    ctl: Controller, agent: SimAgent, kind: str, body: bytes, first_seq: int, repeats: int = 3
) -> tuple[Sizes, int]:
    """Send ``kind`` reports of ``agent`` through a counting relay; returns the sizes and the
    next free sequence number.

    Kept-alive: one connection, the handshake done by a first report and not counted; what an
    agent pays while the controller keeps its connection across the heartbeat interval.
    Resumed: one ``Transport`` that drops its connection after each report, so each report
    pays a connection resuming the TLS session (as after a NAT box forgot the connection).
    New connection: a new ``Transport`` per report, each a full handshake (an agent's first
    report after it started, or after a controller restart).
    """
    count = 2 + 3 * repeats
    items = signed_requests([agent], kind, body, count, first_seq)[0]
    header = items[0][0]
    http = 0
    with CountingProxy(ctl.port) as proxy:
        url = f"https://localhost:{proxy.port}"
        with Transport(url, ctl.ca_file, timeout_s=30) as transport:
            check_stored(transport.post_report(*items[0]), kind)
            proxy.reset()
            for item in items[1 : 1 + repeats]:
                reply = transport.post_report(*item)
                check_stored(reply, kind)
                http += reply.sent_bytes + reply.received_bytes
            kept = proxy.counts()
        proxy.wait_idle()
        proxy.reset()
        with Transport(url, ctl.ca_file, timeout_s=30) as transport:
            # The session to resume comes from the kept-alive phase's report: a new
            # Transport has none, so its first connection is a full one and is not counted.
            check_stored(transport.post_report(*items[1 + repeats]), kind)
            transport.disconnect()
            proxy.wait_idle()
            proxy.reset()
            for item in items[2 + repeats : 2 + 2 * repeats]:
                check_stored(transport.post_report(*item), kind)
                transport.disconnect()
                proxy.wait_idle()
            resumed = proxy.counts()
            if transport.resumed != repeats:
                raise SystemExit(
                    f"{transport.resumed} of {repeats} reconnections resumed the TLS session"
                )
        proxy.reset()
        for item in items[2 + 2 * repeats :]:
            with Transport(url, ctl.ca_file, timeout_s=30) as transport:
                check_stored(transport.post_report(*item), kind)
            proxy.wait_idle()
        new = proxy.counts()
    seen = (kept.connections, resumed.connections, new.connections)
    if seen != (0, repeats, repeats):
        raise SystemExit(
            f"the relay saw {seen} connections, expected (0, {repeats}, {repeats}): "
            "the byte figures would be wrong"
        )
    sizes = Sizes(
        # Payload only: the envelope header line and the gzip body, no HTTP framing.
        payload=len(f"{ENVELOPE_HEADER}: {header}\r\n") + len(body),
        http=http / repeats,
        tls_kept=kept.total / repeats,
        tls_resumed=resumed.total / repeats,
        tls_new=new.total / repeats,
    )
    return sizes, first_seq + count


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_database(
    db: str, args: argparse.Namespace, work: Path, report: Report
) -> list[dict[str, Any]]:
    """Every row for one database: bare and ours, heartbeats and full reports."""
    pg_name = None
    database_url = None
    if db == "postgresql":
        pg_name, database_url = create_pg_database()
    rows: list[dict[str, Any]] = []
    try:
        overrides = {}
        if args.batch_wait_ms is not None:
            overrides["batch_wait_ms"] = args.batch_wait_ms
        ctl = init_controller(work, db, database_url, overrides)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "GOVGUARD_WORKERS": str(args.workers)}
        with running(serve_argv(ctl), ctl.port, work / f"{db}-serve.log", env) as pid:
            print(f"[{db}] enrolling {args.agents} agents", file=sys.stderr)
            agents = enroll_agents(ctl, args.agents, work)
            payload = bodies(report)
            per_agent = max(1, args.reports // args.agents)
            seq = 1
            plan = [("heartbeat", None), ("full", None), ("full", float(args.paced_rate))]
            for kind, rate in plan:
                work_items = signed_requests(agents, kind, payload[kind], per_agent, seq)
                seq += per_agent
                bare_port = free_port()
                argv = bare_argv(ctl, bare_port, args.workers)
                with running(argv, bare_port, work / "bare.log", env) as bpid:
                    bare_url = f"https://localhost:{bare_port}"
                    wait_answering(bare_url, ctl.ca_file, args.workers)
                    bare = load(bare_url, ctl.ca_file, work_items, bpid, args.clients, rate)
                label = "paced" if rate else "max"
                print(f"[{db}] {kind} {label}: bare done ({bare.rate:.0f}/s)", file=sys.stderr)
                ours = load(ctl.url, ctl.ca_file, work_items, pid, args.clients, rate)
                print(f"[{db}] {kind} {label}: ours done ({ours.rate:.0f}/s)", file=sys.stderr)
                rows.append({"db": db, "kind": kind, "mode": label, "rate": rate,
                             "bare": bare, "ours": ours})  # fmt: skip
            # Bytes per host per day: one unchanged heartbeat every 5 minutes and a daily full.
            sizes = {}
            for kind in KINDS_BY_SIZE:
                sizes[kind], seq = measure_sizes(ctl, agents[0], kind, payload[kind], seq)
            tls = tls_version(ctl.port, ctl.ca_file)
            rows.append({"db": db, "sizes": sizes, "tls": tls})
    finally:
        if pg_name:
            drop_pg_database(pg_name)
    return rows


def per_day(sizes: dict[str, Sizes], field: str, heartbeat_kind: str) -> float:
    """KB (1000 bytes) a day: ``HEARTBEATS_PER_DAY`` heartbeats of one kind and one full."""
    value = HEARTBEATS_PER_DAY * getattr(sizes[heartbeat_kind], field)
    return float(value + getattr(sizes["full"], field)) / 1000


def render(rows: list[dict[str, Any]], workers: int) -> list[str]:
    """The results table and the byte figures, as printed."""
    lines = [
        f"{'db':<11}{'kind':<10}{'mode':<7}{'bare/s':>8}{'ours/s':>8}{'ratio':>7}"
        f"{'CPU ms/rep':>11}{'bare p50/p99 ms':>17}{'ours p50/p99 ms':>17}  statuses"
        f"  [{workers} worker process{'es' if workers > 1 else ''} each, controller and bare]",
    ]
    for row in rows:
        if "sizes" in row:
            continue
        bare, ours = row["bare"], row["ours"]
        cpu_ms = ours.server_cpu_s / max(ours.requests, 1) * 1000
        mode = row["mode"] if row["rate"] is None else f"@{row['rate']:.0f}"
        lines.append(
            f"{row['db']:<11}{row['kind']:<10}{mode:<7}{bare.rate:>8.0f}{ours.rate:>8.0f}"
            f"{ours.rate / bare.rate:>7.2f}{cpu_ms:>11.2f}"
            f"{bare.pct(0.5):>8.1f}/{bare.pct(0.99):<8.1f}{ours.pct(0.5):>8.1f}/{ours.pct(0.99):<8.1f}"
            f"  {dict(sorted(ours.statuses.items()))}"
        )
    levels = (
        ("payload", "payload only (envelope header line + gzip body)"),
        ("http", "HTTP level (request + reply, as agent.transport counts them)"),
        ("tls_kept", "TLS stream, kept-alive connection"),
        ("tls_resumed", "TLS stream, new connection resuming the session"),
        ("tls_new", "TLS stream, new connection per report (full handshake)"),
    )
    for row in rows:
        if "sizes" not in row:
            continue
        db, sizes = row["db"], row["sizes"]
        lines.append(
            f"{db}: bytes per report, both directions: unchanged heartbeat / heartbeat with "
            f"connectivity+security / full ({row['tls']}; the TLS figures count TLS records "
            "and handshakes, IP and TCP headers excluded)"
        )
        for field, label in levels:
            figures = " / ".join(
                f"{getattr(sizes[k], field):.0f}"
                for k in ("heartbeat-unchanged", "heartbeat", "full")
            )
            lines.append(f"  {label:<62}{figures}")
        lines.append(
            f"{db}: per host per day ({HEARTBEATS_PER_DAY} heartbeats + 1 full, KB = 1000 bytes): "
            "typical (unchanged heartbeats) / if every heartbeat carried both sections"
        )
        for field, label in levels:
            typical = per_day(sizes, field, "heartbeat-unchanged")
            worst = per_day(sizes, field, "heartbeat")
            if field == "http":
                verdict = "met" if typical <= 150 else "NOT met"
                note = f"<- the goal (<= 150 KB) is compared with this line: {verdict}"
            elif field == "tls_kept":
                note = "<- what an agent pays: the controller keeps its connection open"
            else:
                note = ""
            lines.append(f"  {label:<62}{typical:.1f} KB / {worst:.1f} KB  {note}".rstrip())
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--agents", type=int, default=50, help="simulated agents (default 50)")
    parser.add_argument("--reports", type=int, default=10000, help="reports per load run")
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--paced-rate", type=int, default=1000, help="reports/s of the paced run")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument(
        "--quick", action="store_true", help="short run: 3000 reports per load run, 20 agents"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes of the controller (GOVGUARD_WORKERS) and of the bare endpoint "
        "(uvicorn --workers), default 1",
    )
    parser.add_argument(
        "--batch-wait-ms", type=int, help="the controller's ingest.batch_wait_ms (default: config)"
    )
    args = parser.parse_args(argv)
    for name in ("agents", "reports", "clients", "paced_rate", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.workers > 64:
        parser.error("--workers must be at most 64 (GOVGUARD_WORKERS' limit)")
    if args.quick:
        args.reports = min(args.reports, 3000)
        args.agents = min(args.agents, 20)
    dbs = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    work = Path(tempfile.mkdtemp(prefix="gg-bench-ingest-"))
    try:
        print("collecting one real report of this machine", file=sys.stderr)
        report = sample_report()
        rows = [row for db in dbs for row in bench_database(db, args, work, report)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(render(rows, args.workers)))
    if args.json:

        def plain(value: Any) -> Any:
            if isinstance(value, Run):
                return {"requests": value.requests, "rate": value.rate,
                        "server_cpu_s": value.server_cpu_s, "p50_ms": value.pct(0.5),
                        "p99_ms": value.pct(0.99), "statuses": value.statuses}  # fmt: skip
            if isinstance(value, dict):
                return {k: asdict(v) if isinstance(v, Sizes) else v for k, v in value.items()}
            return value

        args.json.write_text(
            json.dumps([{k: plain(v) for k, v in r.items()} for r in rows], indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
