"""One SNMP round over many devices: a concurrency limit, per-device timeouts, typed results.

For each device: a GET of the system group first (no answer: the device fails with
``timeout`` after one ``timeout_s × (retries + 1)`` and nothing else is asked); then the profile
its sysObjectID picks; then the profile's tables, each walked on its own (concurrently), so a
table that fails becomes a warning of that device and the rest still count. Tables that only
stand in for another (BRIDGE-MIB's forwarding table for Q-BRIDGE's, ipNetToMediaTable for
ipNetToPhysicalTable) are walked only when the other gave nothing.

``DeviceResult.error`` starts with the kind of failure: ``timeout:``, ``auth:``, ``config:`` or
``snmp:``, then the detail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.discovery import decode
from controller.discovery.credentials import Credential
from controller.discovery.profiles import Profile, ProfileSet, Table
from controller.discovery.results import DeviceResult
from controller.discovery.snmp import (
    Client,
    Oid,
    SnmpAuthError,
    SnmpError,
    SnmpTimeout,
    Target,
    Value,
    parse_oid,
)
from controller.settings import SnmpConfig
from controller.store.models import NetworkDevice

__all__ = ["SNMP_PORT", "SYSTEM", "poll_devices", "poll_round", "targets_from_store"]

log = logging.getLogger(__name__)

SNMP_PORT = 161
#: The system group (SNMPv2-MIB), asked of every device before anything else.
SYSTEM: dict[str, Oid] = {
    name: parse_oid(oid)
    for name, oid in (
        ("sysDescr", "1.3.6.1.2.1.1.1.0"),
        ("sysObjectID", "1.3.6.1.2.1.1.2.0"),
        ("sysUpTime", "1.3.6.1.2.1.1.3.0"),
        ("sysContact", "1.3.6.1.2.1.1.4.0"),
        ("sysName", "1.3.6.1.2.1.1.5.0"),
        ("sysLocation", "1.3.6.1.2.1.1.6.0"),
        # IF-MIB ifNumber: how many rows ifTable has, so its walk asks no more than that.
        ("ifNumber", "1.3.6.1.2.1.2.1.0"),
    )
}
#: A column walked only when the one it stands in for came back empty.
FALLBACKS = {
    "dot1dTpFdbPort": "dot1qTpFdbPort",
    "ipNetToMediaPhysAddress": "ipNetToPhysicalPhysAddress",
}
# sysUpTime is in hundredths of a second.
_TICKS = 100

Progress = Callable[[DeviceResult], None]


async def poll_devices(
    targets: Sequence[Target],
    *,
    config: SnmpConfig,
    profiles: ProfileSet,
    progress: Progress | None = None,
) -> list[DeviceResult]:
    """Poll ``targets`` (at most ``config.concurrency`` at once); one result per target, in
    the targets' order. Never raises for a device: its failure is in its result."""
    limit = asyncio.Semaphore(config.concurrency)
    async with Client(
        timeout_s=config.timeout_s,
        retries=config.retries,
        max_repetitions=config.max_repetitions,
    ) as client:

        async def one(target: Target) -> DeviceResult:
            async with limit:
                result = await _poll_guarded(client, target, profiles)
            if progress is not None:
                progress(result)
            return result

        return list(await asyncio.gather(*(one(target) for target in targets)))


def poll_round(
    targets: Sequence[Target],
    *,
    config: SnmpConfig,
    profiles: ProfileSet,
    progress: Progress | None = None,
) -> list[DeviceResult]:
    """:func:`poll_devices` from synchronous code (its own event loop)."""
    return asyncio.run(poll_devices(targets, config=config, profiles=profiles, progress=progress))


def targets_from_store(
    s: Session,
    credentials: dict[str, Credential],
    device_ids: Sequence[str] | None = None,
) -> tuple[list[Target], list[DeviceResult]]:
    """The organisation file's live network devices that have an IP address, as targets.

    A device without a credential, or whose credential has no secret in ``credentials``,
    comes back as a failed result (``config: ...``) instead. ``device_ids`` narrows the
    choice; an id that is not a live device with an address is reported the same way.
    """
    query = select(NetworkDevice).where(
        NetworkDevice.retired_at.is_(None), NetworkDevice.ip.is_not(None)
    )
    if device_ids is not None:
        query = query.where(NetworkDevice.id.in_(list(device_ids)))
    devices = list(s.scalars(query.order_by(NetworkDevice.id)))
    targets: list[Target] = []
    failed: list[DeviceResult] = []
    for device in devices:
        name = device.snmp_credential
        credential = credentials.get(name) if name else None
        if credential is None:
            why = (
                "the device names no snmp_credential"
                if not name
                else f"no secret for SNMP credential {name!r} (secrets/snmp.yaml or environment)"
            )
            failed.append(DeviceResult(device.id, ok=False, elapsed_s=0.0, error=f"config: {why}"))
            continue
        host, port = _address(device.ip or "")
        targets.append(Target(device_id=device.id, host=host, port=port, credential=credential))
    if device_ids is not None:
        found = {d.id for d in devices}
        for device_id in device_ids:
            if device_id not in found:
                failed.append(
                    DeviceResult(
                        device_id,
                        ok=False,
                        elapsed_s=0.0,
                        error="config: not a live network device with an ip address",
                    )
                )
    return targets, failed


def _address(ip: str) -> tuple[str, int]:
    """``10.0.0.1``, ``10.0.0.1:1161``, ``fe80::1`` or ``[fe80::1]:1161``."""
    ip = ip.strip()
    if ip.startswith("["):
        host, _, rest = ip[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else SNMP_PORT
    if ip.count(":") == 1:
        host, _, port = ip.partition(":")
        if port.isdigit():
            return host, int(port)
    return ip, SNMP_PORT


async def _poll_guarded(client: Client, target: Target, profiles: ProfileSet) -> DeviceResult:
    started = time.monotonic()
    try:
        return await _poll(client, target, profiles, started)
    except SnmpTimeout as exc:
        error = f"timeout: {exc}"
    except SnmpAuthError as exc:
        error = f"auth: {exc}"
    except SnmpError as exc:
        error = f"snmp: {exc}"
    except Exception as exc:  # one device's surprise must not end the round (STYLE.md)
        log.warning("SNMP poll of %s failed", target.device_id, exc_info=True)
        error = f"snmp: unexpected {type(exc).__name__}: {exc}"
    return DeviceResult(
        target.device_id,
        ok=False,
        elapsed_s=round(time.monotonic() - started, 3),
        error=error,
        values=client.received.get(target.device_id, 0),
    )


async def _poll(
    client: Client, target: Target, profiles: ProfileSet, started: float
) -> DeviceResult:
    answer = await client.get(target, list(SYSTEM.values()))
    system = {name: answer.get(oid) for name, oid in SYSTEM.items()}
    sys_object_id = system["sysObjectID"] if isinstance(system["sysObjectID"], str) else None
    profile = profiles.match(sys_object_id)
    warnings: list[str] = []
    columns: dict[str, dict[Oid, Value]] = {}
    extra = [s for s in profile.scalars if SYSTEM.get(s.name) != s.oid]
    if extra:
        try:
            values = await client.get(target, [s.oid for s in extra])
            system.update((s.name, values.get(s.oid)) for s in extra)
        except SnmpError as exc:
            warnings.append(f"scalars: {exc}")
    if_number = system["ifNumber"] if isinstance(system["ifNumber"], int) else None
    await _walk_tables(client, target, profile, columns, warnings, if_number)
    uptime = system["sysUpTime"]
    return DeviceResult(
        target.device_id,
        ok=True,
        elapsed_s=round(time.monotonic() - started, 3),
        profile=profile.name,
        sys_name=decode.text(system["sysName"]),
        sys_descr=decode.text(system["sysDescr"]),
        sys_object_id=sys_object_id,
        uptime_s=uptime // _TICKS if isinstance(uptime, int) else None,
        sys_location=decode.text(system["sysLocation"]),
        sys_contact=decode.text(system["sysContact"]),
        values=client.received.get(target.device_id, 0),
        warnings=tuple(warnings),
        **_decoded(columns, warnings),
    )


async def _walk_tables(
    client: Client,
    target: Target,
    profile: Profile,
    columns: dict[str, dict[Oid, Value]],
    warnings: list[str],
    if_number: int | None,
) -> None:
    names = profile.column_names()
    first: list[Table] = []
    later: list[Table] = []
    for table in profile.tables:
        stands_in = any(FALLBACKS.get(c.name) in names for c in table.columns)
        (later if stands_in else first).append(table)

    silent = False

    async def walk(table: Table) -> None:
        nonlocal silent
        if silent:
            # A device that stopped answering would cost each remaining table a full timeout.
            warnings.append(f"{table.name}: not asked: the device stopped answering")
            return
        try:
            rows = await client.walk(
                target, [c.oid for c in table.columns], rows_hint=_rows_hint(table, if_number)
            )
        except SnmpTimeout as exc:
            silent = True
            warnings.append(f"{table.name}: {exc}")
            return
        except SnmpError as exc:
            warnings.append(f"{table.name}: {exc}")
            return
        for column in table.columns:
            columns[column.name] = rows.get(column.oid, {})

    # One table after the other: a switch's agent is a small CPU, and a round keeps
    # ``concurrency`` devices busy anyway.
    for table in first:
        await walk(table)
    for table in later:
        if not any(columns.get(FALLBACKS.get(c.name, ""), {}) for c in table.columns):
            await walk(table)


def _rows_hint(table: Table, if_number: int | None) -> int | None:
    """ifNumber for the tables indexed by interface or bridge port, else unknown."""
    if any(c.name.startswith("if") or c.name == "dot1dBasePortIfIndex" for c in table.columns):
        return if_number
    return None


def _decoded(columns: dict[str, dict[Oid, Value]], warnings: list[str]) -> dict[str, Any]:
    """Each part of the result from the walked columns; a part that cannot be decoded is a
    warning, not a failed device."""
    parts: dict[str, Any] = {}

    def attempt(field: str, make: Callable[[], Any]) -> None:
        try:
            parts[field] = make()
        except Exception as exc:  # a malformed table must not cost the device's other parts
            log.debug("decoding %s failed", field, exc_info=True)
            warnings.append(f"{field}: cannot decode: {type(exc).__name__}: {exc}")

    attempt("interfaces", lambda: decode.interfaces(columns))
    interfaces = parts.get("interfaces", ())
    own = frozenset(i.mac for i in interfaces if i.mac)
    attempt("fdb", lambda: decode.fdb(columns, own))
    attempt("lldp", lambda: decode.lldp(columns, frozenset(i.if_index for i in interfaces)))
    attempt("arp", lambda: decode.arp(columns))
    attempt("serial", lambda: decode.serial(columns))
    attempt("printer", lambda: decode.printer(columns))
    return parts
