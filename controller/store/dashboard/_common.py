"""What every dashboard read shares: the scope filter, query errors, ratios, the host state."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, false, func, literal, or_, select, true
from sqlalchemy.orm import Session

from controller.store.models import Agent, Asset, NetworkDevice, Office, PrinterState, Unit
from controller.store.scope import UnitScope

#: Severities from the most to the least urgent (findings and rules use these).
SEVERITIES = ("critical", "high", "medium", "low", "info")
#: Connection state of an agent: heard within ``stale_after``, not since, never.
HostState = Literal["online", "stale", "never"]
HOST_STATES: tuple[HostState, ...] = ("online", "stale", "never")
#: Open findings: still failing and not exempted (acknowledged ones are being handled).
OPEN_STATUSES = ("open", "acknowledged")
DEFAULT_STALE_AFTER = timedelta(hours=1)
MAX_PER_PAGE = 200


class QueryError(ValueError):
    """A dashboard query parameter is not valid (the routes answer 400 with the message)."""


@dataclass(frozen=True, slots=True)
class Ratio:
    """A figure shown as a share: ``numerator`` of ``denominator`` (rate None when 0 of 0)."""

    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        """``numerator / denominator``, or None when there is nothing to count."""
        return self.numerator / self.denominator if self.denominator else None


def unit_filter(column: Any, scope: UnitScope) -> ColumnElement[bool]:
    """``column IN scope`` (always true for the whole district, false for an empty scope)."""
    if scope is None:
        return true()
    if not scope:
        return false()
    return column.in_(sorted(scope))  # type: ignore[no-any-return]


def scoped_units(s: Session, scope: UnitScope, unit: str | None) -> UnitScope:
    """The scope narrowed to ``unit``'s subtree (an unknown or hidden unit: nothing)."""
    if unit is None:
        return scope
    from controller.store.scope import unit_subtree

    subtree = unit_subtree(s, unit)
    return subtree if scope is None else subtree & scope


def state_of(last_seen_at: datetime | None, now: datetime, stale_after: timedelta) -> HostState:
    """The connection state of an agent last heard at ``last_seen_at``."""
    if last_seen_at is None:
        return "never"
    return "online" if last_seen_at >= now - stale_after else "stale"


def state_expression(now: datetime, stale_after: timedelta) -> ColumnElement[str]:
    """:func:`state_of` in SQL, over ``agents.last_seen_at``."""
    return case(
        (Agent.last_seen_at.is_(None), "never"),
        (Agent.last_seen_at >= now - stale_after, "online"),
        else_="stale",
    )


def classified_agent() -> ColumnElement[bool]:
    """An agent whose computer is classified: enrolled by carried files, or a classified asset.

    The same rule as :func:`controller.findings.hosts.load_hosts` (the controller decides).
    """
    linked = (
        select(Asset.id)
        .where(
            Asset.agent_id == Agent.id,
            Asset.retired_at.is_(None),
            Asset.classification == "classified",
        )
        .exists()
    )
    return or_(Agent.offline.is_(True), linked)


_HEX = re.compile(r"[0-9a-f]+")
_MAC_SEPARATORS = re.compile(r"[:\-.\s]")


def mac_digits(text: str) -> str | None:
    """The hex digits of ``text`` if it reads as (part of) a MAC in a common notation.

    ``AA-BB-CC``, ``aa:bb:cc:dd:ee:ff``, ``aabb.ccdd.eeff`` and ``AABBCCDDEEFF`` all give the
    bare lower-case digits; anything else (a host name, a user) gives None. At least four
    digits, so that searching "ab" does not match every MAC.
    """
    cleaned = text.strip().lower()
    if not any(sep in cleaned for sep in ":-.") and len(cleaned) != 12:
        return None
    digits = _MAC_SEPARATORS.sub("", cleaned)
    if len(digits) < 4 or len(digits) > 12 or not _HEX.fullmatch(digits):
        return None
    return digits


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards escaped (``\\`` is the escape character)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page_bounds(page: int, per_page: int) -> tuple[int, int]:
    """Validated ``(offset, limit)`` of a page."""
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise QueryError(f"page must be a whole number from 1, not {page!r}")
    if not isinstance(per_page, int) or isinstance(per_page, bool):
        raise QueryError(f"per_page must be a whole number, not {per_page!r}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise QueryError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
    return (page - 1) * per_page, per_page


def choice(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """``value`` if it is one of ``allowed`` (or None), else a :class:`QueryError`."""
    options = tuple(allowed)
    if value is None or value in options:
        return value
    raise QueryError(f"{name} must be one of {', '.join(options)}, not {value!r}")


def unit_names(s: Session, scope: UnitScope) -> dict[str, str]:
    """``{unit_id: name}`` of the units in scope."""
    query = select(Unit.id, Unit.name).where(unit_filter(Unit.id, scope))
    return {uid: name for uid, name in s.execute(query)}


def all_of(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """The conjunction of ``conditions`` (true when there is none)."""
    return and_(true(), *conditions)


#: The classified-computer tripwire's rule (controller.findings.tripwire.RULE; the store does not
#: import the findings package, which imports the store).
TRIPWIRE_RULE = "BMNN-04"
#: Asset kinds counted as computers and printers (as controller.findings.hosts, RULES.md CQĐT-08).
COMPUTER_KINDS = ("desktop", "laptop", "all_in_one")
PRINTER_KINDS = ("printer",)
#: Asset states that no longer count as equipment in use.
GONE_STATES = ("disposed", "repurposed")

#: Days (the compliance trend, certificate validity) are Vietnam's calendar days.
TIME_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def local_day(moment: datetime) -> date:
    """The calendar day in Vietnam at ``moment`` (an aware time)."""
    return moment.astimezone(TIME_ZONE).date()


#: A unit of :func:`unit_tree`: ``(id, name, kind, parent_id, depth)``.
TreeUnit = tuple[str, str, str, str | None, int]


def unit_tree(s: Session, scope: UnitScope) -> list[TreeUnit]:
    """Units in scope in tree order (parents before children, siblings by name):
    ``(id, name, kind, parent_id, depth)``, depth counted from the top of the organisation."""
    rows = s.execute(select(Unit.id, Unit.name, Unit.kind, Unit.parent_id)).all()
    known = {row[0] for row in rows}
    children: dict[str | None, list[tuple[str, str, str, str | None]]] = {}
    for uid, name, kind, parent in rows:
        # A parent that does not exist makes a root (hand-edited data must not hide a unit).
        children.setdefault(parent if parent in known else None, []).append(
            (uid, name, kind, parent)
        )
    ordered: list[TreeUnit] = []
    seen: set[str] = set()
    stack = [(row, 0) for row in sorted(children.get(None, []), key=lambda r: r[1], reverse=True)]
    while stack:
        (uid, name, kind, parent), depth = stack.pop()
        if uid in seen:
            continue
        seen.add(uid)
        if scope is None or uid in scope:
            ordered.append((uid, name, kind, parent, depth))
        below = sorted(children.get(uid, []), key=lambda r: r[1], reverse=True)
        stack.extend((row, depth + 1) for row in below)
    return ordered


def live_asset() -> ColumnElement[bool]:
    """An asset still in the organisation: not retired, not disposed of or repurposed."""
    return Asset.retired_at.is_(None) & Asset.state.not_in(GONE_STATES)


def office_equipment(s: Session, scope: UnitScope) -> dict[tuple[str, str], list[int]]:
    """``{(unit_id, office_id): [computers, printers]}`` of every live office in scope.

    Computers and printers come from the register (assets) and the network devices (network
    printers, and devices of another kind that answered SNMP as printers), as RULES.md CQĐT-08
    counts them.
    """
    offices = {
        (unit_id, office_id): [0, 0]
        for unit_id, office_id in s.execute(
            select(Office.unit_id, Office.id).where(
                Office.retired_at.is_(None), unit_filter(Office.unit_id, scope)
            )
        )
    }
    if not offices:
        return offices
    for unit_id, office_id, kind, n in [
        *s.execute(
            select(Asset.unit_id, Asset.office_id, Asset.kind, func.count())
            .where(live_asset(), Asset.office_id.is_not(None), unit_filter(Asset.unit_id, scope))
            .group_by(Asset.unit_id, Asset.office_id, Asset.kind)
        ),
        *s.execute(
            select(NetworkDevice.unit_id, NetworkDevice.office_id, NetworkDevice.kind, func.count())
            .where(
                NetworkDevice.retired_at.is_(None),
                NetworkDevice.office_id.is_not(None),
                unit_filter(NetworkDevice.unit_id, scope),
            )
            .group_by(NetworkDevice.unit_id, NetworkDevice.office_id, NetworkDevice.kind)
        ),
        # A device of another kind (a copier filed as "other") that SNMP found to be a printer
        # (Printer-MIB answered) is a printer of its office too.
        *s.execute(
            select(
                NetworkDevice.unit_id,
                NetworkDevice.office_id,
                literal(PRINTER_KINDS[0]),
                func.count(),
            )
            .join(PrinterState, PrinterState.device_id == NetworkDevice.id)
            .where(
                NetworkDevice.retired_at.is_(None),
                NetworkDevice.office_id.is_not(None),
                NetworkDevice.kind.not_in(PRINTER_KINDS),
                unit_filter(NetworkDevice.unit_id, scope),
            )
            .group_by(NetworkDevice.unit_id, NetworkDevice.office_id)
        ),
    ]:
        slot = offices.get((unit_id, office_id))
        if slot is None:
            continue
        if kind in COMPUTER_KINDS:
            slot[0] += int(n)
        elif kind in PRINTER_KINDS:
            slot[1] += int(n)
    return offices
