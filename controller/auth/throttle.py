"""Login throttling: too many failures for one account, or from one address, and logins wait.

Per account, only the failures since the account's last successful login count, so the owner
logging in clears what their own typos cost. Per address every failure counts: one address
trying many accounts is the attack the per-account limit alone would miss. Windows slide: a
login may be tried again as soon as enough failures have aged out of the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from controller.store import logins

#: Usernames are stored at most this long in the attempts table (real ones are 64 at most).
_MAX_STORED_NAME = 128
#: The address bucket of requests whose client address is unknown.
UNKNOWN_ADDRESS = "unknown"


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """At most ``per_account`` / ``per_address`` failures within ``window``."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


def normalise_username(username: str) -> str:
    """The form usernames are compared in (case-insensitive, length-capped)."""
    return username.strip().casefold()[:_MAX_STORED_NAME]


def _address(address: str | None) -> str:
    return address[:_MAX_STORED_NAME] if address else UNKNOWN_ADDRESS


def retry_after(
    s: Session, username: str, address: str | None, now: datetime, policy: ThrottlePolicy
) -> timedelta | None:
    """None if a login may be tried now, else how long to wait (always more than zero)."""
    name = normalise_username(username)
    start = now - policy.window
    waits: list[timedelta] = []
    success = logins.last_success(s, name)
    since = max(start, success) if success is not None else start
    # The per_account-th newest failure is the one whose ageing out brings the count under the
    # limit again; if there is none, the account is under its limit.
    pivot = logins.nth_newest_failure(s, after=since, n=policy.per_account, username=name)
    if pivot is not None:
        waits.append(pivot + policy.window - now)
    pivot = logins.nth_newest_failure(
        s, after=start, n=policy.per_address, address=_address(address)
    )
    if pivot is not None:
        waits.append(pivot + policy.window - now)
    if not waits:
        return None
    return max(max(waits), timedelta(seconds=1))


def record_attempt(s: Session, username: str, address: str | None, ok: bool, now: datetime) -> None:
    """Record one login attempt for throttling."""
    logins.add_attempt(
        s, username=normalise_username(username), address=_address(address), ok=ok, at=now
    )


def purge_attempts(s: Session, before: datetime) -> int:
    """Delete attempts older than ``before`` (keep at least one window); how many."""
    return logins.purge_attempts(s, before)
