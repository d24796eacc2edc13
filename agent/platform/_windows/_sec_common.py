"""Helpers shared by the security area's modules: the batched query, services, user hives."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from agent.errors import FactUnavailable
from agent.platform._windows import _ps, _registry, _winshared
from agent.platform._windows import _sec_script as _script

log = logging.getLogger(__name__)

UNINSTALL = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"


def now() -> datetime:
    """The clock that ages status events; tests pin it."""
    return datetime.now(UTC)


def part(key: str) -> Any:
    """One key of the security batch; an error object there (or in its list) raises
    FactUnavailable."""
    return _winshared.part(_script.NAME, _script.SCRIPT, key)


def optional(key: str) -> Any:
    """A part whose absence only lowers the detail of a fact."""
    try:
        return part(key)
    except FactUnavailable as exc:
        log.info("security: %s", exc.reason)
        return None


def services() -> list[dict[str, Any]]:
    """Win32_Service rows (Name, DisplayName, State, StartMode); State/StartMode are not
    localized ("Running", "Disabled")."""
    return [s for s in _ps.as_list(part("services")) if isinstance(s, dict) and s.get("Name")]


def service(table: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The service called ``name`` (case-insensitive), if present."""
    return next((s for s in table if str(s["Name"]).lower() == name.lower()), None)


def user_hives() -> list[str]:
    """Loaded hives of real users (HKU\\S-1-5-21-..., Entra ID HKU\\S-1-12-1-...); the agent runs
    as SYSTEM, whose HKCU is not a person's."""
    return [f"HKU\\{sid}" for sid in _registry.subkeys("HKU") if _winshared.is_user_sid(sid)]


def installed_names() -> list[str]:
    """DisplayNames from the uninstall keys: 64- and 32-bit views, and loaded users' hives."""
    roots = [(f"HKLM\\{UNINSTALL}", _registry.VIEW_64), (f"HKLM\\{UNINSTALL}", _registry.VIEW_32)]
    roots += [(f"{hive}\\{UNINSTALL}", _registry.VIEW_64) for hive in user_hives()]
    names: dict[str, None] = {}
    for path, view in roots:
        for sub in _registry.subkeys(path, view):
            name = _registry.value(f"{path}\\{sub}", "DisplayName", view)
            if isinstance(name, str) and name.strip():
                names[name.strip()] = None
    return list(names)
