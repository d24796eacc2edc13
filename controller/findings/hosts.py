"""What the evaluator knows about a host besides its report: unit path, classification, asset.

One query per batch of hosts; the unit tree, which changes only on an organisation import, is
cached for a few seconds per process (each process re-reads it, so none keeps state that
another does not see for longer than that).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from controller.inventory.facts import asset_facts
from controller.policy import HostContext
from controller.store.bundles import last_bundle_at
from controller.store.inventory import official_roles
from controller.store.models import (
    Agent,
    Asset,
    AssetMac,
    Finding,
    NetworkDevice,
    PrinterState,
    Unit,
)

#: OS families a rule may name; the agent's enrollment records one of them.
OS_FAMILIES = frozenset({"windows", "linux"})


@dataclass(frozen=True, slots=True)
class Host:
    """One enrolled computer as the policy engine sees it."""

    agent_id: str
    unit_id: str
    #: Unit ids from the top of the organisation down to the host's unit.
    units: tuple[str, ...]
    os: str | None
    classification: str = "normal"
    tags: frozenset[str] = frozenset()
    #: The ``asset.*`` facts of its record in the organisation file, when one matches.
    asset: Mapping[str, Any] | None = None
    #: When the agent enrolled: the last time the controller heard of a host that never
    #: reported, so a computer enrolled a minute ago is not "silent for ever".
    enrolled_at: datetime | None = None

    #: ``controller.*`` facts known before any report: sightings, the office's equipment.
    observed: Mapping[str, Any] = field(default_factory=dict)

    def context(self, now: datetime) -> HostContext:
        """The policy context of this host at ``now``."""
        kind = self.asset.get("kind") if self.asset is not None else None
        return HostContext(
            os=self.os,
            classification=self.classification,
            units=self.units,
            tags=self.tags,
            now=now,
            kind=kind if isinstance(kind, str) else None,
        )


@dataclass
class UnitPaths:
    """The unit tree of the database, re-read at most every ``ttl_s`` seconds."""

    ttl_s: float = 30.0
    _parents: dict[str, str | None] = field(default_factory=dict)
    _read_at: float = -1e9
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def path(self, s: Session, unit_id: str) -> tuple[str, ...]:
        """Unit ids from the root down to ``unit_id`` (just ``unit_id`` if it is unknown)."""
        with self._lock:
            if time.monotonic() - self._read_at > self.ttl_s or unit_id not in self._parents:
                rows = s.execute(select(Unit.id, Unit.parent_id))
                self._parents = {unit: parent for unit, parent in rows}
                self._read_at = time.monotonic()
            parents = self._parents
        chain = [unit_id]
        seen = {unit_id}
        parent = parents.get(unit_id)
        while parent is not None and parent not in seen:  # a cycle never loops forever
            chain.append(parent)
            seen.add(parent)
            parent = parents.get(parent)
        return tuple(reversed(chain))

    def subtree(self, s: Session, unit_id: str) -> list[str]:
        """``unit_id`` and every unit below it."""
        self.path(s, unit_id)  # refreshes the cache when due
        with self._lock:
            parents = dict(self._parents)
        children: dict[str | None, list[str]] = {}
        for child, parent in parents.items():
            children.setdefault(parent, []).append(child)
        found: list[str] = []
        todo = [unit_id]
        while todo:
            current = todo.pop()
            if current in found:
                continue
            found.append(current)
            todo.extend(children.get(current, []))
        return sorted(found)


def _asset_documents(s: Session, assets: list[Asset]) -> dict[str, dict[str, Any]]:
    """The ``asset.*`` facts of these assets (two more queries: their MACs, their users' roles)."""
    if not assets:
        return {}
    ids = [asset.id for asset in assets]
    macs: dict[str, list[str]] = {asset_id: [] for asset_id in ids}
    for asset_id, mac in s.execute(
        select(AssetMac.asset_id, AssetMac.mac).where(AssetMac.asset_id.in_(ids))
    ):
        macs[asset_id].append(mac)
    roles = official_roles(s, (a.assigned_user for a in assets if a.assigned_user))
    return {
        asset.id: asset_facts(asset, macs[asset.id], roles.get(asset.assigned_user or "", []))
        for asset in assets
    }


#: Asset kinds that count as computers and as printers for an office (RULES.md CQĐT-08).
COMPUTER_KINDS = ("desktop", "laptop", "all_in_one")
PRINTER_KINDS = ("printer",)


def _office_equipment(s: Session, assets: list[Asset]) -> dict[tuple[str, str], tuple[int, int]]:
    """``{(unit, office): (computers, printers)}`` of live assets and network printers."""
    offices = sorted({(a.unit_id, a.office_id) for a in assets if a.office_id})
    if not offices:
        return {}
    unit_ids = sorted({unit for unit, _ in offices})
    counts: dict[tuple[str, str], list[int]] = {office: [0, 0] for office in offices}
    rows = s.execute(
        select(Asset.unit_id, Asset.office_id, Asset.kind, func.count())
        .where(Asset.unit_id.in_(unit_ids), Asset.retired_at.is_(None))
        .where(Asset.state.not_in(("disposed", "repurposed")))
        .group_by(Asset.unit_id, Asset.office_id, Asset.kind)
    )
    devices = s.execute(
        select(NetworkDevice.unit_id, NetworkDevice.office_id, NetworkDevice.kind, func.count())
        .where(NetworkDevice.unit_id.in_(unit_ids), NetworkDevice.retired_at.is_(None))
        .group_by(NetworkDevice.unit_id, NetworkDevice.office_id, NetworkDevice.kind)
    )
    # A device of another kind that answered SNMP as a printer (a copier filed as "other").
    polled = s.execute(
        select(
            NetworkDevice.unit_id, NetworkDevice.office_id, literal(PRINTER_KINDS[0]), func.count()
        )
        .join(PrinterState, PrinterState.device_id == NetworkDevice.id)
        .where(NetworkDevice.unit_id.in_(unit_ids), NetworkDevice.retired_at.is_(None))
        .where(NetworkDevice.kind.not_in(PRINTER_KINDS))
        .group_by(NetworkDevice.unit_id, NetworkDevice.office_id)
    )
    for unit_id, office_id, kind, n in [*rows, *devices, *polled]:
        slot = counts.get((unit_id, office_id))
        if slot is None:
            continue
        if kind in COMPUTER_KINDS:
            slot[0] += int(n)
        elif kind in PRINTER_KINDS:
            slot[1] += int(n)
    return {office: (c[0], c[1]) for office, c in counts.items()}


def _sighted(s: Session, assets: list[Asset]) -> set[str]:
    """Classified assets with a live tripwire finding."""
    keys = [f"asset:{a.id}|BMNN-04" for a in assets if a.classification == "classified"]
    if not keys:
        return set()
    rows = s.scalars(select(Finding.subject).where(Finding.open_key.in_(keys)))
    return {subject.partition(":")[2] for subject in rows}


def _observed(
    asset: Asset | None,
    equipment: dict[tuple[str, str], tuple[int, int]],
    sighted: set[str],
) -> dict[str, Any]:
    if asset is None:
        return {}
    observed: dict[str, Any] = {}
    if asset.classification == "classified" or asset.for_secret_use:
        observed["network_sightings"] = 1 if asset.id in sighted else 0
    if asset.office_id:
        computers, printers = equipment.get((asset.unit_id, asset.office_id), (0, 0))
        observed["office_computers"] = computers
        observed["office_printers"] = printers
    return observed


def load_hosts(s: Session, agent_ids: Iterable[str], units: UnitPaths) -> dict[str, Host]:
    """The hosts of these agents with their linked assets; unknown ids are left out.

    A host's classification is its asset's, and ``classified`` for an agent enrolled by carried
    files; any other computer is ``normal`` (the controller decides, never the agent).
    """
    ids = sorted(set(agent_ids))
    if not ids:
        return {}
    rows = s.execute(
        select(Agent.id, Agent.unit_id, Agent.os, Agent.created_at, Agent.offline, Asset)
        .outerjoin(Asset, (Asset.agent_id == Agent.id) & Asset.retired_at.is_(None))
        .where(Agent.id.in_(ids))
    ).all()
    linked = [row[5] for row in rows if row[5] is not None]
    documents = _asset_documents(s, linked)
    equipment = _office_equipment(s, linked)
    sighted = _sighted(s, linked)
    bundled = last_bundle_at(s, [row[0] for row in rows if row[4]])
    hosts: dict[str, Host] = {}
    for agent_id, unit_id, os_name, enrolled_at, offline, asset in rows:
        observed = _observed(asset, equipment, sighted)
        if offline:
            # Carried by hand: classified whether or not the organisation file lists it yet.
            # Before its first bundle, the clock runs from the offline enrollment: a classified
            # PC that never sends one becomes a finding after bundle_max_days like any other.
            when = bundled.get(agent_id) or enrolled_at
            if when is not None:
                observed["last_bundle_at"] = when.isoformat()
            observed.setdefault("network_sightings", 0)
        family = os_name.lower() if isinstance(os_name, str) else None
        hosts[agent_id] = Host(
            agent_id=agent_id,
            unit_id=unit_id,
            units=units.path(s, unit_id),
            os=family if family in OS_FAMILIES else None,
            classification="classified"
            if offline or (asset is not None and asset.classification == "classified")
            else "normal",
            tags=frozenset(asset.tags or []) if asset is not None else frozenset(),
            asset=documents.get(asset.id) if asset is not None else None,
            enrolled_at=enrolled_at,
            observed=observed,
        )
    return hosts


def document(facts: Mapping[str, Any], host: Host, observed: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a rule sees: the report, plus ``asset.*`` and ``controller.*`` (never sent by
    an agent: a report that carries such keys has them replaced)."""
    doc = dict(facts)
    doc.pop("asset", None)
    if host.asset is not None:
        doc["asset"] = dict(host.asset)
    doc["controller"] = {**host.observed, **observed}
    return doc
