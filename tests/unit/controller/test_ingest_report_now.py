""" "Report now" on the ingest hot path, on SQLite and PostgreSQL: the batch writer finds and
clears the requests of a whole batch with one statement, and only an accepted report carries
one (tests/integration/test_report_now.py runs it with the real controller and agent)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import Engine, event, select, update

from controller.api.agents import report_reply
from controller.ingest import BatchWriter, ReportNow
from controller.store import db
from controller.store.models import Agent
from controller.store.reports import SeqConflict, store_batch
from tests.unit.controller.store.factories import full, make_agent

AGENTS = ("a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2", "c3c3c3c3c3c3c3c3")


def test_one_statement_per_batch_finds_and_clears_the_requests(engine: Engine) -> None:
    sessions = db.session_factory(engine)
    with sessions() as s, s.begin():
        for agent_id in AGENTS:
            make_agent(s, agent_id)
        # The first two were asked for a report now; the third was not.
        s.execute(
            update(Agent).where(Agent.id.in_(AGENTS[:2])).values(report_now_at=datetime.now(UTC))
        )
    with sessions() as s, s.begin():
        # The second agent's report 1 is already stored: a retry with another report id is a
        # conflict, which must not consume its request.
        store_batch(s, [full(AGENTS[1], 1)], datetime.now(UTC))
    writer = BatchWriter(sessions, batch_max=64, batch_wait_ms=0)
    conflicting = replace(full(AGENTS[1], 1), report_id="f" * 32)
    batch = [full(AGENTS[0], 1), full(AGENTS[0], 2), conflicting, full(AGENTS[2], 1)]
    seen: list[str] = []

    def note(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", note)
    try:
        answers = writer._commit(batch)  # one batch, as the writer thread commits it
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert answers[0] == ReportNow("stored")
    assert answers[1] == "stored"  # the agent collects once: one reply says so
    assert isinstance(answers[2], SeqConflict)
    assert answers[3] == "stored"
    assert sum("report_now_at" in text for text in seen) == 1
    with sessions() as s:
        pending = dict(s.execute(select(Agent.id, Agent.report_now_at).order_by(Agent.id)).all())
    assert pending[AGENTS[0]] is None
    assert pending[AGENTS[1]] is not None  # refused report: still asked
    assert pending[AGENTS[2]] is None


def test_the_reply_says_report_now_even_when_settings_are_current() -> None:
    # What report_reply reads of the application's context.
    ctx = SimpleNamespace(settings_version="7", agent_settings={"version": 7})
    assert report_reply(ctx, "stored", 3, "7") is None  # type: ignore[arg-type]
    assert report_reply(ctx, ReportNow("stored"), 3, "7") == (  # type: ignore[arg-type]
        b'{"status":"stored","seq":3,"report_now":true}'
    )
    assert report_reply(ctx, ReportNow("duplicate"), 3, "6") == (  # type: ignore[arg-type]
        b'{"status":"duplicate","seq":3,"settings":{"version":7},"report_now":true}'
    )
