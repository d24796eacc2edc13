"""The audit log: who did what to which object, and when."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, String, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from controller.store.models import (
    Agent,
    AuditEntry,
    EnrollmentToken,
    Finding,
    User,
    utcnow,
)
from controller.store.scope import UnitScope


def record(
    s: Session,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, object] | None = None,
    at: datetime | None = None,
    source: str | None = None,
) -> AuditEntry:
    """Add one audit entry, e.g. ``record(s, "cli:root", "token.created", "token:ab12cd34")``.

    ``details`` is stored as JSON; it must never hold a secret. ``source`` says where the action
    came from: the client address of a dashboard or API request, ``"cli"`` for the command line.
    """
    entry = AuditEntry(
        at=at or utcnow(),
        actor=actor,
        action=action,
        target=target,
        details=dict(details) if details is not None else None,
        source=source,
    )
    s.add(entry)
    return entry


def list_entries(s: Session, limit: int = 100, action: str | None = None) -> list[AuditEntry]:
    """The newest ``limit`` entries (of one ``action`` if given), newest first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(s.scalars(query))


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit log and how many entries match in all."""

    entries: list[AuditEntry]
    total: int


def _in_scope(scope: frozenset[str]) -> ColumnElement[bool]:
    """Entries a scoped account may read (see :func:`list_audit`)."""
    units = sorted(scope)
    users = select(literal("user:") + User.username).where(User.unit_id.in_(units))
    agents = select(literal("agent:") + Agent.id).where(Agent.unit_id.in_(units))
    tokens = select(literal("token:") + EnrollmentToken.id).where(
        EnrollmentToken.unit_id.in_(units)
    )
    # Finding ids are integers: compare the target's text with "finding:" || id as text.
    findings = select(literal("finding:") + cast(Finding.id, String)).where(
        Finding.unit_id.in_(units)
    )
    return or_(
        AuditEntry.actor.in_(users),
        AuditEntry.target.in_(users),
        AuditEntry.target.in_(agents),
        AuditEntry.target.in_(tokens),
        AuditEntry.target.in_(findings),
        AuditEntry.target.in_([f"unit:{unit}" for unit in units]),
    )


def list_audit(
    s: Session,
    scope: UnitScope,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> AuditPage:
    """A page of the audit log, newest first, filtered by exact ``actor``, by ``action`` (an
    exact action, or a family with a trailing ``.``: ``"agent."``) and ``since <= at < until``.

    The rule for a scoped account (``scope`` not None): it reads an entry when the **actor** is
    an account of its units (``user:<name>`` of a user whose unit is in scope), or when the
    **target** is an object of its units: an account (``user:``), an agent (``agent:``, which
    also covers enrollments, reports and bundle imports), an enrollment token (``token:``), a
    finding (``finding:``) or the unit itself (``unit:``). Entries about district-wide
    accounts, policies and other units stay hidden; ``None`` reads everything.
    """
    where: list[ColumnElement[bool]] = []
    if scope is not None:
        where.append(_in_scope(scope))
    if actor:
        where.append(AuditEntry.actor == actor)
    if action:
        if action.endswith("."):
            where.append(AuditEntry.action.startswith(action, autoescape=True))
        else:
            where.append(AuditEntry.action == action)
    if since is not None:
        where.append(AuditEntry.at >= since)
    if until is not None:
        where.append(AuditEntry.at < until)
    total = s.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    rows = s.scalars(
        select(AuditEntry)
        .where(*where)
        .order_by(AuditEntry.id.desc())
        .offset(max(0, offset))
        .limit(limit)
    )
    return AuditPage(list(rows), int(total))


def actions(s: Session) -> list[str]:
    """The distinct actions in the log, sorted (the filter's choices)."""
    return list(s.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
