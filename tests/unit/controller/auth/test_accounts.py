"""Account changes: validation, scoped admins, the last district admin, sessions, audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from controller.auth import Principal, accounts
from controller.auth.accounts import AccountError
from controller.auth.sessions import SessionTimeouts, principal_for, resume_session, start_session
from controller.passwords import verify_password
from controller.store import audit
from controller.store.models import User, utcnow
from tests.unit.controller.auth.conftest import PASSWORD, MakeUser
from tests.unit.controller.store.factories import T0

NEW_PASSWORD = "một mật khẩu mới khác"  # noqa: S105 - a test account's password
SHORT = "ngắn"


def _add(s: Session, by: Principal | None = None, **fields: Any) -> User:
    values: dict[str, Any] = {
        "username": "can-bo",
        "password": PASSWORD,
        "role": "operator",
        "unit_id": "xa-a",
    }
    values.update(fields)
    return accounts.add_user(s, actor="user:x", source="10.0.0.1", now=T0, by=by, **values)


def test_add_user_stores_everything_and_audits(district: Session) -> None:
    user = _add(district, username="Nguyen.Van-A", locale="en", full_name=" Nguyễn Văn A ")
    assert (user.username, user.role, user.unit_id) == ("nguyen.van-a", "operator", "xa-a")
    assert (user.locale, user.full_name, user.disabled) == ("en", "Nguyễn Văn A", False)
    assert (user.created_at, user.password_changed_at, user.last_login_at) == (T0, T0, None)
    assert verify_password(user.password_hash, PASSWORD)
    entry = audit.list_entries(district, action="user.created")[0]
    assert (entry.actor, entry.source, entry.target) == ("user:x", "10.0.0.1", "user:nguyen.van-a")
    assert entry.details == {"role": "operator", "unit_id": "xa-a", "locale": "en"}
    assert PASSWORD not in str(entry.details)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"username": "a"}, "'a' is not a valid user name", id="name too short"),
        pytest.param({"username": "an ninh"}, "'an ninh' is not a valid user name", id="space"),
        pytest.param({"username": "-an"}, "'-an' is not a valid user name", id="leading dash"),
        pytest.param({"username": "x" * 65}, "is not a valid user name", id="name too long"),
        pytest.param({"username": "nguyễn"}, "is not a valid user name", id="non-ascii"),
        pytest.param({"role": "root"}, "unknown role 'root'", id="role"),
        pytest.param({"unit_id": "xa-z"}, "unknown unit 'xa-z'", id="unknown unit"),
        pytest.param({"locale": "fr"}, "unknown language 'fr'", id="locale"),
        pytest.param({"password": "ngắn"}, "password refused: the password is too short",
                     id="short password"),
        pytest.param({"password": " " * 12}, "password refused: the password is only spaces",
                     id="blank password"),
        pytest.param({"full_name": "x" * 201}, "full name is longer than 200", id="long name"),
    ],
)  # fmt: skip
def test_add_user_refuses_bad_input(
    district: Session, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        _add(district, **fields)
    assert accounts.list_users(district, None) == []
    assert audit.list_entries(district, action="user.created") == []


def test_duplicates_are_refused_whatever_the_case(district: Session) -> None:
    _add(district)
    with pytest.raises(AccountError, match="user 'can-bo' already exists"):
        _add(district, username="Can-Bo", unit_id="xa-b")


def test_retired_units_take_no_new_accounts(district: Session) -> None:
    from controller.store import units

    unit = units.get_unit(district, "xa-b")
    assert unit is not None
    unit.retired_at = utcnow()
    with pytest.raises(AccountError, match="unit 'xa-b' is retired"):
        _add(district, unit_id="xa-b")


def _principal(
    s: Session, make_user: MakeUser, name: str, role: str, unit: str | None
) -> Principal:
    return principal_for(s, make_user(name, role=role, unit_id=unit))


def test_a_scoped_admin_stays_in_its_subtree(district: Session, make_user: MakeUser) -> None:
    admin_a = _principal(district, make_user, "admin-xa-a", "admin", "xa-a")
    _add(district, by=admin_a, username="van-phong", unit_id="xa-a-vp")
    with pytest.raises(AccountError, match="may not create accounts for unit 'xa-b'"):
        _add(district, by=admin_a, username="o-xa-b", unit_id="xa-b")
    with pytest.raises(AccountError, match="may not create accounts for the whole district"):
        _add(district, by=admin_a, username="toan-huyen", unit_id=None, role="auditor")
    make_user("o-xa-b", role="operator", unit_id="xa-b")
    make_user("toan-huyen", role="auditor")
    # Accounts out of scope look unknown: a scoped admin cannot probe other units' names.
    for name in ("o-xa-b", "toan-huyen", "khong-co"):
        with pytest.raises(AccountError, match=f"unknown user '{name}'"):
            accounts.set_disabled(
                district, actor=admin_a.actor, source="10.0.0.1", username=name,
                disabled=True, now=T0, by=admin_a,
            )  # fmt: skip
        with pytest.raises(AccountError, match=f"unknown user '{name}'"):
            accounts.set_password(
                district, actor=admin_a.actor, source="10.0.0.1", username=name,
                password=NEW_PASSWORD, now=T0, by=admin_a,
            )  # fmt: skip
    changed = accounts.set_locale(
        district, actor=admin_a.actor, source="10.0.0.1", username="van-phong", locale="en",
        now=T0, by=admin_a,
    )  # fmt: skip
    assert changed.locale == "en"
    assert [u.username for u in accounts.list_users(district, admin_a.scope)] == [
        "admin-xa-a",
        "van-phong",
    ]
    assert len(accounts.list_users(district, None)) == 4
    assert accounts.list_users(district, frozenset()) == []


def test_only_admins_manage_others_but_anyone_manages_themselves(
    district: Session, make_user: MakeUser
) -> None:
    operator = _principal(district, make_user, "van-hanh", "operator", None)
    make_user("khac", role="auditor")
    with pytest.raises(AccountError, match="'van-hanh' may not manage users"):
        _add(district, by=operator, username="moi")
    with pytest.raises(AccountError, match="'van-hanh' may not manage users"):
        accounts.set_locale(
            district, actor=operator.actor, source="10.0.0.1", username="khac", locale="en",
            now=T0, by=operator,
        )  # fmt: skip
    own = accounts.set_locale(
        district, actor=operator.actor, source="10.0.0.1", username="van-hanh", locale="en",
        now=T0, by=operator,
    )  # fmt: skip
    assert own.locale == "en"
    accounts.set_password(
        district, actor=operator.actor, source="10.0.0.1", username="van-hanh",
        password=NEW_PASSWORD, now=T0, by=operator,
    )  # fmt: skip
    with pytest.raises(AccountError, match="'van-hanh' may not manage users"):
        accounts.set_disabled(
            district, actor=operator.actor, source="10.0.0.1", username="van-hanh",
            disabled=True, now=T0, by=operator,
        )  # fmt: skip


def test_set_password_ends_the_other_sessions(district: Session, make_user: MakeUser) -> None:
    user = make_user("quantri")
    mine, _ = start_session(district, user, address=None, user_agent=None, now=T0)
    other, _ = start_session(district, user, address=None, user_agent=None, now=T0)
    later = T0 + timedelta(minutes=5)
    accounts.set_password(
        district, actor="user:quantri", source="10.0.0.1", username="QUANTRI",
        password=NEW_PASSWORD, now=later, keep=mine,
    )  # fmt: skip
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert user.password_changed_at == later
    timeouts = SessionTimeouts()
    assert resume_session(district, mine, now=later, timeouts=timeouts) is not None
    assert resume_session(district, other, now=later, timeouts=timeouts) is None
    entry = audit.list_entries(district, action="user.password_changed")[0]
    assert (entry.actor, entry.source, entry.details) == (
        "user:quantri", "10.0.0.1", {"sessions_ended": 1},
    )  # fmt: skip
    with pytest.raises(AccountError, match="password refused"):
        accounts.set_password(
            district, actor="cli:x", source="cli", username="quantri", password=SHORT, now=later
        )
    assert verify_password(user.password_hash, NEW_PASSWORD)


def test_disable_ends_sessions_and_enable_restores_login(
    district: Session, make_user: MakeUser
) -> None:
    make_user("quantri")
    user = make_user("can-bo", role="operator", unit_id="xa-a")
    raw, _ = start_session(district, user, address=None, user_agent=None, now=T0)
    accounts.set_disabled(
        district, actor="cli:x", source="cli", username="can-bo", disabled=True, now=T0
    )
    assert user.disabled
    assert resume_session(district, raw, now=T0, timeouts=SessionTimeouts()) is None
    accounts.set_disabled(
        district, actor="cli:x", source="cli", username="can-bo", disabled=False, now=T0
    )
    assert not user.disabled
    actions = [e.action for e in audit.list_entries(district) if e.target == "user:can-bo"]
    assert actions[:2] == ["user.enabled", "user.disabled"]
    disabled = audit.list_entries(district, action="user.disabled")[0]
    assert (disabled.actor, disabled.source, disabled.details) == (
        "cli:x", "cli", {"sessions_ended": 1},
    )  # fmt: skip


def test_the_last_district_admin_cannot_be_disabled(district: Session, make_user: MakeUser) -> None:
    make_user("quantri")
    make_user("admin-xa-a", role="admin", unit_id="xa-a")  # scoped: does not count

    def disable(name: str, disabled: bool = True) -> User:
        return accounts.set_disabled(
            district, actor="cli:x", source="cli", username=name, disabled=disabled, now=T0
        )

    with pytest.raises(AccountError, match="'quantri' is the last enabled administrator"):
        disable("quantri")
    make_user("quantri-2")
    disable("quantri")
    with pytest.raises(AccountError, match="'quantri-2' is the last enabled administrator"):
        disable("quantri-2")
    disable("admin-xa-a")  # a scoped admin may go
    disable("quantri", disabled=False)
    disable("quantri-2")
    assert [u.username for u in accounts.list_users(district, None) if not u.disabled] == [
        "quantri"
    ]
