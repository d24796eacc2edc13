"""Shutting a classified computer's switch port down by SNMP SET, only after an operator says so.

Off by default: only units listed in ``snmp.enforce_units`` (with the units below them) get
proposals, and a proposal never applies itself. The life of a :class:`PortAction`::

    pending ──approve──▶ approved ──(worker claims)──▶ applying ──▶ applied | failed
       │                    │
       └──reject──▶ rejected ◀──reject──┘         failed ──approve (retry)──▶ approved
    applied shutdown ──undo──▶ a new "up" action, approved at once (one click), same path

- :func:`propose_for_sightings` (the SNMP round, in the tripwire's transaction): a classified
  computer's MAC seen on an *access* port of a switch in an enforced unit proposes a shutdown
  (``requested_by`` ``controller:tripwire``). Uplinks are never proposed: shutting one cuts a
  whole floor off.
- :func:`request_shutdown`: an operator's own request (CLI or dashboard); an uplink is refused
  unless ``force`` (the CLI's ``--force``, audited as such).
- :func:`approve`, :func:`reject`, :func:`undo`: the operator's decisions.
- :func:`apply_approved` (``govguard worker``, or ``govguard ports approve --apply-now``): the
  SNMP SET itself, in the process that holds the SNMP credentials, never the web process.

Every transition is written to the audit log (target ``port_action:<id>``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from controller.findings.tripwire import RULE as TRIPWIRE_RULE
from controller.findings.tripwire import Sighting, normal_mac
from controller.settings import Settings
from controller.store import audit
from controller.store import port_actions as store
from controller.store.models import PortAction
from controller.store.scope import UnitScope, in_scope, unit_subtree

if TYPE_CHECKING:
    from controller.discovery.credentials import Credential

log = logging.getLogger(__name__)

#: Who proposes shutdowns on its own (the audit log's actor and ``requested_by``).
TRIPWIRE_ACTOR = "controller:tripwire"
#: The actor of the SET when the worker applies it.
WORKER_ACTOR = "controller:worker"
#: A claim older than this belongs to a process that died before it finished.
CLAIM_LIFETIME = timedelta(minutes=10)
#: The most characters an operator's reason keeps.
MAX_REASON = 500

#: The buttons each state allows (an applied shutdown offers ``undo`` unless one is on its way:
#: see :func:`buttons`).
BUTTONS: dict[str, tuple[str, ...]] = {
    "pending": ("approve", "reject"),
    "approved": ("reject",),
    "applying": (),
    "applied": ("undo",),
    "failed": ("approve",),
    "rejected": (),
}


class EnforcementError(Exception):
    """A request or decision that is not allowed now; the message says why (English)."""


class NotFoundError(EnforcementError):
    """No such action or device, or one outside the caller's units (the same answer)."""


class UplinkRefusedError(EnforcementError):
    """A shutdown of an uplink port, which cuts every computer behind it off."""


def buttons(action: PortAction, undo: PortAction | None) -> tuple[str, ...]:
    """What an operator may do with ``action`` now; ``undo`` is its live undo, if any."""
    allowed = BUTTONS.get(action.state, ())
    if "undo" in allowed and (action.action != "down" or undo is not None):
        allowed = tuple(b for b in allowed if b != "undo")
    return allowed


def _clean_reason(reason: str | None) -> str | None:
    text = (reason or "").strip()
    return text[:MAX_REASON] if text else None


def _details(row: PortAction, **more: object) -> dict[str, object]:
    """What the audit log keeps of an action (never a secret: no credential, no community)."""
    details: dict[str, object] = {
        "device": row.device_id,
        "if_index": row.if_index,
        "action": row.action,
        "state": row.state,
    }
    for key in ("subject", "mac", "finding_id", "undo_of"):
        value = getattr(row, key)
        if value is not None:
            details[key] = value
    details.update({k: v for k, v in more.items() if v is not None})
    return details


def _record(
    s: Session,
    actor: str,
    event: str,
    row: PortAction,
    at: datetime,
    source: str | None,
    **more: object,
) -> None:
    audit.record(
        s,
        actor,
        f"port.{event}",
        f"port_action:{row.id}",
        _details(row, **more),
        at=at,
        source=source,
    )


def request_shutdown(
    s: Session,
    *,
    device_id: str,
    if_index: int,
    actor: str,
    at: datetime,
    reason: str | None = None,
    subject: str | None = None,
    mac: str | None = None,
    finding_id: int | None = None,
    force: bool = False,
    source: str | None = None,
    scope: UnitScope = None,
) -> PortAction:
    """Ask for port ``if_index`` of ``device_id`` to be shut down; the action waits (pending).

    Refused: an unknown or retired device, a device outside ``scope``, a port no poll has seen
    or an uplink (both unless ``force``), and a port that already has a live action.
    """
    device = store.device(s, device_id)
    if device is None or device.retired_at is not None or not in_scope(scope, device.unit_id):
        raise NotFoundError(f"unknown network device {device_id!r}")
    port = store.interface(s, device_id, if_index)
    if port is None and not force:
        raise EnforcementError(
            f"port {if_index} of {device_id} is unknown (no poll has seen it); poll the device "
            "first, or force the request"
        )
    if port is not None and port.uplink and not force:
        raise UplinkRefusedError(
            f"port {if_index} ({port.name or '?'}) of {device_id} is an uplink "
            f"({port.uplink_reason or 'detected'}): shutting it down cuts off every computer "
            "behind it; only `govguard ports request --force` may do that"
        )
    existing = store.live_for_port(s, device_id, if_index)
    if existing is not None:
        raise EnforcementError(
            f"port {if_index} of {device_id} already has action {existing.id} ({existing.action}, "
            f"{existing.state})"
        )
    row = store.add(
        s,
        PortAction(
            device_id=device_id,
            if_index=if_index,
            action="down",
            state="pending",
            unit_id=device.unit_id,
            subject=subject,
            mac=normal_mac(mac) if mac else None,
            finding_id=finding_id,
            reason=_clean_reason(reason),
            requested_by=actor,
            requested_at=at,
        ),
    )
    uplink = port is not None and port.uplink
    _record(
        s,
        actor,
        "requested",
        row,
        at,
        source,
        reason=row.reason,
        forced=True if force else None,
        uplink=True if uplink else None,
    )
    return row


def enforced_units(s: Session, settings: Settings) -> frozenset[str]:
    """The units of ``snmp.enforce_units`` and every unit below them (empty: enforcement off)."""
    units: set[str] = set()
    for unit_id in settings.snmp.enforce_units:
        units |= unit_subtree(s, unit_id)
    return frozenset(units)


def _macs_of(s: Session, sighting: Sighting) -> set[str]:
    macs = {normal_mac(sighting.matched["mac"])} if sighting.matched.get("mac") else set()
    if sighting.asset_id:
        macs |= {normal_mac(m) for m in store.asset_macs(s, sighting.asset_id)}
    return macs


def propose_for_sightings(
    s: Session, settings: Settings, sightings: Sequence[Sighting], at: datetime
) -> list[PortAction]:
    """Propose shutting the access ports where sighted classified computers are plugged in.

    Called after the tripwire opened (or refreshed) its findings, in the same transaction. A
    port qualifies when its switch belongs to an enforced unit, a poll saw it and it is no
    uplink, and one of the computer's MACs was learnt on it within ``snmp.sighting_stale_s``.
    A port never gets a second proposal for the same finding (a rejected one stays rejected)
    nor while it has a live action. Returns the new proposals.
    """
    if not settings.snmp.enforce_units or not sightings:
        return []
    enforced = enforced_units(s, settings)
    if not enforced:
        log.warning("snmp.enforce_units names no known unit: %s", settings.snmp.enforce_units)
        return []
    since = at - timedelta(seconds=settings.snmp.sighting_stale_s)
    proposed: list[PortAction] = []
    for sighting in sightings:
        finding_id = store.live_finding_id(s, sighting.subject, TRIPWIRE_RULE)
        for seen in store.ports_of_macs(s, _macs_of(s, sighting), since):
            action = _propose(s, sighting, seen, finding_id, enforced, at)
            if action is not None:
                proposed.append(action)
    return proposed


def _propose(
    s: Session,
    sighting: Sighting,
    seen: store.SeenPort,
    finding_id: int | None,
    enforced: frozenset[str],
    at: datetime,
) -> PortAction | None:
    device = store.device(s, seen.device_id)
    if device is None or device.retired_at is not None or device.unit_id not in enforced:
        return None
    port = store.interface(s, seen.device_id, seen.if_index)
    if port is None or port.uplink:
        return None
    if store.live_for_port(s, seen.device_id, seen.if_index) is not None:
        return None
    if finding_id is not None and store.proposed_for(s, seen.device_id, seen.if_index, finding_id):
        return None
    row = store.add(
        s,
        PortAction(
            device_id=seen.device_id,
            if_index=seen.if_index,
            action="down",
            state="pending",
            unit_id=device.unit_id,
            subject=sighting.subject,
            mac=seen.mac,
            finding_id=finding_id,
            reason=None,
            requested_by=TRIPWIRE_ACTOR,
            requested_at=at,
        ),
    )
    _record(s, TRIPWIRE_ACTOR, "proposed", row, at, None, vlan=seen.vlan, port=port.name)
    return row


def _get(s: Session, action_id: int, scope: UnitScope) -> PortAction:
    row = store.get(s, action_id)
    if row is None or not in_scope(scope, row.unit_id):
        raise NotFoundError(f"no port action {action_id}")
    return row


def _decide(
    s: Session,
    action_id: int,
    *,
    from_states: Sequence[str],
    values: dict[str, object],
    verb: str,
    scope: UnitScope,
) -> PortAction:
    row = _get(s, action_id, scope)
    if row.state not in from_states or not store.transition(s, action_id, from_states, values):
        s.refresh(row)
        raise EnforcementError(f"port action {action_id} is {row.state}: it cannot be {verb}")
    return row


def approve(
    s: Session,
    action_id: int,
    actor: str,
    at: datetime,
    *,
    source: str | None = None,
    scope: UnitScope = None,
) -> PortAction:
    """Approve a pending action (or try a failed one again); the worker applies it next."""
    row = _get(s, action_id, scope)
    retry = row.state == "failed"
    row = _decide(
        s,
        action_id,
        from_states=("pending", "failed"),
        values={"state": "approved", "decided_by": actor, "decided_at": at, "error": None},
        verb="approved",
        scope=scope,
    )
    _record(s, actor, "approved", row, at, source, retry=True if retry else None)
    return row


def reject(
    s: Session,
    action_id: int,
    actor: str,
    at: datetime,
    reason: str | None = None,
    *,
    source: str | None = None,
    scope: UnitScope = None,
) -> PortAction:
    """Reject a pending action, or withdraw an approved one the worker has not taken yet."""
    text = _clean_reason(reason)
    values: dict[str, object] = {"state": "rejected", "decided_by": actor, "decided_at": at}
    if text is not None:
        values["reason"] = text
    row = _decide(
        s,
        action_id,
        from_states=("pending", "approved"),
        values=values,
        verb="rejected",
        scope=scope,
    )
    _record(s, actor, "rejected", row, at, source, reason=text)
    return row


def undo(
    s: Session,
    action_id: int,
    actor: str,
    at: datetime,
    *,
    source: str | None = None,
    scope: UnitScope = None,
) -> PortAction:
    """Bring an applied shutdown's port back up: a new ``up`` action, approved at once."""
    row = _get(s, action_id, scope)
    if row.action != "down" or row.state != "applied":
        raise EnforcementError(
            f"port action {action_id} is {row.action} {row.state}: only an applied shutdown "
            "can be undone"
        )
    existing = store.undos_of(s, [row.id]).get(row.id)
    if existing is not None:
        raise EnforcementError(
            f"port action {action_id} is already being undone by action {existing.id} "
            f"({existing.state})"
        )
    live = store.live_for_port(s, row.device_id, row.if_index)
    if live is not None:
        raise EnforcementError(
            f"port {row.if_index} of {row.device_id} has action {live.id} ({live.action}, "
            f"{live.state}) on its way; decide that one first"
        )
    new = store.add(
        s,
        PortAction(
            device_id=row.device_id,
            if_index=row.if_index,
            action="up",
            state="approved",
            unit_id=row.unit_id,
            subject=row.subject,
            mac=row.mac,
            finding_id=row.finding_id,
            reason=None,
            requested_by=actor,
            requested_at=at,
            decided_by=actor,
            decided_at=at,
            undo_of=row.id,
        ),
    )
    _record(s, actor, "undo", new, at, source)
    return new


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    device_id: str
    if_index: int
    up: bool
    claimed_at: datetime


def apply_approved(
    session_factory: Callable[[], Session],
    settings: Settings,
    credentials: dict[str, Credential],
    *,
    actor: str = WORKER_ACTOR,
    action_ids: Sequence[int] | None = None,
    now: Callable[[], datetime] | None = None,
) -> list[PortAction]:
    """Send the SNMP SET of every approved action (or of ``action_ids`` only); returns them
    as applied or failed.

    Each action is first claimed (approved → applying) in its own committed transaction, so
    two processes never both send it; the SET runs outside any transaction (a slow switch
    holds no database lock); the outcome, the port's ``admin_up`` and the audit entry are then
    written together. A switch that does not answer fails its action only (``error`` says
    why); an operator may approve it again.
    """
    clock = now or (lambda: datetime.now(UTC))
    claimed: list[_Claimed] = []
    with session_factory() as s:
        started = clock()
        ids = store.due(s, started - CLAIM_LIFETIME)
        if action_ids is not None:
            wanted = set(action_ids)
            ids = [i for i in ids if i in wanted]
        s.rollback()
        for action_id in ids:
            at = clock()
            if not store.claim(s, action_id, at, at - CLAIM_LIFETIME):
                s.rollback()
                continue  # another process took it
            row = store.get(s, action_id)
            # Read inside the claim's transaction: on SQLite a read before the next claim's
            # UPDATE would make that transaction a reader that cannot become a writer.
            if row is not None:
                s.refresh(row)
                claimed.append(
                    _Claimed(row.id, row.device_id, row.if_index, row.action == "up", at)
                )
            s.commit()
    if not claimed:
        return []
    errors = _send(session_factory, settings, credentials, claimed)
    done: list[PortAction] = []
    with session_factory() as s:
        for item in claimed:
            row = _finish(s, item, errors.get(item.id), actor, clock())
            if row is not None:
                done.append(row)
        s.commit()
    return done


def _send(
    session_factory: Callable[[], Session],
    settings: Settings,
    credentials: dict[str, Credential],
    claimed: Sequence[_Claimed],
) -> dict[int, str | None]:
    """The SET of each claimed action: ``{action id: None (done) or the error text}``."""
    # Imported here: the dashboard imports this module for the decisions only and must not
    # load the SNMP stack (the web process holds no SNMP secret and sends no SNMP).
    from controller.discovery.poller import targets_from_store
    from controller.discovery.snmp import SnmpError, Target, set_admin_status

    with session_factory() as s:
        targets, failures = targets_from_store(
            s, credentials, sorted({c.device_id for c in claimed})
        )
        s.rollback()
    by_device: dict[str, Target] = {t.device_id: t for t in targets}
    unusable = {f.device_id: f.error or "config: no usable credential" for f in failures}
    timeout_s, retries = settings.snmp.timeout_s, settings.snmp.retries

    async def one(item: _Claimed) -> str | None:
        target = by_device.get(item.device_id)
        if target is None:
            return unusable.get(item.device_id, "config: the device has no IP address")
        try:
            await set_admin_status(
                target, item.if_index, item.up, timeout_s=timeout_s, retries=retries
            )
        except SnmpError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    async def every() -> list[str | None]:
        # One action per port in a round, a few per district: sequential keeps a switch from
        # getting two SETs at once and the order of the audit log the order of approval.
        return [await one(item) for item in claimed]

    results = asyncio.run(every())
    return {item.id: error for item, error in zip(claimed, results, strict=True)}


def _finish(
    s: Session, item: _Claimed, error: str | None, actor: str, at: datetime
) -> PortAction | None:
    values: dict[str, object] = (
        {"state": "applied", "applied_at": at, "error": None}
        if error is None
        else {"state": "failed", "applied_at": at, "error": error}
    )
    if not store.finish(s, item.id, item.claimed_at, values):
        # Our claim went stale and another process took the action over: its outcome stands.
        log.warning("port action %s was taken over by another process", item.id)
        return None
    if error is None:
        store.set_admin_up(s, item.device_id, item.if_index, item.up)
    row = store.get(s, item.id)
    if row is None:
        return None
    s.refresh(row)
    _record(s, actor, "applied" if error is None else "failed", row, at, None, error=error)
    if error is not None:
        log.warning(
            "port action %s on %s port %s failed: %s", row.id, row.device_id, row.if_index, error
        )
    return row
