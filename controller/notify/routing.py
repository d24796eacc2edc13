"""Which recipients a notice goes to: the routes whose unit subtree and severity match it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from controller.notify.config import NotifyConfig, severity_rank
from controller.store.units import unit_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    """One destination: an e-mail address or a webhook name, with its language."""

    channel: str  # "email" | "webhook"
    recipient: str
    language: str


def recipients(s: Session, config: NotifyConfig, unit_id: str, severity: str) -> list[Recipient]:
    """The recipients of a notice of ``unit_id`` at ``severity``, each once.

    A route for a unit covers the units below it (a district route hears about its communes);
    a route without a unit covers everything. When two routes name the same recipient, the
    first route's language wins.
    """
    path = set(unit_path(s, unit_id))
    if not path:
        # The row would break the foreign key and with it the producer's transaction.
        log.warning("notice for unknown unit %r not queued", unit_id)
        return []
    rank = severity_rank(severity)
    found: dict[tuple[str, str], Recipient] = {}
    for route in config.routes:
        if route.unit is not None and route.unit not in path:
            continue
        if rank > severity_rank(route.min_severity):
            continue
        targets = [("email", address.lower()) for address in route.email]
        targets += [("webhook", name) for name in route.webhooks]
        for channel, target in targets:
            found.setdefault((channel, target), Recipient(channel, target, route.language))
    return list(found.values())
