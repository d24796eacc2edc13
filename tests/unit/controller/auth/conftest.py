"""A small district for the account tests: huyen → xa-a → xa-a-vp, and xa-b."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from controller.auth import accounts
from controller.store import units
from controller.store.models import User
from tests.unit.controller.store.factories import T0

PASSWORD = "mật khẩu đủ dài"  # noqa: S105 - a test account's password

MakeUser = Callable[..., User]


@pytest.fixture
def district(session: Session) -> Session:
    """``session`` with the units of the tests."""
    units.ensure_unit(session, "huyen", "Huyện Mẫu", kind="district")
    units.ensure_unit(session, "xa-a", "Xã A", "huyen", "commune")
    units.ensure_unit(session, "xa-a-vp", "Văn phòng xã A", "xa-a", "department")
    units.ensure_unit(session, "xa-b", "Xã B", "huyen", "commune")
    session.flush()
    return session


@pytest.fixture
def make_user(district: Session) -> MakeUser:
    """``make_user("an", role="operator", unit_id="xa-a")``: an account made as the CLI would."""

    def make(username: str, *, role: str = "admin", unit_id: str | None = None) -> User:
        return accounts.add_user(
            district,
            actor="cli:test",
            source="cli",
            username=username,
            password=PASSWORD,
            role=role,
            unit_id=unit_id,
            now=T0,
        )

    return make
