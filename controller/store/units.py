"""Organisational units (district, communes, departments)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.store.models import Unit
from controller.store.scope import UnitScope


def ensure_unit(
    s: Session, unit_id: str, name: str, parent_id: str | None = None, kind: str = "unit"
) -> Unit:
    """Return the unit ``unit_id``, creating it first when it does not exist yet.

    An existing unit is returned unchanged, so ``init`` can run again safely.
    """
    unit = s.get(Unit, unit_id)
    if unit is None:
        unit = Unit(id=unit_id, name=name, parent_id=parent_id, kind=kind)
        s.add(unit)
        s.flush()
    return unit


def get_unit(s: Session, unit_id: str) -> Unit | None:
    """The unit with this id, or None."""
    return s.get(Unit, unit_id)


def list_units(s: Session) -> list[Unit]:
    """Every unit, ordered by id."""
    return list(s.scalars(select(Unit).order_by(Unit.id)))


def unit_path(s: Session, unit_id: str) -> list[str]:
    """``unit_id`` and every unit above it, nearest first; empty when the unit is unknown."""
    path: list[str] = []
    current: str | None = unit_id
    while current is not None and current not in path:  # a cycle must not loop forever
        unit = s.get(Unit, current)
        if unit is None:
            break
        path.append(unit.id)
        current = unit.parent_id
    return path


def list_units_in(s: Session, scope: UnitScope) -> list[Unit]:
    """The units of ``scope`` (every unit for None), ordered by name, retired ones left out."""
    query = select(Unit).where(Unit.retired_at.is_(None)).order_by(Unit.name)
    if scope is not None:
        query = query.where(Unit.id.in_(sorted(scope)))
    return list(s.scalars(query))
