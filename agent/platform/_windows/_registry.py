"""Read the Windows registry through a replaceable backend (``winreg`` on Windows).

Paths are written ``HKLM\\SOFTWARE\\...``. The backend is a module-level hook so that tests read
recorded registry exports from ``tests/fixtures/windows/`` on any OS.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Protocol

from agent.errors import FactUnavailable


class Backend(Protocol):
    """What the registry readers need."""

    def values(self, path: str, view: int) -> dict[str, Any]:
        """Value names and data of a key; raises FileNotFoundError or PermissionError."""

    def subkeys(self, path: str, view: int) -> list[str]:
        """Names of a key's subkeys; raises FileNotFoundError or PermissionError."""


#: Registry views: the native one, and the 32-bit view where 32-bit programs register (WOW6432).
VIEW_64 = 64
VIEW_32 = 32


def _winreg() -> Any:
    # Imported at call time: the module exists only on Windows, and tests run everywhere.
    return importlib.import_module("winreg")


class WinregBackend:
    """The real registry."""

    _HIVES: ClassVar[dict[str, str]] = {
        "HKLM": "HKEY_LOCAL_MACHINE",
        "HKCU": "HKEY_CURRENT_USER",
        "HKU": "HKEY_USERS",
    }

    def _open(self, path: str, view: int) -> Any:
        winreg = _winreg()
        hive, _, sub = path.partition("\\")
        flag = winreg.KEY_WOW64_32KEY if view == VIEW_32 else winreg.KEY_WOW64_64KEY
        root = getattr(winreg, self._HIVES[hive])
        return winreg.OpenKey(root, sub, 0, winreg.KEY_READ | flag)

    def values(self, path: str, view: int) -> dict[str, Any]:
        """Value names and data of a key."""
        winreg = _winreg()
        out: dict[str, Any] = {}
        with self._open(path, view) as key:
            index = 0
            while True:
                try:
                    name, data, _kind = winreg.EnumValue(key, index)
                except OSError:
                    return out
                out[name] = data
                index += 1

    def subkeys(self, path: str, view: int) -> list[str]:
        """Names of a key's subkeys."""
        winreg = _winreg()
        out: list[str] = []
        with self._open(path, view) as key:
            index = 0
            while True:
                try:
                    out.append(winreg.EnumKey(key, index))
                except OSError:
                    return out
                index += 1


backend: Backend = WinregBackend()


def values(path: str, view: int = VIEW_64) -> dict[str, Any]:
    """Values of a key; an absent key is an empty dict, a denied one is unavailable."""
    try:
        return backend.values(path, view)
    except FileNotFoundError:
        return {}
    except PermissionError as exc:
        raise FactUnavailable(f"access denied to {path} (run as SYSTEM)") from exc


def value(path: str, name: str, view: int = VIEW_64) -> Any:
    """One value, ``None`` when the key or value is absent."""
    return values(path, view).get(name)


def subkeys(path: str, view: int = VIEW_64) -> list[str]:
    """Subkey names; an absent key has none, a denied one is unavailable."""
    try:
        return backend.subkeys(path, view)
    except FileNotFoundError:
        return []
    except PermissionError as exc:
        raise FactUnavailable(f"access denied to {path} (run as SYSTEM)") from exc
