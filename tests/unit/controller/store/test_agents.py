"""Agents: lookups, same-hardware detection, approval and revocation."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import Session

from controller.store import agents, db
from tests.unit.controller.store.factories import T0, make_agent

LATER = T0 + timedelta(days=1)
#: Hang guard for the threads below; SQLite's busy timeout is 5 s.
HANG_GUARD_S = 30.0


def test_lookups_and_credentials(session: Session) -> None:
    added = make_agent(session, "a" * 16, macs=["aa:bb:cc:dd:ee:ff", "11:22:33:44:55:66"])
    assert agents.get_agent(session, "a" * 16) is added
    assert agents.get_agent_by_key(session, added.key_id) is added
    assert agents.get_agent(session, "f" * 16) is None
    session.commit()
    session.expunge_all()
    again = agents.get_agent(session, "a" * 16)
    assert again is not None
    assert again.macs == ["aa:bb:cc:dd:ee:ff", "11:22:33:44:55:66"]
    assert again.created_at == T0
    assert again.last_seq == 0
    credentials = agents.agent_credentials(session, "a" * 16)
    assert credentials == agents.AgentCredentials(
        id="a" * 16, key_id=added.key_id, public_key=added.public_key, status="active"
    )
    assert agents.agent_credentials(session, "f" * 16) is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"machine_id": "m-1"}, ["a1"], id="machine id"),
        pytest.param({"system_uuid": "u-2"}, ["a2"], id="system uuid"),
        pytest.param({"system_serial": "s-1"}, ["a1"], id="serial"),
        pytest.param({"machine_id": "m-1", "system_uuid": "u-2"}, ["a1", "a2"], id="either"),
        pytest.param({"system_serial": ""}, [], id="empty serial never matches"),
        pytest.param({}, [], id="nothing known"),
        pytest.param({"machine_id": "m-3"}, [], id="revoked agent ignored"),
    ],
)
def test_find_same_hardware(session: Session, query: dict[str, str], expected: list[str]) -> None:
    make_agent(session, "a1", machine_id="m-1", system_uuid="u-1", system_serial="s-1")
    make_agent(session, "a2", machine_id="m-2", system_uuid="u-2", system_serial="")
    make_agent(session, "a3", machine_id="m-3", status="revoked")
    # An agent without identifiers must not match another one without identifiers.
    make_agent(session, "a4", system_serial="")
    found = agents.find_same_hardware(
        session,
        query.get("machine_id"),
        query.get("system_uuid"),
        query.get("system_serial"),
    )
    assert [a.id for a in found] == expected


def test_approve_activates_and_revokes_the_replaced_agent(session: Session) -> None:
    make_agent(session, "old", machine_id="m-1")
    make_agent(session, "new", machine_id="m-1", status="pending", replaces="old")
    assert [a.id for a in agents.list_agents(session, status="pending")] == ["new"]

    approved = agents.approve_agent(session, "new", LATER)

    assert approved.status == "active"
    assert approved.approved_at == LATER
    old = agents.get_agent(session, "old")
    assert old is not None
    assert (old.status, old.revoked_at) == ("revoked", LATER)
    assert [a.id for a in agents.find_same_hardware(session, "m-1", None, None)] == ["new"]
    assert agents.list_agents(session, status="pending") == []
    assert [a.id for a in agents.list_agents(session)] == ["new", "old"]


def test_approve_refuses_unknown_and_revoked(session: Session) -> None:
    make_agent(session, "gone", status="revoked")
    with pytest.raises(agents.AgentNotFoundError, match="no agent with id nope"):
        agents.approve_agent(session, "nope", LATER)
    with pytest.raises(agents.AgentStateError, match="gone is revoked"):
        agents.approve_agent(session, "gone", LATER)


def test_approving_an_active_agent_changes_nothing(session: Session) -> None:
    make_agent(session, "a1")
    assert agents.approve_agent(session, "a1", LATER).approved_at is None


def test_revoke_keeps_the_first_time(session: Session) -> None:
    make_agent(session, "a1")
    assert agents.revoke_agent(session, "a1", LATER).revoked_at == LATER
    assert agents.revoke_agent(session, "a1", LATER + timedelta(days=1)).revoked_at == LATER
    credentials = agents.agent_credentials(session, "a1")
    assert credentials is not None
    assert credentials.status == "revoked"


def test_unknown_status_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown agent status 'asleep'"):
        make_agent(session, "a1", status="asleep")


def test_approve_revokes_every_other_agent_of_the_computer(session: Session) -> None:
    make_agent(session, "old", machine_id="m-1", system_serial="s-1")
    make_agent(session, "p1", machine_id="m-1", status="pending", replaces="old")
    # Same board (serial) under a reinstalled OS (new machine id): the same computer.
    make_agent(session, "p2", machine_id="m-9", system_serial="s-1", status="pending")
    make_agent(session, "new", machine_id="m-1", system_serial="s-1", status="pending")
    make_agent(session, "other", machine_id="m-2")

    approval = agents.approve_and_replace(session, "new", LATER)

    assert approval.agent.status == "active"
    assert [a.id for a in approval.revoked] == ["old", "p1", "p2"]
    statuses = {a.id: (a.status, a.revoked_at) for a in agents.list_agents(session)}
    assert statuses == {
        "old": ("revoked", LATER),
        "p1": ("revoked", LATER),
        "p2": ("revoked", LATER),
        "new": ("active", None),
        "other": ("active", None),
    }
    assert [a.id for a in agents.find_same_hardware(session, "m-1", None, "s-1")] == ["new"]


def test_approve_revokes_the_replaced_agent_even_with_changed_hardware(session: Session) -> None:
    make_agent(session, "old", machine_id="m-1")
    make_agent(session, "new", machine_id="m-2", status="pending", replaces="old")
    approval = agents.approve_and_replace(session, "new", LATER)
    assert [a.id for a in approval.revoked] == ["old"]
    assert agents.approve_and_replace(session, "new", LATER).revoked == []


def test_lock_hardware_after_the_first_statement_is_refused_on_sqlite(engine: Engine) -> None:
    """SQLite's write lock is taken at BEGIN (db.write_session); later it is too late."""
    with db.session_factory(engine)() as s, s.begin():
        s.execute(text("SELECT count(*) FROM agents"))
        if engine.dialect.name == "sqlite":
            with (
                pytest.warns(SAWarning, match="already established"),
                pytest.raises(RuntimeError, match="before the transaction's first statement"),
            ):
                agents.lock_hardware(s, "m-1", None, None)
        else:  # advisory locks can be taken at any point of the transaction
            agents.lock_hardware(s, "m-1", None, None)
            with engine.connect() as other:
                [key] = agents.hardware_lock_keys("m-1", None, None)
                taken = other.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
                assert taken.scalar() is False
                other.rollback()


def test_approval_waits_for_an_enrollment_of_the_same_computer(engine: Engine) -> None:
    """An agent enrolled while the approval waits is revoked with the others, not left active."""
    sessions = db.session_factory(engine)
    with sessions() as s, s.begin():
        make_agent(s, "old", machine_id="m-1")
        make_agent(s, "new", machine_id="m-1", status="pending", replaces="old")
    approved = threading.Event()
    outcome: list[object] = []

    def approve() -> None:
        try:
            with sessions() as s, s.begin():
                db.write_session(s)  # as every command-line session does
                outcome.append(agents.approve_and_replace(s, "new", LATER))
        except Exception as exc:  # reported by the assertion below
            outcome.append(exc)
        approved.set()

    with sessions() as enrolling, enrolling.begin():
        agents.lock_hardware(enrolling, "m-1", None, None)
        make_agent(enrolling, "racer", machine_id="m-1")
        thread = threading.Thread(target=approve)
        thread.start()
        assert not approved.wait(0.5), outcome  # waits for the enrollment to commit
    thread.join(HANG_GUARD_S)
    [approval] = outcome
    assert isinstance(approval, agents.Approval), approval
    assert [a.id for a in approval.revoked] == ["old", "racer"]
    with sessions() as s:
        statuses = {a.id: a.status for a in agents.list_agents(s)}
    assert statuses == {"old": "revoked", "racer": "revoked", "new": "active"}
