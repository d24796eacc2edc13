"""ansible-runner's events as :class:`RunEvent` rows, their diffs as unified text, and the play
recap as :class:`HostStats` (no ansible_runner import: plain dicts in, plain data out)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from controller.remediation.model import HostStats, RunEvent

#: How much of an event's display text and of a diff the database keeps.
STDOUT_CAP: Final = 4096
DIFF_CAP: Final = 64 * 1024
_FAILED_EVENTS: Final = frozenset(
    {"runner_on_failed", "runner_on_unreachable", "runner_on_async_failed", "runner_item_on_failed"}
)
_ANSI: Final = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def play_recap(data: Mapping[str, Any]) -> dict[str, HostStats]:
    """``{host: HostStats}`` from a ``playbook_on_stats`` event's data."""
    fields = {
        "ok": "ok",
        "changed": "changed",
        "failures": "failed",
        "dark": "unreachable",
        "skipped": "skipped",
    }
    hosts: set[str] = set()
    for key in (*fields, "processed"):
        hosts.update(data.get(key) or {})
    return {
        host: HostStats(
            **{name: int((data.get(key) or {}).get(host, 0)) for key, name in fields.items()}
        )
        for host in sorted(hosts)
    }


def first_line(stdout: str | None) -> str | None:
    """The first non-empty line of ``stdout`` (at most 300 characters), or None."""
    for line in (stdout or "").splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return None


def to_event(data: Mapping[str, Any]) -> RunEvent:
    """One ansible-runner event as stored: display text without colours (capped), and for a
    check or diff event the diff as unified text."""
    event_data = data.get("event_data") or {}
    name = str(data.get("event") or "unknown")
    raw_res = event_data.get("res")
    res: Mapping[str, Any] = raw_res if isinstance(raw_res, Mapping) else {}
    host = event_data.get("host")
    task = event_data.get("task")
    diff = None
    if name == "runner_on_file_diff":
        diff = render_diff(event_data.get("diff")) or _clean_text(data.get("stdout"), DIFF_CAP)
    return RunEvent(
        seq=int(data.get("counter") or 0),
        at=_created(data.get("created")),
        event=name,
        host=str(host) if host else None,
        task=str(task) if task else None,
        changed=bool(res.get("changed")),
        failed=name in _FAILED_EVENTS and not event_data.get("ignore_errors"),
        stdout=_clean_text(data.get("stdout"), STDOUT_CAP),
        diff=diff,
    )


def _created(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _clean_text(value: Any, cap: int) -> str | None:
    if not isinstance(value, str):
        return None
    text: str = _ANSI.sub("", value).replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text:
        return None
    if len(text) > cap:
        return text[:cap] + f"\n… ({len(text) - cap} more characters not kept)"
    return text


def render_diff(diff: Any) -> str | None:
    """Ansible's diff of a result as unified text: a dict or a list of dicts, each with
    ``before``/``after`` (text, or data shown as JSON) and their headers, or ``prepared`` (text a
    module rendered itself)."""
    items = diff if isinstance(diff, list) else [diff]
    parts: list[str] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if item.get("prepared"):
            parts.append(str(item["prepared"]).rstrip("\n") + "\n")
            continue
        if item.get("src_binary") or item.get("dst_binary"):
            parts.append(f"binary file: {item.get('after_header') or item.get('before_header')}\n")
            continue
        for key in ("src_larger", "dst_larger"):
            if item.get(key):
                parts.append(f"diff not shown: file larger than {item[key]} bytes\n")
        if "before" not in item and "after" not in item:
            continue
        before, after = _diff_text(item.get("before")), _diff_text(item.get("after"))
        if before == after:
            continue
        lines = difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"before: {item.get('before_header') or ''}".rstrip(),
            tofile=f"after: {item.get('after_header') or ''}".rstrip(),
        )
        parts.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    text = "".join(parts).rstrip("\n")
    if not text:
        return None
    if len(text) > DIFF_CAP:
        return text[:DIFF_CAP] + f"\n… ({len(text) - DIFF_CAP} more characters not kept)"
    return text


def _diff_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"
