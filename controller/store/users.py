"""Dashboard and API users (passwords are hashed by ``controller.passwords``, never here)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.store.models import USER_ROLES, User


def create_user(
    s: Session, username: str, password_hash: str, role: str, unit_id: str | None = None
) -> User:
    """Add a user; ``unit_id`` None gives access to the whole district.

    Raises ValueError for an unknown role. A taken username fails with IntegrityError at flush.
    """
    if role not in USER_ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(USER_ROLES)}")
    user = User(username=username, password_hash=password_hash, role=role, unit_id=unit_id)
    s.add(user)
    s.flush()
    return user


def get_user(s: Session, username: str) -> User | None:
    """The user with this username, or None."""
    return s.scalar(select(User).where(User.username == username))


def count_users(s: Session) -> int:
    """How many users exist (``init`` creates the first admin only when there are none)."""
    return s.scalar(select(func.count()).select_from(User)) or 0


def list_users(s: Session, unit_ids: frozenset[str] | None = None) -> list[User]:
    """Users ordered by username; with ``unit_ids``, only the users of those units.

    District-wide users (no unit) are listed only when ``unit_ids`` is None.
    """
    query = select(User).order_by(User.username)
    if unit_ids is not None:
        if not unit_ids:
            return []
        query = query.where(User.unit_id.in_(sorted(unit_ids)))
    return list(s.scalars(query))


def count_district_admins(s: Session) -> int:
    """Enabled admins of the whole district (no unit): the accounts that can fix everything."""
    return (
        s.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == "admin", User.unit_id.is_(None), User.disabled.is_(False))
        )
        or 0
    )
