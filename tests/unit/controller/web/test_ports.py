"""The port-action routes: approve, reject, undo and request by form post, for operators and
administrators of the device's units only, with the CSRF token, and a 4xx with the reason for
anything refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from controller.discovery import enforcement
from controller.settings import load_settings
from controller.store import port_actions
from controller.store.db import make_engine, session_factory
from controller.store.models import AuditEntry, PortAction
from tests.support.port_network import SWITCHES, T0, seed_switch
from tests.unit.controller.web.conftest import PASSWORD, District, Web


@pytest.fixture
def actions(web: Web, district: District) -> dict[str, int]:
    """A pending shutdown of port 1 on sw-a (commune xa-a) and on sw-b (xa-b)."""
    engine = make_engine(load_settings(web.data_dir).database_url)
    made: dict[str, int] = {}
    try:
        with session_factory(engine).begin() as s:
            for (device_id, _unit, ports), unit in zip(SWITCHES, ("xa-a", "xa-b"), strict=True):
                seed_switch(s, device_id, unit, ports)
            for device_id in ("sw-a", "sw-b"):
                row = enforcement.request_shutdown(
                    s, device_id=device_id, if_index=1, actor="controller:tripwire", at=T0
                )
                made[device_id] = row.id
    finally:
        engine.dispose()
    return made


def _row(web: Web, action_id: int) -> PortAction:
    engine = make_engine(load_settings(web.data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            row = port_actions.get(s, action_id)
            assert row is not None
            return row
    finally:
        engine.dispose()


def _applied(web: Web, action_id: int) -> None:
    """Mark an approved action applied as the worker would (the SET: tests/integration)."""
    engine = make_engine(load_settings(web.data_dir).database_url)
    at = T0 + timedelta(minutes=5)
    try:
        with session_factory(engine).begin() as s:
            assert port_actions.claim(s, action_id, at, at - enforcement.CLAIM_LIFETIME)
            assert port_actions.finish(s, action_id, at, {"state": "applied"})
    finally:
        engine.dispose()


def _audit(web: Web, action: str) -> list[AuditEntry]:
    engine = make_engine(load_settings(web.data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))
    finally:
        engine.dispose()


def test_operator_approves_an_action_of_their_commune(web: Web, actions: dict[str, int]) -> None:
    web.login("op-a", PASSWORD)
    reply = web.post(f"/network/ports/{actions['sw-a']}/approve")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/network?done=port_approved"
    row = _row(web, actions["sw-a"])
    assert (row.state, row.decided_by) == ("approved", "user:op-a")
    (entry,) = _audit(web, "port.approved")
    assert (entry.actor, entry.target) == ("user:op-a", f"port_action:{actions['sw-a']}")
    assert entry.source  # the client's address


def test_an_action_of_another_commune_is_not_found(web: Web, actions: dict[str, int]) -> None:
    web.login("op-a", PASSWORD)
    for verb in ("approve", "reject", "undo"):
        reply = web.post(f"/network/ports/{actions['sw-b']}/{verb}")
        assert reply.status_code == 404, verb
    assert web.post("/network/ports/99999/approve").status_code == 404
    assert _row(web, actions["sw-b"]).state == "pending"
    assert _audit(web, "port.approved") == []


def test_an_auditor_may_not_decide(web: Web, actions: dict[str, int]) -> None:
    web.login("aud", PASSWORD)
    reply = web.post(f"/network/ports/{actions['sw-a']}/approve")
    assert reply.status_code == 403
    assert _row(web, actions["sw-a"]).state == "pending"


def test_a_post_without_the_csrf_token_is_refused(web: Web, actions: dict[str, int]) -> None:
    web.login("op", PASSWORD)
    for token in ({}, {"csrf_token": "not-the-token"}):
        reply = web.client.post(
            f"/network/ports/{actions['sw-a']}/approve", data=token, follow_redirects=False
        )
        assert reply.status_code == 403
    assert _row(web, actions["sw-a"]).state == "pending"


def test_not_logged_in_goes_to_the_login_form(web: Web, actions: dict[str, int]) -> None:
    reply = web.client.post(
        f"/network/ports/{actions['sw-a']}/approve", data={}, follow_redirects=False
    )
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/login")


def test_a_decision_that_is_no_longer_possible_is_a_400(web: Web, actions: dict[str, int]) -> None:
    web.login("op", PASSWORD)
    assert web.post(f"/network/ports/{actions['sw-a']}/approve").status_code == 303
    again = web.post(f"/network/ports/{actions['sw-a']}/approve")
    assert again.status_code == 400
    assert "is approved: it cannot be approved" in again.text
    premature = web.post(f"/network/ports/{actions['sw-a']}/undo")
    assert premature.status_code == 400
    assert "only an applied shutdown" in premature.text
    assert web.post("/network/ports/0/approve").status_code == 400
    assert web.post("/network/ports/abc/approve").status_code in (400, 404)


def test_reject_with_a_reason_and_return_to_the_host_page(
    web: Web, actions: dict[str, int]
) -> None:
    web.login("op-a", PASSWORD)
    reply = web.post(
        f"/network/ports/{actions['sw-a']}/reject",
        {"reason": "máy đang được chuyển đi", "next": "/hosts/agent-xa-a"},
    )
    assert reply.status_code == 303
    assert reply.headers["location"] == "/hosts/agent-xa-a?done=port_rejected"
    row = _row(web, actions["sw-a"])
    assert (row.state, row.reason) == ("rejected", "máy đang được chuyển đi")


@pytest.mark.parametrize(
    "next_path",
    [
        pytest.param("https://evil.example/", id="another site"),
        pytest.param("//evil.example/network", id="scheme-relative"),
        pytest.param("/settings", id="another page"),
        pytest.param("/network\\@evil", id="backslash"),
    ],
)
def test_next_never_leaves_the_network_pages(
    web: Web, actions: dict[str, int], next_path: str
) -> None:
    web.login("op-a", PASSWORD)
    reply = web.post(f"/network/ports/{actions['sw-a']}/approve", {"next": next_path})
    assert reply.headers["location"] == "/network?done=port_approved"


def test_undo_of_an_applied_shutdown_in_one_click(web: Web, actions: dict[str, int]) -> None:
    web.login("op-a", PASSWORD)
    assert web.post(f"/network/ports/{actions['sw-a']}/approve").status_code == 303
    _applied(web, actions["sw-a"])
    reply = web.post(f"/network/ports/{actions['sw-a']}/undo", {"next": "/network?tab=ports"})
    assert reply.status_code == 303
    assert reply.headers["location"] == "/network?tab=ports&done=port_undone"
    (entry,) = _audit(web, "port.undo")
    undo = _row(web, int(entry.target.split(":")[1]))
    assert (undo.action, undo.state, undo.undo_of) == ("up", "approved", actions["sw-a"])
    assert web.post(f"/network/ports/{actions['sw-a']}/undo").status_code == 400


def test_request_a_shutdown_never_an_uplink(web: Web, actions: dict[str, int]) -> None:
    web.login("op-a", PASSWORD)
    uplink = web.post("/network/ports/request", {"device_id": "sw-a", "if_index": "24"})
    assert uplink.status_code == 400
    assert "uplink" in uplink.text
    other = web.post("/network/ports/request", {"device_id": "sw-b", "if_index": "24"})
    assert other.status_code == 404
    bad = web.post("/network/ports/request", {"device_id": "sw-a", "if_index": "x"})
    assert bad.status_code == 400
    reply = web.post(
        "/network/ports/request", {"device_id": "sw-a", "if_index": "2", "reason": "kiểm tra"}
    )
    assert reply.status_code == 303
    assert reply.headers["location"] == "/network?done=port_requested"
    (entry,) = [e for e in _audit(web, "port.requested") if e.actor == "user:op-a"]
    row = _row(web, int(entry.target.split(":")[1]))
    assert (row.device_id, row.if_index, row.state, row.reason) == (
        "sw-a",
        2,
        "pending",
        "kiểm tra",
    )


def test_admin_may_decide_everywhere(web: Web, actions: dict[str, int]) -> None:
    web.login()
    assert web.post(f"/network/ports/{actions['sw-b']}/reject").status_code == 303
    assert _row(web, actions["sw-b"]).state == "rejected"
