"""Enrolled agents: lookup by id or key, same-hardware detection, approval and revocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from controller.store.models import AGENT_STATUSES, Agent


class AgentNotFoundError(LookupError):
    """No agent has the given id."""


class AgentStateError(ValueError):
    """The agent's status does not allow the requested change."""


@dataclass(frozen=True, slots=True)
class AgentCredentials:
    """What ingest needs to check a signed report, without loading the whole row."""

    id: str
    key_id: str
    public_key: bytes
    status: str


def add_agent(s: Session, **fields: Any) -> Agent:
    """Insert an agent row from column values (``id``, ``key_id``, ``public_key``, ...)."""
    status = fields.get("status", "active")
    if status not in AGENT_STATUSES:
        raise ValueError(f"unknown agent status {status!r}")
    agent = Agent(**fields)
    s.add(agent)
    s.flush()
    return agent


def get_agent(s: Session, agent_id: str) -> Agent | None:
    """The agent with this id, or None."""
    return s.get(Agent, agent_id)


def get_agent_by_key(s: Session, key_id: str) -> Agent | None:
    """The agent registered with this key id, or None."""
    return s.scalar(select(Agent).where(Agent.key_id == key_id))


def find_same_hardware(
    s: Session, machine_id: str | None, system_uuid: str | None, system_serial: str | None
) -> list[Agent]:
    """Non-revoked agents sharing any non-empty hardware identifier with the given ones.

    Empty or missing identifiers never match: many virtual machines have no serial, and two of
    them must not look like the same computer.
    """
    conditions = [
        column == value
        for column, value in (
            (Agent.machine_id, machine_id),
            (Agent.system_uuid, system_uuid),
            (Agent.system_serial, system_serial),
        )
        if value
    ]
    if not conditions:
        return []
    query = (
        select(Agent)
        .where(or_(*conditions), Agent.status != "revoked")
        .order_by(Agent.created_at, Agent.id)
    )
    return list(s.scalars(query))


def list_agents(s: Session, status: str | None = None) -> list[Agent]:
    """Every agent (or those with ``status``), oldest first."""
    query = select(Agent).order_by(Agent.created_at, Agent.id)
    if status is not None:
        query = query.where(Agent.status == status)
    return list(s.scalars(query))


def _require(s: Session, agent_id: str) -> Agent:
    agent = s.get(Agent, agent_id)
    if agent is None:
        raise AgentNotFoundError(f"no agent with id {agent_id}")
    return agent


def approve_agent(s: Session, agent_id: str, at: datetime) -> Agent:
    """Activate a pending agent and revoke the agent it replaces (the computer's old key).

    Approving an active agent changes nothing; a revoked one raises :class:`AgentStateError`.
    """
    agent = _require(s, agent_id)
    if agent.status == "active":
        return agent
    if agent.status != "pending":
        raise AgentStateError(f"agent {agent_id} is {agent.status} and cannot be approved")
    agent.status = "active"
    agent.approved_at = at
    if agent.replaces:
        old = s.get(Agent, agent.replaces)
        if old is not None and old.status != "revoked":
            old.status = "revoked"
            old.revoked_at = at
    s.flush()
    return agent


def revoke_agent(s: Session, agent_id: str, at: datetime) -> Agent:
    """Revoke an agent: its key is refused from now on. Revoking twice keeps the first time."""
    agent = _require(s, agent_id)
    if agent.status != "revoked":
        agent.status = "revoked"
        agent.revoked_at = at
        s.flush()
    return agent


def agent_credentials(s: Session, agent_id: str) -> AgentCredentials | None:
    """Id, key id, public key and status of an agent (four columns, no ORM object)."""
    row = s.execute(
        select(Agent.id, Agent.key_id, Agent.public_key, Agent.status).where(Agent.id == agent_id)
    ).first()
    if row is None:
        return None
    return AgentCredentials(
        id=row.id, key_id=row.key_id, public_key=row.public_key, status=row.status
    )
