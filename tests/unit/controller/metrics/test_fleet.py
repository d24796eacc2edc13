"""The scrape-time collector on a district whose figures are known by hand (store district.py),
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from controller.metrics import Metrics
from controller.metrics.fleet import FleetCollector
from controller.store import jobs
from controller.store.db import make_engine, session_factory
from controller.store.models import RemediationJob
from tests.support.controller_proc import free_port
from tests.unit.controller.metrics.conftest import samples
from tests.unit.controller.store.district import NOW, SEEN, build
from tests.unit.controller.store.factories import T0


@pytest.fixture
def district(session: Session, tmp_path: Path) -> Session:
    build(session, tmp_path)
    return session


def scrape(engine: Engine) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return samples(Metrics(session_factory(engine), clock=lambda: NOW).exposition())


def test_hosts_findings_and_classified_computers(district: Session, engine: Engine) -> None:
    got = scrape(engine)
    assert got[("govguard_up", ())] == 1.0

    def hosts(unit: str, state: str) -> float:
        return got[("govguard_hosts", (("state", state), ("unit", unit)))]

    # a1, a2 heard 10 min ago; o1 (offline) never; b1 70 min ago; p1 is pending: not counted.
    assert [hosts("xa-a", st) for st in ("online", "stale", "never")] == [2, 0, 1]
    assert [hosts("xa-b", st) for st in ("online", "stale", "never")] == [0, 1, 0]
    assert [hosts("huyen", st) for st in ("online", "stale", "never")] == [0, 0, 0]
    assert sum(v for (name, _), v in got.items() if name == "govguard_hosts") == 4

    assert got[("govguard_newest_report_age_seconds", (("unit", "xa-a"),))] == 600
    assert (
        got[("govguard_newest_report_age_seconds", (("unit", "xa-b"),))]
        == (NOW - T0).total_seconds()
    )
    assert ("govguard_newest_report_age_seconds", (("unit", "huyen"),)) not in got

    findings = {labels: v for (name, labels), v in got.items() if name == "govguard_findings_open"}
    assert findings == {
        (("rule", "FW-01"), ("severity", "high"), ("status", "open")): 1,
        (("rule", "OS-01"), ("severity", "low"), ("status", "acknowledged")): 1,
        (("rule", "BMNN-04"), ("severity", "critical"), ("status", "open")): 1,
    }

    classified = {
        labels: v
        for (name, labels), v in got.items()
        if name == "govguard_classified_computers" and v
    }
    assert classified == {
        (("status", "sighted"), ("unit", "xa-b")): 1,
        (("status", "never"), ("unit", "xa-a")): 1,
        (("status", "attested"), ("unit", "xa-a")): 1,
    }
    # Every unit has every status, zeros included (alerts need the series to exist).
    assert got[("govguard_classified_computers", (("status", "sighted"), ("unit", "huyen")))] == 0

    # No remediation, no notification, no periodic job yet: zeros, no job series.
    assert got[("govguard_remediation_jobs", (("status", "awaiting_approval"),))] == 0
    assert got[("govguard_notifications", (("status", "failed"),))] == 0
    assert not [name for name, _ in got if name.startswith("govguard_job_")]


def test_remediation_jobs_by_status(district: Session, engine: Engine) -> None:
    with district.begin():
        for status in ("awaiting_approval", "awaiting_approval", "fixed"):
            district.add(
                RemediationJob(
                    playbook="enable_firewall.yml",
                    status=status,
                    origin="cli",
                    requested_by="cli",
                    requested_at=SEEN,
                )
            )
    got = scrape(engine)
    assert got[("govguard_remediation_jobs", (("status", "awaiting_approval"),))] == 2
    assert got[("govguard_remediation_jobs", (("status", "fixed"),))] == 1
    assert got[("govguard_remediation_jobs", (("status", "running"),))] == 0


def test_the_last_snmp_round(district: Session, engine: Engine) -> None:
    started = NOW - timedelta(minutes=5)
    with district.begin():
        assert jobs.claim(
            district, "snmp.round", "w1", started, every=timedelta(0), lease=timedelta(minutes=30)
        )
    got = scrape(engine)
    # Running: its start is known, its duration not yet.
    assert got[("govguard_job_running", (("job", "snmp.round"),))] == 1
    assert got[("govguard_job_last_started_timestamp_seconds", (("job", "snmp.round"),))] == (
        started.timestamp()
    )
    assert ("govguard_snmp_round_duration_seconds", ()) not in got
    with district.begin():
        jobs.finish(
            district,
            "snmp.round",
            "w1",
            started + timedelta(seconds=42),
            {"devices_ok": 7, "devices_failed": 2, "values": 100},
            started=started,
        )
    got = scrape(engine)
    assert got[("govguard_job_running", (("job", "snmp.round"),))] == 0
    assert got[("govguard_snmp_round_duration_seconds", ())] == 42
    assert got[("govguard_snmp_round_devices", (("outcome", "ok"),))] == 7
    assert got[("govguard_snmp_round_devices", (("outcome", "failed"),))] == 2
    assert got[("govguard_job_last_finished_timestamp_seconds", (("job", "snmp.round"),))] == (
        (started + timedelta(seconds=42)).timestamp()
    )


def test_an_unreachable_database_is_up_0_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on this port: connection refused, as when PostgreSQL is down.
    engine = make_engine(f"postgresql://govguard@127.0.0.1:{free_port()}/govguard")
    try:
        got = scrape(engine)
    finally:
        engine.dispose()
    assert got[("govguard_up", ())] == 0
    assert not [name for name, _ in got if name.startswith("govguard_hosts")]
    # Live counters and process metrics are still there.
    assert ("govguard_ingest_requests_total", (("outcome", "stored"),)) in got
    assert "database is unavailable" in caplog.text
    assert "Traceback" not in caplog.text


# SQLite readers never wait for a writer (WAL): only PostgreSQL can hold a scrape.
@pytest.mark.parametrize("db_url", [pytest.param("postgresql", id="postgresql")], indirect=True)
def test_a_locked_table_ends_the_read_at_the_timeout(
    district: Session, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    registry.register(FleetCollector(session_factory(engine), clock=lambda: NOW, timeout_s=0.2))
    # What a migration's ALTER TABLE holds: even readers wait.
    with engine.connect() as locker, locker.begin():
        locker.execute(text("LOCK TABLE agents IN ACCESS EXCLUSIVE MODE"))
        got = samples(generate_latest(registry))
    assert got[("govguard_up", ())] == 0
    assert "took longer than 0.2 s" in caplog.text
    assert "Traceback" not in caplog.text
    # The timeout was the read's own: the pooled connection is back to the default.
    with engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
    assert samples(generate_latest(registry))[("govguard_up", ())] == 1
