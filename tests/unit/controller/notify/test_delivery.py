"""Delivering notices to a real mail server (STARTTLS, login) and a real webhook receiver."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from controller.notify import Notice, enqueue
from controller.notify.config import NotifyConfig
from controller.notify.webhook import verify
from controller.notify.worker import deliver_due
from controller.store.db import session_factory
from controller.store.models import Notification
from tests.unit.controller.notify.conftest import (
    COMMUNE,
    T0,
    WEBHOOK_SECRET,
    SmtpServerInfo,
    WebhookServerInfo,
    free_port,
    make_units,
    notify_config,
    start_smtp,
)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the migrated test database, with the district and its communes."""
    factory = session_factory(engine)
    with factory() as s:
        make_units(s)
        s.commit()
    return factory


def notice(key: str, severity: str = "critical", unit: str = COMMUNE) -> Notice:
    return Notice(
        key=key,
        unit_id=unit,
        severity=severity,
        kind="finding.opened",
        subject={"vi": f"Máy mật kết nối Internet ({key})", "en": f"Classified PC online ({key})"},
        body={"vi": "Máy pc-01 truy cập được Internet.", "en": "pc-01 reaches the Internet."},
        data={"finding_id": key, "host": "pc-01"},
        occurred_at=T0,
    )


def queue(sessions: sessionmaker[Session], config: NotifyConfig, *notices: Notice) -> int:
    with sessions() as s:
        added = sum(enqueue(s, item, config, now=T0) for item in notices)
        s.commit()
    return added


def rows(sessions: sessionmaker[Session]) -> list[Notification]:
    with sessions() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def test_critical_notice_enqueued_twice_is_mailed_once_over_starttls(
    sessions: sessionmaker[Session], smtp_server: SmtpServerInfo, tmp_path: Path
) -> None:
    config = notify_config(tmp_path, smtp_port=smtp_server.port, ca_file=smtp_server.ca_file)
    assert queue(sessions, config, notice("finding:1:opened")) == 1
    assert queue(sessions, config, notice("finding:1:opened")) == 0

    first = deliver_due(sessions, config, tmp_path, now=T0)
    again = deliver_due(sessions, config, tmp_path, now=T0 + timedelta(days=2))

    assert (first.sent, first.retried, first.failed) == (1, 0, 0)
    assert (again.sent, again.retried, again.failed) == (0, 0, 0)
    assert len(smtp_server.handler.received) == 1
    got = smtp_server.handler.received[0]
    assert got.tls
    assert got.rcpt_tos == ["cntt@phudo.gov.vn"]
    assert "Máy mật kết nối Internet (finding:1:opened)" in str(got.message["Subject"])
    assert "nghiêm trọng" in str(got.message["Subject"])
    assert got.message["X-Govguard-Delivery"] == "finding:1:opened|email|cntt@phudo.gov.vn"
    [row] = rows(sessions)
    assert (row.status, row.attempts, row.sent_at is not None) == ("sent", 1, True)


def test_critical_notice_reaches_the_webhook_with_a_valid_signature(
    sessions: sessionmaker[Session], webhook_server: WebhookServerInfo, tmp_path: Path
) -> None:
    config = notify_config(tmp_path, webhook_url=webhook_server.url)
    queue(sessions, config, notice("finding:2:opened"), notice("finding:2:opened"))

    result = deliver_due(sessions, config, tmp_path, now=T0)

    assert result.sent == 1
    [hook] = webhook_server.received
    assert verify(
        WEBHOOK_SECRET,
        hook.headers["X-Govguard-Timestamp"],
        hook.headers["X-Govguard-Signature"],
        hook.body,
    )
    assert not verify("another key", hook.headers["X-Govguard-Timestamp"],
                      hook.headers["X-Govguard-Signature"], hook.body)  # fmt: skip
    payload = json.loads(hook.body)
    assert payload["type"] == "notice"
    [sent] = payload["notices"]
    assert (sent["key"], sent["severity"], sent["unit_id"]) == (
        "finding:2:opened", "critical", COMMUNE,
    )  # fmt: skip
    assert sent["data"] == {"finding_id": "finding:2:opened", "host": "pc-01"}


def test_non_critical_notices_wait_for_one_daily_digest(
    sessions: sessionmaker[Session], smtp_server: SmtpServerInfo, tmp_path: Path
) -> None:
    config = notify_config(tmp_path, smtp_port=smtp_server.port, ca_file=smtp_server.ca_file)
    queue(sessions, config, notice("a", "low"), notice("b", "medium"), notice("c", "medium"))

    before = deliver_due(sessions, config, tmp_path, now=T0 + timedelta(hours=20))
    assert before.sent == 0
    assert smtp_server.handler.received == []

    # 07:00 in Hà Nội the next morning is 00:00 UTC.
    due = deliver_due(sessions, config, tmp_path, now=T0 + timedelta(hours=21))

    assert due.sent == 3
    [mail] = smtp_server.handler.received
    assert "Tóm tắt hằng ngày: 3 thông báo" in str(mail.message["Subject"])
    body = mail.message.get_content()
    # Most severe first.
    assert body.index("(b)") < body.index("(a)")
    assert body.index("(c)") < body.index("(a)")
    assert {row.status for row in rows(sessions)} == {"sent"}


def test_smtp_down_is_retried_later_then_delivered(
    sessions: sessionmaker[Session], test_ca: object, tmp_path: Path
) -> None:
    port = free_port()
    ca_file = tmp_path / "ca.pem"
    config = notify_config(tmp_path, smtp_port=port, ca_file=ca_file, retry_base_s=60)
    queue(sessions, config, notice("finding:3:opened"))

    down = deliver_due(sessions, config, tmp_path, now=T0)
    assert (down.sent, down.retried) == (0, 1)
    [row] = rows(sessions)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.next_attempt_at == T0 + timedelta(seconds=60)
    assert row.last_error is not None

    early = deliver_due(sessions, config, tmp_path, now=T0 + timedelta(seconds=30))
    assert (early.sent, early.retried) == (0, 0)  # not due yet

    controller, handler = start_smtp(test_ca, ca_file, port)  # type: ignore[arg-type]
    try:
        up = deliver_due(sessions, config, tmp_path, now=T0 + timedelta(seconds=61))
    finally:
        controller.stop()
    assert up.sent == 1
    assert len(handler.received) == 1
    [row] = rows(sessions)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_backoff_doubles_and_gives_up_after_max_attempts(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    config = notify_config(
        tmp_path, smtp_port=free_port(), ca_file=tmp_path / "none.pem",
        max_attempts=3, retry_base_s=10,
    )  # fmt: skip
    queue(sessions, config, notice("finding:4:opened"))
    now = T0
    waits = []
    for _ in range(2):
        assert deliver_due(sessions, config, tmp_path, now=now).retried == 1
        [row] = rows(sessions)
        waits.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    last = deliver_due(sessions, config, tmp_path, now=now)
    assert waits == [timedelta(seconds=10), timedelta(seconds=20)]
    assert last.failed == 1
    [row] = rows(sessions)
    assert (row.status, row.attempts) == ("failed", 3)


def test_permanent_smtp_refusal_fails_without_retry(
    sessions: sessionmaker[Session], smtp_server: SmtpServerInfo, tmp_path: Path
) -> None:
    smtp_server.handler.reject_rcpt = "550 5.1.1 Hộp thư không tồn tại"
    config = notify_config(tmp_path, smtp_port=smtp_server.port, ca_file=smtp_server.ca_file)
    queue(sessions, config, notice("finding:5:opened"))

    result = deliver_due(sessions, config, tmp_path, now=T0)
    later = deliver_due(sessions, config, tmp_path, now=T0 + timedelta(days=3))

    assert (result.failed, later.sent, later.failed) == (1, 0, 0)
    assert smtp_server.handler.rcpt_calls == 1
    [row] = rows(sessions)
    assert row.status == "failed"
    assert row.last_error is not None
    assert "550" in row.last_error


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        pytest.param(400, "failed", id="400 is permanent"),
        pytest.param(301, "failed", id="a redirect is permanent"),
        pytest.param(429, "queued", id="429 is retried"),
        pytest.param(503, "queued", id="503 is retried"),
    ],
)
def test_webhook_answers_decide_between_retry_and_failure(
    sessions: sessionmaker[Session],
    webhook_server: WebhookServerInfo,
    tmp_path: Path,
    status: int,
    outcome: str,
) -> None:
    webhook_server.status = status
    config = notify_config(tmp_path, webhook_url=webhook_server.url)
    queue(sessions, config, notice("finding:6:opened"))

    deliver_due(sessions, config, tmp_path, now=T0)

    [row] = rows(sessions)
    assert row.status == outcome
    assert row.last_error is not None
    assert row.last_error.startswith(f"webhook answered HTTP {status}")


def test_two_workers_delivering_at_once_send_each_notice_once(
    sessions: sessionmaker[Session], smtp_server: SmtpServerInfo, tmp_path: Path
) -> None:
    config = notify_config(tmp_path, smtp_port=smtp_server.port, ca_file=smtp_server.ca_file)
    keys = [f"finding:{i}:opened" for i in range(12)]
    queue(sessions, config, *(notice(key) for key in keys))
    start = threading.Barrier(2)
    results = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait(timeout=30)
            # Small claims, so the two workers' passes interleave.
            while (result := deliver_due(sessions, config, tmp_path, now=T0, limit=2)).sent:
                results.append(result)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(result.sent for result in results) == 12
    assert all(result.failed == result.retried == 0 for result in results)
    sent_keys = sorted(str(r.message["X-Govguard-Delivery"]) for r in smtp_server.handler.received)
    assert sent_keys == sorted(f"{key}|email|cntt@phudo.gov.vn" for key in keys)
