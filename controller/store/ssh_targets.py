"""Hosts collected over SSH (``ssh_targets``): the last success and the last failure of each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.store.models import Agent, SshTarget


def get_target(s: Session, host: str) -> SshTarget | None:
    """The target with this host name or address, or None."""
    return s.get(SshTarget, host)


def list_targets(s: Session) -> list[tuple[SshTarget, Agent | None]]:
    """Every target with its agent row (None before its first collection), by host."""
    query = (
        select(SshTarget, Agent)
        .outerjoin(Agent, Agent.id == SshTarget.agent_id)
        .order_by(SshTarget.host)
    )
    return [(target, agent) for target, agent in s.execute(query).all()]


def save_success(
    s: Session,
    *,
    host: str,
    port: int,
    username: str,
    unit_id: str,
    agent_id: str,
    at: datetime,
) -> SshTarget:
    """Record a stored collection (the target row is created on the first one).

    The last failure stays as it was: ``last_ok_at`` after ``last_error_at`` says it is over.
    """
    target = s.get(SshTarget, host)
    if target is None:
        target = SshTarget(host=host)
        s.add(target)
    target.port = port
    target.username = username
    target.unit_id = unit_id
    target.agent_id = agent_id
    target.last_ok_at = at
    s.flush()
    return target


def save_failure(
    s: Session,
    *,
    host: str,
    port: int,
    username: str,
    unit_id: str | None,
    error: str,
    at: datetime,
) -> SshTarget | None:
    """Record a failed collection on the target's row; None when there is no row and no unit
    to make one with (the audit entry is then the only record)."""
    target = s.get(SshTarget, host)
    if target is None:
        if unit_id is None:
            return None
        target = SshTarget(host=host, port=port, username=username, unit_id=unit_id)
        s.add(target)
    target.last_error_at = at
    target.last_error = error
    s.flush()
    return target
