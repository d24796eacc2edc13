"""Stable digests of a report: what decides between a full inventory and a small heartbeat.

The daemon collects every interval but sends the full inventory only when it changed (or once
a day). "Changed" must ignore the values that move on every run without meaning anything for
an administrator: timestamps, durations, free memory and disk space, probe latencies, days to
an expiry, process ids, open sessions. Those are removed (:data:`VOLATILE`) before hashing.

The inventory digest covers the slow-moving sections (identity, hardware, os, software, network,
peripherals). The posture sections (connectivity, security) have one digest each: a change
there travels in the next heartbeat, which is a few hundred bytes instead of a whole inventory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec

from agent.report import Report

#: Sections whose changes are sent as a full inventory.
INVENTORY_SECTIONS = ("identity", "hardware", "os", "software", "network", "peripherals")
#: Sections whose changes travel in heartbeats.
POSTURE_SECTIONS = ("connectivity", "security")

#: Keys removed before hashing, per section, at any depth inside it. Each one changes from run
#: to run on an unchanged computer.
VOLATILE: Mapping[str, frozenset[str]] = {
    "identity": frozenset(),
    # Disk usage moves with every file saved; the age in years ticks over by itself.
    "hardware": frozenset({"used_bytes", "free_bytes", "used_percent", "age_years"}),
    # Open sessions come and go all day; evaluated_on is the collection date.
    "os": frozenset({"users", "evaluated_on"}),
    # Whether a service or an input method runs right now follows demand (trigger-started
    # Windows services come and go) and who is logged on; start modes and packages stay.
    "software": frozenset({"running"}),
    "network": frozenset({"last_connected"}),
    # A certificate's days to expiry shrink every day; printer and reader status follow usage.
    "peripherals": frozenset({"days_to_expiry", "status"}),
    # Latencies and durations always differ; the address a name resolved to rotates with
    # round-robin DNS; days left on a certificate shrink.
    "connectivity": frozenset(
        {"latency_ms", "duration_ms", "cert_days_left", "addresses", "address"}
    ),
    # Signature age grows by the hour, the clock offset jitters, pids change on restart, the
    # last logon moves whenever someone logs on.
    "security": frozenset({"signature_age_days", "offset_seconds", "pid", "last_logon"}),
}


def stable_form(section: str, value: object) -> Any:
    """``value`` (a report section) as plain data without its volatile keys."""
    drop = VOLATILE.get(section, frozenset())
    return _strip(msgspec.to_builtins(value), drop)


def _strip(data: Any, drop: frozenset[str]) -> Any:
    if isinstance(data, dict):
        return {k: _strip(v, drop) for k, v in data.items() if k not in drop}
    if isinstance(data, list):
        return [_strip(v, drop) for v in data]
    return data


def section_digest(section: str, value: object) -> str:
    """SHA-256 hex of the stable form of one section (``"-"`` when the section is missing)."""
    if value is None:
        # A missing section (its collector failed) is a state of its own, not "unchanged".
        return "-"
    data = msgspec.json.encode(stable_form(section, value), order="sorted")
    return hashlib.sha256(data).hexdigest()


def inventory_digest(report: Report) -> str:
    """One digest over the inventory sections of ``report``."""
    hasher = hashlib.sha256()
    for name in INVENTORY_SECTIONS:
        hasher.update(f"{name}={section_digest(name, getattr(report, name))}\n".encode())
    return hasher.hexdigest()


def posture_digests(report: Report) -> dict[str, str]:
    """Digest of each posture section of ``report``, by section name."""
    return {name: section_digest(name, getattr(report, name)) for name in POSTURE_SECTIONS}
