"""Enrolled agents: lookup by id or key, same-hardware detection, approval and revocation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from controller.store.db import write_session
from controller.store.models import AGENT_STATUSES, Agent
from controller.store.scope import UnitScope


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


def hardware_lock_keys(
    machine_id: str | None, system_uuid: str | None, system_serial: str | None
) -> list[int]:
    """The advisory lock numbers of a hardware identity, ascending (see :func:`lock_hardware`).

    One signed 64-bit number per non-empty identifier, from SHA-256 of the identifier's kind
    and value: stable across processes and Python versions (``hash()`` is salted per process).
    """
    keys: set[int] = set()
    for kind, value in (
        ("machine_id", machine_id),
        ("system_uuid", system_uuid),
        ("system_serial", system_serial),
    ):
        if value:
            digest = hashlib.sha256(f"govguard-hw\0{kind}\0{value}".encode()).digest()
            keys.add(int.from_bytes(digest[:8], "big", signed=True))
    return sorted(keys)


def lock_hardware(
    s: Session, machine_id: str | None, system_uuid: str | None, system_serial: str | None
) -> None:
    """Serialise transactions about one computer until the caller's transaction ends.

    Call it as the transaction's first statement, before :func:`find_same_hardware` when the
    answer decides what to write (enrollment). PostgreSQL's READ COMMITTED lets two transactions
    both see "no agent for this machine" and both insert an active one; a transaction-scoped
    advisory lock per non-empty identifier makes the second wait until the first has committed,
    and then its lookup sees the new row (:func:`_advisory_locks`).

    SQLite allows one writer at a time: the transaction takes the write lock as it begins
    (:func:`controller.store.db.write_session`, ``BEGIN IMMEDIATE``), so the lookup after it
    sees every committed row and another writer waits for the busy timeout instead of failing
    on a stale snapshot. That is why it must be the first statement: a transaction that has
    already begun cannot become IMMEDIATE (``write_session`` raises ``RuntimeError`` then).
    """
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        _advisory_locks(s, machine_id, system_uuid, system_serial)
    elif dialect == "sqlite":
        write_session(s)


def _advisory_locks(
    s: Session, machine_id: str | None, system_uuid: str | None, system_serial: str | None
) -> None:
    """PostgreSQL: wait for, then hold to the transaction's end, the identity's advisory locks.

    Taken in ascending order, so two transactions sharing several identifiers cannot deadlock.
    Empty identifiers never match, so they take no lock. Nothing on other databases.
    """
    if s.get_bind().dialect.name != "postgresql":
        return
    for key in hardware_lock_keys(machine_id, system_uuid, system_serial):
        s.execute(select(func.pg_advisory_xact_lock(key)))


def list_agents(
    s: Session, status: str | None = None, scope: UnitScope = None, limit: int | None = None
) -> list[Agent]:
    """Every agent (or those with ``status``) of the units in ``scope``, oldest first."""
    query = select(Agent).order_by(Agent.created_at, Agent.id)
    if status is not None:
        query = query.where(Agent.status == status)
    if scope is not None:
        query = query.where(Agent.unit_id.in_(sorted(scope)))
    if limit is not None:
        query = query.limit(limit)
    return list(s.scalars(query))


def count_agents(s: Session, scope: UnitScope = None) -> int:
    """How many agents (any status) the units in ``scope`` have."""
    query = select(func.count()).select_from(Agent)
    if scope is not None:
        query = query.where(Agent.unit_id.in_(sorted(scope)))
    return int(s.scalar(query) or 0)


def _require(s: Session, agent_id: str) -> Agent:
    agent = s.get(Agent, agent_id)
    if agent is None:
        raise AgentNotFoundError(f"no agent with id {agent_id}")
    return agent


@dataclass(frozen=True)
class Approval:
    """An approved agent and the agents its approval revoked (oldest first)."""

    agent: Agent
    revoked: list[Agent] = field(default_factory=list)


def approve_and_replace(s: Session, agent_id: str, at: datetime) -> Approval:
    """Activate a pending agent and revoke every other non-revoked agent of the same computer.

    One computer has one active key: the agent it ``replaces`` and any other agent sharing a
    hardware identifier with it (an older active key, another pending request) are revoked in
    the same transaction. Approving an active agent changes nothing; a revoked one raises
    :class:`AgentStateError`.
    """
    agent = _require(s, agent_id)
    if agent.status == "active":
        return Approval(agent)
    if agent.status != "pending":
        raise AgentStateError(f"agent {agent_id} is {agent.status} and cannot be approved")
    # An enrollment of the same computer running now must not slip an agent in beside this one.
    # Not lock_hardware: the identifiers are known only after reading the agent, too late for
    # SQLite's BEGIN IMMEDIATE. SQLite needs no lock here for correctness: a transaction that
    # read before another writer committed cannot write any more ("database is locked"), so
    # this one fails rather than missing the new agent. Callers that must not fail that way
    # begin with db.write_session (the command line does); PostgreSQL needs the locks.
    _advisory_locks(s, agent.machine_id, agent.system_uuid, agent.system_serial)
    others = [
        other
        for other in find_same_hardware(s, agent.machine_id, agent.system_uuid, agent.system_serial)
        if other.id != agent.id
    ]
    if agent.replaces and all(other.id != agent.replaces for other in others):
        # Its hardware identifiers may have changed since (new board, reinstalled OS).
        old = s.get(Agent, agent.replaces)
        if old is not None and old.status != "revoked":
            others.insert(0, old)
    agent.status = "active"
    agent.approved_at = at
    for other in others:
        other.status = "revoked"
        other.revoked_at = at
    s.flush()
    return Approval(agent, others)


def approve_agent(s: Session, agent_id: str, at: datetime) -> Agent:
    """Activate a pending agent, revoking the other agents of its computer (see
    :func:`approve_and_replace`, which also says which ones)."""
    return approve_and_replace(s, agent_id, at).agent


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
