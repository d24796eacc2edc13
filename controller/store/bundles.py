"""Imported report bundles of offline agents: the highest number and when each agent last came."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.store.models import Bundle


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
