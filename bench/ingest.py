"""Ingest benchmark: signed reports over HTTPS into a running controller, against a bare endpoint.

Starts a real controller (``govguard init`` + ``govguard serve``) on SQLite and on PostgreSQL,
enrolls N simulated agents through the real enrollment API, pre-signs their reports with the
agent's own code (``agent.keys``, ``agent.envelope``, gzip) and sends them with the agent's own
HTTPS client (``agent.transport.Transport``, CA pinning, keep-alive). In the same run the same
requests go to a *bare* endpoint (FastAPI under the same uvicorn and TLS settings, reading and
discarding the body: ``bench/_bare_app.py``), so our ingest's cost shows as a ratio.

Figures per (database, kind): reports/s at full load (closed loop), controller CPU per report,
p50/p99 latency in a paced run at a fixed rate (open loop, latency counted from the scheduled
send time so a stall is not hidden), and bytes per host per day, on the HTTP level (request and
reply as the agent's transport counts them) and as payload only (envelope header and body).
The simulated agents send ``GG-Settings`` with the version they hold, as the daemon does.

    .venv/bin/python bench/ingest.py                    # both databases, defaults
    .venv/bin/python bench/ingest.py --quick            # 3000 reports per run, 20 agents
    .venv/bin/python bench/ingest.py --db sqlite --agents 100 --reports 20000 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent import keys  # noqa: E402
from agent.envelope import HEADER as ENVELOPE_HEADER  # noqa: E402
from agent.envelope import Envelope, body_digest, to_header, utc_stamp  # noqa: E402
from agent.transport import Transport  # noqa: E402
from agent.wire import SETTINGS_HEADER  # noqa: E402

BIN = Path(sys.executable).parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HEARTBEATS_PER_DAY = 24 * 60 // 5


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


def sample_report() -> dict[str, Any]:
    """A real full report of this machine, collected once by the agent's own collectors."""
    from agent.collectors import collect_report
    from agent.config import load_config
    from agent.report import encode

    report: dict[str, Any] = json.loads(encode(collect_report(load_config(None), None)))
    return report


def bodies(report: dict[str, Any]) -> dict[str, bytes]:
    """Gzip bodies: a full report and a heartbeat carrying connectivity and security."""
    head = {k: report[k] for k in ("schema_version", "agent_version", "collected_at")}
    heartbeat = {
        **head,
        "kind": "heartbeat",
        "connectivity": report.get("connectivity"),
        "security": report.get("security"),
    }
    empty_heartbeat = {**head, "kind": "heartbeat"}
    return {
        "full": gzip.compress(json.dumps({**report, "kind": "full"}).encode(), 6),
        "heartbeat": gzip.compress(json.dumps(heartbeat).encode(), 6),
        "heartbeat-unchanged": gzip.compress(json.dumps(empty_heartbeat).encode(), 6),
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
                report_id=uuid.uuid4().hex, time=stamp, kind=wire_kind, digest=digest,
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


def bare_argv(ctl: Controller, port: int) -> list[str]:
    tls = ctl.data_dir / "tls"
    return [
        sys.executable, "-m", "uvicorn", "bench._bare_app:app", "--host", "127.0.0.1",
        "--port", str(port), "--ssl-certfile", str(tls / "server.crt"),
        "--ssl-keyfile", str(tls / "server.key"), "--no-server-header", "--no-date-header",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def create_pg_database() -> tuple[str, str]:
    """A throwaway database on the local PostgreSQL; returns (name, URL)."""
    import psycopg

    name = f"gg_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_database(
    db: str, args: argparse.Namespace, work: Path, report: dict[str, Any]
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
                with running(bare_argv(ctl, bare_port), bare_port, work / "bare.log", env) as bpid:
                    bare_url = f"https://localhost:{bare_port}"
                    bare = load(bare_url, ctl.ca_file, work_items, bpid, args.clients, rate)
                label = "paced" if rate else "max"
                print(f"[{db}] {kind} {label}: bare done ({bare.rate:.0f}/s)", file=sys.stderr)
                ours = load(ctl.url, ctl.ca_file, work_items, pid, args.clients, rate)
                print(f"[{db}] {kind} {label}: ours done ({ours.rate:.0f}/s)", file=sys.stderr)
                rows.append({"db": db, "kind": kind, "mode": label, "rate": rate,
                             "bare": bare, "ours": ours})  # fmt: skip
            # Bytes per host per day: one unchanged heartbeat every 5 minutes and a daily full.
            sizes = {}
            payload_sizes = {}
            for kind in ("heartbeat-unchanged", "heartbeat", "full"):
                items = signed_requests(agents[:1], kind, payload[kind], 3, seq)
                seq += 3
                one = load(ctl.url, ctl.ca_file, items, pid, 1)
                sizes[kind] = (one.sent_bytes + one.received_bytes) / one.requests
                header, body, _ = items[0][0]
                # Payload only: the envelope header line and the gzip body, no HTTP framing.
                payload_sizes[kind] = len(f"{ENVELOPE_HEADER}: {header}\r\n") + len(body)
            rows.append({"db": db, "sizes": sizes, "payload": payload_sizes})
    finally:
        if pg_name:
            drop_pg_database(pg_name)
    return rows


def render(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{'db':<11}{'kind':<10}{'mode':<7}{'bare/s':>8}{'ours/s':>8}{'ratio':>7}"
        f"{'CPU ms/rep':>11}{'bare p50/p99 ms':>17}{'ours p50/p99 ms':>17}  statuses",
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
    for row in rows:
        if "sizes" not in row:
            continue
        s, p = row["sizes"], row["payload"]
        lines.append(
            f"{row['db']}: bytes per round trip, HTTP level (request+reply) / payload only "
            f"(envelope header+body): unchanged heartbeat {s['heartbeat-unchanged']:.0f} / "
            f"{p['heartbeat-unchanged']}, heartbeat with connectivity+security "
            f"{s['heartbeat']:.0f} / {p['heartbeat']}, full {s['full']:.0f} / {p['full']}"
        )
        for label, sizes in (("HTTP level", s), ("payload only", p)):
            day = (HEARTBEATS_PER_DAY * sizes["heartbeat-unchanged"] + sizes["full"]) / 1000
            worst = (HEARTBEATS_PER_DAY * sizes["heartbeat"] + sizes["full"]) / 1000
            lines.append(
                f"{row['db']}: per host per day ({HEARTBEATS_PER_DAY} heartbeats + 1 full), "
                f"{label}: {day:.1f} KB typical (goal <= 150 KB HTTP level), {worst:.1f} KB if "
                "every heartbeat carried both sections"
            )
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
        "--workers", type=int, default=1, help="GOVGUARD_WORKERS of the controller (default 1)"
    )
    parser.add_argument(
        "--batch-wait-ms", type=int, help="the controller's ingest.batch_wait_ms (default: config)"
    )
    args = parser.parse_args(argv)
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
    print("\n".join(render(rows)))
    if args.json:

        def plain(value: Any) -> Any:
            if isinstance(value, Run):
                return {"requests": value.requests, "rate": value.rate,
                        "server_cpu_s": value.server_cpu_s, "p50_ms": value.pct(0.5),
                        "p99_ms": value.pct(0.99), "statuses": value.statuses}  # fmt: skip
            return value

        args.json.write_text(
            json.dumps([{k: plain(v) for k, v in r.items()} for r in rows], indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
