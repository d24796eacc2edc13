"""What every dashboard read shares: the scope filter, query errors, ratios, the host state."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, false, or_, select, true
from sqlalchemy.orm import Session

from controller.store.models import Agent, Asset, Unit
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
