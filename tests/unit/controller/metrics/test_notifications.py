"""The delivery loop of a running app counts its deliveries (a real webhook receiver)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controller.app import create_app
from controller.metrics import Metrics
from controller.settings import ControllerConfig, settings_for
from controller.store.db import session_factory
from tests.unit.controller.metrics.conftest import samples
from tests.unit.controller.notify.conftest import (
    WebhookServerInfo,
    notify_config,
    queue_sighting,
    webhook_server,  # noqa: F401 - the fixture
)

HANG_GUARD_S = 30


@pytest.mark.parametrize(
    ("answer", "outcome", "status"),
    [
        pytest.param(204, "sent", "sent", id="delivered"),
        pytest.param(503, "retried", "queued", id="receiver down: retried later"),
    ],
)
def test_deliveries_are_counted(
    engine: Engine,
    webhook_server: WebhookServerInfo,  # noqa: F811 - the fixture
    tmp_path: Path,
    answer: int,
    outcome: str,
    status: str,
) -> None:
    webhook_server.status = answer
    notify = notify_config(tmp_path, webhook_url=webhook_server.url, interval_s=5)
    settings = settings_for(tmp_path, ControllerConfig(notify=notify))
    sessions = session_factory(engine)
    queue_sighting(sessions, notify)
    metrics = Metrics(sessions)
    app = create_app(settings, engine=engine, metrics=metrics)

    async def run() -> bool:
        async with app.router.lifespan_context(app):
            return await asyncio.to_thread(webhook_server.arrived.wait, HANG_GUARD_S)

    # Leaving the block waits for the pass in progress, which reports its result.
    assert asyncio.run(run()), "no webhook from the running app"
    got = samples(metrics.exposition())
    counted = {
        labels[0][1]: value
        for (name, labels), value in got.items()
        if name == "govguard_notification_deliveries_total"
    }
    assert counted == {"sent": 0, "retried": 0, "failed": 0} | {outcome: 1}
    assert got[("govguard_notifications", (("status", status),))] == 1
    assert got[("govguard_notification_pass_errors_total", ())] == 0
