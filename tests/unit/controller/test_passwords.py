"""argon2id password hashes and the password policy of accounts."""

from __future__ import annotations

import pytest

from controller.passwords import (
    PasswordPolicyError,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)

pytestmark = pytest.mark.real_argon2


def test_hash_and_verify() -> None:
    stored = hash_password("mật khẩu đủ dài")
    assert stored.startswith("$argon2id$")
    assert "mật khẩu" not in stored
    assert verify_password(stored, "mật khẩu đủ dài") is True
    assert verify_password(stored, "mật khẩu đủ dài ") is False
    assert needs_rehash(stored) is False


def test_same_password_gets_different_hashes() -> None:
    # A random salt per hash: equal passwords cannot be spotted in the users table.
    assert hash_password("correct horse") != hash_password("correct horse")


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param("", id="empty"),
        pytest.param("plain text", id="not a hash"),
        pytest.param("$argon2id$v=19$m=65536,t=3,p=4$broken", id="truncated hash"),
    ],
)
def test_malformed_hash_never_matches(stored: str) -> None:
    assert verify_password(stored, "plain text") is False
    assert needs_rehash(stored) is True


def test_huge_password_is_refused_without_hashing() -> None:
    stored = hash_password("a" * 20)
    assert verify_password(stored, "a" * 100_000) is False


@pytest.mark.parametrize(
    ("password", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("          ", "only spaces", id="spaces"),
        pytest.param("short", "too short (5 characters; at least 10", id="short"),
        pytest.param("x" * 1025, "longer than 1024", id="too long"),
    ],
)
def test_policy_refuses(password: str, message: str) -> None:
    with pytest.raises(PasswordPolicyError, match=message.replace("(", r"\(")):
        check_password_policy(password)


def test_policy_accepts_a_long_enough_password() -> None:
    check_password_policy("mười ký tự!")
    assert verify_password(hash_password("mười ký tự!"), "mười ký tự!")
