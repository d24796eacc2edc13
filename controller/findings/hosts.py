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

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.inventory.facts import asset_facts
from controller.policy import HostContext
from controller.store.inventory import official_roles
from controller.store.models import Agent, Asset, AssetMac, Unit

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

    def context(self, now: datetime) -> HostContext:
        """The policy context of this host at ``now``."""
        return HostContext(
            os=self.os,
            classification=self.classification,
            units=self.units,
            tags=self.tags,
            now=now,
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


def load_hosts(s: Session, agent_ids: Iterable[str], units: UnitPaths) -> dict[str, Host]:
    """The hosts of these agents with their linked assets; unknown ids are left out.

    A host's classification is its asset's; a computer with no asset in the organisation file
    is ``normal`` (the inventory decides what is classified, never the agent).
    """
    ids = sorted(set(agent_ids))
    if not ids:
        return {}
    rows = s.execute(
        select(Agent.id, Agent.unit_id, Agent.os, Agent.created_at, Asset)
        .outerjoin(Asset, (Asset.agent_id == Agent.id) & Asset.retired_at.is_(None))
        .where(Agent.id.in_(ids))
    ).all()
    documents = _asset_documents(s, [row[4] for row in rows if row[4] is not None])
    hosts: dict[str, Host] = {}
    for agent_id, unit_id, os_name, enrolled_at, asset in rows:
        family = os_name.lower() if isinstance(os_name, str) else None
        hosts[agent_id] = Host(
            agent_id=agent_id,
            unit_id=unit_id,
            units=units.path(s, unit_id),
            os=family if family in OS_FAMILIES else None,
            classification=asset.classification if asset is not None else "normal",
            tags=frozenset(asset.tags or []) if asset is not None else frozenset(),
            asset=documents.get(asset.id) if asset is not None else None,
            enrolled_at=enrolled_at,
        )
    return hosts


def document(facts: Mapping[str, Any], host: Host, observed: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a rule sees: the report, plus ``asset.*`` and ``controller.*`` (never sent by
    an agent: a report that carries such keys has them replaced)."""
    doc = dict(facts)
    doc.pop("asset", None)
    if host.asset is not None:
        doc["asset"] = dict(host.asset)
    doc["controller"] = dict(observed)
    return doc
