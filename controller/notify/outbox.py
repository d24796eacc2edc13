"""The event API: ``enqueue(session, Notice(...), config)`` queues a notice for its recipients.

The caller passes its own session, so the notice is queued in the same transaction as whatever
caused it (a finding opened): both are stored, or neither. Queuing the same ``key`` again adds
nothing, whichever process does it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from controller.notify.config import SEVERITIES, NotifyConfig
from controller.notify.digest import next_digest_at
from controller.notify.routing import Recipient, recipients
from controller.store.notifications import NewDelivery, add_deliveries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """Something an officer should hear about.

    ``key`` identifies the event (``"finding:42:opened"``): a notice with a key already queued
    is never sent again. ``subject`` and ``body`` are ``{"vi": ..., "en": ...}``; ``data`` is
    free JSON passed to webhooks as is.
    """

    key: str
    unit_id: str
    severity: str
    kind: str
    subject: dict[str, str]
    body: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if not 0 < len(self.key) <= 400 or not self.key.isprintable() or " " in self.key:
            # The key travels in mail headers: no spaces, no line breaks.
            raise ValueError("Notice.key must be 1 to 400 printable characters without spaces")
        if self.severity not in SEVERITIES:
            raise ValueError(f"Notice.severity {self.severity!r} is not one of {SEVERITIES}")
        for name in ("subject", "body"):
            text = getattr(self, name)
            if not text.get("vi") or not text.get("en"):
                raise ValueError(f"Notice.{name} needs both 'vi' and 'en' texts")
        if self.occurred_at.tzinfo is None:
            raise ValueError("Notice.occurred_at must be an aware datetime")


def enqueue(
    s: Session, notice: Notice, config: NotifyConfig, *, now: datetime | None = None
) -> int:
    """Queue ``notice`` for every matching route's recipients; returns the rows added.

    Critical notices are due at once; the others wait for the next daily digest. Nothing is
    committed here.
    """
    now = now or datetime.now(UTC)
    targets = recipients(s, config, notice.unit_id, notice.severity)
    if not targets:
        log.debug("notice %s: no route matches unit %s", notice.key, notice.unit_id)
        return 0
    digest = notice.severity != "critical"
    due = next_digest_at(now, config.digest_hour, config.zone) if digest else now
    return _queue(s, notice, targets, digest=digest, due=due)


def enqueue_direct(
    s: Session, notice: Notice, targets: Sequence[Recipient], *, now: datetime | None = None
) -> int:
    """Queue ``notice`` for ``targets`` as given, due at once (no routes, no digest).

    For senders that name their own recipients: a report schedule mails its report to the
    addresses it lists. Queuing the same key for the same target again adds nothing.
    """
    return _queue(s, notice, targets, digest=False, due=now or datetime.now(UTC))


def _queue(
    s: Session, notice: Notice, targets: Sequence[Recipient], *, digest: bool, due: datetime
) -> int:
    return add_deliveries(
        s,
        [
            NewDelivery(
                dedupe_key=f"{notice.key}|{target.channel}|{target.recipient}",
                event_key=notice.key,
                unit_id=notice.unit_id,
                severity=notice.severity,
                kind=notice.kind,
                channel=target.channel,
                recipient=target.recipient,
                language=target.language,
                subject={"vi": notice.subject["vi"], "en": notice.subject["en"]},
                body={"vi": notice.body["vi"], "en": notice.body["en"]},
                data=notice.data,
                occurred_at=notice.occurred_at,
                digest=digest,
                next_attempt_at=due,
            )
            for target in targets
        ],
    )
