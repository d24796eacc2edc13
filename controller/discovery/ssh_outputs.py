"""What one SSH collection gave back, shaped for the section builders.

:class:`Collected` holds the command outputs of one collection with the small files read by
``grep -H`` (and the SMBIOS attributes) split into {path: text}; its accessors turn anything
unusable into :class:`agent.errors.FactUnavailable` with the reason, which the builders record
in the section's ``unknown`` map.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agent.errors import FactUnavailable
from controller.discovery.ssh_commands import DMI_DIR, CommandResult

#: Why a fact the agent collects is missing from an SSH report.
NOT_COLLECTED = "not collected over SSH (no agent on this host)"

Outputs = Mapping[str, CommandResult]


class Collected:
    """The outputs of one collection, with the small files and SMBIOS attributes split out."""

    def __init__(self, outputs: Outputs, now: datetime) -> None:
        self.outputs = outputs
        self.now = now
        self.files, self.file_errors = grep_files(outputs.get("files"))
        dmi, dmi_errors = grep_files(outputs.get("dmi"))
        prefix = DMI_DIR + "/"
        self.dmi = {k.removeprefix(prefix): v for k, v in dmi.items()}
        self.dmi_errors = {k.removeprefix(prefix): v for k, v in dmi_errors.items()}

    def text(self, name: str) -> str:
        """The standard output of a command that succeeded, else FactUnavailable."""
        result = self.outputs.get(name)
        if result is None:
            raise FactUnavailable(f"{name}: not run")
        if not result.ok:
            raise FactUnavailable(f"{name}: {result.reason()}")
        return result.stdout

    def file(self, path: str) -> str:
        """A small file's content, else FactUnavailable with the reason grep gave."""
        if path in self.files:
            return self.files[path]
        raise FactUnavailable(self.file_errors.get(path, f"{path} could not be read"))

    def optional(self, path: str) -> str | None:
        """A small file's content, or None."""
        return self.files.get(path)


def grep_files(result: CommandResult | None) -> tuple[dict[str, str], dict[str, str]]:
    """``grep -H ''`` output as {path: text} and its errors as {path: reason}.

    Each output line is ``path:line``; paths never hold ':' (ours are fixed, and Linux refuses
    ':' in interface names). An error line is ``grep: path: reason``.
    """
    files: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    if result is None:
        return {}, {}
    for line in result.stdout.splitlines():
        path, sep, value = line.partition(":")
        if sep and path.startswith("/"):
            files.setdefault(path, []).append(value)
    for line in result.stderr.splitlines():
        parts = line.split(": ")
        if len(parts) >= 3 and parts[1].startswith("/"):
            reason = parts[-1].strip()
            if "denied" in reason.lower():
                reason = f"permission denied reading {parts[1]} (collect as root)"
            elif "no such file" in reason.lower():
                reason = f"{parts[1]} does not exist"
            else:
                reason = f"cannot read {parts[1]}: {reason[:120]}"
            errors[parts[1]] = reason
    return {path: "\n".join(lines) for path, lines in files.items()}, errors


def load_json(text: str, what: str) -> Any:
    """Parsed JSON, or FactUnavailable: a host's garbage, or nesting deep enough to exhaust
    the parser's recursion, is one unknown fact."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FactUnavailable(f"{what} printed something that is not JSON") from exc
