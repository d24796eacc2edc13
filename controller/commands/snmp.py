"""``govguard snmp poll|devices|macs|printers``: SNMP rounds now, and what they found."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from controller.commands.common import CliError, now, open_engine, print_table, settings, when

if TYPE_CHECKING:
    from controller.discovery.credentials import Credential
    from controller.discovery.profiles import ProfileSet
    from controller.discovery.results import DeviceResult
    from controller.settings import Settings
    from controller.store.discovery_queries import Owner


def load_secrets(current: Settings) -> dict[str, Credential]:
    """The SNMP credentials of the data directory; :class:`CliError` when there are none or
    they cannot be used."""
    from controller.discovery.credentials import (
        CredentialError,
        credentials_path,
        load_credentials,
    )

    try:
        found = load_credentials(current.data_dir)
    except CredentialError as exc:
        raise CliError(str(exc)) from exc
    path = credentials_path(current.data_dir)
    if not found and not path.exists():
        raise CliError(
            f"{path}: no such file, and no GOVGUARD_SNMP_* variable: no SNMP credentials to "
            "poll with (docs/discovery.md)"
        )
    return found


def load_device_profiles(current: Settings) -> ProfileSet:
    """The shipped device profiles and ``snmp.profiles_dir``'s; :class:`CliError` if broken."""
    from controller.discovery.profiles import ProfileError, load_profiles

    try:
        return load_profiles(current.snmp.profiles_dir)
    except ProfileError as exc:
        raise CliError(str(exc)) from exc


def _progress_line(result: DeviceResult) -> str:
    if result.ok:
        state = f"ok     {result.values:>6} values"
    else:
        state = f"error  {result.error or 'unknown'}"
    return f"{result.device_id:<32} {state}  {result.elapsed_s:.2f} s"


def poll(args: argparse.Namespace) -> int:
    """Run one round now in the foreground, stored exactly as the worker stores its rounds."""
    from controller.discovery.rounds import RoundBusyError, holder_name, run_leased, run_round
    from controller.store import db
    from controller.store.discovery_queries import unknown_devices

    current = settings(args)
    devices: list[str] = list(dict.fromkeys(args.devices or []))
    with open_engine(current) as engine:
        sessions = db.session_factory(engine)
        with sessions() as s:
            unknown = unknown_devices(s, devices)
        if unknown:
            raise CliError(
                f"unknown network device {unknown[0]!r} (`govguard snmp devices` lists them)"
            )
        credentials = load_secrets(current)
        profiles = load_device_profiles(current)

        def progress(result: DeviceResult) -> None:
            if not args.quiet:
                print(_progress_line(result), flush=True)

        at = now()
        try:
            result = run_leased(
                sessions,
                holder_name("cli"),
                at,
                lambda: run_round(
                    sessions,
                    current,
                    credentials,
                    profiles,
                    device_ids=devices or None,
                    progress=progress,
                    at=at,
                ),
                full=not devices,
                lease=current.periodic.lease,
            )
        except RoundBusyError as exc:
            raise CliError(str(exc)) from exc
    print(result.line())
    return 0


def devices(args: argparse.Namespace) -> int:
    """The organisation file's network devices and their last poll."""
    from controller.store.discovery_queries import device_rows

    current = settings(args)
    with open_engine(current) as engine:
        from controller.store import db

        with db.session_factory(engine)() as s:
            rows = device_rows(s)
    print_table(
        ("ID", "KIND", "UNIT", "IP", "STATUS", "LAST OK", "PORTS", "UPLINKS", "VALUES", "PROFILE"),
        [
            (
                r.device_id,
                r.kind,
                r.unit_id,
                r.ip or "-",
                _status(r.polled_at is not None, r.ok_at == r.polled_at, r.error),
                when(r.ok_at) if r.ok_at else "-",
                str(r.ports),
                str(r.uplinks),
                str(r.values),
                r.profile or "-",
            )
            for r in rows
        ],
        "no network devices in the organisation file",
    )
    return 0


def _status(polled: bool, ok: bool, error: str | None) -> str:
    if not polled:
        return "never polled"
    if ok:
        return "ok"
    return (error or "error")[:60]


def _owner(owner: Owner | None) -> str:
    if owner is None:
        return "unmanaged"
    if owner.kind == "agent":
        return f"{owner.hostname} ({owner.asset_id})" if owner.asset_id else str(owner.hostname)
    if owner.kind == "asset":
        marked = " CLASSIFIED" if owner.classification == "classified" else ""
        return f"asset {owner.asset_id}{marked}"
    return f"device {owner.device_id}"


def macs(args: argparse.Namespace) -> int:
    """The current MAC table (one device, or all) with whom each MAC belongs to."""
    from controller.store import db
    from controller.store.discovery_queries import mac_table, unknown_devices

    current = settings(args)
    since = now() - timedelta(seconds=current.snmp.sighting_stale_s)
    with open_engine(current) as engine, db.session_factory(engine)() as s:
        if args.device is not None and unknown_devices(s, [args.device]):
            raise CliError(f"unknown network device {args.device!r}")
        rows = mac_table(s, since=since, device_id=args.device, unmanaged=args.unmanaged)
    print_table(
        ("MAC", "DEVICE", "PORT", "VLAN", "UPLINK", "BELONGS TO", "FIRST SEEN", "LAST SEEN"),
        [
            (
                r.mac,
                r.device_id,
                r.port_name or str(r.if_index),
                str(r.vlan),
                "yes" if r.uplink else "",
                _owner(r.owner),
                when(r.first_seen),
                when(r.last_seen),
            )
            for r in rows
        ],
        "no MAC addresses seen" + (" on access ports without an owner" if args.unmanaged else ""),
    )
    return 0


def _supplies(supplies: tuple[dict[str, Any], ...]) -> str:
    parts = []
    for supply in supplies:
        name = supply.get("colour") or supply.get("name") or "?"
        percent = supply.get("percent")
        parts.append(f"{name} {percent}%" if percent is not None else f"{name} ?")
    return ", ".join(parts) or "-"


def printers(args: argparse.Namespace) -> int:
    """Network printers by office: status, supplies per colour, pages, errors."""
    from controller.store import db
    from controller.store.discovery_queries import printer_rows

    current = settings(args)
    with open_engine(current) as engine, db.session_factory(engine)() as s:
        rows = printer_rows(s)
    print_table(
        ("UNIT", "OFFICE", "PRINTER", "STATUS", "SUPPLIES", "PAGES", "ERRORS", "UPDATED"),
        [
            (
                r.unit_id,
                r.office_id or "-",
                r.device_id,
                f"{r.status or '?'}/{r.device_status or '?'}",
                _supplies(r.supplies),
                str(r.pages) if r.pages is not None else "-",
                ", ".join(r.errors) or "-",
                when(r.updated_at),
            )
            for r in rows
        ],
        "no network printer polled yet",
    )
    return 0


def _snmp_configured(current: Settings) -> bool:
    """Whether SNMP credentials exist (the file, or GOVGUARD_SNMP_* variables): without any the
    worker runs its other work and no SNMP rounds."""
    import os

    from controller.discovery.credentials import credentials_path

    return credentials_path(current.data_dir).exists() or any(
        name.startswith("GOVGUARD_SNMP_") for name in os.environ
    )


def worker(args: argparse.Namespace) -> int:
    """Run SNMP rounds (on schedule and on request), SSH collections (on schedule) and
    remediation runs (queued by jobs) until SIGTERM or Ctrl-C."""
    import logging
    import signal
    import threading

    from controller.commands.ssh import ingest_writer
    from controller.discovery.rounds import SnmpRounds
    from controller.discovery.ssh_rounds import SshRounds
    from controller.findings.policies import PolicyCache
    from controller.remediation.model import playbooks_dir
    from controller.remediation.worker import RemediationWorker
    from controller.store import db

    current = settings(args)
    # The one-line summary of each round is the worker's whole output.
    logging.getLogger("controller.discovery.rounds").setLevel(logging.INFO)
    # One line per remediation run's end (and per interrupted run).
    logging.getLogger("controller.remediation.worker").setLevel(logging.INFO)
    stop = threading.Event()
    with open_engine(current) as engine:
        snmp_on = _snmp_configured(current)
        if snmp_on:
            load_secrets(current)  # refuse to start with unusable secrets, not at the first round
        profiles = load_device_profiles(current)
        rounds = SnmpRounds(
            db.session_factory(engine),
            current,
            profiles,
            policies=PolicyCache(current.data_dir),
        )
        previous = {
            sig: signal.signal(sig, lambda *_: stop.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        interval = current.snmp.interval_s
        print(
            "govguard worker: no SNMP rounds (no SNMP credentials: docs/discovery.md)"
            if not snmp_on else
            f"govguard worker: SNMP rounds every {interval} s" if interval else
            "govguard worker: SNMP rounds only when asked for (snmp.interval_s is 0)",
            file=sys.stderr, flush=True,
        )  # fmt: skip
        ssh_every = current.ssh.interval_s
        print(
            f"govguard worker: SSH collection every {ssh_every} s" if ssh_every else
            "govguard worker: SSH collection only by `govguard ssh collect` (ssh.interval_s is 0)",
            file=sys.stderr, flush=True,
        )  # fmt: skip
        collections = SshRounds(db.session_factory(engine), current, ingest_writer(current))
        remediation = RemediationWorker(db.session_factory(engine), current)
        folder = playbooks_dir(current.remediation.playbooks_dir)
        print(
            f"govguard worker: remediation runs up to {current.remediation.max_concurrent} at "
            f"once, playbooks from {folder}",
            file=sys.stderr, flush=True,
        )  # fmt: skip
        # Before the first claim: runs a dead worker of this machine left "running" end
        # "interrupted" now, not after the heartbeat limit.
        remediation.start()
        if snmp_on:
            rounds.start()
        collections.start()
        try:
            stop.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            print("govguard worker: stopping", file=sys.stderr, flush=True)
            # Running playbooks are stopped and their runs end "interrupted" (never rerun).
            remediation.stop(timeout_s=60)
            collections.stop(timeout_s=current.ssh.command_timeout_s + 30)
            rounds.stop(timeout_s=current.snmp.timeout_s * (current.snmp.retries + 1) + 30)
            rounds.release()
    return 0
