"""Ansible inventories built from the store (owned by the inventory work of issue 8).

Groups: ``unit_<unit id>`` (units as nested groups), ``os_linux`` / ``os_windows``,
``classified``, ``tag_<tag>``; host variables: ``ansible_host``, ``ansible_port``,
``ansible_user``, ``ansible_connection`` from the organisation file's ``connection:`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from controller.remediation.model import HOST_NAME, RemediationError
from controller.settings import Settings


def host_name(asset_id: str | None, agent_id: str | None) -> str:
    """The inventory name of a host: its asset id, else ``agent-<agent id>``.

    Raises :class:`RemediationError` when neither gives a safe name.
    """
    name = asset_id if asset_id else (f"agent-{agent_id}" if agent_id else "")
    if not HOST_NAME.fullmatch(name):
        raise RemediationError(f"no safe inventory name for asset {asset_id!r} agent {agent_id!r}")
    return name


def district(s: Session, settings: Settings) -> dict[str, Any]:
    """The whole district as Ansible's JSON inventory (``ansible-inventory --list`` shape)."""
    raise NotImplementedError


def for_hosts(s: Session, settings: Settings, hosts: Sequence[str]) -> dict[str, Any]:
    """The inventory of only ``hosts`` (inventory names), with the same groups and variables.

    Raises :class:`RemediationError` for a host that is unknown or has no connection address.
    """
    raise NotImplementedError
