"""The Network page's reads: polled devices, one device's ports, printers, port shutdowns.

Everything comes from what the SNMP worker stored (``net_device_state``, ``net_interfaces``,
``printer_state``, ``port_actions``) joined to the organisation file's ``network_devices``; every
query is limited to the caller's units in SQL, by the device's unit. MAC tables and the MAC
search are :mod:`controller.store.dashboard.network_macs`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from controller.store import jobs, port_actions
from controller.store.dashboard._common import (
    QueryError,
    choice,
    like_pattern,
    page_bounds,
    scoped_units,
    unit_filter,
    unit_names,
)
from controller.store.models import (
    NetDeviceState,
    NetInterface,
    NetworkDevice,
    Office,
    PortAction,
    PrinterState,
    Unit,
)
from controller.store.scope import UnitScope, in_scope

#: The job the worker runs for an SNMP round (``govguard worker``; the page only requests it).
ROUND_JOB = "snmp.round"
DEVICE_SORTS = ("name", "unit", "kind", "ip", "polled", "status")
#: A device's poll status: answered last time, failed last time, never polled.
POLL_STATUSES = ("ok", "error", "never")
PORT_ACTION_STATES = ("pending", "approved", "applying", "applied", "failed", "rejected")
#: Port actions still waiting for someone or something (the worker applies approved ones).
OPEN_ACTION_STATES = ("pending", "approved", "applying", "failed")
_MAX_Q = 200


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """Filters, sort and page of the devices list (every field optional)."""

    unit: str | None = None
    kind: str | None = None
    status: str | None = None
    q: str | None = None
    sort: str = "name"
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A network device of the organisation file and its last poll."""

    id: str
    name: str
    kind: str
    unit_id: str
    unit_name: str
    office_id: str | None
    ip: str | None
    model: str | None
    #: The register's serial and the one the device reported (ENTITY-MIB), when polled.
    serial: str | None
    polled_serial: str | None
    polled_at: datetime | None
    ok_at: datetime | None
    error: str | None
    elapsed_s: float | None
    profile: str | None
    sys_name: str | None
    sys_descr: str | None
    uptime_s: int | None
    values: int
    has_credential: bool

    @property
    def status(self) -> str:
        """``ok``, ``error`` or ``never`` (the last poll, not any earlier one)."""
        if self.polled_at is None:
            return "never"
        return "error" if self.error else "ok"

    @property
    def serial_mismatch(self) -> bool:
        """The device reports a serial different from the register's (swapped hardware?)."""
        return bool(
            self.serial
            and self.polled_serial
            and self.serial.strip().lower() != self.polled_serial.strip().lower()
        )


@dataclass(frozen=True, slots=True)
class DevicePage:
    """One page of devices, how many match, and the scope's poll figures."""

    rows: tuple[DeviceRow, ...]
    total: int
    page: int
    per_page: int
    #: Devices in scope (before filters) by poll status.
    by_status: dict[str, int]
    kinds: tuple[str, ...]

    @property
    def pages(self) -> int:
        """How many pages the matching devices fill (at least 1)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def devices(self) -> int:
        """Devices in scope, whatever the filters."""
        return sum(self.by_status.values())


@dataclass(frozen=True, slots=True)
class Port:
    """One interface of a polled device."""

    if_index: int
    name: str | None
    alias: str | None
    descr: str | None
    admin_up: bool | None
    oper_up: bool | None
    speed_mbps: int | None
    in_errors: int | None
    out_errors: int | None
    mac_count: int
    uplink: bool
    uplink_reason: str | None
    neighbour: dict[str, Any] | None
    updated_at: datetime

    @property
    def label(self) -> str:
        """The port's name as people read it (ifName, else ifDescr, else its index)."""
        return self.name or self.descr or str(self.if_index)


@dataclass(frozen=True, slots=True)
class RoundState:
    """The SNMP round job: when one was asked for, ran, and what the last one found."""

    requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    running: bool
    last_result: dict[str, Any] | None

    @property
    def waiting(self) -> bool:
        """A round was asked for and no process has finished one since."""
        if self.requested_at is None:
            return False
        return self.finished_at is None or self.requested_at > self.finished_at


def _device_columns() -> Any:
    return (
        select(
            NetworkDevice.id,
            NetworkDevice.name,
            NetworkDevice.kind,
            NetworkDevice.unit_id,
            Unit.name,
            NetworkDevice.office_id,
            NetworkDevice.ip,
            NetworkDevice.model,
            NetworkDevice.serial,
            NetDeviceState.serial,
            NetDeviceState.polled_at,
            NetDeviceState.ok_at,
            NetDeviceState.error,
            NetDeviceState.elapsed_s,
            NetDeviceState.profile,
            NetDeviceState.sys_name,
            NetDeviceState.sys_descr,
            NetDeviceState.uptime_s,
            NetDeviceState.values,
            NetworkDevice.snmp_credential,
        )
        .join(Unit, Unit.id == NetworkDevice.unit_id)
        .outerjoin(NetDeviceState, NetDeviceState.device_id == NetworkDevice.id)
    )


def _device_row(values: Any) -> DeviceRow:
    (
        device_id, name, kind, unit_id, unit_name, office_id, ip, model, serial, polled_serial,
        polled_at, ok_at, error, elapsed_s, profile, sys_name, sys_descr, uptime_s, n_values,
        credential,
    ) = values  # fmt: skip
    return DeviceRow(
        id=device_id,
        name=name,
        kind=kind,
        unit_id=unit_id,
        unit_name=unit_name,
        office_id=office_id,
        ip=ip,
        model=model,
        serial=serial,
        polled_serial=polled_serial,
        polled_at=polled_at,
        ok_at=ok_at,
        error=error,
        elapsed_s=elapsed_s,
        profile=profile,
        sys_name=sys_name,
        sys_descr=sys_descr,
        uptime_s=uptime_s,
        values=int(n_values or 0),
        has_credential=credential is not None,
    )


def _status_condition(status: str) -> ColumnElement[bool]:
    if status == "never":
        return NetDeviceState.polled_at.is_(None)
    if status == "error":
        return NetDeviceState.error.is_not(None)
    return NetDeviceState.polled_at.is_not(None) & NetDeviceState.error.is_(None)


def _sorted(query: Any, sort: str) -> Any:
    descending = sort.startswith("-")
    key = sort.lstrip("-")

    def direction(column: Any) -> Any:
        return column.desc() if descending else column.asc()

    name = func.lower(NetworkDevice.name)
    if key == "name":
        keys = [direction(name)]
    elif key == "unit":
        keys = [direction(Unit.name), name]
    elif key == "kind":
        keys = [direction(NetworkDevice.kind), name]
    elif key == "ip":
        # Text order ("10.0.0.11" before "10.0.0.2") is what both databases share; good enough
        # to group a subnet together.
        keys = [NetworkDevice.ip.is_(None), direction(NetworkDevice.ip)]
    elif key == "polled":
        keys = [NetDeviceState.polled_at.is_(None), direction(NetDeviceState.polled_at), name]
    else:
        # Failing first by default: what needs attention.
        failing = NetDeviceState.error.is_(None)
        never = NetDeviceState.polled_at.is_not(None)
        keys = [direction(failing), direction(never), name]
    return query.order_by(*keys, NetworkDevice.id)


def list_devices(s: Session, scope: UnitScope, query: DeviceQuery) -> DevicePage:
    """One page of the live network devices in ``scope`` with their last poll.

    ``q`` matches name, id, IP, model or the polled sysName, ignoring case; ``unit`` includes
    the units below it. Invalid values raise :class:`QueryError`.
    """
    choice("status", query.status, POLL_STATUSES)
    if query.sort.lstrip("-") not in DEVICE_SORTS:
        raise QueryError(f"sort must be one of {', '.join(DEVICE_SORTS)} (- first for descending)")
    q = (query.q or "").strip()
    if len(q) > _MAX_Q:
        raise QueryError(f"the search text is longer than {_MAX_Q} characters")
    offset, limit = page_bounds(query.page, query.per_page)
    base: list[ColumnElement[bool]] = [
        NetworkDevice.retired_at.is_(None),
        unit_filter(NetworkDevice.unit_id, scope),
    ]
    by_status = {status: 0 for status in POLL_STATUSES}
    for status in POLL_STATUSES:
        by_status[status] = int(
            s.scalar(
                select(func.count())
                .select_from(NetworkDevice)
                .outerjoin(NetDeviceState, NetDeviceState.device_id == NetworkDevice.id)
                .where(*base, _status_condition(status))
            )
            or 0
        )
    kinds = tuple(
        s.scalars(select(NetworkDevice.kind).where(*base).distinct().order_by(NetworkDevice.kind))
    )
    conditions = [
        NetworkDevice.retired_at.is_(None),
        unit_filter(NetworkDevice.unit_id, scoped_units(s, scope, query.unit)),
    ]
    if query.kind:
        conditions.append(NetworkDevice.kind == query.kind)
    if query.status:
        conditions.append(_status_condition(query.status))
    if q:
        pattern = like_pattern(q.lower())
        conditions.append(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        NetworkDevice.name,
                        NetworkDevice.id,
                        NetworkDevice.ip,
                        NetworkDevice.model,
                        NetDeviceState.sys_name,
                    )
                )
            )
        )
    total = s.scalar(
        select(func.count())
        .select_from(NetworkDevice)
        .outerjoin(NetDeviceState, NetDeviceState.device_id == NetworkDevice.id)
        .where(*conditions)
    )
    rows = s.execute(
        _sorted(_device_columns().where(*conditions), query.sort).offset(offset).limit(limit)
    )
    return DevicePage(
        rows=tuple(_device_row(v) for v in rows),
        total=int(total or 0),
        page=query.page,
        per_page=query.per_page,
        by_status=by_status,
        kinds=kinds,
    )


def get_device(s: Session, scope: UnitScope, device_id: str) -> DeviceRow | None:
    """One network device with its last poll (None: unknown, retired or outside ``scope``)."""
    values = s.execute(
        _device_columns().where(NetworkDevice.id == device_id, NetworkDevice.retired_at.is_(None))
    ).first()
    if values is None:
        return None
    row = _device_row(values)
    return row if in_scope(scope, row.unit_id) else None


def device_ports(s: Session, device_id: str) -> tuple[Port, ...]:
    """The interfaces of a device as of its last answered poll, in ifIndex order.

    The caller checked the device's scope (:func:`get_device`).
    """
    return tuple(
        Port(
            if_index=i.if_index,
            name=i.name,
            alias=i.alias,
            descr=i.descr,
            admin_up=i.admin_up,
            oper_up=i.oper_up,
            speed_mbps=i.speed_mbps,
            in_errors=i.in_errors,
            out_errors=i.out_errors,
            mac_count=i.mac_count,
            uplink=i.uplink,
            uplink_reason=i.uplink_reason,
            neighbour=i.neighbour if isinstance(i.neighbour, dict) else None,
            updated_at=i.updated_at,
        )
        for i in s.scalars(
            select(NetInterface)
            .where(NetInterface.device_id == device_id)
            .order_by(NetInterface.if_index)
        )
    )


def round_state(s: Session, now: datetime | None = None) -> RoundState:
    """The SNMP round job's state (never requested nor run: all None)."""
    job = jobs.get(s, ROUND_JOB)
    moment = now or datetime.now(UTC)
    if job is None:
        return RoundState(None, None, None, False, None)
    running = job.lease_until is not None and job.lease_until > moment
    result = job.last_result if isinstance(job.last_result, dict) else None
    return RoundState(job.requested_at, job.started_at, job.finished_at, running, result)


# --------------------------------------------------------------------------- printers


@dataclass(frozen=True, slots=True)
class Supply:
    """A toner, drum or waste container of a printer, as the printer reported it."""

    name: str
    colour: str | None
    kind: str | None
    #: Whole percent left (None: the printer does not say).
    percent: int | None
    low: bool


@dataclass(frozen=True, slots=True)
class PrinterRow:
    """A network printer of an office and its last polled state (None fields: never polled)."""

    device_id: str
    name: str
    unit_id: str
    unit_name: str
    office_id: str | None
    office_name: str | None
    ip: str | None
    model: str | None
    updated_at: datetime | None
    status: str | None
    device_status: str | None
    errors: tuple[str, ...]
    pages: int | None
    supplies: tuple[Supply, ...]
    alerts: tuple[str, ...]

    @property
    def low(self) -> bool:
        """Some supply is at or below the low threshold."""
        return any(supply.low for supply in self.supplies)


@dataclass(frozen=True, slots=True)
class PrinterPage:
    """One page of printers, ordered by unit, office and name (the page groups them)."""

    rows: tuple[PrinterRow, ...]
    total: int
    page: int
    per_page: int
    #: Printers in the filtered set with a low supply or an error.
    low: int
    with_errors: int

    @property
    def pages(self) -> int:
        """How many pages the printers fill (at least 1)."""
        return max(1, -(-self.total // self.per_page))


def _supplies(raw: Any, low_percent: int) -> tuple[Supply, ...]:
    found: list[Supply] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        percent = item.get("percent")
        percent = percent if isinstance(percent, int) and not isinstance(percent, bool) else None
        kind = item.get("kind") if isinstance(item.get("kind"), str) else None
        # A waste container fills up: its level is not something that runs out.
        consumable = kind is None or "waste" not in kind.lower()
        found.append(
            Supply(
                name=str(item.get("name") or ""),
                colour=item.get("colour") if isinstance(item.get("colour"), str) else None,
                kind=kind,
                percent=percent,
                low=consumable and percent is not None and percent <= low_percent,
            )
        )
    return tuple(found)


def _texts(raw: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in raw) if isinstance(raw, list) else ()


def list_printers(
    s: Session,
    scope: UnitScope,
    *,
    unit: str | None = None,
    low_percent: int = 10,
    page: int = 1,
    per_page: int = 100,
) -> PrinterPage:
    """Network printers of ``scope`` (``unit``'s subtree if given) with toner, status, pages.

    A printer is a live network device of kind ``printer`` or any device that answered the
    printer MIBs. ``low_percent``: a supply at or below it is low (settings ``snmp``).
    """
    offset, limit = page_bounds(page, per_page)
    units = scoped_units(s, scope, unit)
    # Correlated on the device only: the main query joins printer_state too.
    has_state = (
        select(PrinterState.device_id)
        .where(PrinterState.device_id == NetworkDevice.id)
        .correlate(NetworkDevice)
        .exists()
    )
    live = [NetworkDevice.retired_at.is_(None), unit_filter(NetworkDevice.unit_id, units)]
    conditions = [*live, or_(NetworkDevice.kind == "printer", has_state)]
    total = int(s.scalar(select(func.count()).select_from(NetworkDevice).where(*conditions)) or 0)
    query = (
        select(NetworkDevice, Unit.name, Office.name, PrinterState)
        .join(Unit, Unit.id == NetworkDevice.unit_id)
        .outerjoin(
            Office,
            (Office.unit_id == NetworkDevice.unit_id) & (Office.id == NetworkDevice.office_id),
        )
        .outerjoin(PrinterState, PrinterState.device_id == NetworkDevice.id)
        .where(*conditions)
        .order_by(Unit.name, Office.name.is_(None), Office.name, func.lower(NetworkDevice.name))
    )
    rows: list[PrinterRow] = []
    for device, unit_name, office_name, state in s.execute(query.offset(offset).limit(limit)):
        rows.append(
            PrinterRow(
                device_id=device.id,
                name=device.name,
                unit_id=device.unit_id,
                unit_name=unit_name,
                office_id=device.office_id,
                office_name=office_name,
                ip=device.ip,
                model=device.model,
                updated_at=state.updated_at if state else None,
                status=state.status if state else None,
                device_status=state.device_status if state else None,
                errors=_texts(state.errors) if state else (),
                pages=state.pages if state else None,
                supplies=_supplies(state.supplies, low_percent) if state else (),
                alerts=_texts(state.alerts) if state else (),
            )
        )
    low = with_errors = 0
    # The figures cover every page; supplies are JSON, so they are counted here, not in SQL.
    for supplies, errors in s.execute(
        select(PrinterState.supplies, PrinterState.errors)
        .join(NetworkDevice, NetworkDevice.id == PrinterState.device_id)
        .where(*live)
    ):
        low += any(x.low for x in _supplies(supplies, low_percent))
        with_errors += bool(_texts(errors))
    return PrinterPage(tuple(rows), total, page, per_page, low, with_errors)


# --------------------------------------------------------------------------- port actions


@dataclass(frozen=True, slots=True)
class PortActionRow:
    """A switch port shutdown or its undo, waiting for approval or done."""

    id: int
    device_id: str
    device_name: str
    if_index: int
    port_name: str | None
    uplink: bool
    action: str
    state: str
    unit_id: str
    unit_name: str
    subject: str | None
    mac: str | None
    finding_id: int | None
    reason: str | None
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    applied_at: datetime | None
    error: str | None
    undo_of: int | None
    #: The undo on its way for an applied shutdown (None: none).
    undo_id: int | None
    #: What the caller's buttons may do now (``approve``, ``reject``, ``undo``).
    buttons: tuple[str, ...]


#: Given an action and its live undo (if any), the buttons allowed on it now:
#: :func:`controller.discovery.enforcement.buttons` (the store does not import the domain).
Buttons = Callable[[PortAction, PortAction | None], tuple[str, ...]]


def list_port_actions(
    s: Session,
    scope: UnitScope,
    *,
    buttons: Buttons,
    states: Sequence[str] | None = None,
    device_id: str | None = None,
    limit: int = 100,
) -> tuple[PortActionRow, ...]:
    """Port actions of ``scope`` (``states`` only, if given), newest first, as page rows.

    The rows are :func:`controller.store.port_actions.list_views` read into plain values, so a
    template never touches an ORM object after the session ended.
    """
    for state in states or ():
        choice("state", state, PORT_ACTION_STATES)
    if not 1 <= limit <= 1000:
        raise QueryError(f"limit must be between 1 and 1000, not {limit}")
    views = port_actions.list_views(s, scope, states=states, device_id=device_id, limit=limit)
    names = unit_names(s, scope)
    return tuple(
        PortActionRow(
            id=v.action.id,
            device_id=v.action.device_id,
            device_name=v.device_name,
            if_index=v.action.if_index,
            port_name=v.port_name,
            uplink=v.uplink,
            action=v.action.action,
            state=v.action.state,
            unit_id=v.action.unit_id,
            unit_name=names.get(v.action.unit_id, v.action.unit_id),
            subject=v.action.subject,
            mac=v.action.mac,
            finding_id=v.action.finding_id,
            reason=v.action.reason,
            requested_by=v.action.requested_by,
            requested_at=v.action.requested_at,
            decided_by=v.action.decided_by,
            decided_at=v.action.decided_at,
            applied_at=v.action.applied_at,
            error=v.action.error,
            undo_of=v.action.undo_of,
            undo_id=v.undo.id if v.undo is not None else None,
            buttons=buttons(v.action, v.undo),
        )
        for v in views
    )


def count_open_port_actions(s: Session, scope: UnitScope) -> int:
    """Port actions of ``scope`` waiting for approval (the Network page's badge)."""
    return int(
        s.scalar(
            select(func.count())
            .select_from(PortAction)
            .where(unit_filter(PortAction.unit_id, scope), PortAction.state == "pending")
        )
        or 0
    )
