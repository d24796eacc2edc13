"""Run PowerShell/CIM queries that emit JSON; never parse localized text.

A Vietnamese-language Windows prints ``net accounts`` and ``netsh`` in Vietnamese, so every fact
comes from CIM classes, cmdlets' objects or the registry, serialised with ``ConvertTo-Json``.
Each area batches its queries into one script (one ``powershell.exe`` start costs ~0.3 s) and the
parsed result is cached until :func:`clear_cache`.
"""

from __future__ import annotations

import base64
import json
import ntpath
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.errors import FactUnavailable
from agent.platform import _common

_PRELUDE = (
    "$ErrorActionPreference='Stop';"
    "$ProgressPreference='SilentlyContinue';"
    # UTF-8 output so Vietnamese names (máy in, người dùng) survive the pipe.
    "[Console]::OutputEncoding=[Text.UTF8Encoding]::new($false);"
)


def powershell_path() -> str:
    """Full path of Windows PowerShell 5.1, never a ``powershell.exe`` found through PATH.

    The agent runs as SYSTEM: resolving the name through the current folder or a user-writable
    PATH entry would run whatever program was planted there with SYSTEM's rights.
    """
    # Environment names are case-insensitive on Windows: SYSTEMROOT is SystemRoot.
    root = os.environ.get("SYSTEMROOT") or r"C:\Windows"
    return ntpath.join(root, "System32", "WindowsPowerShell", "v1.0", "powershell.exe")


def _run_powershell(name: str, script: str) -> str:
    body = f"{_PRELUDE}& {{ {script} }} | ConvertTo-Json -Depth 6 -Compress"
    # -EncodedCommand (base64 of UTF-16LE) instead of -Command: no command-line quoting rules
    # can alter the script, whatever quotes or Vietnamese text it contains.
    encoded = base64.b64encode(body.encode("utf-16-le")).decode("ascii")
    argv = [
        powershell_path(),
        "-NoLogo",
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-EncodedCommand",
        encoded,
    ]
    return _common.run(argv, timeout=60.0)


#: Runs one named script and returns its JSON text; tests replace it with recorded outputs.
runner: Callable[[str, str], str] = _run_powershell

_cache: dict[str, Any] = {}
_failures: dict[str, FactUnavailable] = {}
_lock = threading.Lock()


def query(name: str, script: str) -> Any:
    """Run the script named ``name`` once and return its parsed JSON (cached).

    A failure is cached too: every fact of an area reads the same batch, and re-running a
    script that timed out (60 s) or that PowerShell refuses (Constrained Language Mode) once per
    fact would multiply the cost by the number of facts. Collectors run in threads, so the first
    caller runs the script and the others wait for its result.
    """
    with _lock:
        if name in _failures:
            raise _failures[name]
        if name in _cache:
            return _cache[name]
        try:
            text = runner(name, script).strip()
            try:
                _cache[name] = json.loads(text) if text else None
            except json.JSONDecodeError as exc:
                raise FactUnavailable(f"PowerShell query {name} returned invalid JSON") from exc
        except FactUnavailable as exc:
            _failures[name] = exc
            raise
        return _cache[name]


def section(name: str, script: str, key: str) -> Any:
    """One key of a batched area query; a missing key or an error object is unavailable.

    Area scripts put ``{"error": "..."}`` under a key whose cmdlet failed (access denied, no
    such module), so one failing cmdlet does not lose the rest of the batch.
    """
    data = query(name, script)
    if not isinstance(data, dict) or key not in data:
        raise FactUnavailable(f"PowerShell query {name} did not return {key}")
    value = data[key]
    if isinstance(value, dict) and set(value) == {"error"}:
        raise FactUnavailable(f"{key}: {value['error']}")
    return value


def as_list(value: Any) -> list[Any]:
    """``ConvertTo-Json`` writes a one-element array as a bare object and none as null."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def clear_cache() -> None:
    """Forget cached results and failures so that the next collection asks again."""
    with _lock:
        _cache.clear()
        _failures.clear()


_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_DMTF = re.compile(r"^(\d{14})\.(\d{6})([+-]\d{3})$")


def parse_datetime(value: Any) -> datetime | None:
    """Decode a date as PowerShell/CIM serialise it; ``None`` when absent or unparseable.

    Windows PowerShell 5.1's ConvertTo-Json writes DateTime as ``/Date(1700000000000)/``
    (milliseconds since the epoch, UTC); PowerShell 7 writes ISO 8601; raw WMI properties use the
    DMTF form ``20231105093000.000000+420`` (offset in minutes). Results are UTC-aware.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dict) and "value" in value:  # [DateTime] wrapped with DisplayHint
        value = value["value"]
    text = str(value).strip()
    if m := _MS_DATE.match(text):
        return datetime.fromtimestamp(int(m.group(1)) / 1000, tz=UTC)
    if m := _DMTF.match(text):
        local = datetime.strptime(m.group(1), "%Y%m%d%H%M%S")
        offset = timedelta(minutes=int(m.group(3)))
        return (local - offset).replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
