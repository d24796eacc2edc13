"""What remediation reads about hosts: agents and assets, who fails a rule now, rule states and
how fresh each agent's reports are (the workflow's verification)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.store.models import Agent, Asset, Finding, HostFacts, RuleState


def agent(s: Session, agent_id: str) -> Agent | None:
    """The agent ``agent_id``, or None."""
    return s.get(Agent, agent_id)


def asset(s: Session, asset_id: str) -> Asset | None:
    """The asset ``asset_id``, or None."""
    return s.get(Asset, asset_id)


def asset_of_agent(s: Session, agent_id: str) -> Asset | None:
    """The live asset the agent is linked to, or None."""
    return s.scalar(
        select(Asset)
        .where(Asset.agent_id == agent_id, Asset.retired_at.is_(None))
        .order_by(Asset.id)
        .limit(1)
    )


def failing_hosts(s: Session, rule_id: str) -> tuple[list[str], list[str]]:
    """Who fails ``rule_id`` now: ``(agent ids of active agents whose rule state is fail,
    asset ids of live findings raised on an asset without an agent)``. A host whose finding
    for the rule is exempted is left out: the exemption is an operator's decision."""
    exempted = select(Finding.agent_id).where(
        Finding.rule_id == rule_id, Finding.status == "exempted", Finding.agent_id.is_not(None)
    )
    agents = s.scalars(
        select(RuleState.agent_id)
        .join(Agent, Agent.id == RuleState.agent_id)
        .where(RuleState.rule_id == rule_id, RuleState.outcome == "fail")
        .where(Agent.status == "active", RuleState.agent_id.not_in(exempted))
        .order_by(RuleState.agent_id)
    )
    assets = s.scalars(
        select(Finding.subject)
        .where(
            Finding.rule_id == rule_id,
            Finding.open_key.is_not(None),
            Finding.status != "exempted",
            Finding.agent_id.is_(None),
            Finding.subject.like("asset:%"),
        )
        .order_by(Finding.subject)
    )
    return list(agents), [subject.partition(":")[2] for subject in assets]


def rule_states(s: Session, pairs: Collection[tuple[str, str]]) -> dict[tuple[str, str], RuleState]:
    """``{(agent id, rule id): state}`` of these pairs (those stored)."""
    agent_ids = sorted({agent_id for agent_id, _ in pairs})
    rule_ids = sorted({rule_id for _, rule_id in pairs})
    if not agent_ids:
        return {}
    rows = s.scalars(
        select(RuleState).where(RuleState.agent_id.in_(agent_ids), RuleState.rule_id.in_(rule_ids))
    )
    return {(r.agent_id, r.rule_id): r for r in rows if (r.agent_id, r.rule_id) in pairs}


@dataclass(frozen=True, slots=True)
class Freshness:
    """When the controller last heard of an agent, and the newest full report's time."""

    last_seen_at: datetime | None
    #: The newest full report's creation time in controller time (the agent's clock corrected
    #: by the skew measured at ingest; bundles carry none), None without one.
    full_at: datetime | None


def freshness(s: Session, agent_ids: Collection[str]) -> dict[str, Freshness]:
    """:class:`Freshness` of each of ``agent_ids`` (one query)."""
    if not agent_ids:
        return {}
    rows = s.execute(
        select(Agent.id, Agent.last_seen_at, HostFacts.last_full_at, HostFacts.clock_skew_s)
        .outerjoin(HostFacts, HostFacts.agent_id == Agent.id)
        .where(Agent.id.in_(sorted(agent_ids)))
    )
    found: dict[str, Freshness] = {}
    for agent_id, seen, full_at, skew in rows:
        if full_at is not None and skew:
            # The skew is how far the agent's clock is ahead of ours.
            full_at = full_at - timedelta(seconds=float(skew))
        found[agent_id] = Freshness(seen, full_at)
    return found
