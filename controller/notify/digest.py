"""When non-critical notices go out (the daily digest), and how claimed rows are batched."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from controller.store.models import Notification


def next_digest_at(after: datetime, hour: int, zone: ZoneInfo) -> datetime:
    """The first ``hour``:00 local time strictly after ``after`` (an aware datetime)."""
    local = after.astimezone(zone)
    candidate = datetime.combine(local.date(), time(hour), tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=zone)
    return candidate


def batches(rows: Iterable[Notification]) -> list[list[Notification]]:
    """One batch per immediate row; digest rows grouped per channel, recipient and language.

    A batch is one e-mail or one webhook call.
    """
    immediate: list[list[Notification]] = []
    grouped: dict[tuple[str, str, str], list[Notification]] = {}
    for row in rows:
        if row.digest:
            grouped.setdefault((row.channel, row.recipient, row.language), []).append(row)
        else:
            immediate.append([row])
    return immediate + list(grouped.values())
