"""The SNMP SET of claimed port actions: ifAdminStatus down or up, one switch port at a time.

Only :func:`controller.discovery.enforcement.apply_approved` calls this, in the process that
holds the SNMP credentials (``govguard worker`` or ``govguard ports ... --apply-now``); the
dashboard never imports it, so the web process never loads the SNMP stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from controller.discovery.credentials import Credential
from controller.discovery.poller import targets_from_store
from controller.discovery.snmp import SnmpError, Target, set_admin_status
from controller.settings import Settings
from controller.store.port_actions import Claimed


def send(
    session_factory: Callable[[], Session],
    settings: Settings,
    credentials: dict[str, Credential],
    claimed: Sequence[Claimed],
) -> dict[int, str | None]:
    """Send the SET of each claimed action: ``{action id: None (done) or why it failed}``.

    A device without an address or a usable credential fails with the poller's ``config: ...``
    reason, without any traffic; an SNMP failure gives its kind and one-line message (never a
    secret: the client's messages hold none).
    """
    with session_factory() as s:
        targets, failures = targets_from_store(
            s, credentials, sorted({c.device_id for c in claimed})
        )
        s.rollback()
    by_device: dict[str, Target] = {t.device_id: t for t in targets}
    unusable = {f.device_id: f.error or "config: no usable credential" for f in failures}
    timeout_s, retries = settings.snmp.timeout_s, settings.snmp.retries

    async def one(item: Claimed) -> str | None:
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
        # A few actions per district at most: one after the other keeps a switch from getting
        # two SETs at once, and the audit log in the order of approval.
        return [await one(item) for item in claimed]

    results = asyncio.run(every())
    return {item.id: error for item, error in zip(claimed, results, strict=True)}
