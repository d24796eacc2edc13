"""The classified-PC tripwire and the agent ↔ asset link, on SQLite and PostgreSQL.

The enrollment case goes through the real HTTPS API; the report cases through the ingest
writer's store function, as the controller runs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from agent import keys
from controller.findings import FindingsWriter, UnitPaths, load_hosts
from controller.findings.assets import link_agents
from controller.store import db
from controller.store.inventory import set_asset_macs
from controller.store.models import Agent, Asset, AuditEntry, Finding
from tests.unit.controller.findings.test_findings import LINUX, begin, cache_for, ingest, write_pack
from tests.unit.controller.store.factories import T0, UNIT, full, heartbeat, make_agent, make_unit
from tests.unit.controller.test_api_enroll import (
    client,
    make_token,
    request_body,
    settings,
    tls_files,
)

__all__ = ["client", "settings", "tls_files"]  # fixtures

CLASSIFIED_MAC = "00:1a:2b:3c:4d:5e"


def add_asset(
    s: Session,
    asset_id: str,
    *,
    classification: str = "classified",
    unit: str = UNIT,
    macs: tuple[str, ...] = (),
    **fields: object,
) -> None:
    s.add(Asset(id=asset_id, kind="desktop", unit_id=unit, classification=classification, **fields))
    s.flush()
    set_asset_macs(s, asset_id, macs)


def critical(s: Session) -> list[Finding]:
    return list(s.scalars(select(Finding).where(Finding.rule_id == "BMNN-04")))


def test_an_online_report_of_a_classified_pc_is_critical_once(
    session: Session, tmp_path: Path
) -> None:
    writer = FindingsWriter(cache_for(write_pack(tmp_path, LINUX)))
    with session.begin():
        make_unit(session)
        add_asset(session, "xa-an-binh-mat-01", macs=(CLASSIFIED_MAC,), serial="SN-MAT-01")
        make_agent(session, "a1", macs=[CLASSIFIED_MAC.upper().replace(":", "-")])
        make_agent(session, "a2")
    ingest(session, writer, heartbeat("a1", 1, security={}), heartbeat("a2", 1, security={}))
    (finding,) = critical(session)
    assert (finding.subject, finding.severity, finding.status) == (
        "asset:xa-an-binh-mat-01",
        "critical",
        "open",
    )
    assert finding.evidence[0]["source"] == "report"
    assert finding.evidence[0]["matched"] == {"mac": CLASSIFIED_MAC}
    assert finding.agent_id == "a1"
    session.commit()
    # Seen again: the same finding, refreshed; every sighting is on the audit log.
    ingest(session, writer, heartbeat("a1", 2, security={}))
    session.expire_all()
    assert len(critical(session)) == 1
    sightings = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "tripwire.sighting")
    )
    assert sightings == 2


def test_a_full_report_showing_a_classified_serial_trips_it(
    session: Session, tmp_path: Path
) -> None:
    """The agent enrolled with other ids (disk moved to the classified PC): its report tells."""
    writer = FindingsWriter(cache_for(write_pack(tmp_path, LINUX)))
    with session.begin():
        make_unit(session)
        add_asset(session, "mat-02", serial="SN-MAT-02")
        make_agent(session, "a1")
    ingest(
        session,
        writer,
        full("a1", 1, identity={"system_serial": "sn-mat-02"}, network={"interfaces": []}),
    )
    (finding,) = critical(session)
    assert finding.evidence[0]["matched"] == {"serial": "sn-mat-02"}


def test_retired_or_normal_assets_never_trip(session: Session, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    writer = FindingsWriter(cache_for(write_pack(tmp_path, LINUX)))
    with session.begin():
        make_unit(session)
        add_asset(session, "thuong-01", classification="normal", macs=(CLASSIFIED_MAC,))
        add_asset(session, "mat-cu", serial="SN-OLD", retired_at=datetime.now(UTC))
        make_agent(session, "a1", macs=[CLASSIFIED_MAC], system_serial="SN-OLD")
    ingest(session, writer, heartbeat("a1", 1, security={}))
    assert critical(session) == []


def test_a_classified_pc_enrolling_online_is_refused_and_reported(
    client: httpx.Client, engine: Engine
) -> None:
    token = make_token(engine)
    with db.session_factory(engine)() as s, s.begin():
        add_asset(s, "phuong-1-mat-01", unit="phuong-1", serial="SN-MAT-9")
    body = request_body(token, keys.public_raw(keys.generate()), system_serial="SN-MAT-9")
    answer = client.post("/api/v1/enroll", json=body)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "classified_computer"
    assert "must never be connected to a network" in answer.json()["message"]
    with db.session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Agent)) == 0
        (finding,) = critical(s)
        assert finding.subject == "asset:phuong-1-mat-01" and finding.unit_id == "phuong-1"
        assert finding.evidence[0]["source"] == "enrollment"
        assert finding.evidence[0]["hostname"] == "pc-van-thu"
    # Even without a valid token: the attempt itself is the alarm.
    again = client.post("/api/v1/enroll", json={**body, "token": "gg1.nope"})
    assert again.status_code == 403
    with db.session_factory(engine)() as s:
        assert len(critical(s)) == 1  # refreshed, not doubled


def test_agents_are_linked_to_their_asset_by_hardware_ids(session: Session) -> None:
    with session.begin():
        make_unit(session)
        add_asset(
            session,
            "pc-ketoan",
            classification="normal",
            machine_id="mid-1",
            hostname="PC-KETOAN",
            tags=["signing-pc"],
        )
        add_asset(session, "pc-a", classification="normal", serial="DUP")
        add_asset(session, "pc-b", classification="normal", serial="DUP")
        make_agent(session, "a1", machine_id="mid-1")
        make_agent(session, "a2", system_serial="DUP")  # two assets share it: ambiguous
        make_agent(session, "a3", hostname="PC-KETOAN")  # host names never link
        assert link_agents(session) == 1
        hosts = load_hosts(session, ["a1", "a2", "a3"], UnitPaths())
    assert hosts["a1"].asset is not None and hosts["a1"].asset["id"] == "pc-ketoan"
    assert hosts["a1"].tags == frozenset({"signing-pc"})
    assert hosts["a2"].asset is None and hosts["a3"].asset is None
    # A new agent of the same computer that replaces the first takes the link over.
    with session.begin():
        make_agent(session, "a4", machine_id="mid-1", replaces="a1")
        assert link_agents(session, ["a4"]) == 1
        assert session.scalar(select(Asset.agent_id).where(Asset.id == "pc-ketoan")) == "a4"
    assert json.dumps(hosts["a1"].asset)  # plain JSON values only


def test_a_sighting_queues_one_immediate_notice(session: Session, tmp_path: Path) -> None:
    from controller.findings.alerts import FindingAlerts
    from controller.notify.config import NotifyConfig, RouteConfig, SmtpConfig
    from controller.store.models import Notification

    config = NotifyConfig(
        smtp=SmtpConfig(host="127.0.0.1", from_address="govguard@ubnd.test"),
        routes=[RouteConfig(email=["it@ubnd.test"], min_severity="critical")],
    )
    policies = cache_for(write_pack(tmp_path, LINUX))
    writer = FindingsWriter(policies, on_opened=FindingAlerts(config, policies))
    with session.begin():
        make_unit(session)
        add_asset(session, "mat-03", macs=(CLASSIFIED_MAC,))
        make_agent(session, "a1", macs=[CLASSIFIED_MAC])
    ingest(session, writer, heartbeat("a1", 1, security={}))
    ingest(session, writer, heartbeat("a1", 2, security={}))  # same finding: no second notice
    (row,) = session.scalars(select(Notification)).all()
    assert (row.severity, row.recipient, row.channel) == ("critical", "it@ubnd.test", "email")
    assert "Máy tính mật bị phát hiện trên mạng" in row.subject["vi"]
    assert "Classified computer seen on the network" in row.subject["en"]
    assert row.next_attempt_at <= row.occurred_at  # at once, not in the digest


def test_controller_facts_of_a_linked_host(session: Session, tmp_path: Path) -> None:
    """network_sightings and the office's equipment reach the rules; BMNN-04 on the host keeps
    a state but opens no second finding next to the asset's own."""
    import yaml as yaml_module

    from controller.store.models import RuleState

    sightings = {
        "id": "BMNN-04",
        "title": {"vi": "Máy mật trên mạng", "en": "Classified PC on the network"},
        "rationale": {"vi": "Lý do", "en": "Why"},
        "severity": "critical",
        "references": ["test-law-1"],
        "applies_to": {"classification": ["classified"]},
        "checks": [{"fact": "controller.network_sightings", "expect": {"eq": 0}}],
    }
    office = {
        "id": "OF-01",
        "title": {"vi": "Phòng có máy in", "en": "Office has a printer"},
        "rationale": {"vi": "Lý do", "en": "Why"},
        "severity": "low",
        "references": ["test-law-1"],
        "checks": [{"fact": "controller.office_printers", "expect": {"gt": 0}}],
    }
    from tests.unit.controller.policy.conftest import pack

    path = tmp_path / "pack.yaml"
    path.write_text(yaml_module.safe_dump(pack(sightings, office)), encoding="utf-8")
    writer = FindingsWriter(cache_for(path))
    with session.begin():
        make_unit(session)
        from controller.store.models import Office

        session.add(Office(unit_id=UNIT, id="vp", name="Văn phòng"))
        add_asset(session, "mat-04", macs=(CLASSIFIED_MAC,), machine_id="mid-mat", office_id="vp")
        add_asset(session, "pc-05", classification="normal", machine_id="mid-5", office_id="vp")
        make_agent(session, "a1", machine_id="mid-mat", macs=[CLASSIFIED_MAC])
        make_agent(session, "a5", machine_id="mid-5")
        assert link_agents(session) == 2
    ingest(session, writer, heartbeat("a5", 1, security={}))
    session.commit()
    # The normal PC's office has two computers and no printer: OF-01 fails.
    assert [f.rule_id for f in session.scalars(select(Finding))] == ["OF-01"]
    ingest(session, writer, heartbeat("a1", 1, security={}))  # the classified PC, online
    session.commit()
    subjects = sorted((f.subject, f.rule_id) for f in session.scalars(select(Finding)))
    assert ("asset:mat-04", "BMNN-04") in subjects
    assert ("agent:a1", "BMNN-04") not in subjects  # state only
    state = session.scalar(
        select(RuleState.outcome).where(RuleState.agent_id == "a1", RuleState.rule_id == "BMNN-04")
    )
    assert state == "fail"
    # After investigation an officer closes the tripwire finding; host findings cannot be.
    from datetime import UTC, datetime

    from controller.store import findings as store

    tripped = session.scalar(select(Finding.id).where(Finding.subject == "asset:mat-04"))
    other = session.scalar(select(Finding.id).where(Finding.rule_id == "OF-01"))
    assert tripped is not None and other is not None
    with begin(session):
        store.resolve(session, tripped, "cli:an", "máy đã được cách ly", datetime.now(UTC))
    with begin(session):
        import pytest

        with pytest.raises(store.FindingError, match="resolves by itself"):
            store.resolve(session, other, "cli:an", "x", datetime.now(UTC))


def test_an_offline_agent_reporting_online_trips_even_without_an_asset(
    session: Session, tmp_path: Path
) -> None:
    writer = FindingsWriter(cache_for(write_pack(tmp_path, LINUX)))
    with session.begin():
        make_unit(session)
        make_agent(session, "off1", offline=True, machine_id="mid-off")
    ingest(session, writer, heartbeat("off1", 1, security={}))
    (finding,) = critical(session)
    assert (finding.subject, finding.severity) == ("agent:off1", "critical")
    assert finding.evidence[0]["matched"] == {"offline_agent": "off1"}
    session.commit()
    # A carried bundle is the lawful way: the same writer for bundles raises nothing.
    carried = FindingsWriter(cache_for(write_pack(tmp_path, LINUX)), online=False)
    ingest(session, carried, heartbeat("off1", 2, security={}))
    session.expire_all()
    assert len(critical(session)) == 1


def test_an_offline_agents_hardware_enrolling_online_is_refused(
    client: httpx.Client, engine: Engine
) -> None:
    token = make_token(engine)
    with db.session_factory(engine)() as s, s.begin():
        make_agent(s, "off2", offline=True, unit_id="phuong-1", system_serial="SN-OFF-2")
    body = request_body(token, keys.public_raw(keys.generate()), system_serial="SN-OFF-2")
    answer = client.post("/api/v1/enroll", json=body)
    assert answer.status_code == 403 and answer.json()["error"] == "classified_computer"
    with db.session_factory(engine)() as s:
        (finding,) = critical(s)
        assert finding.subject == "agent:off2"
        assert finding.evidence[0]["matched"] == {"serial": "SN-OFF-2"}


def test_a_classified_pc_without_a_bundle_for_30_days_is_a_finding(session: Session) -> None:
    """BMNN-01 of the shipped pack on an offline agent that never sent a bundle."""
    from datetime import timedelta

    from controller.findings import Evaluator, reevaluate
    from controller.policy import load_installed
    from controller.store.db import session_factory

    evaluator = Evaluator(load_installed(Path("/nonexistent")))
    with session.begin():
        make_unit(session)
        make_agent(session, "off3", offline=True)  # enrolled at T0, no bundle since
    sessions = session_factory(session.get_bind())  # type: ignore[arg-type]
    reevaluate(sessions, evaluator, T0 + timedelta(days=10))
    assert critical_rule(session, "BMNN-01") == []
    reevaluate(sessions, evaluator, T0 + timedelta(days=31))
    session.rollback()
    (finding,) = critical_rule(session, "BMNN-01")
    assert finding.subject == "agent:off3"
    assert finding.evidence[-1]["fact"] == "controller.last_bundle_at"


def critical_rule(s: Session, rule_id: str) -> list[Finding]:
    return list(s.scalars(select(Finding).where(Finding.rule_id == rule_id)))
