"""The bundles table: highest number per agent and last import time, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from controller.store import bundles
from controller.store.models import Bundle
from tests.unit.controller.store.factories import T0, make_agent


def _bundle(agent_id: str, seq: int, minutes: int, gap: int = 0) -> Bundle:
    return Bundle(
        agent_id=agent_id,
        seq=seq,
        digest=f"{seq:064x}",
        prev_digest=f"{seq - 1:064x}" if seq > 1 else "",
        created_at=T0,
        imported_at=T0 + timedelta(minutes=minutes),
        reports=1,
        gap=gap,
    )


def test_last_seq_and_last_bundle_at(session: Session) -> None:
    with session.begin():
        make_agent(session, "a1", offline=True)
        make_agent(session, "a2", offline=True)
        make_agent(session, "a3")
        assert bundles.last_seq(session, "a1") == 0
        bundles.add_bundle(session, _bundle("a1", 1, 0))
        bundles.add_bundle(session, _bundle("a1", 3, 5, gap=1))
        bundles.add_bundle(session, _bundle("a1", 2, 9))  # arrived late
        bundles.add_bundle(session, _bundle("a2", 1, 2))
    assert bundles.last_seq(session, "a1") == 3
    found = bundles.get_bundle(session, "a1", 3)
    assert found is not None and found.gap == 1
    assert bundles.get_bundle(session, "a1", 4) is None
    at = bundles.last_bundle_at(session, ["a1", "a2", "a3", "a1"])
    assert at == {"a1": T0 + timedelta(minutes=9), "a2": T0 + timedelta(minutes=2)}
    assert at["a1"].tzinfo is not None
    assert bundles.last_bundle_at(session, []) == {}
