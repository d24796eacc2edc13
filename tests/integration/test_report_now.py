""" "Report now": a remediation asks an agent for a fresh report, the real agent collects at once.

Real pieces: ``govguard init``/``serve`` as a subprocess on SQLite and PostgreSQL, an agent
enrolled with the real enrollment code and its :class:`agent.daemon.Daemon` loop (outbox,
signing, HTTPS); only its collection (a small report), its monotonic clock and its sleep are the
test's, so the loop runs without waiting for real.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from agent.daemon import REPORT_NOW_GAP_S
from agent.transport import Reply, Transport
from controller.store import db
from controller.store.models import Agent, Report
from tests.support.controller_proc import Controller, SimAgent, enroll_agents, init_controller

pytestmark = pytest.mark.integration


@pytest.fixture
def controller(db_url: str, tmp_path: Path) -> Iterator[Controller]:
    ctl = init_controller(tmp_path / "ctl", database_url=db_url)
    with ctl:
        yield ctl


@pytest.fixture
def agent(controller: Controller, tmp_path: Path) -> SimAgent:
    (agent,) = enroll_agents(controller, tmp_path / "agents", 1)
    return agent


def _ask(controller: Controller, agent_id: str) -> None:
    """What the workflow does when an apply run ended (store.remediation.ask_report_now)."""
    from controller.store import remediation

    engine = db.make_engine(controller.database_url)
    try:
        with db.session_factory(engine)() as s, s.begin():
            remediation.ask_report_now(s, [agent_id], datetime.now(UTC))
    finally:
        engine.dispose()


def _stored(controller: Controller, agent_id: str) -> tuple[list[str], datetime | None]:
    """The kinds of the agent's stored reports in order, and its pending request."""
    engine = db.make_engine(controller.database_url)
    try:
        with db.session_factory(engine)() as s:
            kinds = list(
                s.scalars(
                    select(Report.kind).where(Report.agent_id == agent_id).order_by(Report.seq)
                )
            )
            pending = s.scalar(select(Agent.report_now_at).where(Agent.id == agent_id))
            return kinds, pending
    finally:
        engine.dispose()


def test_the_reply_asks_once_and_the_agent_sends_a_full_report_at_once(
    controller: Controller, agent: SimAgent
) -> None:
    daemon = agent.daemon(agent.transport())
    sleeps: list[float] = []
    daemon.monotonic = lambda: 5000.0 + sum(sleeps)

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            _ask(controller, agent.agent_id)  # between two rounds, as the worker would
        if len(sleeps) == 3:
            daemon.stop()

    daemon.sleep = sleep
    try:
        daemon.run()
    finally:
        daemon.close()
    kinds, pending = _stored(controller, agent.agent_id)
    # The daily inventory, the heartbeat whose reply said "report now", and the full report
    # collected straight after it, although nothing changed and the interval had not passed.
    assert kinds == ["full", "heartbeat", "full"]
    assert pending is None  # cleared by the reply that carried it
    assert sleeps[0] > 200 and sleeps[2] > 200  # the 300 s interval (± jitter)
    assert sleeps[1] <= REPORT_NOW_GAP_S
    assert daemon.report_now is False


class Recording:
    """The agent's transport, keeping each reply's status and body."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.replies: list[tuple[int, dict[str, object]]] = []

    def post_report(
        self, envelope_header: str, body: bytes, extra_headers: Mapping[str, str] | None = None
    ) -> Reply:
        reply = self.transport.post_report(envelope_header, body, extra_headers)
        self.replies.append((reply.status, dict(reply.data)))
        return reply

    def close(self) -> None:
        self.transport.close()


def test_only_the_agent_asked_is_told_and_the_others_keep_the_bare_204(
    controller: Controller, tmp_path: Path
) -> None:
    agents = enroll_agents(controller, tmp_path / "many", 3)
    senders = [Recording(sim.transport()) for sim in agents]
    daemons = [sim.daemon(sender) for sim, sender in zip(agents, senders, strict=True)]
    try:
        for daemon in daemons:
            daemon.cycle()  # the first inventory
        _ask(controller, agents[1].agent_id)
        kinds = [[d.cycle().queued_kind for _ in range(3)] for d in daemons]
    finally:
        for daemon in daemons:
            daemon.close()
    # The hot path is untouched for agents nobody asked: stored, 204, no body.
    for sender in (senders[0], senders[2]):
        assert [status for status, _ in sender.replies] == [204, 204, 204, 204]
    asked = senders[1].replies
    assert asked[1] == (200, {"status": "stored", "seq": 2, "report_now": True})
    assert [status for status, _ in asked[2:]] == [204, 204]  # said once, then cleared
    assert kinds == [
        ["heartbeat", "heartbeat", "heartbeat"],
        ["heartbeat", "full", "heartbeat"],
        ["heartbeat", "heartbeat", "heartbeat"],
    ]
    assert all(_stored(controller, sim.agent_id)[1] is None for sim in agents)


def test_the_request_survives_a_restart_of_the_agent(
    controller: Controller, agent: SimAgent
) -> None:
    """`govguard-agent run --once-cycle` (or a reboot) right after the reply: the next start
    still sends the full report the controller asked for."""
    first = agent.daemon(agent.transport())
    try:
        first.cycle()  # the first inventory
        _ask(controller, agent.agent_id)
        assert first.cycle().queued_kind == "heartbeat"  # its reply asks for a report now
        assert first.report_now
    finally:
        first.close()
    second = agent.daemon(agent.transport())
    try:
        assert second.report_now
        assert second.cycle().queued_kind == "full"
        assert not second.report_now
        assert second.cycle().queued_kind == "heartbeat"
    finally:
        second.close()
    third = agent.daemon(agent.transport())
    try:
        assert not third.report_now  # done: forgotten with the full report queued
    finally:
        third.close()
