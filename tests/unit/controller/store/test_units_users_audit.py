"""Units, users and the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import exc
from sqlalchemy.orm import Session

from controller.store import audit, units, users
from tests.unit.controller.store.factories import T0


def test_ensure_unit_creates_once(session: Session) -> None:
    district = units.ensure_unit(session, "huyen-x", "Huyện X", kind="district")
    units.ensure_unit(session, "xa-a", "Xã A", parent_id="huyen-x", kind="commune")
    again = units.ensure_unit(session, "huyen-x", "another name")
    assert again is district
    assert again.name == "Huyện X"
    assert [(u.id, u.parent_id, u.kind) for u in units.list_units(session)] == [
        ("huyen-x", None, "district"),
        ("xa-a", "huyen-x", "commune"),
    ]
    assert units.get_unit(session, "nope") is None


def test_unit_parent_must_exist(session: Session) -> None:
    with pytest.raises(exc.IntegrityError):
        units.ensure_unit(session, "xa-b", "Xã B", parent_id="missing")


def test_users(session: Session) -> None:
    assert users.count_users(session) == 0
    units.ensure_unit(session, "xa-a", "Xã A")
    admin = users.create_user(session, "admin", "$argon2id$x", "admin")
    users.create_user(session, "ke-toan", "$argon2id$y", "operator", unit_id="xa-a")
    assert users.count_users(session) == 2
    found = users.get_user(session, "admin")
    assert found is admin
    assert (found.role, found.unit_id, found.disabled) == ("admin", None, False)
    assert isinstance(found.id, int)
    assert users.get_user(session, "nobody") is None


def test_user_role_and_name_are_checked(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown role 'root'"):
        users.create_user(session, "x", "h", "root")
    users.create_user(session, "admin", "h", "admin")
    with pytest.raises(exc.IntegrityError):
        users.create_user(session, "admin", "h", "auditor")


def test_audit_listing(session: Session) -> None:
    for minute in range(5):
        audit.record(
            session,
            "cli:root",
            "token.created" if minute % 2 == 0 else "agent.approved",
            f"thing-{minute}",
            {"minute": minute, "note": "đã duyệt"},
            at=T0 + timedelta(minutes=minute),
        )
    audit.record(session, "user:admin", "agent.revoked", "agent:x")

    newest = audit.list_entries(session, limit=3)
    assert [e.target for e in newest] == ["agent:x", "thing-4", "thing-3"]
    assert newest[0].details is None
    assert newest[1].details == {"minute": 4, "note": "đã duyệt"}
    assert newest[1].at == T0 + timedelta(minutes=4)
    created = audit.list_entries(session, action="token.created")
    assert [e.target for e in created] == ["thing-4", "thing-2", "thing-0"]
    assert audit.list_entries(session, action="nothing") == []
