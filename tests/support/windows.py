"""Replay recorded Windows state: PowerShell JSON outputs and registry exports.

A Windows fixture directory looks like::

    tests/fixtures/windows/<case>/
        README.md          where the outputs come from (documentation page, or "hand-made")
        ps/<name>.json     output of the batched PowerShell query <name> (ConvertTo-Json)
        registry.json      {"HKLM\\\\path": {"values": {...}, "subkeys": [...]}, ...}
                           keys of the 32-bit view are prefixed "WOW32:"

A query with no recorded output behaves like a cmdlet that is not available.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.errors import FactUnavailable


class PsReplay:
    """Stands in for ``agent.platform._windows._ps.runner``."""

    def __init__(self, case_dir: Path) -> None:
        self.case_dir = case_dir
        self.calls: list[str] = []

    def __call__(self, name: str, script: str) -> str:
        self.calls.append(name)
        path = self.case_dir / "ps" / f"{name}.json"
        if not path.exists():
            raise FactUnavailable(f"powershell.exe query {name} not recorded")
        # PowerShell 5.1 writes a BOM with some encodings; the real runner gets none.
        return path.read_text(encoding="utf-8-sig")


class RegistryReplay:
    """Stands in for ``agent.platform._windows._registry.backend``."""

    def __init__(self, case_dir: Path) -> None:
        path = case_dir / "registry.json"
        raw = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        self.keys: dict[str, dict[str, Any]] = {k.lower(): v for k, v in raw.items()}

    def _key(self, path: str, view: int) -> dict[str, Any]:
        prefix = "wow32:" if view == 32 else ""
        key = self.keys.get(prefix + path.lower())
        if key is None:
            raise FileNotFoundError(path)
        if key.get("denied"):
            raise PermissionError(path)
        return key

    def values(self, path: str, view: int) -> dict[str, Any]:
        """Recorded values of a key."""
        return dict(self._key(path, view).get("values", {}))

    def subkeys(self, path: str, view: int) -> list[str]:
        """Recorded subkeys, or those implied by deeper recorded keys."""
        key = self._key(path, view)
        if "subkeys" in key:
            return list(key["subkeys"])
        prefix = ("wow32:" if view == 32 else "") + path.lower() + "\\"
        names = {k[len(prefix) :].split("\\")[0] for k in self.keys if k.startswith(prefix)}
        return sorted(names)
