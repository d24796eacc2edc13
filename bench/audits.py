"""The security, classified and hardware reports at fleet size: compute and lay out.

Loads N synthetic hosts (100,000 on PostgreSQL by default) as ``bench/dashboard.py`` does (20
communes, one schema-valid full report per host through ``FindingsWriter`` with the shipped
policy packs), adds a register (90 % of the hosts as assets with purchase dates, 2 % more as
classified computers without an agent, five offices and a printer per commune), 200 exemptions
and the daily snapshots of two days, then times each report's ``compute`` + ``layout`` for the
whole district and for one commune. Goal (issue 6): well under a minute at 100,000 hosts.

Usage: ``.venv/bin/python bench/audits.py [--db sqlite|postgresql] [--hosts N] [--runs 3]
[--keep]``; ``--keep`` leaves the loaded PostgreSQL database in place and prints its URL, and
``--url URL`` times the reports again on such a database without loading it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402

from bench.dashboard import COMMUNES, NOW, agent_id, commune, enroll, ingest  # noqa: E402
from bench.ingest import create_pg_database, drop_pg_database, sample_report  # noqa: E402
from controller.reports import period  # noqa: E402
from controller.reports.base import ReportContext  # noqa: E402
from controller.reports.definitions import classified, hardware, security  # noqa: E402
from controller.store import db  # noqa: E402
from controller.store.dashboard import local_day, snapshot_compliance, snapshot_rules  # noqa: E402
from controller.store.models import Base  # noqa: E402
from controller.store.scope import unit_subtree  # noqa: E402

DEFAULT_HOSTS = {"sqlite": 5_000, "postgresql": 100_000}
GOAL_S = 60.0


def register(engine: Engine, hosts: int) -> None:
    """Offices, printers, assets for 90 % of the hosts, classified computers, exemptions."""
    tables = Base.metadata.tables
    with engine.begin() as conn:
        conn.execute(
            tables["offices"].insert(),
            [
                {"unit_id": commune(c), "id": f"p{o}", "name": f"Phòng {o}"}
                for c in range(COMMUNES)
                for o in range(5)
            ],
        )
        conn.execute(
            tables["network_devices"].insert(),
            [
                {"id": f"in-{c}", "kind": "printer", "name": "Máy in", "unit_id": commune(c),
                 "office_id": "p0", "macs": "[]"}
                for c in range(COMMUNES)
            ],
        )  # fmt: skip
    for start in range(0, hosts, 5000):
        rows: list[dict[str, Any]] = []
        for n in range(start, min(hosts, start + 5000)):
            if n % 10 != 9:
                rows.append(
                    {"id": f"ts-{n:06d}", "kind": ("desktop", "laptop")[n % 2],
                     "unit_id": commune(n), "office_id": f"p{n % 5}", "agent_id": agent_id(n),
                     "classification": "normal", "state": "in_use", "tags": "[]",
                     "purchased_at": date(2015 + n % 11, 1 + n % 12, 1),
                     "security_plan_ref": None, "security_plan_reviewed_at": None}
                )  # fmt: skip
            if n % 50 == 7:
                rows.append(
                    {"id": f"mat-{n:06d}", "kind": "desktop", "unit_id": commune(n),
                     "office_id": "p1", "agent_id": None, "purchased_at": None,
                     "classification": "classified", "state": "in_use",
                     "tags": "[]", "security_plan_ref": f"PA-{n}",
                     "security_plan_reviewed_at": date(2025, 1 + n % 12, 1)}
                )  # fmt: skip
        with engine.begin() as conn:
            conn.execute(tables["assets"].insert(), rows)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE findings SET status = 'exempted', exempt_reason = 'bench', "
                "exempted_by = 'user:bench', exempt_until = :until WHERE id IN "
                "(SELECT id FROM findings WHERE status = 'open' ORDER BY id LIMIT 200)"
            ),
            {"until": NOW + timedelta(days=30)},
        )


def timed(runs: int, work: Any) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), max(samples)


def load(url: str, hosts: int, base: dict[str, Any]) -> str:
    """Load the synthetic fleet into ``url``; a line saying how long it took."""
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        sessions = db.session_factory(engine)
        print(f"enrolling {hosts} hosts", flush=True)
        enroll(engine, hosts)
        print("ingesting one full report per host", flush=True)
        load_s = ingest(sessions, hosts, base)
        register(engine, hosts)
        today = local_day(NOW)
        with sessions() as s, s.begin():
            for day in (today - timedelta(days=1), today):
                snapshot_compliance(s, day)
                started = time.perf_counter()
                snapshot_rules(s, day)
                snapshot_s = time.perf_counter() - started
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        return f"{hosts:,} hosts loaded in {load_s:.0f} s; snapshot_rules {snapshot_s:.2f} s"
    finally:
        engine.dispose()


def measure(url: str, runs: int) -> list[str]:
    """Time each report for the district and for one commune."""
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    lines = [f"{engine.dialect.name}:"]
    try:
        today = local_day(NOW)
        month = period.current("month", today)
        for label, unit in (("district", "huyen-bench"), ("commune", commune(3))):
            with sessions() as s:
                scope = None if unit == "huyen-bench" else unit_subtree(s, unit)
            ctx = ReportContext(unit_id=unit, scope=scope, period=month, now=NOW)
            for defn in (security.SECURITY, classified.CLASSIFIED, hardware.HARDWARE):

                def work(defn: Any = defn, ctx: ReportContext = ctx) -> None:
                    with sessions() as s:
                        defn.layout(defn.compute(s, ctx), ctx)

                median, worst = timed(runs, work)
                ok = "ok" if worst < GOAL_S else "OVER"
                lines.append(
                    f"  {defn.name:12} {label:9} median {median:6.2f} s  max {worst:6.2f} s  {ok}"
                )
                print(lines[-1], flush=True)
        return lines
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--hosts", type=int, help="hosts (default 5,000 / 100,000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per report (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--url", help="time the reports on this loaded database (no loading)")
    args = parser.parse_args(argv)
    if args.url:
        print("\n".join(measure(args.url, args.runs)))
        return 0
    hosts = args.hosts or DEFAULT_HOSTS[args.db]
    print("collecting this machine's report once ...", flush=True)
    base = msgspec.to_builtins(sample_report())
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gg-bench-") as folder:
            url = db.sqlite_url(Path(folder) / "govguard.db")
            lines = [load(url, hosts, base), *measure(url, args.runs)]
    else:
        database, url = create_pg_database()
        try:
            lines = [load(url, hosts, base), *measure(url, args.runs)]
        finally:
            if args.keep:
                print(f"kept: {url}", flush=True)
            else:
                drop_pg_database(database)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
