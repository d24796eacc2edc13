"""Imported report bundles of offline agents: the highest number and when each agent last came."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.store.models import Agent, Bundle, Finding
from controller.store.scope import UnitScope


@dataclass(frozen=True, slots=True)
class BundleRow:
    """An imported bundle as the dashboard lists it, with its computer."""

    agent_id: str
    hostname: str
    unit_id: str
    seq: int
    created_at: datetime
    imported_at: datetime
    reports: int
    gap: int


def last_seq(s: Session, agent_id: str) -> int:
    """The highest bundle number imported for the agent (0 before the first)."""
    found = s.scalar(select(func.max(Bundle.seq)).where(Bundle.agent_id == agent_id))
    return int(found or 0)


def get_bundle(s: Session, agent_id: str, seq: int) -> Bundle | None:
    """The imported bundle with this number, or None."""
    return s.get(Bundle, (agent_id, seq))


def add_bundle(s: Session, bundle: Bundle) -> Bundle:
    """Record an imported bundle (the caller commits it together with its reports)."""
    s.add(bundle)
    s.flush()
    return bundle


def last_bundle_at(s: Session, agent_ids: Iterable[str]) -> dict[str, datetime]:
    """When each of these agents' newest bundle was imported; agents without one are left out."""
    ids = sorted(set(agent_ids))
    if not ids:
        return {}
    rows = s.execute(
        select(Bundle.agent_id, func.max(Bundle.imported_at))
        .where(Bundle.agent_id.in_(ids))
        .group_by(Bundle.agent_id)
    )
    return {agent_id: at for agent_id, at in rows if at is not None}


def list_bundles(s: Session, scope: UnitScope = None, limit: int = 200) -> list[BundleRow]:
    """The newest ``limit`` imported bundles of agents in ``scope`` (None: all), newest first."""
    query = (
        select(
            Bundle.agent_id,
            Agent.hostname,
            Agent.unit_id,
            Bundle.seq,
            Bundle.created_at,
            Bundle.imported_at,
            Bundle.reports,
            Bundle.gap,
        )
        .join(Agent, Agent.id == Bundle.agent_id)
        .order_by(Bundle.imported_at.desc(), Bundle.agent_id, Bundle.seq.desc())
        .limit(limit)
    )
    if scope is not None:
        query = query.where(Agent.unit_id.in_(sorted(scope)))
    return [BundleRow(*row) for row in s.execute(query)]


def opened_at(s: Session, agent_id: str, at: datetime) -> list[str]:
    """The rule ids of the agent's findings opened at ``at`` (by one bundle import), sorted."""
    rows = s.scalars(
        select(Finding.rule_id)
        .where(Finding.agent_id == agent_id, Finding.opened_at == at)
        .order_by(Finding.rule_id)
    )
    return list(rows)
