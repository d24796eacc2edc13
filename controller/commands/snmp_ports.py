"""``govguard ports list|request|approve|reject|undo|apply``: switch-port shutdowns by SNMP SET.

The decisions are the dashboard's (:mod:`controller.discovery.enforcement`), recorded with the
actor ``cli:<login>``. Only this command and ``govguard worker`` send the SET itself, because
they run where the data directory's SNMP secrets are: ``--apply-now`` sends it at once instead
of waiting for the worker.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from controller.commands.common import (
    CliError,
    actor,
    data_dir,
    now,
    open_engine,
    open_store,
    print_table,
    settings,
    when,
)
from controller.discovery import enforcement
from controller.settings import Settings
from controller.store import port_actions
from controller.store.models import PortAction

SOURCE = "cli"


def _action_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CliError(f"port action id must be a number, not {text!r}") from None
    if not 1 <= value <= 2**31 - 1:
        raise CliError(f"no port action {text}")
    return value


def _refused(exc: enforcement.EnforcementError) -> CliError:
    return CliError(str(exc))


def list_(args: argparse.Namespace) -> int:
    """Print port actions, newest first (every state unless ``--state``)."""
    with open_store(settings(args)) as session:
        views = port_actions.list_views(
            session, None, states=args.state, device_id=args.device, limit=args.limit
        )
        if args.json:
            json.dump([_as_json(v) for v in views], sys.stdout, ensure_ascii=False, indent=2)
            print()
            return 0
        rows = [
            (
                str(v.action.id),
                v.action.state,
                v.action.action,
                v.action.device_id,
                f"{v.action.if_index} {v.port_name or '?'}{' (uplink)' if v.uplink else ''}",
                v.action.subject or "-",
                v.action.requested_by,
                when(v.action.requested_at),
                v.action.decided_by or "-",
                ",".join(enforcement.buttons(v.action, v.undo)) or "-",
                (v.action.error or "")[:60],
            )
            for v in views
        ]
    print_table(
        (
            "ID",
            "STATE",
            "ACTION",
            "DEVICE",
            "PORT",
            "SUBJECT",
            "REQUESTED BY",
            "AT",
            "DECIDED BY",
            "NEXT",
            "ERROR",
        ),
        rows,
        "no port actions",
    )
    return 0


def _as_json(view: port_actions.ActionView) -> dict[str, Any]:
    row = view.action
    return {
        "id": row.id,
        "state": row.state,
        "action": row.action,
        "device": row.device_id,
        "device_name": view.device_name,
        "if_index": row.if_index,
        "port": view.port_name,
        "uplink": view.uplink,
        "unit": row.unit_id,
        "subject": row.subject,
        "mac": row.mac,
        "finding_id": row.finding_id,
        "reason": row.reason,
        "requested_by": row.requested_by,
        "requested_at": row.requested_at.isoformat(),
        "decided_by": row.decided_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "applied_at": row.applied_at.isoformat() if row.applied_at else None,
        "error": row.error,
        "undo_of": row.undo_of,
        "undone_by": view.undo.id if view.undo is not None else None,
        "next": list(enforcement.buttons(row, view.undo)),
    }


def request(args: argparse.Namespace) -> int:
    """Ask for a port to be shut down; it waits for an approval (``--force``: even an uplink)."""
    with open_store(settings(args)) as session:
        if_index = _port(session, args.device, args.port)
        try:
            row = enforcement.request_shutdown(
                session,
                device_id=args.device,
                if_index=if_index,
                actor=actor(),
                at=now(),
                reason=args.reason,
                force=args.force,
                source=SOURCE,
            )
        except enforcement.EnforcementError as exc:
            raise _refused(exc) from None
        action_id = row.id
    print(
        f"port action {action_id}: shutdown of {args.device} port {if_index} requested; "
        f"approve it with `govguard ports approve {action_id}`"
    )
    return 0


def _port(session: Any, device_id: str, text: str) -> int:
    """``text`` as an ifIndex: a number, else the port's name (``Gi1/0/5``)."""
    if text.isdigit():
        value = int(text)
        if not 1 <= value <= 2**31 - 1:
            raise CliError(f"port {text}: not a valid ifIndex")
        return value
    port = port_actions.interface_named(session, device_id, text)
    if port is None:
        raise CliError(f"{device_id} has no port named {text!r} (give its ifIndex instead?)")
    return port.if_index


def approve(args: argparse.Namespace) -> int:
    """Approve a pending action (or retry a failed one); ``--apply-now`` sends the SET now."""
    action_id = _action_id(args.id)
    current = settings(args)
    with open_store(current) as session:
        try:
            enforcement.approve(session, action_id, actor(), now(), source=SOURCE)
        except enforcement.EnforcementError as exc:
            raise _refused(exc) from None
    print(f"port action {action_id} approved")
    return _apply_now(args, current, [action_id]) if args.apply_now else 0


def reject(args: argparse.Namespace) -> int:
    """Reject a pending action, or withdraw an approved one the worker has not taken yet."""
    action_id = _action_id(args.id)
    with open_store(settings(args)) as session:
        try:
            enforcement.reject(session, action_id, actor(), now(), args.reason, source=SOURCE)
        except enforcement.EnforcementError as exc:
            raise _refused(exc) from None
    print(f"port action {action_id} rejected")
    return 0


def undo(args: argparse.Namespace) -> int:
    """Switch an applied shutdown's port back on (a new approved action)."""
    action_id = _action_id(args.id)
    current = settings(args)
    with open_store(current) as session:
        try:
            row = enforcement.undo(session, action_id, actor(), now(), source=SOURCE)
        except enforcement.EnforcementError as exc:
            raise _refused(exc) from None
        undo_id = row.id
    print(f"port action {undo_id} (undo of {action_id}) approved")
    return _apply_now(args, current, [undo_id]) if args.apply_now else 0


def apply(args: argparse.Namespace) -> int:
    """Send the SET of every approved action now (what ``govguard worker`` does)."""
    return _apply_now(args, settings(args), None)


def _apply_now(args: argparse.Namespace, current: Settings, ids: list[int] | None) -> int:
    """Apply ``ids`` (None: every approved action); exit status 1 if any failed."""
    from controller.discovery.credentials import CredentialError, load_credentials
    from controller.store.db import session_factory

    try:
        credentials = load_credentials(data_dir(args))
    except CredentialError as exc:
        raise CliError(str(exc)) from None
    with open_engine(current) as engine:
        done = enforcement.apply_approved(
            session_factory(engine), current, credentials, actor=actor(), action_ids=ids
        )
    if ids is not None and not done:
        raise CliError(
            f"port action {ids[0]} was not applied: another process took it, or it is no "
            "longer approved (see `govguard ports list`)"
        )
    return _report(done)


def _report(done: list[PortAction]) -> int:
    failed = 0
    for row in done:
        verb = "shut down" if row.action == "down" else "switched on"
        if row.state == "applied":
            print(f"port action {row.id}: {row.device_id} port {row.if_index} {verb}")
        else:
            failed += 1
            print(
                f"port action {row.id}: {row.device_id} port {row.if_index} failed: {row.error}",
                file=sys.stderr,
            )
    if not done:
        print("no approved port actions")
    return 1 if failed else 0
