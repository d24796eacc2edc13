"""The few report facts the dashboard searches and sorts by, kept in plain ``host_facts`` columns.

The hosts page filters 100,000 computers by user, OS version or connectivity; decoding every
stored report body for that would take seconds. Ingest already holds each report, so it pulls
these values out once (a typed decode that skips every other field) and the upsert of
:mod:`controller.store.reports` writes them next to the body.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

import msgspec

_GZIP_MAGIC = b"\x1f\x8b"


class _Version(msgspec.Struct):
    name: str | None = None
    version: str | None = None
    display_version: str | None = None


class _User(msgspec.Struct):
    name: str | None = None


class _Os(msgspec.Struct):
    version: _Version | None = None
    users: list[_User] | None = None


class _System(msgspec.Struct):
    serial: str | None = None


class _Hardware(msgspec.Struct):
    system: _System | None = None


class _Reach(msgspec.Struct):
    reachable: bool | None = None


class _Connectivity(msgspec.Struct):
    lan: _Reach | None = None
    internet: _Reach | None = None


class _Full(msgspec.Struct):
    os: _Os | None = None
    hardware: _Hardware | None = None
    connectivity: _Connectivity | None = None


class _Beat(msgspec.Struct):
    connectivity: _Connectivity | None = None


_FULL = msgspec.json.Decoder(_Full)
_BEAT = msgspec.json.Decoder(_Beat)


@dataclass(frozen=True, slots=True)
class IndexValues:
    """What one report says about the indexed columns (None: it does not say)."""

    os_name: str | None = None
    os_version: str | None = None
    last_user: str | None = None
    serial: str | None = None
    lan_ok: bool | None = None
    internet_ok: bool | None = None


def _short(value: str | None, limit: int = 200) -> str | None:
    # Reports are hostile input: an absurdly long value must not bloat an indexed column.
    if value is None:
        return None
    value = value.strip()
    return value[:limit] or None


def _reach(conn: _Connectivity | None) -> tuple[bool | None, bool | None]:
    if conn is None:
        return None, None
    lan = conn.lan.reachable if conn.lan is not None else None
    internet = conn.internet.reachable if conn.internet is not None else None
    return lan, internet


def from_full(body: bytes) -> IndexValues:
    """The indexed values of a full report's body (gzip JSON as received, or plain JSON)."""
    try:
        raw = gzip.decompress(body) if body.startswith(_GZIP_MAGIC) else body
        report = _FULL.decode(raw)
    except (OSError, EOFError, msgspec.DecodeError):
        return IndexValues()
    os_name = os_version = user = serial = None
    if report.os is not None:
        version = report.os.version
        if version is not None:
            os_name = _short(version.name)
            os_version = _short(version.display_version or version.version)
        users = [u.name for u in report.os.users or [] if u.name]
        user = _short(users[0]) if users else None
    if report.hardware is not None and report.hardware.system is not None:
        serial = _short(report.hardware.system.serial)
    lan, internet = _reach(report.connectivity)
    return IndexValues(os_name, os_version, user, serial, lan, internet)


def from_sections(sections_json: bytes) -> tuple[bool | None, bool | None]:
    """LAN and Internet reachability a heartbeat's sections carry (None: not carried)."""
    if b"connectivity" not in sections_json and not sections_json.startswith(_GZIP_MAGIC):
        return None, None
    try:
        raw = (
            gzip.decompress(sections_json)
            if sections_json.startswith(_GZIP_MAGIC)
            else (sections_json)
        )
        beat = _BEAT.decode(raw)
    except (OSError, EOFError, msgspec.DecodeError):
        return None, None
    return _reach(beat.connectivity)
