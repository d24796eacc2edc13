"""The units tree, pending agents, enrollment tokens, imported bundles and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, cast, literal, or_, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import (
    DEFAULT_STALE_AFTER,
    Ratio,
    page_bounds,
    unit_filter,
)
from controller.store.dashboard.overview import unit_figures
from controller.store.models import (
    Agent,
    AuditEntry,
    Bundle,
    EnrollmentToken,
    Finding,
    Unit,
    User,
)
from controller.store.scope import UnitScope

#: Audit actions left out of the audit page unless asked for: one per stored report, they
#: would bury what people did (ask with ``action="report.stored"``).
NOISY_ACTIONS = ("report.stored",)


@dataclass(frozen=True, slots=True)
class UnitNode:
    """One unit of the tree, with the figures of its whole subtree."""

    id: str
    name: str
    kind: str
    parent_id: str | None
    depth: int
    #: Active hosts of this unit and every unit below it.
    hosts: int
    #: Active hosts of this unit itself.
    own_hosts: int
    compliance: Ratio
    retired: bool


def units_tree(
    s: Session,
    scope: UnitScope,
    *,
    now: datetime | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> list[UnitNode]:
    """The units in ``scope`` in tree order (parents first), with hosts and compliance."""
    summaries, _, _, _ = unit_figures(s, scope, now or datetime.now(UTC), stale_after)
    retired = set(
        s.scalars(select(Unit.id).where(Unit.retired_at.is_not(None), unit_filter(Unit.id, scope)))
    )
    return [
        UnitNode(
            id=u.id,
            name=u.name,
            kind=u.kind,
            parent_id=u.parent_id,
            depth=u.depth,
            hosts=u.subtree.hosts,
            own_hosts=u.own.hosts,
            compliance=u.subtree.compliance,
            retired=u.id in retired,
        )
        for u in summaries
    ]


@dataclass(frozen=True, slots=True)
class PendingAgent:
    """An enrollment waiting for approval."""

    id: str
    hostname: str
    unit_id: str
    unit_name: str
    os: str
    agent_version: str
    machine_id: str | None
    system_serial: str | None
    macs: tuple[str, ...]
    created_at: datetime
    token_id: str | None


def list_pending_agents(s: Session, scope: UnitScope) -> list[PendingAgent]:
    """Agents of ``scope`` waiting for approval, oldest first."""
    rows = s.execute(
        select(
            Agent.id,
            Agent.hostname,
            Agent.unit_id,
            Unit.name,
            Agent.os,
            Agent.agent_version,
            Agent.machine_id,
            Agent.system_serial,
            Agent.macs,
            Agent.created_at,
            Agent.token_id,
        )
        .join(Unit, Unit.id == Agent.unit_id)
        .where(Agent.status == "pending", unit_filter(Agent.unit_id, scope))
        .order_by(Agent.created_at, Agent.id)
    )
    return [
        PendingAgent(a, h, u, un, o, v, m, ser, tuple(macs or ()), c, t)
        for a, h, u, un, o, v, m, ser, macs, c, t in rows
    ]


@dataclass(frozen=True, slots=True)
class TokenView:
    """An enrollment token (never its secret) and its state at ``now``."""

    id: str
    unit_id: str
    unit_name: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    max_uses: int
    uses: int
    revoked_at: datetime | None
    note: str | None
    #: ``active``, ``revoked``, ``expired`` or ``used`` (every use taken).
    state: str


def list_tokens_view(
    s: Session, scope: UnitScope, *, now: datetime | None = None
) -> list[TokenView]:
    """Enrollment tokens of ``scope``, newest first."""
    moment = now or datetime.now(UTC)
    rows = s.execute(
        select(EnrollmentToken, Unit.name)
        .join(Unit, Unit.id == EnrollmentToken.unit_id)
        .where(unit_filter(EnrollmentToken.unit_id, scope))
        .order_by(EnrollmentToken.created_at.desc(), EnrollmentToken.id)
    ).all()
    found = []
    for t, unit_name in rows:
        if t.revoked_at is not None:
            state = "revoked"
        elif t.expires_at <= moment:
            state = "expired"
        elif t.uses >= t.max_uses:
            state = "used"
        else:
            state = "active"
        found.append(
            TokenView(
                t.id,
                t.unit_id,
                unit_name,
                t.created_by,
                t.created_at,
                t.expires_at,
                t.max_uses,
                t.uses,
                t.revoked_at,
                t.note,
                state,
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class BundleView:
    """One imported bundle of an offline agent."""

    agent_id: str
    hostname: str
    unit_id: str
    unit_name: str
    seq: int
    digest: str
    created_at: datetime
    imported_at: datetime
    reports: int
    gap: int


def list_bundles_view(s: Session, scope: UnitScope, limit: int = 100) -> list[BundleView]:
    """The newest ``limit`` imported bundles of ``scope``."""
    rows = s.execute(
        select(
            Bundle.agent_id,
            Agent.hostname,
            Agent.unit_id,
            Unit.name,
            Bundle.seq,
            Bundle.digest,
            Bundle.created_at,
            Bundle.imported_at,
            Bundle.reports,
            Bundle.gap,
        )
        .join(Agent, Agent.id == Bundle.agent_id)
        .join(Unit, Unit.id == Agent.unit_id)
        .where(unit_filter(Agent.unit_id, scope))
        .order_by(Bundle.imported_at.desc(), Bundle.agent_id, Bundle.seq.desc())
        .limit(max(1, min(limit, 1000)))
    )
    return [
        BundleView(a, h, u, un, seq, digest, created, imported, n, gap)
        for a, h, u, un, seq, digest, created, imported, n, gap in rows
    ]


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit entry."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: Any
    source: str | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of the audit log, newest first (no total: the log can hold millions)."""

    rows: tuple[AuditRow, ...]
    page: int
    per_page: int
    has_next: bool


def _audit_scope(scope: UnitScope) -> ColumnElement[bool]:
    """Entries a scoped account may read: done by a user of its units, or done to an object
    of its units (a user, an agent, a finding or a token). Entries about other objects (the
    policies, the controller itself) are for district accounts only."""
    users = select(literal("user:") + User.username).where(unit_filter(User.unit_id, scope))
    agents = select(literal("agent:") + Agent.id).where(unit_filter(Agent.unit_id, scope))
    findings = select(literal("finding:") + cast(Finding.id, String)).where(
        unit_filter(Finding.unit_id, scope)
    )
    tokens = select(literal("token:") + EnrollmentToken.id).where(
        unit_filter(EnrollmentToken.unit_id, scope)
    )
    return or_(
        AuditEntry.actor.in_(users),
        AuditEntry.actor.in_(agents),
        AuditEntry.target.in_(users),
        AuditEntry.target.in_(agents),
        AuditEntry.target.in_(findings),
        AuditEntry.target.in_(tokens),
    )


def list_audit(
    s: Session,
    scope: UnitScope,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> AuditPage:
    """One page of the audit log visible in ``scope``, newest first.

    ``actor`` and ``action`` match exactly (``user:an``, ``finding.exempted``); ``since`` and
    ``until`` keep the entries with ``since <= at < until``. Per-report entries
    (:data:`NOISY_ACTIONS`) are shown only when ``action`` asks for them.
    """
    offset, limit = page_bounds(page, per_page)
    query = select(AuditEntry)
    if scope is not None:
        query = query.where(_audit_scope(scope))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    else:
        query = query.where(AuditEntry.action.not_in(NOISY_ACTIONS))
    entries = list(s.scalars(query.order_by(AuditEntry.id.desc()).offset(offset).limit(limit + 1)))
    return AuditPage(
        rows=tuple(
            AuditRow(e.id, e.at, e.actor, e.action, e.target, e.details, e.source)
            for e in entries[:limit]
        ),
        page=page,
        per_page=per_page,
        has_next=len(entries) > limit,
    )
