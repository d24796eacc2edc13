"""Dashboard reads at fleet size: overview, hosts list (filtered, sorted), host detail.

Loads N synthetic hosts (5,000 on SQLite, 100,000 on PostgreSQL by default) through the real
ingest path: agents enrolled in 20 communes, then one schema-valid full report each (this
machine's report, varied per host: host name, user, serial, MAC, connectivity, firewall)
stored and evaluated by ``FindingsWriter`` with the shipped policy packs, as the controller
does. Then times each read model of ``controller.store.dashboard`` (a fresh session per run,
as one request) next to its floor: a plain ``SELECT count(*)`` over agents with the same filter
in raw SQL; then the pages themselves through the controller's application with a logged-in
session. Goal (issue 5): p95 under 300 ms for every page at 100,000 hosts.

Usage: ``.venv/bin/python bench/dashboard.py [--db sqlite|postgresql|both] [--hosts N]
[--quick] [--runs 20] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench.ingest import create_pg_database, drop_pg_database, sample_report  # noqa: E402
from controller.findings import Evaluator, FindingsWriter, PolicyCache  # noqa: E402
from controller.policy import load_installed  # noqa: E402
from controller.store import db  # noqa: E402
from controller.store.dashboard import (  # noqa: E402
    FindingQuery,
    HostQuery,
    host_detail,
    list_findings_view,
    list_hosts,
    local_day,
    overview,
    snapshot_compliance,
)
from controller.store.models import Base  # noqa: E402
from controller.store.reports import NewReport  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)
COMMUNES = 20
DISTRICT = "huyen-bench"
BATCH = 500
DEFAULT_HOSTS = {"sqlite": 5_000, "postgresql": 100_000}
GOAL_MS = 300.0


def commune(n: int) -> str:
    return f"xa-{n % COMMUNES:02d}"


def agent_id(n: int) -> str:
    return f"{n:08x}"


def enroll(engine: Engine, hosts: int) -> None:
    """The district, 20 communes with headcounts, and ``hosts`` active agents (raw inserts:
    enrollment is not what is measured)."""
    units = Base.metadata.tables["units"]
    agents = Base.metadata.tables["agents"]
    with engine.begin() as conn:
        conn.execute(
            units.insert(),
            [{"id": DISTRICT, "parent_id": None, "name": "Huyện Bench", "kind": "district",
              "created_at": NOW, "headcount_can_bo": 40, "headcount_cong_chuc": 60}]
            + [
                {"id": commune(c), "parent_id": DISTRICT, "name": f"Xã {c:02d}",
                 "kind": "commune", "created_at": NOW, "headcount_can_bo": 20,
                 "headcount_cong_chuc": 15}
                for c in range(COMMUNES)
            ],
        )  # fmt: skip
    for start in range(0, hosts, 5000):
        rows = []
        for n in range(start, min(hosts, start + 5000)):
            aid = agent_id(n)
            key = hashlib.sha256(aid.encode()).digest()
            rows.append(
                {
                    "id": aid,
                    "key_id": aid,
                    "public_key": key,
                    "status": "active",
                    "unit_id": commune(n),
                    "hostname": f"pc-{n:06d}",
                    "macs": json.dumps([mac(n)]),
                    "os": "linux" if n % 3 else "windows",
                    "agent_version": "bench",
                    "created_at": NOW - timedelta(days=30),
                    "system_serial": f"SN{n:08d}",
                    "last_seq": 0,
                }
            )
        with engine.begin() as conn:
            conn.execute(agents.insert(), rows)


def mac(n: int) -> str:
    raw = f"5254{n:08x}"
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


def report_body(base: dict[str, Any], n: int) -> bytes:
    """This machine's report, made one host's: identity, user, serial, MAC and posture."""
    doc = dict(base)
    doc["identity"] = {**(doc.get("identity") or {}), "hostname": f"pc-{n:06d}"}
    os_section = dict(doc.get("os") or {})
    os_section["users"] = [{"name": f"user{n % 5000:04d}"}]
    doc["os"] = os_section
    hardware = dict(doc.get("hardware") or {})
    hardware["system"] = {**(hardware.get("system") or {}), "serial": f"SN{n:08d}"}
    doc["hardware"] = hardware
    network = dict(doc.get("network") or {})
    network["interfaces"] = [
        {"name": "eth0", "mac": mac(n), "up": True,
         "addresses": [{"address": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
                        "family": "ipv4"}]}
    ]  # fmt: skip
    doc["network"] = network
    connectivity = dict(doc.get("connectivity") or {})
    connectivity["lan"] = {"reachable": n % 10 != 0}
    connectivity["internet"] = {"reachable": n % 7 != 0}
    doc["connectivity"] = connectivity
    security = dict(doc.get("security") or {})
    firewall = security.get("firewall")
    known: dict[str, Any] = firewall if isinstance(firewall, dict) else {}
    security["firewall"] = {**known, "enabled": n % 4 != 0}
    doc["security"] = security
    return gzip.compress(msgspec.json.encode(doc), compresslevel=1, mtime=0)


def ingest(sessions: sessionmaker[Session], hosts: int, base: dict[str, Any]) -> float:
    """One full report per host (2 % never report) through ``FindingsWriter``; seconds."""
    policies = load_installed(Path("/nonexistent"))
    evaluator = Evaluator(policies)
    cache = PolicyCache(
        Path("/nonexistent"), check_every_s=1e9, loader=lambda _d: evaluator.policies, watch=[]
    )
    writer = FindingsWriter(cache)
    started = time.perf_counter()
    reporting = [n for n in range(hosts) if n % 50 != 49]
    for start in range(0, len(reporting), BATCH):
        chunk = reporting[start : start + BATCH]
        # A quarter of the batches were heard 3 hours ago: stale hosts.
        at = NOW - (timedelta(hours=3) if (start // BATCH) % 4 == 3 else timedelta(minutes=5))
        batch = [
            NewReport(
                agent_id=agent_id(n),
                seq=1,
                report_id=f"{n:032x}",
                kind="full",
                sent_at=at,
                received_at=at,
                collected_at=at,
                clock_skew_s=0.0,
                body=report_body(base, n),
            )
            for n in chunk
        ]
        with sessions() as s, s.begin():
            writer(s, batch, at)
        done = start + len(chunk)
        if sys.stdout.isatty() or done % 10_000 < BATCH:
            rate = done / (time.perf_counter() - started)
            print(f"  ingested {done}/{len(reporting)} ({rate:.0f}/s)", flush=True)
    return time.perf_counter() - started


def timed(
    sessions: sessionmaker[Session], runs: int, call: Callable[[Session], object]
) -> list[float]:
    """Milliseconds of ``runs`` calls, each in a fresh session (one warm-up run first)."""
    samples = []
    for i in range(runs + 1):
        with sessions() as s:
            started = time.perf_counter()
            call(s)
            elapsed = (time.perf_counter() - started) * 1000
        if i:
            samples.append(elapsed)
    return samples


def figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered), "p95_ms": p95, "runs": len(ordered)}


def raw_count(sql: str, **params: object) -> Callable[[Session], object]:
    return lambda s: s.execute(text(sql), params).scalar()


def measure(sessions: sessionmaker[Session], hosts: int, runs: int) -> list[dict[str, Any]]:
    unit = commune(7)
    rng = random.Random(7)  # noqa: S311 - which hosts to open, not a secret
    detail_ids = [agent_id(rng.randrange(hosts)) for _ in range(runs + 1)]
    picks = iter(detail_ids * 2)
    query = HostQuery(unit=unit, q="pc-00", sort="-last_seen", now=NOW)
    cases: list[tuple[str, Callable[[Session], object], Callable[[Session], object]]] = [
        (
            "overview (district)",
            lambda s: overview(s, None, now=NOW),
            raw_count("SELECT count(*) FROM agents"),
        ),
        (
            f"overview ({unit})",
            lambda s: overview(s, frozenset({unit}), now=NOW),
            raw_count("SELECT count(*) FROM agents WHERE unit_id = :u", u=unit),
        ),
        (
            "hosts: unit + q, -last_seen",
            lambda s: list_hosts(s, None, query),
            raw_count(
                "SELECT count(*) FROM agents WHERE unit_id = :u AND lower(hostname) LIKE :q",
                u=unit,
                q="%pc-00%",
            ),
        ),
        (
            "hosts: q=MAC, district",
            lambda s: list_hosts(s, None, HostQuery(q=mac(hosts // 2).upper(), now=NOW)),
            raw_count("SELECT count(*) FROM agents WHERE macs LIKE :m", m=f"%{mac(hosts // 2)}%"),
        ),
        (
            "hosts: sort findings, page 3",
            lambda s: list_hosts(s, None, HostQuery(sort="findings", page=3, now=NOW)),
            raw_count("SELECT count(*) FROM agents WHERE status = 'active'"),
        ),
        (
            "host detail",
            lambda s: host_detail(s, None, next(picks), now=NOW),
            raw_count("SELECT count(*) FROM agents WHERE id = :i", i=detail_ids[0]),
        ),
        (
            "findings (open, page 1)",
            lambda s: list_findings_view(s, None, FindingQuery()),
            raw_count("SELECT count(*) FROM findings WHERE status IN ('open', 'acknowledged')"),
        ),
    ]
    rows = []
    for name, ours, floor in cases:
        rows.append(
            {
                "page": name,
                "ours": figures(timed(sessions, runs, ours)),
                "floor": figures(timed(sessions, runs, floor)),
            }
        )
    return rows


def timed_get(client: Any, path: str, runs: int) -> list[float]:
    """Milliseconds of ``runs`` GETs of ``path`` through the application (one warm-up first)."""
    samples = []
    for i in range(runs + 1):
        started = time.perf_counter()
        reply = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if reply.status_code != 200:
            raise SystemExit(f"GET {path}: {reply.status_code} {reply.text[:200]}")
        if i:
            samples.append(elapsed)
    return samples


def measure_http(engine: Engine, url: str, hosts: int, runs: int) -> list[dict[str, Any]]:
    """The pages themselves: session check, read model, template, in the controller's app.

    Requests go through the ASGI application in process (Starlette's test client), so the
    figures are server time without a network; the floor is ``GET /api/v1/health`` of the same
    application (routing, a database ping, no session).
    """
    from starlette.testclient import TestClient

    from controller.app import create_app
    from controller.auth.accounts import add_user
    from controller.settings import ControllerConfig, settings_for

    password = "bench password 1234"  # noqa: S105 - a throw-away account of the bench database
    with db.session_factory(engine).begin() as s:
        add_user(
            s, actor="bench", source="bench", username="bench-admin", password=password,
            role="admin", unit_id=None, now=NOW,
        )  # fmt: skip
    unit = commune(7)
    rng = random.Random(11)  # noqa: S311 - which host to open, not a secret
    detail = agent_id(rng.randrange(hosts))
    pages = [
        ("GET / (overview)", "/"),
        ("GET /hosts (unit + q)", f"/hosts?unit={unit}&q=pc-00&sort=-last_seen"),
        ("GET /hosts/<id>", f"/hosts/{detail}"),
        ("GET /findings", "/findings"),
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="gg-bench-web-") as folder:
        settings = settings_for(Path(folder), ControllerConfig(database_url=url))
        app = create_app(settings, engine=engine, surface="admin")
        with TestClient(app, base_url="https://bench.test") as client:
            login = client.post(
                "/api/v1/session", json={"username": "bench-admin", "password": password}
            )
            if login.status_code != 200:
                raise SystemExit(f"bench login refused: {login.status_code} {login.text[:200]}")
            floor = figures(timed_get(client, "/api/v1/health", runs))
            for name, path in pages:
                rows.append(
                    {"page": name, "ours": figures(timed_get(client, path, runs)), "floor": floor}
                )
    return rows


def run_db(name: str, url: str, hosts: int, runs: int, base: dict[str, Any]) -> dict[str, Any]:
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        sessions = db.session_factory(engine)
        print(f"[{name}] enrolling {hosts} hosts in {COMMUNES} communes", flush=True)
        enroll(engine, hosts)
        print(f"[{name}] ingesting one full report per host through FindingsWriter", flush=True)
        load_s = ingest(sessions, hosts, base)
        with sessions() as s, s.begin():
            snapshot_compliance(s, local_day(NOW))  # as the hourly re-evaluation does
        if engine.dialect.name == "postgresql":
            # A production server's autovacuum would have analysed and vacuumed these tables
            # long before anyone opens the dashboard (this machine's PostgreSQL runs without
            # it): planner statistics, and visibility maps for index-only counts.
            print(f"[{name}] VACUUM ANALYZE, as autovacuum would", flush=True)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        counts = {}
        with sessions() as s:
            for table in ("agents", "reports", "rule_states", "findings"):
                counts[table] = int(s.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)  # noqa: S608
        print(f"[{name}] loaded in {load_s:.0f} s: {counts}; timing {runs} runs each", flush=True)
        rows = measure(sessions, hosts, runs)
        print(f"[{name}] timing the HTTP pages through the application", flush=True)
        rows += measure_http(engine, url, hosts, runs)
        return {"db": name, "hosts": hosts, "load_s": load_s, "counts": counts, "rows": rows}
    finally:
        engine.dispose()


def render(result: dict[str, Any]) -> list[str]:
    lines = [
        f"{result['db']}, {result['hosts']:,} hosts "
        f"({result['counts']['rule_states']:,} rule states, "
        f"{result['counts']['findings']:,} findings; loaded in {result['load_s']:.0f} s)",
        f"  {'page':32} {'median ms':>10} {'p95 ms':>8} {'floor med':>10} {'floor p95':>10}  goal",
    ]
    for row in result["rows"]:
        ours, floor = row["ours"], row["floor"]
        ok = "ok" if ours["p95_ms"] < GOAL_MS else "OVER"
        lines.append(
            f"  {row['page']:32} {ours['median_ms']:10.1f} {ours['p95_ms']:8.1f} "
            f"{floor['median_ms']:10.2f} {floor['p95_ms']:10.2f}  {ok}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--hosts", type=int, help="hosts per database (default 5,000 / 100,000)")
    parser.add_argument("--quick", action="store_true", help="500 hosts, 5 runs")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per page (default 20)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    runs = 5 if args.quick else max(1, args.runs)
    print("collecting this machine's report once ...", flush=True)
    base = msgspec.to_builtins(sample_report())
    results = []
    names = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for name in names:
        hosts = 500 if args.quick else (args.hosts or DEFAULT_HOSTS[name])
        if name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="gg-bench-") as folder:
                url = db.sqlite_url(Path(folder) / "govguard.db")
                results.append(run_db(name, url, hosts, runs, base))
        else:
            database, url = create_pg_database()
            try:
                results.append(run_db(name, url, hosts, runs, base))
            finally:
                drop_pg_database(database)
        print("\n".join(render(results[-1])), flush=True)
    print(
        "\nRows starting with GET are the pages through the application (session, read model, "
        "template); their floor is GET /api/v1/health of the same application."
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
