"""Replay recorded host state: a fixture directory stands in for ``/`` and for external commands.

A fixture directory looks like::

    tests/fixtures/linux/<case>/
        root/            files read through agent.platform._common.host_path (proc, sys, etc)
        commands.yaml    recorded commands: [{argv: [...], stdout: file-or-inline, exit: 0}]
        commands/        the recorded outputs named in commands.yaml

A command that is not recorded behaves like a command that is not installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from agent.errors import FactUnavailable

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


class ReplayRunner:
    """Stands in for ``agent.platform._common.runner`` with recorded outputs."""

    def __init__(self, case_dir: Path) -> None:
        self.case_dir = case_dir
        self.calls: list[tuple[str, ...]] = []
        self._recorded: dict[tuple[str, ...], dict[str, Any]] = {}
        index = case_dir / "commands.yaml"
        if index.exists():
            for entry in yaml.safe_load(index.read_text(encoding="utf-8")) or []:
                self._recorded[tuple(entry["argv"])] = entry

    def has(self, name: str) -> bool:
        """Whether the recorded machine had this command."""
        return any(argv[0] == name for argv in self._recorded)

    def __call__(self, argv: Sequence[str], timeout: float) -> str:
        key = tuple(argv)
        self.calls.append(key)
        entry = self._recorded.get(key)
        if entry is None:
            raise FactUnavailable(f"command not found: {argv[0]}")
        status = int(entry.get("exit", 0))
        if status != 0:
            raise FactUnavailable(f"{argv[0]} exited with status {status}")
        if "stdout_file" in entry:
            out = self.case_dir / "commands" / str(entry["stdout_file"])
            return out.read_text(encoding="utf-8")
        return str(entry.get("stdout", ""))  # inline output
