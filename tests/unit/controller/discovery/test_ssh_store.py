"""Storing a collected report (controller.discovery.ssh_collect) on SQLite and PostgreSQL.

The report is built from the recorded outputs of tests/fixtures/ssh/debian12-server and stored
with the ingest path's own :func:`store_batch`; the policies' writer is exercised end to end by
tests/integration/test_ssh_collect.py.
"""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.report import Report
from controller.discovery import ssh
from controller.discovery.ssh_collect import key_id, record_failure, store_collection
from controller.discovery.ssh_report import build_report
from controller.findings import FindingsWriter, PolicyCache
from controller.store import reports
from controller.store.dashboard.hosts import HostQuery, list_hosts
from controller.store.models import Agent, Asset, AuditEntry, Finding, HostFacts, SshTarget
from controller.store.models import Report as StoredReport
from controller.store.reports import store_batch
from tests.unit.controller.discovery.test_ssh_report import NOW, outputs
from tests.unit.controller.store.factories import UNIT, make_agent, make_unit

TARGET = ssh.endpoint("10.10.0.20", 22, "root")


@pytest.fixture
def report() -> Report:
    return build_report(outputs("debian12-server"), NOW)


def test_first_collection_makes_an_ssh_agent_and_stores_like_ingest(
    session: Session, report: Report
) -> None:
    make_unit(session)
    stored = store_collection(session, store_batch, TARGET, report, NOW, actor="cli:t", unit=UNIT)
    assert stored.new_agent and stored.seq == 1 and stored.unit_id == UNIT
    agent = session.get(Agent, stored.agent_id)
    assert agent is not None and agent.key_id == key_id(TARGET) == "ssh:10.10.0.20:22"
    assert (agent.source, agent.status, agent.os, agent.last_seq) == ("ssh", "active", "linux", 1)
    assert agent.machine_id == "4f1c2d3e4b5a69788796a5b4c3d2e1f0"
    assert agent.system_serial == "7B5XNM2" and "b0:7b:25:aa:bb:01" in agent.macs
    # Nobody holds the private key of the row's public key (never 32 zero bytes).
    assert len(agent.public_key) == 32 and agent.public_key != bytes(32)
    row = session.scalar(select(StoredReport).where(StoredReport.agent_id == agent.id))
    assert row is not None and (row.source, row.kind, row.seq) == ("ssh", "full", 1)
    assert json.loads(gzip.decompress(row.body))["identity"]["hostname"] == "srv-vanthu"
    facts = session.get(HostFacts, agent.id)
    assert facts is not None and facts.serial == "7B5XNM2"
    assert facts.os_name == "Debian GNU/Linux 12 (bookworm)"
    target = session.get(SshTarget, "10.10.0.20")
    assert target is not None and target.agent_id == agent.id and target.last_ok_at == NOW
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"agent.ssh_added", "report.stored", "ssh.collected"} <= actions
    # In the dashboard's hosts list like any computer, searchable by its serial.
    page = list_hosts(session, None, HostQuery(q="7B5XNM2", now=NOW))
    assert [(r.agent_id, r.hostname, r.os, r.state) for r in page.rows] == [
        (agent.id, "srv-vanthu", "linux", "online")
    ]

    # The next collection: same agent, next sequence number, no second row.
    later = NOW + timedelta(hours=1)
    again = store_collection(session, store_batch, TARGET, report, later, actor="cli:t")
    assert (again.agent_id, again.seq, again.new_agent) == (agent.id, 2, False)
    assert session.scalar(select(func.count()).select_from(Agent)) == 1
    assert reports.count_reports(session, agent.id) == 2
    # The same computer by its name: one computer, one row.
    by_name = ssh.endpoint("srv-vanthu.ubnd.local")
    with pytest.raises(ssh.SshError, match=r"collected already as ssh:10\.10\.0\.20:22"):
        store_collection(session, store_batch, by_name, report, later, actor="cli:t")


def test_a_host_with_a_govguard_agent_is_not_collected_twice(
    session: Session, report: Report
) -> None:
    make_agent(session, "a1b2c3d4e5f60718", machine_id="4f1c2d3e4b5a69788796a5b4c3d2e1f0")
    with pytest.raises(ssh.SshError, match="enrolled with a govguard agent already") as caught:
        store_collection(session, store_batch, TARGET, report, NOW, actor="cli:t", unit=UNIT)
    assert caught.value.code == "invalid"


def test_unknown_unit_and_revoked_host_are_refused(session: Session, report: Report) -> None:
    make_unit(session)
    with pytest.raises(ssh.SshError, match="no unit 'nowhere'"):
        store_collection(session, store_batch, TARGET, report, NOW, actor="t", unit="nowhere")
    with pytest.raises(ssh.SshError, match="--unit"):
        store_collection(session, store_batch, TARGET, report, NOW, actor="t")
    stored = store_collection(session, store_batch, TARGET, report, NOW, actor="t", unit=UNIT)
    agent = session.get(Agent, stored.agent_id)
    assert agent is not None
    agent.status = "revoked"
    session.flush()
    with pytest.raises(ssh.SshError, match="revoked"):
        store_collection(session, store_batch, TARGET, report, NOW, actor="t")


def test_failures_are_audited_and_kept_on_the_target(session: Session) -> None:
    make_unit(session)
    changed = ssh.SshError(
        "changed_host_key", "the host key changed", fingerprint="SHA256:new", expected="SHA256:old"
    )
    # No row and no unit: the audit entry is the record.
    record_failure(session, TARGET, changed, NOW, actor="cli:t")
    assert session.get(SshTarget, "10.10.0.20") is None
    record_failure(session, TARGET, changed, NOW, actor="cli:t", unit=UNIT)
    target = session.get(SshTarget, "10.10.0.20")
    assert target is not None and target.last_error == "changed_host_key: the host key changed"
    assert target.last_error_at == NOW and target.last_ok_at is None
    entries = list(
        session.scalars(select(AuditEntry).where(AuditEntry.action == "ssh.changed_host_key"))
    )
    assert len(entries) == 2 and entries[0].target == "ssh:10.10.0.20:22"
    assert entries[0].details is not None
    assert (entries[0].details["fingerprint"], entries[0].details["expected"]) == (
        "SHA256:new", "SHA256:old"
    )  # fmt: skip


def test_a_classified_computer_reached_over_ssh_trips_the_wire(
    session: Session, report: Report, tmp_path: Path
) -> None:
    """The same writer as online ingest: a classified asset's machine answering SSH is a
    critical sighting, and the policies are evaluated on the report."""
    make_unit(session)
    session.add(
        Asset(
            id="may-mat-02",
            kind="desktop",
            unit_id=UNIT,
            classification="classified",
            machine_id="4f1c2d3e4b5a69788796a5b4c3d2e1f0",
        )
    )
    session.flush()
    writer = FindingsWriter(PolicyCache(tmp_path))
    stored = store_collection(session, writer, TARGET, report, NOW, actor="cli:t")
    # Its unit comes from the asset it is, and it is linked to it.
    assert stored.unit_id == UNIT
    assert session.scalar(select(Asset.agent_id).where(Asset.id == "may-mat-02")) == stored.agent_id
    sighting = session.scalar(
        select(Finding).where(Finding.rule_id == "BMNN-04", Finding.subject == "asset:may-mat-02")
    )
    assert sighting is not None and sighting.severity == "critical" and sighting.status == "open"
    rules = set(session.scalars(select(Finding.rule_id).where(Finding.agent_id == stored.agent_id)))
    assert rules - {"BMNN-04"}, "the policies were not evaluated on the report"
