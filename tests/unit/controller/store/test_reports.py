"""The ingest write path (store_batch), host facts and report retention."""

from __future__ import annotations

import dataclasses
import gzip
import json
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from controller.store import audit, reports
from controller.store.models import HostFacts
from tests.unit.controller.store.factories import T0, full, heartbeat, make_agent

A = "a" * 16
B = "b" * 16
AT = T0 + timedelta(hours=2)


def _facts(s: Session, agent_id: str) -> HostFacts:
    facts = s.get(HostFacts, agent_id)
    assert facts is not None
    s.refresh(facts)  # the upsert bypassed the ORM
    return facts


def test_duplicates_within_one_batch_are_stored_once(session: Session) -> None:
    make_agent(session, A)
    first = full(A, 1, hardware={"cpu": "first"})
    repeat = full(A, 1, hardware={"cpu": "repeat"})

    stored = reports.store_batch(session, [first, repeat, heartbeat(A, 2)], AT)

    assert stored == {(A, 1), (A, 2)}
    assert reports.count_reports(session, A) == 2
    assert [r.seq for r in reports.list_reports(session, A, 10)] == [2, 1]
    assert reports.list_reports(session, A, 10)[1].body == first.body
    assert len(audit.list_entries(session, action="report.stored")) == 2


def test_duplicates_across_batches_store_nothing(session: Session) -> None:
    make_agent(session, A)
    make_agent(session, B)
    assert reports.store_batch(session, [full(A, 1), full(B, 1)], AT) == {(A, 1), (B, 1)}
    facts_before = _facts(session, A).last_seq

    stored = reports.store_batch(session, [full(A, 1), full(B, 1), heartbeat(B, 2)], AT)

    assert stored == {(B, 2)}
    assert reports.count_reports(session) == 3
    assert _facts(session, A).last_seq == facts_before
    entries = audit.list_entries(session, action="report.stored")
    assert sorted(e.target for e in entries) == [
        f"report:{A}:1",
        f"report:{B}:1",
        f"report:{B}:2",
    ]
    assert entries[0].actor == f"agent:{B}"
    assert entries[0].details == {
        "report_id": f"{2:032x}",
        "kind": "heartbeat",
        "size_bytes": len(heartbeat(B, 2).body),
    }


def test_outcomes_tell_a_retry_from_another_report_with_the_same_seq(session: Session) -> None:
    make_agent(session, A)
    make_agent(session, B)
    reports.store_batch(session, [full(A, 1), full(A, 2), full(A, 5)], AT)
    # Same report id: a retry. Another report id on a taken seq: the agent numbered again
    # from an old state (lost or restored outbox), and must not be told "duplicate".
    retry = full(A, 2)
    reused = dataclasses.replace(full(A, 1), report_id="f" * 32)
    in_batch_twin = dataclasses.replace(full(B, 1), report_id="e" * 32)
    batch = [retry, reused, full(A, 6), full(B, 1), in_batch_twin, full(B, 1)]

    inserted = reports.store_batch(session, batch, AT)
    result = reports.outcomes(session, batch, inserted)

    assert inserted == {(A, 6), (B, 1)}
    assert result == [
        "duplicate",
        reports.SeqConflict(6),  # the highest seq stored for A, this batch included
        "stored",
        "stored",
        reports.SeqConflict(1),
        "duplicate",
    ]
    assert reports.count_reports(session) == 5


def test_outcomes_cost_no_query_when_everything_was_inserted(session: Session) -> None:
    make_agent(session, A)
    batch = [full(A, 1), heartbeat(A, 2)]
    inserted = reports.store_batch(session, batch, AT)
    statements: list[str] = []
    engine = session.get_bind()

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert reports.outcomes(session, batch, inserted) == ["stored", "stored"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_empty_batch_does_nothing(session: Session) -> None:
    assert reports.store_batch(session, [], AT) == set()


def test_stored_report_keeps_every_field(session: Session) -> None:
    make_agent(session, A)
    item = full(A, 7)
    reports.store_batch(session, [item], AT)
    session.commit()
    session.expunge_all()
    (row,) = reports.list_reports(session, A, 1)
    assert (row.agent_id, row.seq, row.report_id, row.kind) == (A, 7, item.report_id, "full")
    assert (row.sent_at, row.received_at, row.collected_at) == (
        item.sent_at,
        item.received_at,
        item.collected_at,
    )
    assert row.received_at.tzinfo is not None
    assert (row.clock_skew_s, row.size_bytes, row.body) == (-2.0, len(item.body), item.body)


def test_newest_seq_wins_within_a_batch(session: Session) -> None:
    make_agent(session, A)
    # Out of order inside the batch: seq 3 must win over seq 2 whatever the order.
    reports.store_batch(
        session, [full(A, 3, os={"v": 3}), full(A, 2, os={"v": 2}), full(A, 1, os={"v": 1})], AT
    )
    facts = _facts(session, A)
    assert facts.last_seq == 3
    assert facts.last_report_at == full(A, 3).sent_at
    assert facts.last_full_at == full(A, 3).sent_at
    assert facts.updated_at == AT
    assert reports.latest_facts(session, A) == {"kind": "full", "seq": 3, "os": {"v": 3}}


def test_an_older_report_arriving_late_does_not_overwrite(session: Session) -> None:
    make_agent(session, A)
    reports.store_batch(session, [full(A, 5, os={"v": 5})], AT)
    assert reports.store_batch(session, [full(A, 4, os={"v": 4})], AT) == {(A, 4)}
    assert _facts(session, A).last_seq == 5
    assert reports.latest_facts(session, A) == {"kind": "full", "seq": 5, "os": {"v": 5}}
    agent_row = reports.list_reports(session, A, 5)
    assert [r.seq for r in agent_row] == [5, 4]


def test_agents_last_seen_moves_forward_only(session: Session) -> None:
    agent = make_agent(session, A)
    reports.store_batch(session, [heartbeat(A, 9), heartbeat(A, 8)], AT)
    session.refresh(agent)
    assert (agent.last_seq, agent.last_seen_at) == (9, AT)
    later = AT + timedelta(minutes=5)
    reports.store_batch(session, [heartbeat(A, 3)], later)
    session.refresh(agent)
    assert (agent.last_seq, agent.last_seen_at) == (9, later)


def test_heartbeat_sections_overlay_the_full_report(session: Session) -> None:
    make_agent(session, A)
    reports.store_batch(
        session, [full(A, 1, security={"firewall": "on"}, network={"ip": "10.0.0.5"})], AT
    )
    reports.store_batch(session, [heartbeat(A, 2, security={"firewall": "off"})], AT)

    assert reports.latest_facts(session, A) == {
        "kind": "full",
        "seq": 1,
        "security": {"firewall": "off"},
        "network": {"ip": "10.0.0.5"},
    }
    facts = _facts(session, A)
    assert facts.last_seq == 2
    assert facts.last_full_at == full(A, 1).sent_at
    assert facts.clock_skew_s == 0.5
    assert facts.heartbeat is not None
    assert json.loads(gzip.decompress(facts.heartbeat)) == {"security": {"firewall": "off"}}

    # A heartbeat without sections keeps the overlay; a newer full report replaces it.
    reports.store_batch(session, [heartbeat(A, 3)], AT)
    assert reports.latest_facts(session, A) == {
        "kind": "full",
        "seq": 1,
        "security": {"firewall": "off"},
        "network": {"ip": "10.0.0.5"},
    }
    reports.store_batch(session, [full(A, 4, security={"firewall": "on"})], AT)
    assert reports.latest_facts(session, A) == {
        "kind": "full",
        "seq": 4,
        "security": {"firewall": "on"},
    }
    assert _facts(session, A).heartbeat is None


def test_full_and_heartbeat_in_one_batch(session: Session) -> None:
    make_agent(session, A)
    make_agent(session, B)
    batch = [
        # A: the heartbeat is newer than the full report, so it overlays it.
        heartbeat(A, 2, os={"uptime": 20}),
        full(A, 1, os={"uptime": 10}, hardware={"ram": 8}),
        # B: the full report is newer, so the older heartbeat is dropped from the facts.
        full(B, 2, os={"uptime": 200}),
        heartbeat(B, 1, os={"uptime": 100}),
    ]
    reports.store_batch(session, batch, AT)
    assert reports.latest_facts(session, A) == {
        "kind": "full",
        "seq": 1,
        "os": {"uptime": 20},
        "hardware": {"ram": 8},
    }
    assert reports.latest_facts(session, B) == {"kind": "full", "seq": 2, "os": {"uptime": 200}}


def test_heartbeat_only_agent_has_facts(session: Session) -> None:
    make_agent(session, A)
    assert reports.latest_facts(session, A) is None
    reports.store_batch(session, [heartbeat(A, 1, os={"uptime": 5})], AT)
    assert reports.latest_facts(session, A) == {"os": {"uptime": 5}}
    assert _facts(session, A).last_full_at is None


def test_purge_by_received_date_keeps_host_facts(session: Session) -> None:
    make_agent(session, A)
    reports.store_batch(session, [full(A, seq, os={"v": seq}) for seq in (1, 2, 3)], AT)
    # Received at T0 + seq minutes + 2 s: purge everything received before seq 3.
    cutoff = full(A, 3).received_at

    assert reports.purge_reports(session, cutoff) == 2

    assert [r.seq for r in reports.list_reports(session, A, 10)] == [3]
    assert reports.purge_reports(session, cutoff) == 0
    assert reports.purge_reports(session, AT + timedelta(days=1)) == 1
    assert reports.count_reports(session) == 0
    assert reports.latest_facts(session, A) == {"kind": "full", "seq": 3, "os": {"v": 3}}
