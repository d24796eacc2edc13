"""`govguard serve` delivers notices in the background, without any request."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import Engine, select

from controller.app import create_app
from controller.settings import ControllerConfig, settings_for
from controller.store.db import session_factory
from controller.store.models import Notification
from tests.unit.controller.notify.conftest import (
    WebhookServerInfo,
    notify_config,
    queue_sighting,
)

HANG_GUARD_S = 30


def test_the_app_lifespan_runs_the_delivery_loop(
    engine: Engine, webhook_server: WebhookServerInfo, tmp_path: Path
) -> None:
    notify = notify_config(tmp_path, webhook_url=webhook_server.url, interval_s=5)
    settings = settings_for(tmp_path, ControllerConfig(notify=notify))
    sessions = session_factory(engine)
    queue_sighting(sessions, notify)

    app = create_app(settings, engine=engine)

    async def run() -> bool:
        async with app.router.lifespan_context(app):
            return await asyncio.to_thread(webhook_server.arrived.wait, HANG_GUARD_S)

    assert asyncio.run(run()), "no webhook from the running app"

    # Leaving the block stopped the loop after its pass had recorded the delivery.
    with sessions() as s:
        assert s.scalars(select(Notification.status)).all() == ["sent"]
    assert len(webhook_server.received) == 1
