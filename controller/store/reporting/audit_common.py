"""What the security, classified and hardware reports share: the unit tree with roll-ups and the
header's facts (unit path, data freshness), each a few grouped queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import unit_filter, unit_tree
from controller.store.models import Agent, Unit
from controller.store.scope import UnitScope


@dataclass(frozen=True, slots=True)
class TreeUnit:
    """A unit of a report's tree: ``depth`` counts from the report's root (0)."""

    id: str
    name: str
    kind: str
    parent_id: str | None
    depth: int


@dataclass(frozen=True, slots=True)
class HeaderFacts:
    """The header of an audit report: where the unit sits and how fresh the data is."""

    unit_name: str
    unit_path: tuple[str, ...]
    #: Active agents heard within 24 hours / 7 days, and all active agents.
    fresh_24h: int
    fresh_7d: int
    agents: int
    units: int


def report_tree(s: Session, scope: UnitScope) -> tuple[TreeUnit, ...]:
    """The units of ``scope`` in tree order, depths rebased so the shallowest unit is 0."""
    rows = unit_tree(s, scope)
    base = min((depth for *_, depth in rows), default=0)
    return tuple(
        TreeUnit(uid, name, kind, parent, depth - base) for uid, name, kind, parent, depth in rows
    )


def roll_up(
    tree: tuple[TreeUnit, ...], own: Mapping[str, tuple[int, ...]]
) -> dict[str, tuple[int, ...]]:
    """Per unit, the element-wise sum of ``own`` over its subtree (units outside the tree are
    left out; every unit of the tree gets a tuple, zeros when nothing is below it)."""
    width = max((len(v) for v in own.values()), default=0)
    sums: dict[str, list[int]] = {u.id: [0] * width for u in tree}
    parents = {u.id: u.parent_id for u in tree}
    for uid, values in own.items():
        current: str | None = uid
        seen: set[str] = set()
        while current is not None and current in sums and current not in seen:
            seen.add(current)
            slot = sums[current]
            for i, v in enumerate(values):
                slot[i] += v
            current = parents.get(current)
    return {uid: tuple(v) for uid, v in sums.items()}


def header_facts(s: Session, unit_id: str, scope: UnitScope, now: datetime) -> HeaderFacts:
    """The unit's name and path from the top of the organisation, and the freshness of the
    active agents in ``scope`` at ``now``."""
    parents = {
        uid: (name, parent)
        for uid, name, parent in s.execute(select(Unit.id, Unit.name, Unit.parent_id))
    }
    path: list[str] = []
    current: str | None = unit_id
    while current is not None and current in parents and len(path) <= len(parents):
        name, parent = parents[current]
        path.append(name)
        current = parent
    path.reverse()
    row = s.execute(
        select(
            func.count(),
            func.count().filter(Agent.last_seen_at >= now - timedelta(hours=24)),
            func.count().filter(Agent.last_seen_at >= now - timedelta(days=7)),
        ).where(Agent.status == "active", unit_filter(Agent.unit_id, scope))
    ).one()
    units = s.scalar(select(func.count()).select_from(Unit).where(unit_filter(Unit.id, scope)))
    return HeaderFacts(
        unit_name=parents[unit_id][0] if unit_id in parents else unit_id,
        unit_path=tuple(path),
        fresh_24h=int(row[1]),
        fresh_7d=int(row[2]),
        agents=int(row[0]),
        units=int(units or 0),
    )
