"""Ansible inventories built from the store (``govguard inventory ansible``, the dynamic inventory
``inventory/govguard_inventory.py`` and each remediation run's hosts).

The structure is Ansible's YAML inventory as a dict (what ansible-runner writes as
``inventory/hosts.json``)::

    {"all": {"hosts": {NAME: {vars}}, "vars": {...},
             "children": {"unit_huyen_a": {"hosts": {NAME: None},
                                           "children": {"unit_xa_thanh_mai": {...}}},
                          "os_linux": {...}, "os_windows": {...}, "classified": {...},
                          "unreachable": {...}, "tag_signing_pc": {...}}}}

Groups: ``unit_<unit id>`` nested like the units tree, ``os_linux`` / ``os_windows``,
``classified``, ``unreachable`` (no address known) and ``tag_<tag>`` (``-`` as ``_``). Host
variables: ``ansible_host``, ``ansible_port``, ``ansible_user``, ``ansible_connection`` (and the
WinRM/PSRP settings) from the organisation file's ``connection:``, else an operator's SSH
target, else (``remediation.address_from_reports``) a private address the agent reported; and
``govguard_unit``, ``govguard_asset``, ``govguard_agent``, ``govguard_classified``,
``govguard_reachable``. Host names are :func:`host_name` values: no string an agent reported
ever reaches an inventory (ARCHITECTURE.md, trust model).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from controller.remediation.inventory_rows import HostRow, load_hosts, load_units
from controller.remediation.model import CLASSIFIED_GROUP, HOST_NAME, RemediationError
from controller.settings import Settings

log = logging.getLogger(__name__)

#: Groups every inventory has, even empty (``hosts: all:!classified`` must always resolve).
OS_GROUPS: Final = {"linux": "os_linux", "windows": "os_windows"}
UNREACHABLE_GROUP: Final = "unreachable"
TRANSPORTS: Final = ("ssh", "winrm", "psrp", "local")
DEFAULT_PORTS: Final = {"ssh": 22, "winrm": 5986, "psrp": 5986}
#: The organisation file's patterns (inventory/schema.json), checked again on what is stored:
#: a value that does not pass leaves the host without an address rather than in a command.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME: Final = re.compile(rf"(?=.{{1,253}}$)(?:{_LABEL}\.)*(?![0-9]+$){_LABEL}")
#: A POSIX login or a Windows account (``user``, ``DOMAIN\\user``, ``user@domain``).
ACCOUNT: Final = re.compile(
    r"(?:[A-Za-z0-9][A-Za-z0-9.-]{0,62}\\)?[A-Za-z_][A-Za-z0-9_.-]{0,63}\$?"
    r"(?:@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)?"
)
_GROUP_WORD: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def host_name(asset_id: str | None, agent_id: str | None) -> str:
    """The inventory name of a host: its asset id, else ``agent-<agent id>``.

    Raises :class:`RemediationError` when neither gives a safe name.
    """
    name = asset_id if asset_id else (f"agent-{agent_id}" if agent_id else "")
    if not HOST_NAME.fullmatch(name):
        raise RemediationError(f"no safe inventory name for asset {asset_id!r} agent {agent_id!r}")
    return name


def group_name(prefix: str, word: str) -> str | None:
    """``unit_xa_thanh_mai`` for (``unit``, ``xa-thanh-mai``); None for a word that is no slug."""
    return f"{prefix}_{word.replace('-', '_')}" if _GROUP_WORD.fullmatch(word) else None


def _address(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.lower() if _DNS_NAME.fullmatch(text) else None


def _user(text: object) -> str | None:
    return text if isinstance(text, str) and ACCOUNT.fullmatch(text) else None


def _port(value: object) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= 65535 else None


def connection_vars(
    row: HostRow, settings: Settings, winrm_user: str | None = None
) -> dict[str, Any] | None:
    """The ``ansible_*`` variables reaching ``row``, or None when no address is known.

    The login is the organisation file's ``connection.user``, else for WinRM and PSRP
    ``winrm_user`` (the worker's secrets, :mod:`controller.remediation.secrets`), else
    ``remediation.remote_user``.
    """
    given = row.connection or {}
    transport = given.get("transport") or ("winrm" if row.os == "windows" else "ssh")
    if transport not in TRANSPORTS:  # not what an import stores: leave the host alone
        log.warning("asset %s: unknown transport in its stored connection", row.asset_id)
        return None
    config = settings.remediation
    become = {"ansible_become": config.become, "ansible_become_method": config.become_method}
    if transport == "local":
        return {"ansible_connection": "local", **become}
    address, port, user = (
        _address(given.get("address")),
        _port(given.get("port")),
        _user(given.get("user")),
    )
    if address is None and row.ssh is not None and transport == "ssh":
        # The operator entered this target for agentless collection (`govguard ssh add`).
        address = _address(row.ssh.host)
        port = port or _port(row.ssh.port)
        user = user or _user(row.ssh.user)
    if address is None and config.address_from_reports:
        address = row.reported  # already parsed by ipaddress and private (inventory_rows)
    if address is None:
        return None
    out: dict[str, Any] = {
        "ansible_host": address,
        "ansible_port": port or DEFAULT_PORTS[transport],
        "ansible_user": user
        or (winrm_user if transport in ("winrm", "psrp") else None)
        or config.remote_user,
        "ansible_connection": transport,
    }
    https = out["ansible_port"] != 5985  # 5985 is WinRM's plain-HTTP port
    if transport == "winrm":
        # NTLM: a local or domain account with a password from the data directory's secrets.
        out["ansible_winrm_transport"] = "ntlm"
        out["ansible_winrm_scheme"] = "https" if https else "http"
    elif transport == "psrp":
        out["ansible_psrp_auth"] = "ntlm"
        out["ansible_psrp_protocol"] = "https" if https else "http"
    else:
        out.update(become)
        out["ansible_python_interpreter"] = "auto_silent"
    return out


def _host_vars(row: HostRow, settings: Settings, winrm_user: str | None) -> dict[str, Any]:
    route = connection_vars(row, settings, winrm_user)
    return {
        **(route or {}),
        "govguard_unit": row.unit_id,
        "govguard_asset": row.asset_id,
        "govguard_agent": row.agent_id,
        "govguard_classified": row.classified,
        "govguard_reachable": route is not None,
    }


def _named(rows: Iterable[HostRow]) -> dict[str, HostRow]:
    named: dict[str, HostRow] = {}
    for row in rows:
        try:
            name = host_name(row.asset_id, row.agent_id)
        except RemediationError as exc:
            log.warning("left out of the inventory: %s", exc)
            continue
        if name in named:  # an asset named like another host's agent-<id>: keep the first
            log.warning("left out of the inventory: %s is the name of another host", name)
            continue
        named[name] = row
    return named


def _build(
    s: Session,
    settings: Settings,
    named: dict[str, HostRow],
    *,
    whole: bool,
    winrm_user: str | None = None,
) -> dict[str, Any]:
    """The inventory of ``named`` hosts; ``whole`` keeps units without hosts (the district)."""
    units = load_units(s)
    hostvars = {name: _host_vars(row, settings, winrm_user) for name, row in sorted(named.items())}
    members: dict[str, list[str]] = {}
    for name, row in sorted(named.items()):
        groups = [group_name("unit", row.unit_id), OS_GROUPS.get(row.os or "")]
        groups += [group_name("tag", tag) for tag in row.tags]
        if row.classified:
            groups.append(CLASSIFIED_GROUP)
        if not hostvars[name]["govguard_reachable"]:
            groups.append(UNREACHABLE_GROUP)
        for group in groups:
            if group is not None:
                members.setdefault(group, []).append(name)
    children: dict[str | None, list[str]] = {}
    for unit_id, (parent, _retired) in units.items():
        children.setdefault(parent if parent in units else None, []).append(unit_id)

    def unit_tree(unit_id: str) -> dict[str, Any] | None:
        group = group_name("unit", unit_id)
        kids = [(kid, unit_tree(kid)) for kid in sorted(children.get(unit_id, []))]
        nested = {group_name("unit", kid): tree for kid, tree in kids if tree is not None}
        hosts = members.get(group or "", [])
        keep = hosts or nested or (whole and not units[unit_id][1])
        if group is None or not keep:
            return None
        node: dict[str, Any] = {}
        if hosts:
            node["hosts"] = dict.fromkeys(hosts)
        if nested:
            node["children"] = nested
        return node

    top: dict[str, Any] = {}
    for unit_id in sorted(children.get(None, [])):
        tree = unit_tree(unit_id)
        if tree is not None:
            top[str(group_name("unit", unit_id))] = tree
    fixed = (*OS_GROUPS.values(), CLASSIFIED_GROUP, UNREACHABLE_GROUP)
    for group in (*fixed, *sorted(g for g in members if g.startswith("tag_"))):
        hosts = members.get(group, [])
        top[group] = {"hosts": dict.fromkeys(hosts)} if hosts else {}
    return {"all": {"hosts": hostvars, "children": top}}


def district(s: Session, settings: Settings) -> dict[str, Any]:
    """The whole district as Ansible's YAML inventory (a dict; see the module's docstring).

    Hosts without a known address are in it with ``govguard_reachable: false`` (and in the
    ``unreachable`` group) but without ``ansible_host``.
    """
    rows = load_hosts(s, from_reports=settings.remediation.address_from_reports)
    return _build(s, settings, _named(rows), whole=True)


def for_hosts(
    s: Session, settings: Settings, hosts: Sequence[str], *, winrm_user: str | None = None
) -> dict[str, Any]:
    """The inventory of only ``hosts`` (inventory names), with the same groups and variables
    (``winrm_user``: the worker's :attr:`~controller.remediation.secrets.AnsibleSecrets.winrm_user`,
    the login of Windows hosts whose ``connection`` names none).

    Raises :class:`RemediationError` for a host that is unknown or has no connection address.
    """
    names = list(dict.fromkeys(hosts))
    for name in names:
        if not HOST_NAME.fullmatch(name):
            raise RemediationError(f"{name!r}: not an inventory host name")
    agent_ids = {name.removeprefix("agent-") for name in names if name.startswith("agent-")}
    rows = load_hosts(
        s,
        asset_ids=set(names),
        agent_ids=agent_ids,
        from_reports=settings.remediation.address_from_reports,
    )
    named = {name: row for name, row in _named(rows).items() if name in names}
    for name in names:
        row = named.get(name)
        if row is None:
            raise RemediationError(
                f"{name}: unknown host (no computer of the organisation file nor active agent "
                "has this name)"
            )
        if connection_vars(row, settings) is None:
            where = (
                f"to asset {row.asset_id} in the organisation file"
                if row.asset_id
                else "to this computer's asset in the organisation file (list it there first)"
            )
            raise RemediationError(f"{name}: no connection address (add `connection:` {where})")
    return _build(s, settings, named, whole=False, winrm_user=winrm_user)


def group_hosts(inventory: dict[str, Any], group: str) -> set[str]:
    """The hosts of ``group`` in an inventory of this module, its child groups' included."""

    def walk(node: dict[str, Any], inside: bool) -> set[str]:
        found = set(node.get("hosts") or ()) if inside else set()
        for name, child in (node.get("children") or {}).items():
            found |= walk(child or {}, inside or name == group)
        return found

    return walk(inventory.get("all", {}), group == "all")


def dynamic_list(inventory: dict[str, Any]) -> dict[str, Any]:
    """An inventory of this module in the shape an inventory script prints for ``--list``:
    ``{"_meta": {"hostvars": ...}, "all": {"children": [...]}, GROUP: {"hosts": [...], ...}}``."""
    root = inventory.get("all", {})
    out: dict[str, Any] = {"_meta": {"hostvars": dict(root.get("hosts") or {})}}

    def flatten(name: str, node: dict[str, Any]) -> None:
        entry: dict[str, Any] = {"hosts": sorted(node.get("hosts") or ())}
        kids = node.get("children") or {}
        if kids:
            entry["children"] = sorted(kids)
        if node.get("vars"):
            entry["vars"] = node["vars"]
        out[name] = entry
        for kid, child in kids.items():
            flatten(kid, child or {})

    flatten("all", root)
    out["all"].pop("hosts")
    return out


def notice(at: datetime) -> tuple[str, str]:
    """What a written inventory says about itself, in Vietnamese and in English."""
    stamp = at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Kho máy Ansible của govguard, tạo lúc {stamp} bởi `govguard inventory ansible`. "
        "Không sửa tệp này: sửa tệp tổ chức (connection:) rồi tạo lại.",
        f"govguard Ansible inventory, generated {stamp} by `govguard inventory ansible`. "
        "Do not edit: change the organisation file (connection:) and generate it again.",
    )
