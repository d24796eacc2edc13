"""Unit scopes: the set of units an account may see (its unit and every unit below it).

A scope is ``None`` for an account of the whole district, otherwise a frozenset of unit ids.
Every read the dashboard and the API make takes one and filters by it in SQL, so a commune
officer's pages, exports and searches never see another commune.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.store.models import Unit

#: ``None``: every unit; otherwise the ids of the visible units.
UnitScope = frozenset[str] | None


def unit_subtree(s: Session, unit_id: str) -> frozenset[str]:
    """``unit_id`` and every unit below it (retired units included: their history stays visible).

    An unknown ``unit_id`` gives an empty scope (nothing visible), never the whole district.
    """
    children: dict[str | None, list[str]] = {}
    known: set[str] = set()
    for uid, parent in s.execute(select(Unit.id, Unit.parent_id)):
        children.setdefault(parent, []).append(uid)
        known.add(uid)
    if unit_id not in known:
        return frozenset()
    seen: set[str] = set()
    stack = [unit_id]
    while stack:
        current = stack.pop()
        if current in seen:  # a cycle in hand-edited data must not loop forever
            continue
        seen.add(current)
        stack.extend(children.get(current, ()))
    return frozenset(seen)


def in_scope(scope: UnitScope, unit_id: str | None) -> bool:
    """Whether an object of ``unit_id`` is visible in ``scope`` (unit-less objects: only to all)."""
    if scope is None:
        return True
    return unit_id is not None and unit_id in scope
