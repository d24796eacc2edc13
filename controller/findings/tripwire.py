"""The classified-computer tripwire: a registered classified PC seen online is critical at once.

Law 29/2018 Art. 5 forbids drafting or storing state secrets on a device that *has been or is*
connected to a network. A computer registered as ``classified`` in the organisation file
therefore never talks to the controller; when one does (an enrollment attempt, a report; later
a switch's MAC table or an ARP entry), the controller opens a **critical** finding on the asset
(rule BMNN-04, subject ``asset:<id>``) in the same moment, and a repeated sighting refreshes
that finding instead of opening another.

Matching uses the hardware identifiers of the organisation file: MACs, serial number, machine id
or system UUID. Host names are not used (they are neither unique nor hard to change).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from controller.store import audit
from controller.store.findings import Opened, open_finding
from controller.store.models import Agent, Asset, AssetMac
from controller.store.reports import NewReport

RULE = "BMNN-04"
SEVERITY = "critical"
#: Rules whose host-level failures open no finding: the tripwire's own finding is on the asset.
STATE_ONLY = frozenset({RULE})


@dataclass(frozen=True)
class Sighting:
    """One sign that a classified computer is on the network.

    ``asset_id`` None: an offline-enrolled agent with no asset in the organisation file; the
    finding is then on the agent.
    """

    asset_id: str | None
    unit_id: str
    #: ``enrollment``, ``report`` (later ``switch``, ``arp``).
    source: str
    #: The identifiers that matched, e.g. ``{"mac": "52:54:00:12:34:56"}``.
    matched: dict[str, str]
    agent_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        """``asset:<id>``, or ``agent:<id>`` for an offline agent without an asset."""
        return f"asset:{self.asset_id}" if self.asset_id else f"agent:{self.agent_id}"


def normal_mac(mac: str) -> str:
    """``AA-BB-...`` or ``aa:bb:...`` as ``aa:bb:cc:dd:ee:ff``."""
    return mac.strip().lower().replace("-", ":")


class ClassifiedIndex:
    """The identifiers of live classified assets, re-read at most every ``ttl_s`` seconds.

    On the ingest path a batch costs a few set look-ups, and a district without classified
    assets costs nothing more.
    """

    def __init__(self, ttl_s: float = 30.0) -> None:
        self._ttl_s = ttl_s
        self._read_at = -1e9
        self._lock = threading.Lock()
        self._by: dict[str, dict[str, tuple[str, str]]] = {"mac": {}, "serial": {}, "id": {}}
        #: Agents enrolled by carried files: their keys should only ever sign bundles.
        self.offline: frozenset[str] = frozenset()

    def refresh(self, s: Session, *, force: bool = False) -> None:
        """Re-read the classified assets when the cache is older than its TTL (or ``force``)."""
        with self._lock:
            if not force and time.monotonic() - self._read_at < self._ttl_s:
                return
            by: dict[str, dict[str, tuple[str, str]]] = {"mac": {}, "serial": {}, "id": {}}
            live = (Asset.classification == "classified") & Asset.retired_at.is_(None)
            for asset_id, unit_id, serial, machine_id in s.execute(
                select(Asset.id, Asset.unit_id, Asset.serial, Asset.machine_id).where(live)
            ):
                if serial:
                    by["serial"][serial.strip().lower()] = (asset_id, unit_id)
                if machine_id:
                    by["id"][machine_id.strip().lower()] = (asset_id, unit_id)
            for asset_id, unit_id, mac in s.execute(
                select(Asset.id, Asset.unit_id, AssetMac.mac)
                .join(AssetMac, AssetMac.asset_id == Asset.id)
                .where(live)
            ):
                by["mac"][normal_mac(mac)] = (asset_id, unit_id)
            offline = select(Agent.id).where(Agent.offline.is_(True), Agent.status == "active")
            self.offline = frozenset(s.scalars(offline))
            self._by = by
            self._read_at = time.monotonic()

    def classified_macs(self) -> list[str]:
        """The MACs of every live classified asset (as of the last refresh)."""
        return sorted(self._by["mac"])

    @property
    def empty(self) -> bool:
        """No classified asset is registered and no agent is enrolled offline."""
        return not any(self._by.values()) and not self.offline

    def match(
        self,
        *,
        macs: Iterable[str] = (),
        serials: Iterable[str | None] = (),
        machine_ids: Iterable[str | None] = (),
    ) -> dict[str, tuple[str, dict[str, str]]]:
        """``{asset_id: (unit_id, matched identifiers)}`` for every classified asset matched."""
        found: dict[str, tuple[str, dict[str, str]]] = {}
        by = self._by
        for kind, values in (
            ("mac", (normal_mac(m) for m in macs if m)),
            ("serial", (v.strip().lower() for v in serials if v)),
            ("id", (v.strip().lower() for v in machine_ids if v)),
        ):
            for value in values:
                hit = by[kind].get(value)
                if hit is not None:
                    asset_id, unit_id = hit
                    name = {"mac": "mac", "serial": "serial", "id": "machine_id"}[kind]
                    found.setdefault(asset_id, (unit_id, {}))[1][name] = value
        return found


class _Interface(msgspec.Struct):
    mac: str | None = None


class _Network(msgspec.Struct):
    interfaces: list[_Interface] = []


class _Identity(msgspec.Struct):
    machine_id: str | None = None
    system_uuid: str | None = None
    system_serial: str | None = None


class _Seen(msgspec.Struct):
    identity: _Identity | None = None
    network: _Network | None = None


_SEEN = msgspec.json.Decoder(_Seen)


def _report_identity(raw_json: bytes) -> tuple[list[str], list[str | None], list[str | None]]:
    """MACs, serials and machine ids a full report shows (a typed decode of two sections)."""
    try:
        seen = _SEEN.decode(raw_json)
    except msgspec.DecodeError:
        return [], [], []
    macs = [i.mac for i in seen.network.interfaces if i.mac] if seen.network else []
    ident = seen.identity
    if ident is None:
        return macs, [], []
    return macs, [ident.system_serial], [ident.machine_id, ident.system_uuid]


def sightings_in_reports(
    s: Session,
    index: ClassifiedIndex,
    reports: Sequence[NewReport],
    full_json: Callable[[NewReport], bytes],
) -> list[Sighting]:
    """Classified computers behind stored online reports: an agent enrolled offline (its key
    should only ever sign bundles), or hardware of a classified asset, by the agent's enrolled
    identifiers and, for full reports, what the report itself shows. ``full_json`` gives the
    decompressed body of a full report."""
    if not reports:
        return []
    # The index is cached: a district with no classified computer pays no query per batch.
    index.refresh(s)
    if index.empty:
        return []
    ids = sorted({r.agent_id for r in reports})
    offline_ids = index.offline
    agents = {
        row.id: row
        for row in s.execute(
            select(
                Agent.id,
                Agent.unit_id,
                Agent.macs,
                Agent.system_serial,
                Agent.machine_id,
                Agent.system_uuid,
            ).where(Agent.id.in_(ids))
        )
    }
    found: list[Sighting] = []
    for report in reports:
        agent = agents.get(report.agent_id)
        if agent is None:
            continue
        detail = {"seq": report.seq, "kind": report.kind}
        if report.agent_id in offline_ids:
            linked = s.scalar(
                select(Asset.id).where(
                    Asset.agent_id == report.agent_id, Asset.retired_at.is_(None)
                )
            )
            found.append(
                Sighting(
                    linked,
                    agent.unit_id,
                    "report",
                    {"offline_agent": report.agent_id},
                    report.agent_id,
                    detail,
                )
            )
            continue
        macs = list(agent.macs or [])
        serials: list[str | None] = [agent.system_serial]
        machine_ids: list[str | None] = [agent.machine_id, agent.system_uuid]
        body = full_json(report) if report.kind == "full" else None
        if body is not None:
            more_macs, more_serials, more_ids = _report_identity(body)
            macs += more_macs
            serials += more_serials
            machine_ids += more_ids
        for asset_id, (unit_id, matched) in index.match(
            macs=macs, serials=serials, machine_ids=machine_ids
        ).items():
            found.append(
                Sighting(
                    asset_id=asset_id,
                    unit_id=unit_id,
                    source="report",
                    matched=matched,
                    agent_id=report.agent_id,
                    detail=detail,
                )
            )
    return found


def offline_agents_matching(
    s: Session, *, serial: str | None, machine_ids: Iterable[str | None]
) -> list[tuple[str, str, str | None, dict[str, str]]]:
    """Active offline-enrolled agents with this hardware: (agent, unit, linked asset, matched).

    A computer enrolled by carried files is classified by definition, whether or not the
    organisation file lists it yet.
    """
    ids = sorted({v for v in machine_ids if v})
    conditions: list[ColumnElement[bool]] = []
    if ids:
        conditions += [Agent.machine_id.in_(ids), Agent.system_uuid.in_(ids)]
    if serial:
        conditions.append(Agent.system_serial == serial)
    if not conditions:
        return []
    rows = s.execute(
        select(Agent.id, Agent.unit_id, Agent.machine_id, Agent.system_uuid, Agent.system_serial)
        .where(Agent.offline.is_(True), Agent.status == "active")
        .where(or_(*conditions))
    ).all()
    found = []
    for agent_id, unit_id, machine_id, system_uuid, system_serial in rows:
        matched = {
            name: value
            for name, value in (
                ("machine_id", machine_id if machine_id in ids else None),
                ("system_uuid", system_uuid if system_uuid in ids else None),
                ("serial", system_serial if serial and system_serial == serial else None),
            )
            if value
        }
        live = Asset.retired_at.is_(None)
        asset = s.scalar(select(Asset.id).where(Asset.agent_id == agent_id, live))
        found.append((agent_id, unit_id, asset, matched))
    return found


def raise_sightings(s: Session, sightings: Sequence[Sighting], at: datetime) -> list[Opened]:
    """Open (or refresh) the critical finding of each sighted asset; returns the new ones.

    Every sighting is also written to the audit log, so repeated sightings stay on record
    even though they refresh one finding.
    """
    opened: list[Opened] = []
    for sighting in sightings:
        subject = sighting.subject
        evidence = [
            {
                "source": sighting.source,
                "matched": sighting.matched,
                "agent_id": sighting.agent_id,
                "at": at.isoformat(),
                **sighting.detail,
            }
        ]
        reason = {
            "code": "classified_on_network",
            "values": {"subject": subject, "source": sighting.source},
        }
        _, new = open_finding(
            s,
            subject=subject,
            unit_id=sighting.unit_id,
            rule_id=RULE,
            severity=SEVERITY,
            reason=reason,
            evidence=evidence,
            at=at,
            agent_id=sighting.agent_id,
        )
        audit.record(
            s,
            "controller:tripwire",
            "tripwire.sighting",
            subject,
            {"source": sighting.source, "matched": sighting.matched, "agent": sighting.agent_id},
            at=at,
        )
        if new:
            opened.append(Opened(subject, sighting.unit_id, RULE, SEVERITY))
    return opened
