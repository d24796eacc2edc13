"""``/metrics`` at fleet size: one scrape's database read next to the dashboard's overview.

Loads the same synthetic district as ``bench/dashboard.py`` (its loaders: N active agents in
20 communes, one full report each through ``FindingsWriter`` with the shipped policy packs, a
quarter of them stale), then times, each in a fresh session per run:

- **scrape**: :meth:`controller.metrics.Metrics.exposition`, the whole ``/metrics`` body
  (database read, live counters, process metrics, text encoding);
- **peer**: the dashboard's district overview (``controller.store.dashboard.overview``), the
  page every operator opens, over the same data;
- **floor**: ``SELECT count(*) FROM agents``.

A scrape must stay well under Prometheus' scrape timeout (10 s in the shipped example) and
should cost less than one overview page. Usage: ``.venv/bin/python bench/metrics_scrape.py
[--db sqlite|postgresql|both] [--hosts N] [--runs 20] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.dashboard import NOW, enroll, figures, ingest, timed  # noqa: E402
from bench.ingest import create_pg_database, drop_pg_database, sample_report  # noqa: E402
from controller.metrics import Metrics  # noqa: E402
from controller.store import db  # noqa: E402
from controller.store.dashboard import overview  # noqa: E402

DEFAULT_HOSTS = {"sqlite": 5_000, "postgresql": 20_000}


def run_db(name: str, url: str, hosts: int, runs: int, base: dict[str, Any]) -> dict[str, Any]:
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        sessions = db.session_factory(engine)
        print(f"[{name}] loading {hosts} hosts", flush=True)
        enroll(engine, hosts)
        ingest(sessions, hosts, base)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would have
        with sessions() as s:
            findings = int(s.execute(text("SELECT count(*) FROM findings")).scalar() or 0)
        metrics = Metrics(sessions, clock=lambda: NOW)
        body = metrics.exposition()
        scrape = []
        for i in range(runs + 1):
            started = time.perf_counter()
            metrics.exposition()
            if i:
                scrape.append((time.perf_counter() - started) * 1000)
        peer = timed(sessions, runs, lambda s: overview(s, None, now=NOW))
        floor = timed(sessions, runs, lambda s: s.execute(text("SELECT count(*) FROM agents")))
        return {
            "db": name,
            "hosts": hosts,
            "findings": findings,
            "body_bytes": len(body),
            "series": sum(1 for line in body.splitlines() if line and not line.startswith(b"#")),
            "scrape": figures(scrape),
            "overview": figures(peer),
            "floor": figures(floor),
        }
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--hosts", type=int, help="hosts per database (default 5,000 / 20,000)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs (default 20)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    base = msgspec.to_builtins(sample_report())
    results = []
    for name in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        hosts = args.hosts or DEFAULT_HOSTS[name]
        if name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="gg-bench-") as folder:
                url = db.sqlite_url(Path(folder) / "govguard.db")
                results.append(run_db(name, url, hosts, args.runs, base))
        else:
            database, url = create_pg_database()
            try:
                results.append(run_db(name, url, hosts, args.runs, base))
            finally:
                drop_pg_database(database)
    for r in results:
        print(
            f"{r['db']}, {r['hosts']:,} hosts, {r['findings']:,} findings: "
            f"/metrics {r['body_bytes']:,} bytes, {r['series']} series"
        )
        for row in ("scrape", "overview", "floor"):
            f = r[row]
            print(f"  {row:10} median {f['median_ms']:8.1f} ms   p95 {f['p95_ms']:8.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
