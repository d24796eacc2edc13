"""Enrollment tokens as administrators create and revoke them.

The token text (``gg1.<id>.<secret>.<CA fingerprint>``, see :mod:`agent.token`) is shown once;
the database keeps only the secret's SHA-256, so a copy of the database yields no usable token.
Functions here never commit: the caller owns the transaction.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from agent.token import format_token, new_token, secret_hash
from controller.store import audit, units
from controller.store import tokens as token_store
from controller.store.scope import UnitScope, in_scope

#: A token that lives longer than this is a standing invitation; a year covers any rollout.
MAX_EXPIRY = timedelta(days=365)
#: One token for a whole office's PCs is handy; more than this is better split per unit.
MAX_USES = 10000

_DURATION = re.compile(r"(\d{1,6})\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class TokenError(ValueError):
    """A token cannot be created or revoked; the message is one line for the operator."""


class TokenNotFound(TokenError):  # noqa: N818 - a kind of TokenError, named for the condition
    """No such token, or one outside the caller's unit scope (the same answer for both)."""


def parse_duration(text: str) -> timedelta:
    """``"72h"``, ``"30m"``, ``"7d"``, ``"2w"``, ``"90s"`` (or ``"1d12h"``) as a timedelta.

    Raises :class:`TokenError` for anything else, zero, or more than a few years.
    """
    compact = text.strip().lower()
    pos, total = 0, 0
    for match in _DURATION.finditer(compact):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not compact or pos != len(compact):
        raise TokenError(f"not a duration: {text!r} (use a number and a unit: 30m, 72h, 7d, 2w)")
    if total == 0:
        raise TokenError(f"the duration must be more than zero, got {text!r}")
    # timedelta overflows past ~2.7 million years; refuse long before, with a sentence.
    if total > 100 * 365 * 86400:
        raise TokenError(f"the duration is too long: {text!r}")
    return timedelta(seconds=total)


def create_token(
    session: Session,
    *,
    unit_id: str,
    expires: timedelta,
    uses: int,
    created_by: str,
    ca_fingerprint: str,
    now: datetime,
    note: str | None = None,
    source: str | None = None,
) -> str:
    """Create a token for ``unit_id`` and return its full text (to show once, never to store).

    Stores only the secret's hash and adds a ``token.created`` audit entry. Raises
    :class:`TokenError` for an unknown unit, a bad expiry or use count.
    """
    unit = units.get_unit(session, unit_id)
    if unit is None:
        raise TokenError(
            f"unknown unit {unit_id!r} "
            "(see `govguard units list`; add one with `govguard units add`)"
        )
    if unit.retired_at is not None:
        # Retired by an inventory import: new computers must not join a unit that is gone.
        raise TokenError(f"unit {unit_id!r} is retired (it left the organisation file)")
    if expires <= timedelta(0):
        raise TokenError("the expiry must be in the future")
    if expires > MAX_EXPIRY:
        raise TokenError(f"the expiry may be at most {MAX_EXPIRY.days} days")
    if not 1 <= uses <= MAX_USES:
        raise TokenError(f"the number of uses must be from 1 to {MAX_USES}, got {uses}")
    if note is not None and len(note) > 200:
        raise TokenError("the note may be at most 200 characters")
    # 32-bit token ids: a collision is unlikely but possible among thousands of tokens.
    for _ in range(8):
        token = new_token(ca_fingerprint)
        if token_store.get_token(session, token.token_id) is None:
            break
    else:  # pragma: no cover - eight collisions in a row means a broken random source
        raise TokenError("could not find a free token id; try again")
    expires_at = now + expires
    token_store.add_token(
        session,
        token.token_id,
        secret_hash(token.secret),
        unit_id,
        expires_at,
        uses,
        created_by,
        note=note,
    )
    audit.record(
        session,
        created_by,
        "token.created",
        f"token:{token.token_id}",
        {"unit_id": unit_id, "expires_at": expires_at.isoformat(), "max_uses": uses},
        at=now,
        source=source,
    )
    return format_token(token)


def revoke_token(
    session: Session,
    token_id: str,
    *,
    revoked_by: str,
    now: datetime | None = None,
    source: str | None = None,
    scope: UnitScope = None,
) -> None:
    """Revoke a token so it can no longer enroll anything; adds a ``token.revoked`` audit entry.

    Raises :class:`TokenNotFound` if there is no such token or its unit is outside ``scope``
    (a dashboard account's units; None: every unit), :class:`TokenError` if it was already
    revoked. Agents already enrolled with it stay enrolled (revoke those with
    ``govguard agents revoke``).
    """
    token_id = token_id.strip().lower()
    existing = token_store.get_token(session, token_id)
    if existing is None or not in_scope(scope, existing.unit_id):
        raise TokenNotFound(f"no token with id {token_id!r} (see `govguard tokens list`)")
    if existing.revoked_at is not None or not token_store.revoke_token(session, token_id, now):
        raise TokenError(f"token {token_id} is already revoked")
    audit.record(session, revoked_by, "token.revoked", f"token:{token_id}", at=now, source=source)
