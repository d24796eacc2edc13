"""Findings on SQLite and PostgreSQL: evaluated at ingest, only changes written, lifecycle."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, SessionTransaction

from controller.findings import Evaluator, FindingsWriter, PolicyCache, reevaluate
from controller.policy import load_policies
from controller.store import findings as store
from controller.store.db import session_factory
from controller.store.models import AuditEntry, Finding, RuleState
from tests.unit.controller.policy.conftest import REFERENCES, pack, rule
from tests.unit.controller.store.factories import T0, UNIT, full, heartbeat, make_agent

FIREWALL = rule(
    [{"fact": "security.firewall.enabled", "expect": {"eq": True}}],
    id="FW-01",
    severity="high",
)
LINUX = rule(
    [{"fact": "os.version.family", "expect": {"eq": "linux"}}],
    id="OS-01",
    severity="low",
)


def write_pack(folder: Path, *rules: dict[str, Any]) -> Path:
    path = folder / "pack.yaml"
    path.write_text(yaml.safe_dump(pack(*rules), sort_keys=False), encoding="utf-8")
    return path


def cache_for(path: Path) -> PolicyCache:
    """A cache that reads only ``path`` (checked on every call)."""
    return PolicyCache(
        path.parent,
        check_every_s=0,
        loader=lambda _d: load_policies([path], references=[REFERENCES]),
        watch=[path],
    )


def begin(session: Session) -> SessionTransaction:
    """A new transaction (the reads between steps autobegin one: end it first)."""
    if session.in_transaction():
        session.commit()
    return session.begin()


def ingest(session: Session, writer: FindingsWriter, *reports: Any) -> set[tuple[str, int]]:
    with begin(session):
        return writer(session, list(reports), T0 + timedelta(hours=1))


def security(enabled: bool) -> dict[str, Any]:
    return {"firewall": {"enabled": enabled}}


def linux() -> dict[str, Any]:
    return {"version": {"family": "linux"}}


def states(session: Session, agent_id: str) -> dict[str, tuple[str, Any]]:
    rows = session.execute(
        select(RuleState.rule_id, RuleState.outcome, RuleState.since).where(
            RuleState.agent_id == agent_id
        )
    )
    return {rule_id: (outcome, since) for rule_id, outcome, since in rows}


@pytest.fixture
def writer(tmp_path: Path) -> FindingsWriter:
    return FindingsWriter(cache_for(write_pack(tmp_path, FIREWALL, LINUX)))


def test_a_failing_rule_opens_one_finding_and_a_passing_one_resolves_it(
    session: Session, writer: FindingsWriter
) -> None:
    with begin(session):
        make_agent(session, "a1")
    ingest(session, writer, full("a1", 1, security=security(False), os=linux()))
    (finding,) = session.scalars(select(Finding)).all()
    assert (finding.rule_id, finding.status, finding.severity) == ("FW-01", "open", "high")
    assert finding.subject == "agent:a1" and finding.unit_id == UNIT
    assert finding.evidence[0]["fact"] == "security.firewall.enabled"
    assert finding.evidence[0]["actual"] is False
    assert {k: v[0] for k, v in states(session, "a1").items()} == {
        "FW-01": "fail",
        "OS-01": "pass",
    }
    session.expire_all()
    # The same failure again: nothing new, no second finding.
    ingest(session, writer, full("a1", 2, security=security(False), os=linux()))
    assert session.scalar(select(func.count()).select_from(Finding)) == 1
    # A heartbeat with the firewall on resolves it, and does not touch the OS rule.
    before = states(session, "a1")
    ingest(session, writer, heartbeat("a1", 3, security=security(True)))
    session.expire_all()
    after = states(session, "a1")
    assert after["FW-01"][0] == "pass"
    assert after["OS-01"] == before["OS-01"]
    (finding,) = session.scalars(select(Finding)).all()
    assert finding.status == "resolved" and finding.open_key is None
    assert finding.resolved_at == T0 + timedelta(hours=1)
    # Failing again opens a new finding; the resolved one stays as history.
    ingest(session, writer, heartbeat("a1", 4, security=security(False)))
    statuses = sorted(session.scalars(select(Finding.status)))
    assert statuses == ["open", "resolved"]


def test_unchanged_outcomes_write_nothing(session: Session, writer: FindingsWriter) -> None:
    with begin(session):
        make_agent(session, "a1")
    ingest(session, writer, full("a1", 1, security=security(True), os=linux()))
    first = states(session, "a1")
    session.expire_all()
    ingest(session, writer, heartbeat("a1", 2, security=security(True)))
    ingest(session, writer, full("a1", 3, security=security(True), os=linux()))
    session.expire_all()
    assert states(session, "a1") == first  # same "since": no row was rewritten


def test_a_heartbeat_without_the_section_decides_nothing(
    session: Session, writer: FindingsWriter
) -> None:
    with begin(session):
        make_agent(session, "a1")
    ingest(session, writer, heartbeat("a1", 1, connectivity={"lan": {}}))
    assert states(session, "a1") == {}


def test_several_reports_of_one_agent_in_a_batch(session: Session, writer: FindingsWriter) -> None:
    with begin(session):
        make_agent(session, "a1")
        make_agent(session, "a2")
    ingest(
        session,
        writer,
        full("a1", 1, security=security(False), os=linux()),
        heartbeat("a1", 2, security=security(True)),
        full("a2", 1, security=security(False), os=linux()),
    )
    assert states(session, "a1")["FW-01"][0] == "pass"  # the heartbeat came last
    assert states(session, "a1")["OS-01"][0] == "pass"  # decided by the full report
    live = session.scalars(select(Finding).where(Finding.open_key.is_not(None))).all()
    assert [f.subject for f in live] == ["agent:a2"]


def test_a_missing_fact_is_an_error_not_a_finding(session: Session, writer: FindingsWriter) -> None:
    with begin(session):
        make_agent(session, "a1")
    ingest(session, writer, full("a1", 1, security={}, os=linux()))
    assert states(session, "a1")["FW-01"][0] == "error"
    assert session.scalar(select(func.count()).select_from(Finding)) == 0


def test_acknowledge_exempt_and_expiry(session: Session, writer: FindingsWriter) -> None:
    with begin(session):
        make_agent(session, "a1")
    ingest(session, writer, full("a1", 1, security=security(False), os=linux()))
    finding_id = session.scalar(select(Finding.id))
    assert finding_id is not None
    at = T0 + timedelta(hours=2)
    with begin(session):
        store.acknowledge(session, finding_id, "cli:an", at)
    with begin(session):
        with pytest.raises(store.FindingError, match="reason"):
            store.exempt(session, finding_id, "cli:an", "  ", at + timedelta(days=1), at)
        with pytest.raises(store.FindingError, match="future"):
            store.exempt(session, finding_id, "cli:an", "máy chờ thay", at, at)
        store.exempt(session, finding_id, "cli:an", "máy chờ thay", at + timedelta(days=7), at)
    finding = session.get(Finding, finding_id)
    assert finding is not None
    assert (finding.status, finding.exempted_by) == ("exempted", "cli:an")
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"finding.acknowledged", "finding.exempted"} <= actions
    # Still failing while exempted: the exemption stays, no second finding opens.
    ingest(session, writer, full("a1", 2, security=security(False), os=linux()))
    assert session.scalar(select(func.count()).select_from(Finding)) == 1
    with begin(session):
        assert store.expire_exemptions(session, at + timedelta(days=8)) == 1
    session.expire_all()
    assert session.get(Finding, finding_id).status == "open"  # type: ignore[union-attr]
    with begin(session), pytest.raises(store.FindingError, match="no finding"):
        store.acknowledge(session, 999_999, "cli:an", at)
    # Resolved findings cannot be acknowledged.
    ingest(session, writer, heartbeat("a1", 3, security=security(True)))
    session.expire_all()
    with begin(session), pytest.raises(store.FindingError, match="resolved"):
        store.acknowledge(session, finding_id, "cli:an", at)


def test_controller_raised_findings_are_not_opened_twice(session: Session) -> None:
    with begin(session):
        make_agent(session, "a1")
        first, new = store.open_finding(
            session,
            subject="asset:pc-mat-01",
            unit_id=UNIT,
            rule_id="BMNN-04",
            severity="critical",
            reason={"code": "classified_seen", "values": {}},
            evidence=[{"source": "report"}],
            at=T0,
        )
        assert new
        again, new = store.open_finding(
            session,
            subject="asset:pc-mat-01",
            unit_id=UNIT,
            rule_id="BMNN-04",
            severity="critical",
            reason={"code": "classified_seen", "values": {}},
            evidence=[{"source": "switch"}],
            at=T0 + timedelta(minutes=5),
        )
        assert not new and again.id == first.id
        assert again.last_seen_at == T0 + timedelta(minutes=5)


def test_full_reevaluation_after_a_policy_change(
    session: Session, tmp_path: Path, writer: FindingsWriter
) -> None:
    with begin(session):
        for n in range(7):
            make_agent(session, f"a{n}")
        make_agent(session, "never")  # enrolled, never reported
    for n in range(7):
        ingest(session, writer, full(f"a{n}", 1, security=security(n % 2 == 0), os=linux()))
    assert session.scalar(select(func.count()).select_from(Finding)) == 3
    # The firewall rule is dropped and a rule on the hostname comes in.
    hostname = rule(
        [{"fact": "identity.hostname", "expect": {"regex": "^ubnd-"}}], id="HN-01", severity="low"
    )
    folder = tmp_path / "new"
    folder.mkdir()
    new_pack = write_pack(folder, LINUX, hostname)
    evaluator = Evaluator(load_policies([new_pack], references=[REFERENCES]))
    seen: list[tuple[int, int]] = []
    totals = reevaluate(
        session_factory(session.get_bind()),  # type: ignore[arg-type]
        evaluator,
        T0 + timedelta(hours=3),
        chunk=3,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(3, 8), (6, 8), (8, 8)]
    assert totals.hosts == 8 and totals.evaluations == 16
    assert totals.forgotten == 3  # the firewall findings resolved with their rule
    session.rollback()  # end the read snapshot taken before the re-evaluation
    assert (
        session.scalar(
            select(func.count()).select_from(RuleState).where(RuleState.rule_id == "FW-01")
        )
        == 0
    )
    # identity.hostname is missing in these reports: an error, not a finding.
    assert states(session, "a0")["HN-01"][0] == "error"
    assert states(session, "never")["OS-01"][0] == "error"
    live = session.scalar(
        select(func.count()).select_from(Finding).where(Finding.open_key.is_not(None))
    )
    assert live == 0
    # Nothing changed: a second pass writes nothing, in one process or several.
    for workers in (1, 2):
        again = reevaluate(
            session_factory(session.get_bind()),  # type: ignore[arg-type]
            evaluator,
            T0 + timedelta(hours=4),
            chunk=3,
            workers=workers,
        )
        assert (again.hosts, again.changes) == (8, 0)


def test_parallel_reevaluation_writes_what_one_process_writes(
    session: Session, tmp_path: Path, writer: FindingsWriter
) -> None:
    with begin(session):
        for n in range(9):
            make_agent(session, f"a{n}")
    for n in range(9):
        ingest(session, writer, full(f"a{n}", 1, security=security(True), os=linux()))
    session.commit()
    # The rule flips for a third of the fleet; two workers find the same.
    stricter = rule(
        [{"fact": "os.version.family", "expect": {"eq": "windows"}}], id="OS-01", severity="low"
    )
    folder = tmp_path / "strict"
    folder.mkdir()
    evaluator = Evaluator(
        load_policies([write_pack(folder, FIREWALL, stricter)], references=[REFERENCES])
    )
    totals = reevaluate(
        session_factory(session.get_bind()),  # type: ignore[arg-type]
        evaluator,
        T0 + timedelta(hours=2),
        chunk=2,
        workers=2,
    )
    assert (totals.hosts, totals.changes, totals.opened) == (9, 9, 9)
    session.rollback()
    live = session.scalars(select(Finding.subject).where(Finding.open_key.is_not(None)))
    assert sorted(live) == sorted(f"agent:a{n}" for n in range(9))


def test_a_broken_policy_file_keeps_the_last_good_set(tmp_path: Path) -> None:
    path = write_pack(tmp_path, FIREWALL)
    cache = cache_for(path)
    first = cache.current()
    assert first is not None and [r.id for r in first.rules] == ["FW-01"]
    path.write_text("policy: [not, a, pack]\n", encoding="utf-8")
    assert cache.current() is first
    assert cache.error is not None and "pack.yaml" in cache.error
    write_pack(tmp_path, FIREWALL, LINUX)
    fresh = cache.current()
    assert fresh is not None and [r.id for r in fresh.rules] == ["FW-01", "OS-01"]
