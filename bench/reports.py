"""The readiness report at fleet size: ``egov`` for a 5,000-host district and a 100,000-host
province, in every format.

Loads an organisation (units, offices, officials, registered computers and printers, classified
computers with offline agents and bundles; raw inserts: the organisation file's import is not
what is measured) and one full report per agent through the real ingest path
(``FindingsWriter`` with the shipped policy packs, as ``bench/dashboard.py``), takes the daily
snapshots, then times ``controller.reports.generate.generate`` for each format.

Two peers in the same run show what the report costs on top of the least work possible:
- **SQL floor**: the grouped counts the report needs at least (rule outcomes per unit, computers
  per unit) as plain SQL;
- **PDF floor**: WeasyPrint drawing a plain HTML table with as many rows as the report's
  per-unit table (no figures, no header): what the PDF engine needs at least.

Goal (issue 6): under 10 s for 5,000 hosts and under 60 s for 100,000 hosts, in PDF.

Usage: ``.venv/bin/python bench/reports.py [--scale district|province|both] [--hosts N]
[--runs N] [--quick] [--json OUT]``. District runs on SQLite, province on PostgreSQL (a
throw-away database dropped afterwards) unless ``--db`` says otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench.dashboard import agent_id, ingest, mac  # noqa: E402
from bench.ingest import create_pg_database, drop_pg_database, sample_report  # noqa: E402
from controller.reports import period as periods  # noqa: E402
from controller.reports.generate import FORMATS, generate  # noqa: E402
from controller.store import db  # noqa: E402
from controller.store.models import Base  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)
GOAL_S = {"district": 10.0, "province": 60.0}
DEFAULT_HOSTS = {"district": 5_000, "province": 100_000}
DEFAULT_DB = {"district": "sqlite", "province": "postgresql"}
OFFICES_PER_UNIT = 4


def layout(scale: str, hosts: int) -> tuple[str, list[dict[str, Any]], list[str]]:
    """The unit tree: (root id, unit rows, the ids of units that hold computers).

    A district: the legacy district, its committee with 12 divisions, and 20 communes. A
    province: 10 legacy districts shaped the same, under the province.
    """
    districts = 1 if scale == "district" else 10
    rows: list[dict[str, Any]] = []
    leaves: list[str] = []
    root = "tinh-bench" if scale == "province" else "huyen-bench-0"
    if scale == "province":
        rows.append({"id": root, "parent_id": None, "name": "Tỉnh Bench", "kind": "province"})
    for d in range(districts):
        district = f"huyen-bench-{d}"
        committee = f"{district}-ubnd"
        rows.append(
            {"id": district, "parent_id": root if scale == "province" else None,
             "name": f"Huyện Bench {d} (cũ)", "kind": "legacy_district"}
        )  # fmt: skip
        rows.append(
            {"id": committee, "parent_id": district, "name": f"UBND huyện Bench {d}",
             "kind": "district_committee", "headcount_can_bo": 12, "headcount_cong_chuc": 30,
             "org_cert_issuer": "Ban Cơ yếu Chính phủ", "org_cert_serial": f"ORG{d:04d}",
             "org_cert_expires_on": date(NOW.year + 1, 12, 31)}
        )  # fmt: skip
        for p in range(12):
            uid = f"{district}-phong-{p:02d}"
            rows.append(
                {"id": uid, "parent_id": committee, "name": f"Phòng chuyên môn {p:02d}",
                 "kind": "division", "headcount_cong_chuc": 8}
            )  # fmt: skip
            leaves.append(uid)
        for c in range(20):
            uid = f"{district}-xa-{c:02d}"
            rows.append(
                {"id": uid, "parent_id": district, "name": f"UBND xã Bench {d}-{c:02d}",
                 "kind": "commune", "headcount_can_bo": 11, "headcount_cong_chuc": 12,
                 "org_cert_issuer": "Ban Cơ yếu Chính phủ" if c % 3 else None,
                 "org_cert_serial": f"ORGX{d:02d}{c:02d}" if c % 3 else None,
                 "org_cert_expires_on": date(NOW.year + 1, 6, 30) if c % 3 else None}
            )  # fmt: skip
            leaves.append(uid)
    for row in rows:
        row.setdefault("created_at", NOW)
        row["inventory_managed"] = True
    return root, rows, leaves


def load_organisation(engine: Engine, scale: str, hosts: int) -> tuple[str, int]:
    """Units, offices, officials, agents, registered computers and printers, classified PCs.

    Host ``n`` sits in leaf unit ``n % leaves``; 98 % of computers are in the register
    (one in fifty agents is not), 1 % of registered computers have no agent, and each commune
    has one classified computer with an offline agent that imported a bundle 20 days ago.
    Returns the root unit id and the number of units.
    """
    tables = Base.metadata.tables
    root, units, leaves = layout(scale, hosts)
    offices = [
        {"unit_id": u, "id": f"o{k}", "name": f"Phòng làm việc {k}", "headcount_cong_chuc": 2}
        for u in leaves
        for k in range(OFFICES_PER_UNIT)
    ]
    officials = []
    for u in leaves:
        for k in range(3):
            officials.append(
                {"id": f"{u}-cb-{k}", "name": f"Cán bộ {k}", "unit_id": u, "office_id": "o0",
                 "category": "can_bo", "roles": json.dumps(
                     ["key_official", "signing_leader"] if k == 0 else ["key_official"]),
                 "cert_status": "valid" if k == 0 else None,
                 "cert_expires_on": date(NOW.year + 1, 1, 1) if k == 0 else None}
            )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(tables["units"].insert(), units)
        conn.execute(tables["offices"].insert(), offices)
        conn.execute(tables["officials"].insert(), officials)
    for start in range(0, hosts, 5000):
        agents, assets, macs = [], [], []
        for n in range(start, min(hosts, start + 5000)):
            aid = agent_id(n)
            unit = leaves[n % len(leaves)]
            agents.append(
                {"id": aid, "key_id": aid, "public_key": hashlib.sha256(aid.encode()).digest(),
                 "status": "active", "unit_id": unit, "hostname": f"pc-{n:06d}",
                 "macs": json.dumps([mac(n)]), "os": "linux" if n % 3 else "windows",
                 "agent_version": "bench", "created_at": NOW - timedelta(days=30),
                 "system_serial": f"SN{n:08d}", "last_seq": 0, "offline": False}
            )  # fmt: skip
            if n % 50 == 17:
                continue  # an enrolled computer the organisation file does not list yet
            assets.append(
                {"id": f"a-{n:07d}", "kind": ("desktop", "laptop", "all_in_one")[n % 3],
                 "unit_id": unit, "office_id": f"o{n % OFFICES_PER_UNIT}",
                 "hostname": f"pc-{n:06d}", "serial": f"SN{n:08d}", "agent_id": aid,
                 "classification": "normal", "state": "in_use", "tags": "[]",
                 "for_secret_use": False,
                 "purchased_at": date(NOW.year - (n % 9), 1 + n % 12, 1)}
            )  # fmt: skip
            macs.append({"asset_id": f"a-{n:07d}", "mac": mac(n)})
        with engine.begin() as conn:
            conn.execute(tables["agents"].insert(), agents)
            conn.execute(tables["assets"].insert(), assets)
            conn.execute(tables["asset_macs"].insert(), macs)
    extra: list[dict[str, Any]] = []
    offline: list[dict[str, Any]] = []
    bundles: list[dict[str, Any]] = []
    for i, unit in enumerate(leaves):
        for k in range(OFFICES_PER_UNIT - (i % 5 == 0)):  # one office in five has no printer
            extra.append(
                {"id": f"{unit}-in-{k}", "kind": "printer", "unit_id": unit, "office_id": f"o{k}",
                 "classification": "normal", "state": "in_use", "tags": "[]",
                 "for_secret_use": False}
            )  # fmt: skip
        if "-xa-" in unit:
            oid = f"mat{i:06x}"
            offline.append(
                {"id": oid, "key_id": oid, "public_key": hashlib.sha256(oid.encode()).digest(),
                 "status": "active", "unit_id": unit, "hostname": f"MAT-{i:04d}", "macs": "[]",
                 "os": "windows", "agent_version": "bench", "created_at": NOW - timedelta(days=200),
                 "last_seq": 0, "offline": True, "approved_at": NOW - timedelta(days=200)}
            )  # fmt: skip
            extra.append(
                {"id": f"{unit}-mat-01", "kind": "desktop", "unit_id": unit, "office_id": "o1",
                 "classification": "classified", "state": "in_use", "tags": "[]",
                 "for_secret_use": False, "agent_id": oid,
                 "security_plan_ref": f"PA-BMNN-{i:04d}",
                 "security_plan_approved_at": date(NOW.year - 1, 3, 1),
                 "security_plan_reviewed_at": date(NOW.year - (i % 4 == 0), 2, 1)}
            )  # fmt: skip
            bundles.append(
                {"agent_id": oid, "seq": 1, "digest": "0" * 64, "prev_digest": "",
                 "created_at": NOW - timedelta(days=21), "imported_at": NOW - timedelta(days=20),
                 "reports": 1, "gap": 0}
            )  # fmt: skip
    for n in range(0, hosts, 100):  # 1 % of computers registered without an agent
        extra.append(
            {"id": f"spare-{n:07d}", "kind": "desktop", "unit_id": leaves[n % len(leaves)],
             "office_id": "o3", "classification": "normal", "state": "in_use", "tags": "[]",
             "for_secret_use": False}
        )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(tables["agents"].insert(), offline)
        conn.execute(tables["assets"].insert(), uniform(extra))
        conn.execute(tables["bundles"].insert(), bundles)
    return root, len(units)


def uniform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with the same keys each (None where one lacks a key): an executemany takes its
    columns from the first row and would silently drop the others' extra fields."""
    keys = {key for row in rows for key in row}
    return [{key: row.get(key) for key in sorted(keys)} for row in rows]


def snapshots(sessions: sessionmaker[Session]) -> None:
    """Today's daily snapshots, as the hourly re-evaluation takes them."""
    from controller.store.dashboard import local_day, snapshot_compliance

    with sessions() as s, s.begin():
        snapshot_compliance(s, local_day(NOW))


def floor_sql(s: Session) -> None:
    """The least the report must read: rule outcomes and computers, grouped per unit."""
    s.execute(
        text(
            "SELECT a.unit_id, r.rule_id, r.outcome, count(*) FROM rule_states r "
            "JOIN agents a ON a.id = r.agent_id GROUP BY a.unit_id, r.rule_id, r.outcome"
        )
    ).all()
    s.execute(text("SELECT unit_id, kind, count(*) FROM assets GROUP BY unit_id, kind")).all()


def floor_pdf(rows: int) -> None:
    """WeasyPrint drawing a plain table of ``rows`` rows of 8 cells."""
    from weasyprint import HTML

    cells = "".join(f"<td>{i}</td>" for i in range(8))
    body = "".join(f"<tr><td>Đơn vị {r}</td>{cells}</tr>" for r in range(rows))
    HTML(string=f"<table>{body}</table>").write_pdf()


def timed(call: Any, runs: int) -> dict[str, float]:
    """Seconds of ``runs`` calls (the first run included: a report is made once, cold)."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return {"median_s": statistics.median(samples), "max_s": max(samples), "runs": runs}


def run(
    scale: str, name: str, url: str, hosts: int, runs: int, base: dict[str, Any]
) -> dict[str, Any]:
    """Load one organisation into ``url`` and time the report in every format."""
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        sessions = db.session_factory(engine)
        print(f"[{scale}/{name}] loading the organisation and {hosts:,} agents", flush=True)
        root, units = load_organisation(engine, scale, hosts)
        load_s = ingest(sessions, hosts, base)
        snapshots(sessions)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would have long before
        period = periods.current("quarter", periods.local_day(NOW))
        rows: list[dict[str, Any]] = []
        sizes: dict[str, int] = {}
        for fmt in FORMATS:

            def make(fmt: Any = fmt) -> None:
                with sessions() as s:
                    made = generate(
                        s, "egov", unit_id=root, scope=None, period=period, fmt=fmt,
                        lang="vi", now=NOW, generated_by="bench",
                    )  # fmt: skip
                sizes[fmt] = len(made.content)

            rows.append({"what": f"egov {fmt}", **timed(make, runs)})
            print(f"  egov {fmt}: {rows[-1]['median_s']:.2f} s, {sizes[fmt]:,} bytes", flush=True)

        def sql() -> None:
            with sessions() as s:
                floor_sql(s)

        rows.append({"what": "floor: SQL counts", **timed(sql, runs)})
        rows.append(
            {"what": f"floor: PDF of {units} rows", **timed(lambda: floor_pdf(units), runs)}
        )
        return {"scale": scale, "db": name, "hosts": hosts, "units": units, "load_s": load_s,
                "rows": rows, "sizes": sizes}  # fmt: skip
    finally:
        engine.dispose()


def show(result: dict[str, Any]) -> list[str]:
    goal = GOAL_S[result["scale"]]
    lines = [
        f"{result['scale']} on {result['db']}: {result['hosts']:,} hosts, {result['units']} units "
        f"(loaded in {result['load_s']:.0f} s); goal: PDF under {goal:.0f} s",
        f"  {'what':28} {'median s':>9} {'max s':>7} {'bytes':>11}",
    ]
    for row in result["rows"]:
        fmt = row["what"].removeprefix("egov ")
        size = result["sizes"].get(fmt)
        mark = ""
        if fmt == "pdf":
            mark = "  met" if row["max_s"] < goal else "  NOT MET"
        lines.append(
            f"  {row['what']:28} {row['median_s']:9.2f} {row['max_s']:7.2f} "
            f"{'' if size is None else f'{size:,}':>11}{mark}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", choices=("district", "province", "both"), default="both")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), help="override the database")
    parser.add_argument("--hosts", type=int, help="hosts (default 5,000 / 100,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per format (default 3)")
    parser.add_argument("--quick", action="store_true", help="500 hosts, one run")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    print("collecting this machine's report once ...", flush=True)
    base = msgspec.to_builtins(sample_report())
    results = []
    scales = ("district", "province") if args.scale == "both" else (args.scale,)
    for scale in scales:
        hosts = 500 if args.quick else (args.hosts or DEFAULT_HOSTS[scale])
        runs = 1 if args.quick else max(1, args.runs)
        name = args.db or DEFAULT_DB[scale]
        if name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="gg-bench-rep-") as folder:
                url = db.sqlite_url(Path(folder) / "govguard.db")
                results.append(run(scale, name, url, hosts, runs, base))
        else:
            database, url = create_pg_database()
            try:
                results.append(run(scale, name, url, hosts, runs, base))
            finally:
                drop_pg_database(database)
    print()
    for result in results:
        print("\n".join(show(result)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
