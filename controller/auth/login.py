"""Password login: throttled, constant in what it reveals, and audited.

Every outcome writes to the session (the attempt, the audit entry): the caller commits it
even when :class:`LoginRefused` is raised, or throttling would never see the failures.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Literal

from sqlalchemy.orm import Session

from controller import passwords
from controller.auth.throttle import (
    ThrottlePolicy,
    normalise_username,
    record_attempt,
    retry_after,
)
from controller.store import audit, users
from controller.store.models import User

RefusalReason = Literal["invalid", "throttled", "disabled"]


class LoginRefused(Exception):  # noqa: N818 - the name the web layer is written against
    """The login failed; ``reason`` is what the person may be told.

    ``"invalid"`` covers an unknown user, a wrong password and a disabled account alike, so
    the login form reveals neither which accounts exist nor which are disabled (the audit
    entry tells the administrator which it was). ``"throttled"`` comes with ``retry_after``.
    ``"disabled"`` is part of the contract for callers that choose to say so; this module
    never raises it.
    """

    def __init__(self, reason: RefusalReason, retry_after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.reason: RefusalReason = reason
        self.retry_after = retry_after


@cache
def _dummy_hash() -> str:
    # Unknown users are verified against this, so they cost the same argon2 work as known
    # ones and a stopwatch cannot tell them apart. Made once, lazily (hashing takes ~50 ms).
    return passwords.hash_password("govguard: no such user, only timing")


def authenticate(
    s: Session,
    username: str,
    password: str,
    *,
    address: str | None,
    now: datetime,
    policy: ThrottlePolicy = ThrottlePolicy(),  # noqa: B008 - frozen, shared safely
) -> User:
    """The user whose ``username`` and ``password`` these are; :class:`LoginRefused` if not.

    Throttled attempts are refused before any password is checked. A success records the
    attempt, sets ``last_login_at`` and rehashes a password hashed with older parameters.
    Audit entries (``user.login``, ``user.login_failed``) name the actor ``user:NAME`` and
    the client address as source, never the password.
    """
    name = normalise_username(username)
    actor = f"user:{name}"
    target = f"user:{name}"

    def refuse(reason: RefusalReason, why: str, wait: timedelta | None = None) -> LoginRefused:
        details: dict[str, object] = {"reason": why}
        if wait is not None:
            details["retry_after_seconds"] = int(wait.total_seconds())
        audit.record(s, actor, "user.login_failed", target, details, at=now, source=address)
        return LoginRefused(reason, wait)

    wait = retry_after(s, name, address, now, policy)
    if wait is not None:
        # Not recorded as an attempt: the lockout must not grow while it is waited out.
        raise refuse("throttled", "throttled", wait)
    user = users.get_user(s, name)
    if user is None:
        passwords.verify_password(_dummy_hash(), password)
        record_attempt(s, name, address, False, now)
        raise refuse("invalid", "unknown_user")
    matches = passwords.verify_password(user.password_hash, password)
    if not matches or user.disabled:
        record_attempt(s, name, address, False, now)
        raise refuse("invalid", "disabled" if user.disabled else "bad_password")
    record_attempt(s, name, address, True, now)
    user.last_login_at = now
    details: dict[str, object] = {}
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        details["rehashed"] = True
    audit.record(s, actor, "user.login", target, details or None, at=now, source=address)
    return user
