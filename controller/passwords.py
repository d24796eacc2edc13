"""Password hashes of dashboard accounts (argon2id).

People choose low-entropy passwords, so they get a slow, memory-hard hash; enrollment token
secrets are random and use a plain SHA-256 (``agent.token.secret_hash``).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: Shorter passwords are refused when an account is created or its password is changed.
MIN_PASSWORD_LENGTH = 10
#: argon2 hashes the whole input; a cap keeps a megabyte "password" from costing a login slot.
MAX_PASSWORD_LENGTH = 1024

# argon2-cffi's defaults follow RFC 9106's second recommended option (argon2id, 64 MiB, t=3).
_hasher = PasswordHasher()


class PasswordPolicyError(ValueError):
    """The password is refused (too short, too long, ...); the message says why."""


def check_password_policy(password: str) -> None:
    """Raise :class:`PasswordPolicyError` if ``password`` may not be set."""
    if not password:
        raise PasswordPolicyError("the password is empty")
    if not password.strip():
        raise PasswordPolicyError("the password is only spaces")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(
            f"the password is too short ({len(password)} characters; "
            f"at least {MIN_PASSWORD_LENGTH} are needed)"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) to store for ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False also for a malformed hash."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash after login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
