"""Rows of ``port_actions`` (switch-port shutdowns and their undos) and the ports they act on.

State changes are conditional UPDATEs (``WHERE id = ? AND state IN (...)``): a decision or a
claim succeeds only from the state its caller saw, so two operators clicking at once, or two
workers applying at once, never both win. The domain rules (who may do what, when) are in
:mod:`controller.discovery.enforcement`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from controller.store.findings import open_key
from controller.store.models import (
    AssetMac,
    Finding,
    MacSighting,
    NetInterface,
    NetworkDevice,
    PortAction,
)
from controller.store.scope import UnitScope

#: States of an action that is still on its way to the switch.
LIVE = ("pending", "approved", "applying")
#: Every state, in the order of the lifecycle.
STATES = ("pending", "approved", "applying", "applied", "failed", "rejected")


def add(s: Session, row: PortAction) -> PortAction:
    """Insert ``row`` and flush (its id is known afterwards)."""
    s.add(row)
    s.flush()
    return row


def get(s: Session, action_id: int) -> PortAction | None:
    """The action ``action_id`` as the database has it now, or None.

    Read afresh: the state changes are UPDATE statements that bypass the session's copies.
    """
    return s.get(PortAction, action_id, populate_existing=True)


def device(s: Session, device_id: str) -> NetworkDevice | None:
    """The network device ``device_id`` (retired ones included), or None."""
    return s.get(NetworkDevice, device_id)


def interface(s: Session, device_id: str, if_index: int) -> NetInterface | None:
    """The port as of the device's last answered poll, or None when no poll saw it."""
    return s.get(NetInterface, (device_id, if_index))


def interface_named(s: Session, device_id: str, name: str) -> NetInterface | None:
    """The port of ``device_id`` whose ifName (else ifDescr) is ``name``, or None."""
    return s.scalar(
        select(NetInterface)
        .where(
            NetInterface.device_id == device_id,
            or_(NetInterface.name == name, NetInterface.descr == name),
        )
        .order_by(NetInterface.if_index)
        .limit(1)
    )


def live_for_port(s: Session, device_id: str, if_index: int) -> PortAction | None:
    """The port's action that is still pending, approved or being applied (the oldest)."""
    return s.scalar(
        select(PortAction)
        .where(
            PortAction.device_id == device_id,
            PortAction.if_index == if_index,
            PortAction.state.in_(LIVE),
        )
        .order_by(PortAction.id)
        .limit(1)
    )


def proposed_for(s: Session, device_id: str, if_index: int, finding_id: int) -> bool:
    """Whether a shutdown of this port was ever proposed for this finding (in any state).

    A rejected or undone proposal is an operator's decision: the next poll must not bring it
    back while the same finding stays open.
    """
    found = s.scalar(
        select(PortAction.id)
        .where(
            PortAction.device_id == device_id,
            PortAction.if_index == if_index,
            PortAction.finding_id == finding_id,
            PortAction.action == "down",
        )
        .limit(1)
    )
    return found is not None


def undos_of(s: Session, action_ids: Collection[int]) -> dict[int, PortAction]:
    """``{shutdown id: its newest undo}`` for those of ``action_ids`` that have one that did not
    fail or was not rejected (a failed undo may be tried again)."""
    if not action_ids:
        return {}
    rows = s.scalars(
        select(PortAction)
        .where(
            PortAction.undo_of.in_(sorted(action_ids)),
            PortAction.state.not_in(("failed", "rejected")),
        )
        .order_by(PortAction.id)
    )
    return {row.undo_of: row for row in rows if row.undo_of is not None}


def transition(
    s: Session, action_id: int, from_states: Sequence[str], values: dict[str, Any]
) -> bool:
    """Set ``values`` on the action if it is in one of ``from_states``; whether it was."""
    result = s.execute(
        update(PortAction)
        .where(PortAction.id == action_id, PortAction.state.in_(tuple(from_states)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed = int(getattr(result, "rowcount", 0)) == 1
    if changed:
        row = s.get(PortAction, action_id)
        if row is not None:
            s.refresh(row)
    return changed


def due(s: Session, stale_before: datetime) -> list[int]:
    """Ids of approved actions, and of actions a process claimed before ``stale_before`` and
    never finished (it died), oldest first."""
    return list(
        s.scalars(
            select(PortAction.id)
            .where(
                or_(
                    PortAction.state == "approved",
                    and_(PortAction.state == "applying", PortAction.applied_at < stale_before),
                )
            )
            .order_by(PortAction.id)
        )
    )


def claim(s: Session, action_id: int, at: datetime, stale_before: datetime) -> bool:
    """Take the action for applying (approved → applying, stamped ``at``); commit right after.

    A claim older than ``stale_before`` is taken over: setting ifAdminStatus twice to the same
    value is harmless, a port left half-decided is not.
    """
    result = s.execute(
        update(PortAction)
        .where(
            PortAction.id == action_id,
            or_(
                PortAction.state == "approved",
                and_(PortAction.state == "applying", PortAction.applied_at < stale_before),
            ),
        )
        .values(state="applying", applied_at=at, error=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


def finish(s: Session, action_id: int, claimed_at: datetime, values: dict[str, Any]) -> bool:
    """End the claim made at ``claimed_at`` (only its holder's claim matches); whether it did."""
    result = s.execute(
        update(PortAction)
        .where(
            PortAction.id == action_id,
            PortAction.state == "applying",
            PortAction.applied_at == claimed_at,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


def set_admin_up(s: Session, device_id: str, if_index: int, up: bool) -> None:
    """Record the port's new administrative status until the next poll reads it again."""
    s.execute(
        update(NetInterface)
        .where(NetInterface.device_id == device_id, NetInterface.if_index == if_index)
        .values(admin_up=up)
        .execution_options(synchronize_session=False)
    )


def asset_macs(s: Session, asset_id: str) -> list[str]:
    """The MACs the organisation file lists for ``asset_id``."""
    return list(s.scalars(select(AssetMac.mac).where(AssetMac.asset_id == asset_id)))


@dataclass(frozen=True, slots=True)
class SeenPort:
    """A port where a MAC is currently learnt."""

    device_id: str
    if_index: int
    mac: str
    vlan: int


def ports_of_macs(s: Session, macs: Collection[str], since: datetime) -> list[SeenPort]:
    """Ports whose forwarding table showed one of ``macs`` at or after ``since``."""
    if not macs:
        return []
    rows = s.execute(
        select(MacSighting.device_id, MacSighting.if_index, MacSighting.mac, MacSighting.vlan)
        .where(MacSighting.mac.in_(sorted(macs)), MacSighting.last_seen >= since)
        .order_by(MacSighting.device_id, MacSighting.if_index, MacSighting.mac)
    )
    return [SeenPort(*row) for row in rows]


def live_finding_id(s: Session, subject: str, rule_id: str) -> int | None:
    """The id of ``subject``'s live finding for ``rule_id``, or None."""
    return s.scalar(select(Finding.id).where(Finding.open_key == open_key(subject, rule_id)))


@dataclass(frozen=True, slots=True)
class ActionView:
    """One action as a page or ``govguard ports list`` shows it."""

    action: PortAction
    device_name: str
    port_name: str | None
    uplink: bool
    #: The live undo of an applied shutdown (None: none, or not a shutdown).
    undo: PortAction | None


def list_views(
    s: Session,
    scope: UnitScope,
    *,
    states: Sequence[str] | None = None,
    device_id: str | None = None,
    limit: int = 200,
) -> list[ActionView]:
    """Actions on devices of ``scope`` (newest first), with their device and port names."""
    query = (
        select(PortAction, NetworkDevice.name, NetInterface.name, NetInterface.uplink)
        .join(NetworkDevice, NetworkDevice.id == PortAction.device_id)
        .outerjoin(
            NetInterface,
            and_(
                NetInterface.device_id == PortAction.device_id,
                NetInterface.if_index == PortAction.if_index,
            ),
        )
        .order_by(PortAction.id.desc())
        .limit(limit)
    )
    if scope is not None:
        query = query.where(PortAction.unit_id.in_(sorted(scope)))
    if states:
        query = query.where(PortAction.state.in_(tuple(states)))
    if device_id is not None:
        query = query.where(PortAction.device_id == device_id)
    rows = s.execute(query).all()
    undos = undos_of(s, [r[0].id for r in rows if r[0].action == "down"])
    return [
        ActionView(row, device_name, port_name, bool(uplink), undos.get(row.id))
        for row, device_name, port_name, uplink in rows
    ]
