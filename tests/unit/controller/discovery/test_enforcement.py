"""Port shutdowns by SNMP SET: proposals only where enforcement is on and never on uplinks,
nothing without an operator's approval, rejections, undo, audit entries, unit scopes, and one
winner when two processes claim the same action (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from controller.discovery import enforcement
from controller.discovery.enforcement import EnforcementError, NotFoundError, UplinkRefusedError
from controller.settings import ControllerConfig, Settings, SnmpConfig, settings_for
from controller.store import port_actions
from controller.store.db import session_factory
from controller.store.models import AuditEntry, NetInterface, PortAction
from tests.support.port_network import CLASSIFIED_MAC, SUBJECT, T0, Seeded, see_mac, seed


def _settings(tmp_path: Path, *units: str) -> Settings:
    return settings_for(tmp_path, ControllerConfig(snmp=SnmpConfig(enforce_units=list(units))))


def _audit(s: Session, action_id: int) -> list[tuple[str, str]]:
    rows = s.scalars(
        select(AuditEntry)
        .where(AuditEntry.target == f"port_action:{action_id}")
        .order_by(AuditEntry.id)
    )
    return [(row.action, row.actor) for row in rows]


def _ports(actions: list[PortAction]) -> list[tuple[str, int]]:
    return sorted((a.device_id, a.if_index) for a in actions)


@pytest.fixture
def seeded(session: Session) -> Seeded:
    return seed(session)


# --- proposals ---------------------------------------------------------------------------


def test_off_by_default_proposes_nothing(session: Session, seeded: Seeded, tmp_path: Path) -> None:
    proposed = enforcement.propose_for_sightings(
        session, settings_for(tmp_path), [seeded.sighting], T0
    )
    assert proposed == []
    assert session.scalars(select(PortAction)).all() == []


def test_proposal_on_the_access_port_of_an_enforced_unit_only(
    session: Session, seeded: Seeded, tmp_path: Path
) -> None:
    """xa-a enforced: sw-a (in xa-a-vp, below xa-a) port 1; never its uplink, never sw-b."""
    proposed = enforcement.propose_for_sightings(
        session, _settings(tmp_path, "xa-a"), [seeded.sighting], T0
    )
    assert _ports(proposed) == [("sw-a", 1)]
    action = proposed[0]
    assert action.action == "down"
    assert action.state == "pending"
    assert action.requested_by == "controller:tripwire"
    assert action.subject == SUBJECT
    assert action.mac == CLASSIFIED_MAC
    assert action.finding_id == seeded.finding_id
    assert action.unit_id == "xa-a-vp"
    assert _audit(session, action.id) == [("port.proposed", "controller:tripwire")]
    # A proposal is never applied by itself: the port is still up.
    port = session.get(NetInterface, ("sw-a", 1))
    assert port is not None and port.admin_up is True


def test_whole_district_enforced_proposes_every_access_port_never_an_uplink(
    session: Session, seeded: Seeded, tmp_path: Path
) -> None:
    proposed = enforcement.propose_for_sightings(
        session, _settings(tmp_path, "huyen"), [seeded.sighting], T0
    )
    assert _ports(proposed) == [("sw-a", 1), ("sw-b", 1)]


def test_unknown_enforced_unit_proposes_nothing(
    session: Session, seeded: Seeded, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, "no-such-unit")
    assert enforcement.propose_for_sightings(session, settings, [seeded.sighting], T0) == []


def test_a_stale_sighting_proposes_nothing(
    session: Session, seeded: Seeded, tmp_path: Path
) -> None:
    """The MAC table row is older than snmp.sighting_stale_s: the PC may have moved since."""
    later = T0 + timedelta(hours=4)
    settings = _settings(tmp_path, "xa-a")
    assert enforcement.propose_for_sightings(session, settings, [seeded.sighting], later) == []


def test_no_duplicate_proposal_for_the_same_port(
    session: Session, seeded: Seeded, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, "xa-a")
    first = enforcement.propose_for_sightings(session, settings, [seeded.sighting], T0)
    again = enforcement.propose_for_sightings(
        session, settings, [seeded.sighting, seeded.sighting], T0 + timedelta(minutes=15)
    )
    assert len(first) == 1
    assert again == []
    assert len(session.scalars(select(PortAction)).all()) == 1


def test_a_rejected_proposal_is_not_proposed_again_for_the_same_finding(
    session: Session, seeded: Seeded, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, "xa-a")
    (action,) = enforcement.propose_for_sightings(session, settings, [seeded.sighting], T0)
    enforcement.reject(session, action.id, "user:op", T0, "the PC is being moved today")
    later = T0 + timedelta(minutes=15)
    see_mac(session, "sw-a", 2, CLASSIFIED_MAC, later)  # and it was plugged into port 2 too
    proposed = enforcement.propose_for_sightings(session, settings, [seeded.sighting], later)
    assert _ports(proposed) == [("sw-a", 2)]


# --- decisions ---------------------------------------------------------------------------


@pytest.fixture
def pending(session: Session, seeded: Seeded, tmp_path: Path) -> PortAction:
    (action,) = enforcement.propose_for_sightings(
        session, _settings(tmp_path, "xa-a"), [seeded.sighting], T0
    )
    return action


def test_approve_moves_pending_to_approved_once(session: Session, pending: PortAction) -> None:
    at = T0 + timedelta(minutes=5)
    approved = enforcement.approve(session, pending.id, "user:op", at, source="192.0.2.7")
    assert approved.state == "approved"
    assert approved.decided_by == "user:op"
    assert approved.decided_at == at
    with pytest.raises(EnforcementError, match="is approved: it cannot be approved"):
        enforcement.approve(session, pending.id, "user:op2", at)
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "port.approved")).all()
    assert [(e.actor, e.source, e.target) for e in entries] == [
        ("user:op", "192.0.2.7", f"port_action:{pending.id}")
    ]
    assert entries[0].details["device"] == "sw-a"
    assert entries[0].details["if_index"] == 1


def test_reject_pending_or_approved_but_not_applied(session: Session, pending: PortAction) -> None:
    enforcement.approve(session, pending.id, "user:op", T0)
    rejected = enforcement.reject(session, pending.id, "user:chief", T0, "  wrong port  ")
    assert rejected.state == "rejected"
    assert rejected.reason == "wrong port"
    assert rejected.decided_by == "user:chief"
    with pytest.raises(EnforcementError, match="rejected: it cannot be approved"):
        enforcement.approve(session, pending.id, "user:op", T0)
    assert _audit(session, pending.id) == [
        ("port.proposed", "controller:tripwire"),
        ("port.approved", "user:op"),
        ("port.rejected", "user:chief"),
    ]


def test_unknown_action_is_not_found(session: Session, pending: PortAction) -> None:
    with pytest.raises(NotFoundError):
        enforcement.approve(session, pending.id + 100, "user:op", T0)


def test_unit_scope_hides_other_communes_actions(session: Session, pending: PortAction) -> None:
    """sw-a is in xa-a-vp: an officer of xa-b cannot see its action; one of xa-a can."""
    with pytest.raises(NotFoundError):
        enforcement.approve(session, pending.id, "user:op-b", T0, scope=frozenset({"xa-b"}))
    with pytest.raises(NotFoundError):
        enforcement.reject(session, pending.id, "user:op-b", T0, scope=frozenset({"xa-b"}))
    scope = frozenset({"xa-a", "xa-a-vp"})
    assert enforcement.approve(session, pending.id, "user:op-a", T0, scope=scope).state == (
        "approved"
    )


# --- manual requests ---------------------------------------------------------------------


def test_manual_request_on_an_uplink_is_refused_unless_forced(
    session: Session, seeded: Seeded
) -> None:
    with pytest.raises(UplinkRefusedError, match="uplink"):
        enforcement.request_shutdown(
            session, device_id="sw-a", if_index=24, actor="cli:thanh", at=T0
        )
    assert session.scalars(select(PortAction)).all() == []
    forced = enforcement.request_shutdown(
        session,
        device_id="sw-a",
        if_index=24,
        actor="cli:thanh",
        at=T0,
        reason="loop on the floor switch",
        force=True,
        source="cli",
    )
    assert forced.state == "pending"
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.target == f"port_action:{forced.id}")
    ).one()
    assert entry.action == "port.requested"
    assert entry.details["forced"] is True
    assert entry.details["uplink"] is True
    assert entry.details["reason"] == "loop on the floor switch"


def test_manual_request_checks(session: Session, seeded: Seeded) -> None:
    first = enforcement.request_shutdown(
        session, device_id="sw-a", if_index=2, actor="user:op", at=T0
    )
    assert (first.state, first.requested_by, first.unit_id) == ("pending", "user:op", "xa-a-vp")
    with pytest.raises(EnforcementError, match=f"already has action {first.id}"):
        enforcement.request_shutdown(session, device_id="sw-a", if_index=2, actor="u", at=T0)
    with pytest.raises(EnforcementError, match="no poll has seen it"):
        enforcement.request_shutdown(session, device_id="sw-a", if_index=7, actor="u", at=T0)
    with pytest.raises(NotFoundError, match="unknown network device"):
        enforcement.request_shutdown(session, device_id="sw-z", if_index=1, actor="u", at=T0)
    with pytest.raises(NotFoundError):
        enforcement.request_shutdown(
            session, device_id="sw-b", if_index=1, actor="u", at=T0, scope=frozenset({"xa-a"})
        )


# --- applying: the claim, the outcome, undo ----------------------------------------------


def _apply_by_hand(session: Session, action_id: int, error: str | None = None) -> None:
    """What apply_approved records around the SET (the SET itself: tests/integration)."""
    at = T0 + timedelta(minutes=10)
    assert port_actions.claim(session, action_id, at, at - enforcement.CLAIM_LIFETIME)
    state = "applied" if error is None else "failed"
    values = {"state": state, "applied_at": at, "error": error}
    assert port_actions.finish(session, action_id, at, values)
    session.flush()


def test_two_processes_claim_an_approved_action_once(
    engine: Engine, session: Session, pending: PortAction
) -> None:
    enforcement.approve(session, pending.id, "user:op", T0)
    session.commit()
    factory = session_factory(engine)
    at = T0 + timedelta(minutes=1)
    stale = at - enforcement.CLAIM_LIFETIME
    with factory() as one, factory() as two:
        assert port_actions.due(one, stale) == [pending.id]
        one.rollback()
        assert port_actions.claim(one, pending.id, at, stale) is True
        one.commit()
        assert port_actions.claim(two, pending.id, at, stale) is False
        two.rollback()
        # A claim never finished (its process died) is taken over once it is stale.
        much_later = at + enforcement.CLAIM_LIFETIME + timedelta(seconds=1)
        assert port_actions.due(two, much_later - enforcement.CLAIM_LIFETIME) == [pending.id]
        assert port_actions.claim(
            two, pending.id, much_later, much_later - enforcement.CLAIM_LIFETIME
        )
        two.commit()
        # The first process's late outcome no longer matches its claim: the second's stands.
        assert port_actions.finish(one, pending.id, at, {"state": "applied"}) is False
        one.rollback()
        assert port_actions.finish(two, pending.id, much_later, {"state": "applied"}) is True
        two.commit()


def test_a_failed_action_can_be_approved_again(session: Session, pending: PortAction) -> None:
    enforcement.approve(session, pending.id, "user:op", T0)
    _apply_by_hand(session, pending.id, error="SnmpTimeout: no answer")
    retried = enforcement.approve(session, pending.id, "user:op", T0 + timedelta(hours=1))
    assert (retried.state, retried.error) == ("approved", None)
    assert _audit(session, pending.id)[-1] == ("port.approved", "user:op")
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "port.approved").order_by(AuditEntry.id)
    ).all()[-1]
    assert entry.details["retry"] is True


def test_undo_of_an_applied_shutdown_is_one_approved_up_action(
    session: Session, pending: PortAction
) -> None:
    enforcement.approve(session, pending.id, "user:op", T0)
    _apply_by_hand(session, pending.id)
    with pytest.raises(EnforcementError, match="is applied: it cannot be rejected"):
        enforcement.reject(session, pending.id, "user:op", T0)
    at = T0 + timedelta(hours=2)
    up = enforcement.undo(session, pending.id, "user:op-a", at, source="192.0.2.7")
    assert (up.action, up.state, up.undo_of) == ("up", "approved", pending.id)
    assert (up.requested_by, up.decided_by, up.decided_at) == ("user:op-a", "user:op-a", at)
    assert (up.device_id, up.if_index, up.unit_id) == ("sw-a", 1, "xa-a-vp")
    assert _audit(session, up.id) == [("port.undo", "user:op-a")]
    with pytest.raises(EnforcementError, match=f"already being undone by action {up.id}"):
        enforcement.undo(session, pending.id, "user:op", at)
    with pytest.raises(EnforcementError, match="only an applied shutdown"):
        enforcement.undo(session, up.id, "user:op", at)
    (view,) = [v for v in port_actions.list_views(session, None) if v.action.id == pending.id]
    assert view.undo is not None and view.undo.id == up.id
    assert enforcement.buttons(view.action, view.undo) == ()


def test_undo_needs_an_applied_shutdown(session: Session, pending: PortAction) -> None:
    with pytest.raises(EnforcementError, match="only an applied shutdown"):
        enforcement.undo(session, pending.id, "user:op", T0)
    enforcement.approve(session, pending.id, "user:op", T0)
    with pytest.raises(EnforcementError, match="only an applied shutdown"):
        enforcement.undo(session, pending.id, "user:op", T0)


def test_buttons_follow_the_state(session: Session, pending: PortAction) -> None:
    views = port_actions.list_views(session, frozenset({"xa-a-vp"}))
    assert [(v.device_name, v.port_name, v.uplink) for v in views] == [
        ("Switch sw-a", "Gi1/0/1", False)
    ]
    assert enforcement.buttons(views[0].action, None) == ("approve", "reject")
    assert port_actions.list_views(session, frozenset({"xa-b"})) == []
    enforcement.approve(session, pending.id, "user:op", T0)
    _apply_by_hand(session, pending.id)
    row = port_actions.get(session, pending.id)
    assert row is not None
    session.refresh(row)
    assert enforcement.buttons(row, None) == ("undo",)
