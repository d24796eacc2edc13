"""Managing accounts: the functions both ``govguard users`` and the dashboard's Users page call.

Each change is checked here (names, roles, units, the password policy, who may touch whom)
and writes one audit entry naming the actor and the source, so the CLI and the web cannot
drift apart. ``by`` is the dashboard account making the change; None is the command line,
whose operator already holds the server and is not restricted.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from controller.auth import Permission, Principal
from controller.auth.sessions import end_user_sessions
from controller.passwords import PasswordPolicyError, check_password_policy, hash_password
from controller.store import audit, units, users
from controller.store.models import USER_ROLES, User
from controller.store.scope import UnitScope, in_scope

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
LOCALES = ("vi", "en")
_MAX_FULL_NAME = 200


class AccountError(ValueError):
    """A refused account change; the message says why, in one English sentence."""


def check_username(username: str) -> str:
    """The normalised (case-folded) username, or :class:`AccountError` if it is not valid."""
    name = username.strip().casefold()
    if not USERNAME.fullmatch(name):
        raise AccountError(
            f"{username!r} is not a valid user name (2 to 64 lower-case letters, digits, "
            "'.', '_' or '-', starting with a letter or a digit)"
        )
    return name


def _check_password(password: str) -> None:
    try:
        check_password_policy(password)
    except PasswordPolicyError as exc:
        raise AccountError(f"password refused: {exc}") from exc


def _check_locale(locale: str) -> None:
    if locale not in LOCALES:
        raise AccountError(f"unknown language {locale!r}: use one of {', '.join(LOCALES)}")


def _require_manager(by: Principal | None) -> None:
    if by is not None and not by.can(Permission.USERS_MANAGE):
        raise AccountError(f"{by.username!r} may not manage users (role {by.role})")


def _find(s: Session, username: str, by: Principal | None, *, own_ok: bool = False) -> User:
    """The user ``username`` as ``by`` may change it.

    A user outside ``by``'s scope is reported as unknown, so scoped admins cannot probe other
    units' account names. ``own_ok``: anyone may change this about their own account.
    """
    name = username.strip().casefold()
    user = users.get_user(s, name)
    if by is not None and user is not None and not (own_ok and user.id == by.user_id):
        _require_manager(by)
        if not in_scope(by.scope, user.unit_id):
            user = None
    if user is None:
        raise AccountError(f"unknown user {username!r}")
    return user


def add_user(
    s: Session,
    *,
    actor: str,
    source: str | None,
    username: str,
    password: str,
    role: str,
    unit_id: str | None,
    now: datetime,
    locale: str = "vi",
    full_name: str | None = None,
    by: Principal | None = None,
) -> User:
    """Create an account; ``unit_id`` None gives it the whole district.

    A scoped ``by`` may only create accounts inside its own scope, never district-wide ones.
    """
    _require_manager(by)
    name = check_username(username)
    if role not in USER_ROLES:
        raise AccountError(f"unknown role {role!r}: use one of {', '.join(USER_ROLES)}")
    _check_locale(locale)
    if unit_id is not None:
        unit = units.get_unit(s, unit_id)
        if unit is None:
            raise AccountError(f"unknown unit {unit_id!r} (see `govguard units list`)")
        if unit.retired_at is not None:
            raise AccountError(f"unit {unit_id!r} is retired; choose a current unit")
    if by is not None and not in_scope(by.scope, unit_id):
        where = "the whole district" if unit_id is None else f"unit {unit_id!r}"
        raise AccountError(f"{by.username!r} may not create accounts for {where}")
    name_text = full_name.strip() if full_name is not None else None
    if name_text is not None and len(name_text) > _MAX_FULL_NAME:
        raise AccountError(f"the full name is longer than {_MAX_FULL_NAME} characters")
    _check_password(password)
    if users.get_user(s, name) is not None:
        raise AccountError(f"user {name!r} already exists")
    user = users.create_user(s, name, hash_password(password), role, unit_id)
    user.locale = locale
    user.full_name = name_text or None
    user.created_at = now
    user.password_changed_at = now
    audit.record(
        s, actor, "user.created", f"user:{name}",
        {"role": role, "unit_id": unit_id, "locale": locale},
        at=now, source=source,
    )  # fmt: skip
    return user


def set_password(
    s: Session,
    *,
    actor: str,
    source: str | None,
    username: str,
    password: str,
    now: datetime,
    keep: str | None = None,
    by: Principal | None = None,
) -> User:
    """Set a user's password and end the user's other sessions.

    ``keep``: the caller's own session (cookie secret or id hash) when people change their
    own password, so they stay logged in where they did it. Anyone may change their own
    password; checking the current one first is the page's job.
    """
    user = _find(s, username, by, own_ok=True)
    _check_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    ended = end_user_sessions(s, user.id, now, keep=keep)
    audit.record(
        s, actor, "user.password_changed", f"user:{user.username}",
        {"sessions_ended": ended}, at=now, source=source,
    )  # fmt: skip
    return user


def set_disabled(
    s: Session,
    *,
    actor: str,
    source: str | None,
    username: str,
    disabled: bool,
    now: datetime,
    by: Principal | None = None,
) -> User:
    """Disable (ending every session) or enable an account.

    The last enabled district-wide admin cannot be disabled: nobody could undo it from the
    dashboard.
    """
    user = _find(s, username, by)
    details: dict[str, object] = {}
    if disabled and not user.disabled:
        if user.role == "admin" and user.unit_id is None and users.count_district_admins(s) <= 1:
            raise AccountError(
                f"{user.username!r} is the last enabled administrator of the whole district; "
                "enable or add another one first"
            )
        details["sessions_ended"] = end_user_sessions(s, user.id, now)
    elif disabled:
        # Already disabled: make sure nothing is still open, but write the entry anyway.
        details["sessions_ended"] = end_user_sessions(s, user.id, now)
    user.disabled = disabled
    action = "user.disabled" if disabled else "user.enabled"
    audit.record(s, actor, action, f"user:{user.username}", details or None, at=now, source=source)
    return user


def set_locale(
    s: Session,
    *,
    actor: str,
    source: str | None,
    username: str,
    locale: str,
    now: datetime,
    by: Principal | None = None,
) -> User:
    """Set the dashboard language of an account (anyone may set their own)."""
    _check_locale(locale)
    user = _find(s, username, by, own_ok=True)
    previous = user.locale
    user.locale = locale
    audit.record(
        s, actor, "user.locale_changed", f"user:{user.username}",
        {"from": previous, "to": locale}, at=now, source=source,
    )  # fmt: skip
    return user


def list_users(s: Session, scope: UnitScope) -> list[User]:
    """The accounts visible in ``scope`` (a scoped admin sees only its subtree's accounts)."""
    return users.list_users(s, scope)
