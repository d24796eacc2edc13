"""Which hosts a remediation request names, and whether each may be targeted.

An operator names hosts by agent id, asset id or inventory name (``agent-<id>``); each is
resolved to one :class:`Host` with the inventory name the runner uses (never a reported
hostname). The checks that refuse a request before any run exists live here, so a refused
request and an automatic remediation that skips a host give the same reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from controller.remediation.inventory import host_name
from controller.remediation.model import ISOLATION_PLAYBOOK, RemediationError
from controller.settings import Settings
from controller.store import remediation_hosts as hosts_store
from controller.store.models import Agent, Asset

#: The most hosts one job may target (a mistyped rule must not reach the whole province).
MAX_HOSTS = 500


@dataclass(frozen=True, slots=True)
class Host:
    """One host of a request, resolved."""

    #: The inventory name: the asset id, else ``agent-<agent id>``.
    name: str
    agent_id: str | None
    asset_id: str | None
    unit_id: str
    classified: bool
    #: Reports through an online agent, so it can be "offline" (waits for its next report).
    reports_online: bool
    last_seen_at: datetime | None

    def online(self, now: datetime, window_s: int) -> bool:
        """Whether the host can be run now: hosts without an online agent (an asset only, a
        bundle-carried or SSH-collected computer) always, the others when their agent reported
        within ``window_s`` seconds."""
        if not self.reports_online:
            return True
        return self.last_seen_at is not None and now - self.last_seen_at <= timedelta(
            seconds=window_s
        )


def _classified(agent: Agent | None, asset: Asset | None) -> bool:
    """Classified: its asset is not ``normal`` or is for secret use, or its agent was enrolled
    by carried files (the inventory's ``classified`` group says the same,
    controller.remediation.inventory_rows)."""
    if agent is not None and agent.offline:
        return True
    return asset is not None and (asset.classification != "normal" or asset.for_secret_use)


def resolve(s: Session, given: str) -> Host:
    """The host ``given`` names (agent id, asset id or inventory name); RemediationError if
    it names none, or an agent that is not active, or a retired asset."""
    text = given.strip()
    agent: Agent | None = None
    asset: Asset | None = None
    if text.startswith("agent-"):
        agent = hosts_store.agent(s, text.removeprefix("agent-"))
    if agent is None:
        asset = hosts_store.asset(s, text)
        if asset is not None and asset.agent_id is not None:
            agent = hosts_store.agent(s, asset.agent_id)
    if agent is None and asset is None:
        agent = hosts_store.agent(s, text)
    if agent is None and asset is None:
        raise RemediationError(f"unknown host {given!r} (give an agent id or an asset id)")
    if agent is not None and asset is None:
        asset = hosts_store.asset_of_agent(s, agent.id)
    if asset is not None and asset.retired_at is not None:
        raise RemediationError(f"host {asset.id} is retired")
    if agent is not None and agent.status != "active":
        raise RemediationError(f"the agent {agent.id} of host {given!r} is {agent.status}")
    unit_id = asset.unit_id if asset is not None else agent.unit_id if agent is not None else ""
    name = host_name(asset.id if asset else None, agent.id if agent else None)
    return Host(
        name=name,
        agent_id=agent.id if agent else None,
        asset_id=asset.id if asset else None,
        unit_id=unit_id,
        classified=_classified(agent, asset),
        reports_online=agent is not None and agent.source == "agent" and not agent.offline,
        last_seen_at=agent.last_seen_at if agent else None,
    )


def resolve_all(s: Session, given: Sequence[str]) -> list[Host]:
    """Every host of ``given`` resolved, each once (an asset and its agent are one host)."""
    if len(given) > MAX_HOSTS:
        raise RemediationError(
            f"{len(given)} hosts at once; a job takes at most {MAX_HOSTS} (split the request)"
        )
    found: dict[str, Host] = {}
    for text in given:
        host = resolve(s, text)
        found.setdefault(host.name, host)
    return list(found.values())


def check_playbook(settings: Settings, playbook: str) -> None:
    """Refuse a playbook that is not a file of the playbooks folder."""
    from controller.remediation.model import PLAYBOOK_NAME, playbooks_dir

    folder = playbooks_dir(settings.remediation.playbooks_dir)
    if not PLAYBOOK_NAME.fullmatch(playbook) or not (folder / playbook).is_file():
        raise RemediationError(f"unknown playbook {playbook!r} (not a playbook of {folder})")


def check_hosts(s: Session, settings: Settings, playbook: str, hosts: Sequence[Host]) -> None:
    """Refuse classified hosts for any playbook but the isolation one, the isolation playbook
    on a host that is not classified, and hosts Ansible cannot reach (no connection address:
    :func:`controller.remediation.inventory.for_hosts` decides)."""
    from controller.remediation import inventory

    if not hosts:
        raise RemediationError("no host to remediate")
    for host in hosts:
        if host.classified and playbook != ISOLATION_PLAYBOOK:
            raise RemediationError(
                f"host {host.name} is classified: only {ISOLATION_PLAYBOOK} may target it"
            )
        if not host.classified and playbook == ISOLATION_PLAYBOOK:
            raise RemediationError(
                f"host {host.name} is not classified: {ISOLATION_PLAYBOOK} only targets "
                "classified computers"
            )
    inventory.for_hosts(s, settings, [host.name for host in hosts])
