"""Approving and revoking agents: the functions ``govguard agents`` and the dashboard share.

Each writes its audit entries (naming the actor and where the action came from) in the
caller's transaction; the caller commits. ``scope`` is the unit scope of a dashboard account
(None: the command line, or a district-wide account): an agent outside it is reported exactly
like an unknown one, so a commune officer cannot learn that another commune's computer exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from controller.findings.assets import link_agents
from controller.store import agents, audit
from controller.store.models import Agent
from controller.store.scope import UnitScope, in_scope


class AgentActionError(ValueError):
    """The agent's status does not allow the change; the message is one English sentence."""


class AgentUnknown(AgentActionError):  # noqa: N818 - a condition
    """No agent has this id in the caller's scope."""


@dataclass(frozen=True)
class Approved:
    """An approved agent, and the agents of the same computer its approval revoked."""

    agent_id: str
    replaces: str | None
    #: (agent id, hostname) of each revoked agent, oldest first.
    revoked: list[tuple[str, str]]


def _find(s: Session, agent_id: str, scope: UnitScope) -> Agent:
    agent = agents.get_agent(s, agent_id)
    if agent is None or not in_scope(scope, agent.unit_id):
        raise AgentUnknown(f"no agent with id {agent_id!r} (see `govguard agents list`)")
    return agent


def approve(
    s: Session,
    agent_id: str,
    *,
    actor: str,
    source: str | None,
    now: datetime,
    scope: UnitScope = None,
) -> Approved:
    """Accept a pending agent; every other agent of the same computer is revoked.

    One ``agent.approved`` entry, and one ``agent.revoked`` entry per key that stops working, so
    the log answers "why was this computer's old key refused?".
    """
    agent_id = agent_id.strip().lower()
    agent = _find(s, agent_id, scope)
    if agent.status != "pending":
        raise AgentActionError(
            f"agent {agent_id} is {agent.status}; only pending agents are approved"
        )
    replaces = agent.replaces
    approval = agents.approve_and_replace(s, agent_id, now)
    link_agents(s, [agent_id])  # takes the asset link over from the replaced agent
    revoked = [(old.id, old.hostname) for old in approval.revoked]
    audit.record(
        s, actor, "agent.approved", f"agent:{agent_id}",
        {"replaces": replaces, "revoked": [old_id for old_id, _ in revoked]},
        at=now, source=source,
    )  # fmt: skip
    for old_id, hostname in revoked:
        audit.record(
            s, actor, "agent.revoked", f"agent:{old_id}",
            {"hostname": hostname, "reason": f"replaced by agent {agent_id}"},
            at=now, source=source,
        )  # fmt: skip
    return Approved(agent_id, replaces, revoked)


def revoke(
    s: Session,
    agent_id: str,
    *,
    actor: str,
    source: str | None,
    now: datetime,
    scope: UnitScope = None,
) -> Agent:
    """Revoke an agent (pending or active): its reports are refused from now on."""
    agent_id = agent_id.strip().lower()
    agent = _find(s, agent_id, scope)
    if agent.status == "revoked":
        raise AgentActionError(f"agent {agent_id} is already revoked")
    agents.revoke_agent(s, agent_id, now)
    audit.record(
        s, actor, "agent.revoked", f"agent:{agent_id}", {"hostname": agent.hostname},
        at=now, source=source,
    )  # fmt: skip
    return agent
