"""Read model of the hardware inventory and ageing report.

Computers are the register's live computers (desktop, laptop, all-in-one) and the active agents
that no live asset points at. Kinds, operating systems and office equipment are grouped in SQL;
CPU, memory, disks and the BIOS date live only in each agent's last full report, so they are
read in one streamed query (``yield_per``) and each body is decoded into a narrow structure
holding just those fields: memory stays flat whatever the fleet size.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime

import msgspec
from sqlalchemy import ColumnElement, LargeBinary, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from controller.store.dashboard._common import COMPUTER_KINDS, GONE_STATES, unit_filter
from controller.store.models import Agent, Asset, HostFacts, Office
from controller.store.scope import UnitScope

#: Rows fetched per round trip while streaming report bodies.
STREAM_CHUNK = 1000
#: Bytes of each stored body read first: enough for the hardware section of a usual report.
HEAD_BYTES = 4096
#: Bytes inflated at a time while looking for the end of the hardware section.
INFLATE_CHUNK = 2048
_HARDWARE_KEY = b'"hardware":'
#: The top-level key agents write right after ``hardware`` (the report's field order).
_NEXT_KEY = b',"os":'


class _Cpu(msgspec.Struct):
    model: str | None = None
    physical_cores: int | None = None
    logical_cpus: int | None = None


class _Memory(msgspec.Struct):
    total_bytes: int | None = None


class _Disk(msgspec.Struct):
    size_bytes: int | None = None
    media: str | None = None
    removable: bool | None = None


class _Bios(msgspec.Struct):
    release_date: str | None = None


class _Hardware(msgspec.Struct):
    form_factor: str | None = None
    cpu: _Cpu | None = None
    memory: _Memory | None = None
    disks: list[_Disk] | None = None
    bios: _Bios | None = None


class _Body(msgspec.Struct):
    hardware: _Hardware | None = None


_DECODER = msgspec.json.Decoder(_Body)


@dataclass(frozen=True, slots=True)
class Specs:
    """The hardware facts of one computer's last full report (None: not reported)."""

    form_factor: str | None
    cpu_model: str | None
    logical_cpus: int | None
    memory_bytes: int | None
    #: Capacity of the fixed (not removable) disks, and their media: ssd, hdd or None.
    disk_bytes: int | None
    disk_media: str | None
    bios_date: date | None


NO_SPECS = Specs(None, None, None, None, None, None, None)


@dataclass(frozen=True, slots=True)
class Computer:
    """One computer of the inventory: a register record, an agent, or both."""

    unit_id: str
    #: desktop, laptop, all_in_one; None for an agent the register does not list.
    kind: str | None
    asset_id: str | None
    agent_id: str | None
    classified: bool
    purchased_at: date | None
    specs: Specs


@dataclass(frozen=True, slots=True)
class UnregisteredAgent:
    """An active agent no live asset of the register points at."""

    agent_id: str
    unit_id: str
    hostname: str
    os_name: str | None
    serial: str | None
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class AgentlessAsset:
    """A live computer of the register without an active agent."""

    asset_id: str
    unit_id: str
    kind: str
    office_id: str | None
    hostname: str | None
    classified: bool


def _cut(stream: bytes, complete: bool) -> bytes | None:
    """The body inflated up to the end of its hardware section, closed as a JSON object.

    ``stream`` is the gzip body, or only its first bytes (``complete`` False). Inflating is most
    of the cost of reading a body, and agents write ``hardware`` second, right before ``os`` (a
    few kilobytes of a fifty-kilobyte report): stopping there makes the hardware report several
    times faster at fleet size. ``,"os":`` cannot occur inside the hardware section (no key of
    it is called ``os``; quotes inside strings are escaped). When the section's end is not
    found: the whole inflated body if ``stream`` is complete, else None (read the whole body).
    """
    inflater = zlib.decompressobj(wbits=31)  # a gzip stream
    head = b""
    pending = stream
    while True:
        head += inflater.decompress(pending, INFLATE_CHUNK)
        pending = inflater.unconsumed_tail
        start = head.find(_HARDWARE_KEY)
        if start >= 0:
            end = head.find(_NEXT_KEY, start)
            if end >= 0:
                return head[:end] + b"}"
        if not pending:
            return head + inflater.flush() if complete else None


def _specs(document: bytes) -> Specs:
    """The hardware facts of an inflated (possibly cut) report body."""
    try:
        hardware = _DECODER.decode(document).hardware
    except msgspec.DecodeError:
        return NO_SPECS
    return _specs_from(hardware)


def _specs_head(head: bytes | None, complete: bool) -> Specs | None:
    """The hardware facts from the first bytes of a body; None when they do not reach the end
    of the hardware section (the whole body is needed)."""
    if head is None:
        return NO_SPECS
    try:
        document = _cut(head, complete)
    except zlib.error:
        return NO_SPECS
    return _specs(document) if document is not None else None


def specs_of(full_body: bytes | None) -> Specs:
    """The hardware facts of a stored full report body (gzip JSON); :data:`NO_SPECS` when the
    body is missing or does not read."""
    if full_body is None:
        return NO_SPECS
    try:
        document = _cut(full_body, complete=True)
    except zlib.error:
        return NO_SPECS
    return _specs(document) if document is not None else NO_SPECS


def _specs_from(hardware: _Hardware | None) -> Specs:
    """The facts the report keeps of a decoded hardware section."""
    if hardware is None:
        return NO_SPECS
    fixed = [d for d in hardware.disks or () if not d.removable]
    sizes = [d.size_bytes for d in fixed if d.size_bytes is not None]
    media = {d.media for d in fixed}
    bios = None
    if hardware.bios is not None and hardware.bios.release_date:
        try:
            bios = date.fromisoformat(hardware.bios.release_date[:10])
        except ValueError:
            bios = None
    return Specs(
        form_factor=hardware.form_factor,
        cpu_model=hardware.cpu.model.strip() if hardware.cpu and hardware.cpu.model else None,
        logical_cpus=hardware.cpu.logical_cpus if hardware.cpu else None,
        memory_bytes=hardware.memory.total_bytes if hardware.memory else None,
        disk_bytes=sum(sizes) if sizes else None,
        disk_media="ssd" if "ssd" in media else "hdd" if "hdd" in media else None,
        bios_date=bios,
    )


def computers(s: Session, scope: UnitScope) -> Iterator[Computer]:
    """Every computer of the scope: the register's live computers (with their agent's specs
    when an active agent is linked), then the active agents no live asset points at.

    Only the first :data:`HEAD_BYTES` of each body leave the database (PostgreSQL reads just
    those pages of a stored value); the few bodies whose hardware section ends further on are
    read whole afterwards, by batches of ids.
    """
    live = and_(Asset.retired_at.is_(None), Asset.state.not_in(GONE_STATES))
    head = func.substr(HostFacts.full_body, 1, HEAD_BYTES, type_=LargeBinary).label("head")
    complete = (func.length(HostFacts.full_body) <= HEAD_BYTES).label("complete")
    registered = (
        select(
            Asset.unit_id,
            Asset.kind,
            Asset.id,
            Agent.id.label("agent_id"),
            Asset.classification,
            Asset.purchased_at,
            head,
            complete,
        )
        .outerjoin(Agent, and_(Agent.id == Asset.agent_id, Agent.status == "active"))
        .outerjoin(HostFacts, HostFacts.agent_id == Agent.id)
        .where(live, Asset.kind.in_(COMPUTER_KINDS), unit_filter(Asset.unit_id, scope))
        .execution_options(yield_per=STREAM_CHUNK)
    )
    later: list[Computer] = []
    for row in s.execute(registered):
        computer = Computer(
            unit_id=row.unit_id,
            kind=row.kind,
            asset_id=row.id,
            agent_id=row.agent_id,
            classified=row.classification == "classified",
            purchased_at=row.purchased_at,
            specs=NO_SPECS,
        )
        specs = _specs_head(row.head, bool(row.complete))
        if specs is None:
            later.append(computer)
        else:
            yield replace(computer, specs=specs)
    loose = (
        select(Agent.unit_id, Agent.id, Agent.offline, head, complete)
        .outerjoin(HostFacts, HostFacts.agent_id == Agent.id)
        .where(Agent.status == "active", unit_filter(Agent.unit_id, scope), _unlinked())
        .execution_options(yield_per=STREAM_CHUNK)
    )
    for other in s.execute(loose):
        computer = Computer(
            unit_id=other.unit_id,
            kind=None,
            asset_id=None,
            agent_id=other.id,
            classified=bool(other.offline),
            purchased_at=None,
            specs=NO_SPECS,
        )
        specs = _specs_head(other.head, bool(other.complete))
        if specs is None:
            later.append(computer)
        else:
            yield replace(computer, specs=specs)
    for start in range(0, len(later), STREAM_CHUNK):
        batch = later[start : start + STREAM_CHUNK]
        bodies = {
            agent_id: body
            for agent_id, body in s.execute(
                select(HostFacts.agent_id, HostFacts.full_body).where(
                    HostFacts.agent_id.in_([c.agent_id for c in batch])
                )
            )
        }
        for computer in batch:
            yield replace(computer, specs=specs_of(bodies.get(computer.agent_id or "")))


def _unlinked() -> ColumnElement[bool]:
    return not_(
        select(Asset.id)
        .where(
            Asset.agent_id == Agent.id, Asset.retired_at.is_(None), Asset.state.not_in(GONE_STATES)
        )
        .exists()
    )


def operating_systems(s: Session, scope: UnitScope) -> list[tuple[str | None, str | None, int]]:
    """``(os name, version, active agents)``, most common first (unknown last among equals)."""
    rows = s.execute(
        select(HostFacts.os_name, HostFacts.os_version, func.count())
        .select_from(Agent)
        .outerjoin(HostFacts, HostFacts.agent_id == Agent.id)
        .where(Agent.status == "active", unit_filter(Agent.unit_id, scope))
        .group_by(HostFacts.os_name, HostFacts.os_version)
    )
    found = [(name, version, int(count)) for name, version, count in rows]
    # Sorted here: the dialects place NULLs differently.
    found.sort(key=lambda r: (-r[2], r[0] is None, r[0] or "", r[1] or ""))
    return found


def unregistered_agents(
    s: Session, scope: UnitScope, limit: int
) -> tuple[list[UnregisteredAgent], int]:
    """The first ``limit`` active agents (by unit, host name) that the register does not list,
    and how many there are. Offline agents are the classified audit's (never listed here)."""
    where = (
        Agent.status == "active",
        Agent.offline.is_(False),
        unit_filter(Agent.unit_id, scope),
        _unlinked(),
    )
    total = s.scalar(select(func.count()).select_from(Agent).where(*where))
    rows = s.execute(
        select(
            Agent.id,
            Agent.unit_id,
            Agent.hostname,
            HostFacts.os_name,
            HostFacts.serial,
            Agent.last_seen_at,
        )
        .outerjoin(HostFacts, HostFacts.agent_id == Agent.id)
        .where(*where)
        .order_by(Agent.unit_id, Agent.hostname, Agent.id)
        .limit(limit)
    )
    return [UnregisteredAgent(*row) for row in rows], int(total or 0)


def agentless_assets(s: Session, scope: UnitScope, limit: int) -> tuple[list[AgentlessAsset], int]:
    """The first ``limit`` live computers of the register (by unit, asset id) with no active
    agent, and how many there are."""
    active = select(Agent.id).where(Agent.id == Asset.agent_id, Agent.status == "active").exists()
    where = (
        Asset.retired_at.is_(None),
        Asset.state.not_in(GONE_STATES),
        Asset.kind.in_(COMPUTER_KINDS),
        unit_filter(Asset.unit_id, scope),
        or_(Asset.agent_id.is_(None), not_(active)),
    )
    total = s.scalar(select(func.count()).select_from(Asset).where(*where))
    rows = s.execute(
        select(
            Asset.id,
            Asset.unit_id,
            Asset.kind,
            Asset.office_id,
            Asset.hostname,
            Asset.classification,
        )
        .where(*where)
        .order_by(Asset.unit_id, Asset.id)
        .limit(limit)
    )
    return [
        AgentlessAsset(
            r.id, r.unit_id, r.kind, r.office_id, r.hostname, r.classification == "classified"
        )
        for r in rows
    ], int(total or 0)


def office_names(s: Session, scope: UnitScope) -> dict[tuple[str, str], str]:
    """``{(unit_id, office_id): name}`` of the live offices in scope."""
    return {
        (unit_id, office_id): name
        for unit_id, office_id, name in s.execute(
            select(Office.unit_id, Office.id, Office.name).where(
                Office.retired_at.is_(None), unit_filter(Office.unit_id, scope)
            )
        )
    }
