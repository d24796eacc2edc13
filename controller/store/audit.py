"""The audit log: who did what to which object, and when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.store.models import AuditEntry, utcnow


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


def actions(s: Session) -> list[str]:
    """The distinct actions in the log, sorted (the audit page's filter choices)."""
    return list(s.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
