"""Policy evaluation: the engine per rule, a full re-evaluation, and findings on the ingest path.

Three measurements, each next to a peer measured in the same run:

1. **Engine**: every enabled rule on the facts of real reports of this machine, in µs per rule
   per host, against a plain-Python function doing the same lookup as the simplest rule (the
   "about 2 µs" floor of the issue).
2. **Full re-evaluation**: N hosts (100,000 by default) stored with real gzip full reports,
   re-evaluated from the database with ``controller.findings.reevaluate``: the first pass
   (every state written), a second with nothing changed (nothing written) and a third after an
   override flips outcomes. Prints seconds, hosts/s, rule evaluations/s, rows written.
3. **Incremental**: batches of stored reports (full reports and posture heartbeats, as agents
   send them) through ``FindingsWriter`` against ``store_batch`` alone; the difference is the
   cost evaluation adds per report, database writes included.

Usage: ``.venv/bin/python bench/policy_eval.py [--hosts N] [--db sqlite|postgresql|both]``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from sqlalchemy import Engine, func, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from agent.daemon import gzip_body, heartbeat_report  # noqa: E402
from agent.digest import POSTURE_SECTIONS  # noqa: E402
from agent.report import Report  # noqa: E402
from bench.ingest import create_pg_database, drop_pg_database, sample_report  # noqa: E402
from controller.findings import Evaluator, FindingsWriter, PolicyCache, reevaluate  # noqa: E402
from controller.findings.hosts import Host  # noqa: E402
from controller.policy import PolicySet, load_installed, load_policies  # noqa: E402
from controller.store import db  # noqa: E402
from controller.store.models import Base, RuleState  # noqa: E402
from controller.store.reports import NewReport, store_batch  # noqa: E402

NOW = datetime.now(UTC)
UNIT = "huyen-bench"
#: Report variants: hosts differ in the facts that rules read (firewall, USB, screen lock...).
VARIANTS = 16


def variants(report: Report) -> list[dict[str, Any]]:
    """``VARIANTS`` copies of the report as JSON with posture facts varied between hosts."""
    base = msgspec.json.decode(msgspec.json.encode(report))
    found = []
    for n in range(VARIANTS):
        doc = json.loads(json.dumps(base))
        security = doc.setdefault("security", {})
        if isinstance(security.get("firewall"), dict):
            security["firewall"]["enabled"] = n % 4 != 0
        else:
            security["firewall"] = {"enabled": n % 4 != 0}
        found.append(doc)
    return found


def load_rules(packs: Sequence[Path], references: Sequence[Path], data_dir: Path) -> PolicySet:
    """The shipped packs (with no overrides), or the packs given on the command line."""
    if packs:
        refs = list(references)
        if not refs:
            from controller.policy import DEFAULT_REFERENCES

            refs = [DEFAULT_REFERENCES]
        return load_policies(list(packs), references=refs)
    return load_installed(data_dir)


# -- 1. the engine alone ------------------------------------------------------------------------


def bench_engine(evaluator: Evaluator, docs: list[dict[str, Any]]) -> dict[str, float]:
    """µs per rule per host over the variants, and the plain-Python floor of one simple rule."""
    host = Host(agent_id="bench", unit_id=UNIT, units=(UNIT,), os="linux")
    rules = evaluator.rules
    stamp = NOW.timestamp()
    ctx = host.context(NOW)
    from controller.policy import evaluate_rule

    def run_all() -> None:
        for doc in docs:
            for rule in rules:
                evaluate_rule(rule, doc, ctx, stamp)

    loops = max(1, 20_000 // max(1, len(rules) * len(docs)))
    best = min(timeit.repeat(run_all, number=loops, repeat=5))
    per_rule_us = best / (loops * len(docs) * len(rules)) * 1e6

    # The simplest rule shape (eq on a nested fact) in the engine and as plain Python.
    simple = next(
        (r for r in rules if len(r.checks) == 1 and "eq" in r.checks[0].expected), rules[0]
    )
    doc = docs[1]
    engine_us = (
        min(timeit.repeat(lambda: evaluate_rule(simple, doc, ctx, stamp), number=50_000, repeat=5))
        / 50_000
        * 1e6
    )
    path = simple.checks[0].fact.split(".")
    want = simple.checks[0].expected.get("eq")

    def plain() -> bool:
        value: Any = doc
        for part in path:
            if not isinstance(value, dict) or part not in value:
                return False
            value = value[part]
        return bool(value == want)

    plain_us = min(timeit.repeat(plain, number=50_000, repeat=5)) / 50_000 * 1e6
    return {
        "rules": len(rules),
        "per_rule_us": per_rule_us,
        "simple_rule": simple.id,  # type: ignore[dict-item]
        "simple_engine_us": engine_us,
        "simple_plain_us": plain_us,
    }


# -- 2. full re-evaluation from the database ----------------------------------------------------


def populate(engine: Engine, hosts: int, bodies: list[bytes], progress: bool) -> float:
    """Insert ``hosts`` agents and their host facts (bodies round-robin); returns seconds."""
    agents = Base.metadata.tables["agents"]
    facts = Base.metadata.tables["host_facts"]
    units = Base.metadata.tables["units"]
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            units.insert(),
            [
                {
                    "id": UNIT,
                    "parent_id": None,
                    "name": "Bench",
                    "kind": "district",
                    "created_at": NOW,
                }
            ],
        )
    chunk = 5000
    for start in range(0, hosts, chunk):
        ids = [f"{n:08x}" for n in range(start, min(hosts, start + chunk))]
        with engine.begin() as conn:
            conn.execute(
                agents.insert(),
                [
                    {
                        "id": agent_id,
                        "key_id": agent_id,
                        "public_key": hashlib.sha256(agent_id.encode()).digest(),
                        "status": "active",
                        "unit_id": UNIT,
                        "hostname": f"pc-{agent_id}",
                        "macs": "[]",
                        "os": "linux",
                        "agent_version": "bench",
                        "created_at": NOW,
                        "last_seq": 1,
                    }
                    for agent_id in ids
                ],
            )
            conn.execute(
                facts.insert(),
                [
                    {
                        "agent_id": agent_id,
                        "updated_at": NOW,
                        "last_report_at": NOW - timedelta(minutes=5),
                        "last_full_at": NOW - timedelta(hours=3),
                        "last_seq": 1,
                        "full_body": bodies[int(agent_id, 16) % len(bodies)],
                    }
                    for agent_id in ids
                ],
            )
        if progress:
            print(f"\r  stored {min(hosts, start + chunk)}/{hosts} hosts", end="", flush=True)
    if progress:
        print()
    return time.perf_counter() - started


def count_states(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(RuleState)) or 0)


def bench_full(
    sessions: sessionmaker[Session],
    passes: list[tuple[str, Evaluator, int]],
    hosts: int,
) -> list[dict[str, Any]]:
    """One re-evaluation per (label, evaluator, worker processes), in order, with its figures."""
    rows = []
    for label, evaluator, workers in passes:
        before = count_states(sessions)
        totals = reevaluate(sessions, evaluator, NOW, workers=workers)
        evaluations = totals.evaluations
        rows.append(
            {
                "pass": label,
                "workers": workers,
                "seconds": totals.seconds,
                "hosts_per_s": hosts / totals.seconds,
                "evaluations_per_s": evaluations / totals.seconds,
                "us_per_rule_host": totals.seconds / max(1, evaluations) * 1e6,
                "changes_written": totals.changes,
                "states_forgotten": before - count_states(sessions) if totals.forgotten else 0,
            }
        )
    return rows


# -- 3. incremental evaluation on the ingest path ----------------------------------------------


def incremental_reports(
    hosts: int, count: int, full_body: bytes, beat: bytes, beat_sections: bytes
) -> list[NewReport]:
    """``count`` reports for the first hosts: one in ten a full report, the rest heartbeats."""
    reports = []
    for n in range(count):
        agent_id = f"{n % hosts:08x}"
        seq = 2 + n // hosts
        kind = "full" if n % 10 == 0 else "heartbeat"
        sent = NOW + timedelta(seconds=n)
        reports.append(
            NewReport(
                agent_id=agent_id,
                seq=seq,
                report_id=f"{n:032x}",
                kind=kind,
                sent_at=sent,
                received_at=sent,
                collected_at=sent,
                clock_skew_s=0.0,
                body=full_body if kind == "full" else beat,
                sections_json=None if kind == "full" else beat_sections,
            )
        )
    return reports


def bench_incremental(
    sessions: sessionmaker[Session],
    store: Callable[[Session, Sequence[NewReport], datetime], set[tuple[str, int]]],
    reports: list[NewReport],
    batch: int,
) -> float:
    """Milliseconds per report to store (and evaluate) ``reports`` in batches, commits included."""
    started = time.perf_counter()
    for start in range(0, len(reports), batch):
        with sessions() as s, s.begin():
            store(s, reports[start : start + batch], NOW)
    return (time.perf_counter() - started) / len(reports) * 1000


def fixed_cache(evaluator: Evaluator) -> PolicyCache:
    cache = PolicyCache(
        Path("/nonexistent"), check_every_s=1e9, loader=lambda _d: evaluator.policies, watch=[]
    )
    return cache


def run_db(
    name: str,
    url: str,
    args: argparse.Namespace,
    evaluator: Evaluator,
    flipped: Evaluator,
    docs: list[dict[str, Any]],
    report: Report,
) -> dict[str, Any]:
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        sessions = db.session_factory(engine)
        bodies = [gzip.compress(msgspec.json.encode(d), compresslevel=9, mtime=0) for d in docs]
        print(
            f"[{name}] storing {args.hosts} hosts with real full reports "
            f"({sum(map(len, bodies)) // len(bodies)} B gzip each)"
        )
        setup_s = populate(engine, args.hosts, bodies, sys.stdout.isatty())
        print(f"[{name}] stored in {setup_s:.1f} s; full re-evaluation ...")
        cores = os.cpu_count() or 1
        full = bench_full(
            sessions,
            [
                ("first (every state new)", evaluator, 1),
                ("unchanged", evaluator, 1),
                (f"unchanged, {cores} processes", evaluator, cores),
                (f"after an override, {cores} proc.", flipped, cores),
            ],
            args.hosts,
        )
        # Incremental: heartbeats carry the posture sections, full reports all of them.
        beat_report = heartbeat_report(report, POSTURE_SECTIONS, None)
        beat_body = gzip_body(beat_report)
        sections = msgspec.json.encode(
            {k: v for k, v in msgspec.to_builtins(beat_report).items() if k in POSTURE_SECTIONS}
        )
        reports = incremental_reports(args.hosts, args.reports, bodies[1], beat_body, sections)
        evaluated = bench_incremental(
            sessions, FindingsWriter(fixed_cache(evaluator)), reports, args.batch
        )
        later = [
            NewReport(
                **{**{f: getattr(r, f) for f in r.__dataclass_fields__}, "seq": r.seq + 1_000_000}
            )
            for r in reports
        ]
        stored_only = bench_incremental(sessions, store_batch, later, args.batch)
        return {
            "db": name,
            "hosts": args.hosts,
            "setup_s": setup_s,
            "full": full,
            "incremental_ms": evaluated,
            "store_only_ms": stored_only,
            "reports": args.reports,
            "batch": args.batch,
        }
    finally:
        engine.dispose()


def print_database(row: dict[str, Any]) -> None:
    """The figures of one database, printed as soon as its runs end."""
    print(f"\n[{row['db']}] full re-evaluation of {row['hosts']} hosts (goal < 60 s for 100,000):")
    print(
        f"  {'pass':32} {'seconds':>8} {'hosts/s':>9} {'evals/s':>10} "
        f"{'µs/rule/host':>12} {'written':>8}"
    )
    for full in row["full"]:
        print(
            f"  {full['pass']:32} {full['seconds']:8.1f} {full['hosts_per_s']:9.0f} "
            f"{full['evaluations_per_s']:10.0f} {full['us_per_rule_host']:12.2f} "
            f"{full['changes_written']:8d}"
        )
    extra = row["incremental_ms"] - row["store_only_ms"]
    print(
        f"  incremental, {row['reports']} reports in batches of {row['batch']}: "
        f"{row['incremental_ms']:.3f} ms per report stored and evaluated vs "
        f"{row['store_only_ms']:.3f} ms stored only (evaluation adds {extra:.3f} ms; "
        "goal < 2 ms)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=100_000, help="hosts re-evaluated (100000)")
    parser.add_argument("--reports", type=int, default=5000, help="reports of the ingest run")
    parser.add_argument("--batch", type=int, default=50, help="reports per ingest batch (50)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--packs",
        type=Path,
        action="append",
        default=[],
        help="pack files or folders instead of the shipped packs",
    )
    parser.add_argument("--references", type=Path, action="append", default=[])
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gg-policy-bench-") as tmp:
        work = Path(tmp)
        policies = load_rules(args.packs, args.references, work)
        if not policies.rules:
            print("no rules to evaluate (no shipped packs and no --packs)", file=sys.stderr)
            return 1
        evaluator = Evaluator(policies)
        # The override pass: the first rule disabled (its states and findings are forgotten).
        flipped = Evaluator(
            PolicySet(
                policies.packs, policies.rules[1:], (policies.rules[0].id,), policies.references
            )
        )
        print(f"collecting a real report of this machine; {len(policies.rules)} rules")
        report = sample_report()
        docs = variants(report)
        results: dict[str, Any] = {"engine": bench_engine(evaluator, docs), "databases": []}
        engine_row = results["engine"]
        print(
            f"engine: {engine_row['per_rule_us']:.2f} µs per rule per host over "
            f"{engine_row['rules']} rules (goal ≤ 5 µs); simple rule {engine_row['simple_rule']}: "
            f"engine {engine_row['simple_engine_us']:.2f} µs vs plain Python "
            f"{engine_row['simple_plain_us']:.2f} µs"
        )
        targets = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
        for name in targets:
            if name == "sqlite":
                url = (
                    db.sqlite_url(work / "bench.db")
                    if hasattr(db, "sqlite_url")
                    else (f"sqlite:///{work / 'bench.db'}")
                )
                results["databases"].append(
                    run_db(name, url, args, evaluator, flipped, docs, report)
                )
                print_database(results["databases"][-1])
            else:
                pg_name, url = create_pg_database()
                try:
                    results["databases"].append(
                        run_db(name, url, args, evaluator, flipped, docs, report)
                    )
                    print_database(results["databases"][-1])
                finally:
                    drop_pg_database(pg_name)
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
