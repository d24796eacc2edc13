"""What the Ansible inventory is built from, read in a few queries whatever the district's size.

A host is a computer of the organisation file (an asset of a computer kind, not retired) or an
active agent that no asset lists. Each comes with what the controller knows about reaching it,
in the order :mod:`controller.remediation.inventory` trusts it: the organisation file's
``connection:``, the operator's SSH target (``govguard ssh add``), and only when
``remediation.address_from_reports`` is on, an address the agent reported.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import logging
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.store.models import Agent, Asset, HostFacts, SshTarget, Unit

log = logging.getLogger(__name__)

#: Asset kinds Ansible can manage (printers, copiers and network devices cannot).
MANAGED_KINDS = ("desktop", "laptop", "all_in_one", "server")
#: The OS families an agent reports, mapped to the inventory's words: the one gate through which
#: an agent's string reaches the inventory (anything else means "unknown").
OS_FAMILIES = {"linux": "linux", "windows": "windows"}
#: Rows per ``IN (...)`` list: PostgreSQL and SQLite cap bound parameters.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SshRoute:
    """An SSH target entered by an operator (``ssh_targets``): host, port and login."""

    host: str
    port: int
    user: str


@dataclass(slots=True)
class HostRow:
    """One host as stored; nothing here comes from an agent's report except through
    :data:`OS_FAMILIES` and :func:`reported_address`."""

    asset_id: str | None
    agent_id: str | None
    unit_id: str
    os: str | None = None
    classified: bool = False
    tags: tuple[str, ...] = ()
    connection: dict[str, Any] | None = None
    ssh: SshRoute | None = None
    reported: str | None = None


def _chunks(values: Collection[str]) -> Iterator[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def load_units(s: Session) -> dict[str, tuple[str | None, bool]]:
    """Every unit: ``{id: (parent id, retired)}`` (one query; districts have hundreds)."""
    rows = s.execute(select(Unit.id, Unit.parent_id, Unit.retired_at))
    return {unit_id: (parent, retired is not None) for unit_id, parent, retired in rows}


def load_hosts(
    s: Session,
    *,
    asset_ids: Collection[str] | None = None,
    agent_ids: Collection[str] | None = None,
    from_reports: bool = False,
) -> list[HostRow]:
    """The managed hosts (all, or only those assets and agent-only hosts when given).

    Queries: one for assets, one for agents no asset lists, one for SSH targets, and with
    ``from_reports`` one per 500 hosts still without an address.
    """
    hosts = _assets(s, asset_ids) if asset_ids is None or asset_ids else []
    if agent_ids is None or agent_ids:
        hosts += _lone_agents(s, agent_ids)
    routes = {
        target.agent_id: SshRoute(target.host, target.port, target.username)
        for target in s.scalars(select(SshTarget).where(SshTarget.agent_id.is_not(None)))
    }
    for host in hosts:
        if host.agent_id is not None:
            host.ssh = routes.get(host.agent_id)
            if host.ssh is not None and host.os is None:
                host.os = "linux"  # agentless collection is Linux only (docs/discovery.md)
    if from_reports:
        wanted = {
            h.agent_id: h for h in hosts if h.agent_id and h.ssh is None and not _addressed(h)
        }
        for chunk in _chunks(wanted):
            rows = s.execute(
                select(HostFacts.agent_id, HostFacts.full_body, HostFacts.heartbeat).where(
                    HostFacts.agent_id.in_(chunk)
                )
            )
            for agent_id, full_body, heartbeat in rows:
                wanted[agent_id].reported = reported_address(_network(full_body, heartbeat))
    return hosts


def _addressed(host: HostRow) -> bool:
    connection = host.connection or {}
    return bool(connection.get("address")) or connection.get("transport") == "local"


def _assets(s: Session, ids: Collection[str] | None) -> list[HostRow]:
    query = (
        select(Asset, Agent.os, Agent.offline)
        .outerjoin(Agent, Agent.id == Asset.agent_id)
        .where(Asset.retired_at.is_(None), Asset.kind.in_(MANAGED_KINDS))
    )
    if ids is not None:
        query = query.where(Asset.id.in_(sorted(ids)))
    hosts = []
    for asset, os_name, offline in s.execute(query):
        hosts.append(
            HostRow(
                asset_id=asset.id,
                agent_id=asset.agent_id,
                unit_id=asset.unit_id,
                os=_family(os_name),
                # As the remediation workflow decides (controller.remediation.targets): the
                # asset is not normal or is reserved for secret documents (the tripwire watches
                # those too, controller.findings.hosts), or it was enrolled by carried files.
                classified=asset.classification != "normal"
                or bool(asset.for_secret_use)
                or bool(offline),
                tags=tuple(sorted(asset.tags or ())),
                connection=asset.connection if isinstance(asset.connection, dict) else None,
            )
        )
    return hosts


def _lone_agents(s: Session, ids: Collection[str] | None) -> list[HostRow]:
    listed = select(Asset.id).where(Asset.agent_id == Agent.id, Asset.retired_at.is_(None)).exists()
    query = select(Agent.id, Agent.unit_id, Agent.os, Agent.offline).where(
        Agent.status == "active", ~listed
    )
    if ids is not None:
        query = query.where(Agent.id.in_(sorted(ids)))
    return [
        HostRow(
            asset_id=None,
            agent_id=agent_id,
            unit_id=unit_id,
            os=_family(os_name),
            classified=bool(offline),
        )
        for agent_id, unit_id, os_name, offline in s.execute(query)
    ]


def _family(os_name: object) -> str | None:
    return OS_FAMILIES.get(os_name.strip().lower()) if isinstance(os_name, str) else None


def _network(full_body: bytes | None, heartbeat: bytes | None) -> Any:
    """The ``network`` section of the newest facts (a heartbeat's, else the full report's)."""
    for body in (heartbeat, full_body):
        if body is None:
            continue
        try:
            doc = json.loads(gzip.decompress(body))
        except (OSError, ValueError):
            continue
        network = doc.get("network") if isinstance(doc, dict) else None
        if isinstance(network, dict) and isinstance(network.get("interfaces"), list):
            return network
    return None


def _candidates(network: Any) -> Iterable[tuple[int, str]]:
    interfaces = network.get("interfaces") if isinstance(network, dict) else None
    for interface in interfaces if isinstance(interfaces, list) else ():
        if not isinstance(interface, dict) or interface.get("loopback"):
            continue
        addresses = interface.get("addresses")
        for entry in addresses if isinstance(addresses, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("address"), str):
                # Prefer an interface that is up, then IPv4 (what district LANs route).
                ipv4 = entry.get("family") == "ipv4"
                rank = (0 if interface.get("up") else 2) + (0 if ipv4 else 1)
                yield rank, entry["address"]


def reported_address(network: Any) -> str | None:
    """A private unicast IP address the agent reported, in the spelling :mod:`ipaddress` gives
    it, or None. The agent's text itself never comes out: only what parses as an address."""
    best: tuple[int, str] | None = None
    for rank, text in _candidates(network):
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if (
            not address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_unspecified
            or address.is_reserved
        ):
            continue
        if best is None or rank < best[0]:
            best = (rank, str(address))
    return best[1] if best else None
