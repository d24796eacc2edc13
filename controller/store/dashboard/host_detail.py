"""One computer's page: identity, asset, facts of its last reports, rules, findings, receipts.

Everything comes from stored rows (host facts, reports, rule states, findings, bundles); the
list of computers is :mod:`controller.store.dashboard.hosts`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import (
    DEFAULT_STALE_AFTER,
    HostState,
    state_of,
)
from controller.store.models import (
    Agent,
    Asset,
    Bundle,
    Finding,
    HostFacts,
    Report,
    RuleState,
    Unit,
)
from controller.store.scope import UnitScope, in_scope

HISTORY_REPORTS = 200
#: Reports (or bundles) listed as "received" on the detail page.
RECEIVED_LIMIT = 50


@dataclass(frozen=True, slots=True)
class AssetLink:
    """The organisation file's record matched to this computer."""

    id: str
    kind: str
    classification: str
    office_id: str | None
    assigned_user: str | None
    state: str
    for_secret_use: bool


@dataclass(frozen=True, slots=True)
class Interface:
    """One network interface of the last report."""

    name: str
    mac: str | None
    up: bool | None
    loopback: bool
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Package:
    """One installed program."""

    name: str
    version: str | None
    publisher: str | None


@dataclass(frozen=True, slots=True)
class ConnectivityPoint:
    """LAN and Internet reachability one report showed (None: undetermined)."""

    at: datetime
    lan: bool | None
    internet: bool | None


@dataclass(frozen=True, slots=True)
class RuleStateView:
    """The current outcome of one rule on this host."""

    rule_id: str
    outcome: str
    since: datetime
    reason: Any
    evidence: Any


@dataclass(frozen=True, slots=True)
class HostFinding:
    """A finding of this host (or of its matched asset), any status."""

    id: int
    rule_id: str
    severity: str
    status: str
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    reason: Any
    evidence: Any
    acknowledged_by: str | None
    exempt_reason: str | None
    exempt_until: datetime | None


@dataclass(frozen=True, slots=True)
class Received:
    """A report (online agent) or a bundle (offline agent) the controller received."""

    at: datetime
    kind: str
    size_bytes: int | None
    seq: int
    reports: int | None = None
    gap: int | None = None


@dataclass(frozen=True, slots=True)
class HostDetail:
    """Everything the host page shows about one computer."""

    agent_id: str
    hostname: str
    status: str
    unit_id: str
    #: Unit names from the top of the organisation down to the host's unit.
    unit_path: tuple[str, ...]
    os: str
    agent_version: str
    machine_id: str | None
    system_uuid: str | None
    system_serial: str | None
    macs: tuple[str, ...]
    enrolled_at: datetime
    approved_at: datetime | None
    revoked_at: datetime | None
    last_seen_at: datetime | None
    state: HostState
    offline: bool
    classified: bool
    asset: AssetLink | None
    last_full_at: datetime | None
    last_report_at: datetime | None
    user: str | None
    hardware: Mapping[str, Any]
    os_info: Mapping[str, Any]
    software_count: int
    software: tuple[Package, ...]
    interfaces: tuple[Interface, ...]
    ips: tuple[str, ...]
    connectivity: Mapping[str, Any]
    connectivity_history: tuple[ConnectivityPoint, ...]
    security: Mapping[str, Any]
    rule_states: tuple[RuleStateView, ...]
    findings: tuple[HostFinding, ...]
    received: tuple[Received, ...]
    #: The last full report as the agent sent it, heartbeat sections not laid over it.
    raw_report: Mapping[str, Any] | None = field(default=None)


class _Reach(msgspec.Struct):
    reachable: bool | None = None


class _Conn(msgspec.Struct):
    lan: _Reach | None = None
    internet: _Reach | None = None


class _WithConn(msgspec.Struct):
    connectivity: _Conn | None = None


_CONN = msgspec.json.Decoder(_WithConn)


def _json(body: bytes | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        raw = gzip.decompress(body) if body.startswith(b"\x1f\x8b") else body
        value = json.loads(raw)
    except (OSError, EOFError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _section(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, dict) else {}


def _history(s: Session, agent_id: str) -> tuple[ConnectivityPoint, ...]:
    rows = s.execute(
        select(Report.sent_at, Report.body)
        .where(Report.agent_id == agent_id)
        .order_by(Report.seq.desc())
        .limit(HISTORY_REPORTS)
    ).all()
    points: list[ConnectivityPoint] = []
    for sent_at, body in reversed(rows):
        try:
            conn = _CONN.decode(gzip.decompress(body)).connectivity
        except (OSError, EOFError, msgspec.DecodeError):
            continue
        if conn is None:
            continue
        points.append(
            ConnectivityPoint(
                at=sent_at,
                lan=conn.lan.reachable if conn.lan is not None else None,
                internet=conn.internet.reachable if conn.internet is not None else None,
            )
        )
    return tuple(points)


def _unit_path(s: Session, unit_id: str) -> tuple[str, ...]:
    parents = {
        uid: (parent, name)
        for uid, parent, name in s.execute(select(Unit.id, Unit.parent_id, Unit.name))
    }
    names: list[str] = []
    seen: set[str] = set()
    current: str | None = unit_id
    while current is not None and current in parents and current not in seen:
        seen.add(current)
        parent, name = parents[current]
        names.append(name)
        current = parent
    return tuple(reversed(names))


def _interfaces(network: Mapping[str, Any]) -> tuple[tuple[Interface, ...], tuple[str, ...]]:
    found: list[Interface] = []
    ips: list[str] = []
    for item in network.get("interfaces") or []:
        if not isinstance(item, dict):
            continue
        addresses = tuple(
            str(a["address"])
            for a in item.get("addresses") or []
            if isinstance(a, dict) and a.get("address")
        )
        found.append(
            Interface(
                name=str(item.get("name", "")),
                mac=item.get("mac") if isinstance(item.get("mac"), str) else None,
                up=item.get("up") if isinstance(item.get("up"), bool) else None,
                loopback=bool(item.get("loopback", False)),
                addresses=addresses,
            )
        )
        if not item.get("loopback"):
            ips.extend(addresses)
    return tuple(found), tuple(ips)


def _packages(software: Mapping[str, Any]) -> tuple[Package, ...]:
    found = [
        Package(
            name=str(p.get("name", "")),
            version=str(p["version"]) if p.get("version") is not None else None,
            publisher=str(p["publisher"]) if p.get("publisher") is not None else None,
        )
        for p in software.get("packages") or []
        if isinstance(p, dict)
    ]
    found.sort(key=lambda p: p.name.lower())
    return tuple(found)


def host_detail(
    s: Session,
    scope: UnitScope,
    agent_id: str,
    *,
    now: datetime | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> HostDetail | None:
    """One computer's page, or None when the agent is unknown or outside ``scope``."""
    agent = s.execute(select(Agent).where(Agent.id == agent_id)).scalar_one_or_none()
    if agent is None or not in_scope(scope, agent.unit_id):
        return None
    moment = now or datetime.now(UTC)
    asset = s.execute(
        select(Asset).where(Asset.agent_id == agent_id, Asset.retired_at.is_(None)).limit(1)
    ).scalar_one_or_none()
    facts = s.execute(
        select(
            HostFacts.full_body,
            HostFacts.heartbeat,
            HostFacts.last_full_at,
            HostFacts.last_report_at,
            HostFacts.last_user,
        ).where(HostFacts.agent_id == agent_id)
    ).first()
    raw = _json(facts.full_body) if facts is not None else {}
    merged = dict(raw)
    if facts is not None:
        merged.update(_json(facts.heartbeat))
    interfaces, ips = _interfaces(_section(merged, "network"))
    packages = _packages(_section(merged, "software"))
    states = tuple(
        RuleStateView(r.rule_id, r.outcome, r.since, r.reason, r.evidence)
        for r in s.scalars(
            select(RuleState).where(RuleState.agent_id == agent_id).order_by(RuleState.rule_id)
        )
    )
    subjects = [f"agent:{agent_id}"] + ([f"asset:{asset.id}"] if asset is not None else [])
    findings = tuple(
        HostFinding(
            f.id,
            f.rule_id,
            f.severity,
            f.status,
            f.opened_at,
            f.last_seen_at,
            f.resolved_at,
            f.reason,
            f.evidence,
            f.acknowledged_by,
            f.exempt_reason,
            f.exempt_until,
        )
        for f in s.scalars(
            select(Finding)
            .where(or_(Finding.agent_id == agent_id, Finding.subject.in_(subjects)))
            .order_by(Finding.id.desc())
        )
    )
    received: tuple[Received, ...]
    if agent.offline:
        received = tuple(
            Received(b.imported_at, "bundle", None, b.seq, b.reports, b.gap)
            for b in s.scalars(
                select(Bundle)
                .where(Bundle.agent_id == agent_id)
                .order_by(Bundle.seq.desc())
                .limit(RECEIVED_LIMIT)
            )
        )
    else:
        received = tuple(
            Received(at, kind, size, seq)
            for at, kind, size, seq in s.execute(
                select(Report.received_at, Report.kind, Report.size_bytes, Report.seq)
                .where(Report.agent_id == agent_id)
                .order_by(Report.seq.desc())
                .limit(RECEIVED_LIMIT)
            )
        )
    software = _section(merged, "software")
    classified = agent.offline or (asset is not None and asset.classification == "classified")
    return HostDetail(
        agent_id=agent.id,
        hostname=agent.hostname,
        status=agent.status,
        unit_id=agent.unit_id,
        unit_path=_unit_path(s, agent.unit_id),
        os=agent.os,
        agent_version=agent.agent_version,
        machine_id=agent.machine_id,
        system_uuid=agent.system_uuid,
        system_serial=agent.system_serial,
        macs=tuple(agent.macs or ()),
        enrolled_at=agent.created_at,
        approved_at=agent.approved_at,
        revoked_at=agent.revoked_at,
        last_seen_at=agent.last_seen_at,
        state=state_of(agent.last_seen_at, moment, stale_after),
        offline=agent.offline,
        classified=classified,
        asset=AssetLink(
            asset.id,
            asset.kind,
            asset.classification,
            asset.office_id,
            asset.assigned_user,
            asset.state,
            bool(asset.for_secret_use),
        )
        if asset is not None
        else None,
        last_full_at=facts.last_full_at if facts is not None else None,
        last_report_at=facts.last_report_at if facts is not None else None,
        user=facts.last_user if facts is not None else None,
        hardware=_section(merged, "hardware"),
        os_info=_section(merged, "os"),
        software_count=len(software.get("packages") or []),
        software=packages,
        interfaces=interfaces,
        ips=ips,
        connectivity=_section(merged, "connectivity"),
        connectivity_history=_history(s, agent_id),
        security=_section(merged, "security"),
        rule_states=states,
        findings=findings,
        received=received,
        raw_report=raw or None,
    )
