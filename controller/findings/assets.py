"""Which organisation-file asset each enrolled computer is: the link behind ``asset.*`` facts.

An agent is linked to the asset that shares a hardware identifier with it: machine id or system
UUID first, then the serial number, then a MAC address. Host names are not used: two communes
can both have a ``PC-KETOAN``. Only an unambiguous match is linked; re-enrolled hardware (a new
agent for the same computer) takes the link over from the agent it replaces.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controller.store.inventory import find_assets_by_identity
from controller.store.models import Agent, Asset


def _normal_mac(mac: str) -> str:
    return mac.strip().lower().replace("-", ":")


def match_asset(s: Session, agent: Agent) -> Asset | None:
    """The one live asset this agent's hardware identifiers point at, or None."""
    ids = [value for value in (agent.machine_id, agent.system_uuid) if value]
    for attempt in (
        {"machine_ids": ids},
        {"serial": agent.system_serial},
        {"macs": [_normal_mac(mac) for mac in agent.macs or []]},
    ):
        if not any(attempt.values()):
            continue
        found = find_assets_by_identity(s, **attempt)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            return None  # ambiguous: an officer fixes the organisation file
    return None


def link_agents(s: Session, agent_ids: Iterable[str] | None = None) -> int:
    """Link active agents (all, or these) to their assets; returns how many links changed.

    An asset already linked to another *active* agent keeps its link unless this agent
    replaces that one (re-enrollment of the same computer).
    """
    query = select(Agent).where(Agent.status == "active")
    if agent_ids is not None:
        query = query.where(Agent.id.in_(sorted(set(agent_ids))))
    changed = 0
    for agent in s.scalars(query.order_by(Agent.created_at)):
        asset = match_asset(s, agent)
        current = s.scalar(select(Asset.id).where(Asset.agent_id == agent.id))
        if asset is None or asset.id == current:
            continue
        holder = s.get(Agent, asset.agent_id) if asset.agent_id else None
        if holder is not None and holder.status == "active" and agent.replaces != holder.id:
            continue
        if current is not None:
            s.execute(update(Asset).where(Asset.id == current).values(agent_id=None))
        asset.agent_id = agent.id
        changed += 1
    s.flush()
    return changed
