"""authenticate(): one answer for every bad login, throttling first, rehash, audit entries."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller import passwords
from controller.auth.login import LoginRefused, authenticate
from controller.auth.throttle import ThrottlePolicy
from controller.store import audit
from controller.store.models import AuditEntry, LoginAttempt
from tests.unit.controller.auth.conftest import PASSWORD, MakeUser
from tests.unit.controller.store.factories import T0

WRONG = "không phải mật khẩu"


def _refused(
    s: Session, username: str, password: str, policy: ThrottlePolicy | None = None
) -> LoginRefused:
    with pytest.raises(LoginRefused) as caught:
        authenticate(
            s, username, password, address="10.0.0.7", now=T0, policy=policy or ThrottlePolicy()
        )
    return caught.value


def _attempts(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(LoginAttempt)) or 0


def test_success_is_recorded_and_audited(district: Session, make_user: MakeUser) -> None:
    make_user("quantri")
    user = authenticate(district, "QuanTri", PASSWORD, address="10.0.0.7", now=T0)
    assert user.username == "quantri"
    assert user.last_login_at == T0
    entry = audit.list_entries(district, action="user.login")[0]
    assert (entry.actor, entry.target, entry.source, entry.at) == (
        "user:quantri", "user:quantri", "10.0.0.7", T0,
    )  # fmt: skip
    assert district.scalars(select(LoginAttempt.ok)).all() == [True]


def test_unknown_user_and_wrong_password_look_the_same(
    district: Session, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("quantri")
    verified: list[str] = []
    real_verify = passwords.verify_password

    def counting(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counting)
    unknown = _refused(district, "khong-co", PASSWORD)
    wrong = _refused(district, "quantri", WRONG)
    assert (unknown.reason, unknown.retry_after) == ("invalid", None)
    assert (wrong.reason, wrong.retry_after) == ("invalid", None)
    assert str(unknown) == str(wrong)
    # The unknown user cost one argon2 verification too, against a real argon2id hash.
    assert len(verified) == 2
    assert verified[0].startswith("$argon2id$")
    # The audit log tells the administrator which it was; no password appears anywhere.
    entries = audit.list_entries(district, action="user.login_failed")
    assert [(e.target, e.details, e.source) for e in reversed(entries)] == [
        ("user:khong-co", {"reason": "unknown_user"}, "10.0.0.7"),
        ("user:quantri", {"reason": "bad_password"}, "10.0.0.7"),
    ]
    stored = json.dumps(
        [(e.actor, e.target, e.details) for e in district.scalars(select(AuditEntry))],
        ensure_ascii=False,
    )
    assert PASSWORD not in stored
    assert WRONG not in stored
    assert _attempts(district) == 2


def test_disabled_user_is_told_invalid_but_audited_as_disabled(
    district: Session, make_user: MakeUser
) -> None:
    make_user("quantri")
    user = make_user("can-bo", role="operator", unit_id="xa-a")
    user.disabled = True
    refused = _refused(district, "can-bo", PASSWORD)
    assert refused.reason == "invalid"
    entry = audit.list_entries(district, action="user.login_failed")[0]
    assert entry.details == {"reason": "disabled"}
    assert user.last_login_at is None


def test_throttled_logins_are_refused_before_the_password_is_checked(
    district: Session, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("quantri")
    for _ in range(5):
        assert _refused(district, "quantri", WRONG).reason == "invalid"
    attempts = _attempts(district)

    def no_verify(password_hash: str, password: str) -> bool:
        raise AssertionError("a throttled login must not reach argon2")

    monkeypatch.setattr(passwords, "verify_password", no_verify)
    refused = _refused(district, "quantri", PASSWORD)
    assert refused.reason == "throttled"
    assert refused.retry_after == ThrottlePolicy().window
    # Waiting is not prolonged by trying again: throttled tries are not counted.
    assert _attempts(district) == attempts
    entry = audit.list_entries(district, action="user.login_failed")[0]
    assert entry.details == {"reason": "throttled", "retry_after_seconds": 900}
    monkeypatch.undo()
    later = T0 + ThrottlePolicy().window
    assert authenticate(district, "quantri", PASSWORD, address="10.0.0.7", now=later)


def test_a_custom_policy_is_used(district: Session, make_user: MakeUser) -> None:
    make_user("quantri")
    policy = ThrottlePolicy(per_account=1, window=timedelta(minutes=1))
    _refused(district, "quantri", WRONG, policy=policy)
    assert _refused(district, "quantri", PASSWORD, policy=policy).reason == "throttled"


@pytest.mark.real_argon2
def test_an_old_hash_is_upgraded_at_login(district: Session, make_user: MakeUser) -> None:
    user = make_user("quantri")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    user.password_hash = weak
    assert passwords.needs_rehash(weak)
    authenticate(district, "quantri", PASSWORD, address="10.0.0.7", now=T0)
    assert user.password_hash != weak
    assert not passwords.needs_rehash(user.password_hash)
    assert passwords.verify_password(user.password_hash, PASSWORD)
    assert audit.list_entries(district, action="user.login")[0].details == {"rehashed": True}
    # A current hash is left alone.
    current = user.password_hash
    authenticate(district, "quantri", PASSWORD, address="10.0.0.7", now=T0)
    assert user.password_hash == current
