"""Report schedules end to end: a real report computed from the database, archived, queued in
the notification outbox and delivered by a real mail server on loopback (STARTTLS, login)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from controller.app import create_app
from controller.notify.worker import deliver_due
from controller.reports import archive
from controller.reports.base import ReportError
from controller.reports.runner import ReportJobs
from controller.reports.schedules import (
    CLAIM,
    NewSchedule,
    create,
    remove,
    run_due,
    set_enabled,
)
from controller.settings import Settings
from controller.store import report_schedules as schedule_store
from controller.store.db import make_engine, session_factory
from controller.store.models import AuditEntry, Notification, ReportArchive, ReportSchedule
from tests.unit.controller.notify.conftest import WebhookServerInfo, notify_config
from tests.unit.controller.reports.schedules.support import (
    COMMUNE,
    DEC_1,
    DISTRICT,
    FAILING_REPORT,
    UNITS_REPORT,
    Mailbox,
    mail_settings,
    payload,
    settings_with,
)

RECIPIENTS = ("cntt@phudo.gov.vn", "VanThu@AnBinh.gov.vn")
#: Seconds the app may take to deliver before the test gives up (it takes well under one).
HANG_GUARD_S = 30


@pytest.fixture
def settings(tmp_path: Path, mailbox: Mailbox, db_url: str) -> Settings:
    """Settings of a data directory in tmp_path whose mail server is ``mailbox``."""
    return mail_settings(tmp_path / "data", mailbox, db_url)


def add(
    sessions: sessionmaker[Session],
    settings: Settings,
    report: str = UNITS_REPORT,
    *,
    unit: str | None = DISTRICT,
    cadence: str = "monthly",
    recipients: tuple[str, ...] = RECIPIENTS,
    language: str = "vi",
) -> int:
    with sessions() as s:
        row = create(
            s,
            NewSchedule(report, unit, cadence, "csv", language, recipients),
            notify=settings.notify,
            created_by="cli:tester",
            now=DEC_1 - timedelta(days=3),
        )
        s.commit()
        return row.id


def schedule(sessions: sessionmaker[Session], schedule_id: int) -> ReportSchedule:
    with sessions() as s:
        row = s.get(ReportSchedule, schedule_id)
        assert row is not None
        return row


def test_a_monthly_schedule_mails_the_archived_report_once(
    sessions: sessionmaker[Session], settings: Settings, mailbox: Mailbox
) -> None:
    schedule_id = add(sessions, settings)

    result = run_due(sessions, settings, now=DEC_1)
    delivered = deliver_due(sessions, settings.notify, settings.data_dir, now=DEC_1)

    [outcome] = result.outcomes
    assert (outcome.status, outcome.period, outcome.queued) == ("sent", "2026-11", 2)
    assert (delivered.sent, delivered.failed) == (2, 0)
    with sessions() as s:
        [row] = s.scalars(select(ReportArchive)).all()
    assert (row.report, row.unit_id, row.period, row.format, row.schedule_id) == (
        UNITS_REPORT,
        DISTRICT,
        "2026-11",
        "csv",
        schedule_id,
    )
    assert row.path == f"2026/12/{row.id}_{UNITS_REPORT}_{DISTRICT}_2026-11.csv"
    stored = archive.root(settings.data_dir) / row.path
    assert stored.stat().st_mode & 0o777 == 0o640
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == row.sha256
    assert stored.stat().st_size == row.size_bytes

    assert sorted(r for mail in mailbox.handler.received for r in mail.rcpt_tos) == [
        "cntt@phudo.gov.vn",
        "vanthu@anbinh.gov.vn",
    ]
    for mail in mailbox.handler.received:
        assert mail.tls
        message = mail.message
        assert message["Subject"] == (
            "[govguard] Báo cáo định kỳ: Số máy tính theo đơn vị — UBND huyện Phù Đô — kỳ 2026-11"
        )
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert "từ 01/11/2026 đến 30/11/2026" in text
        assert f"SHA-256: {row.sha256}" in text
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == f"{UNITS_REPORT}_{DISTRICT}_2026-11.csv"
        assert attachment.get_content_type() == "text/csv"
        content = payload(attachment)
        assert hashlib.sha256(content).hexdigest() == row.sha256
        # The real counts: An Bình 2 active (one revoked left out), Tân Lập 1, the district 1.
        cells = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        counts = {
            line[0]: line[2]
            for line in cells
            if len(line) == 3 and line[0] in (DISTRICT, COMMUNE, "xa-tan-lap")
        }
        assert counts == {DISTRICT: "1", COMMUNE: "2", "xa-tan-lap": "1"}

    # The outbox holds the reference, never the file.
    with sessions() as s:
        notes = s.scalars(select(Notification)).all()
    assert {n.data["attachment"]["archive_id"] for n in notes} == {row.id}
    assert all(len(json.dumps(n.data)) < 400 for n in notes)
    assert schedule(sessions, schedule_id).last_period == "2026-11"
    assert schedule(sessions, schedule_id).last_error is None

    # Later the same month: the period is done, nothing is made nor sent again.
    later = DEC_1 + timedelta(days=5)
    assert run_due(sessions, settings, now=later).outcomes == []
    assert deliver_due(sessions, settings.notify, settings.data_dir, now=later).sent == 0
    assert len(mailbox.handler.received) == 2
    with sessions() as s:
        assert len(s.scalars(select(ReportArchive)).all()) == 1
        audit = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert audit == ["report.schedule.created", "report.schedule.sent"]


def test_a_second_process_never_sends_the_same_period(
    sessions: sessionmaker[Session], settings: Settings, mailbox: Mailbox, db_url: str
) -> None:
    schedule_id = add(sessions, settings, recipients=("cntt@phudo.gov.vn",))
    # The claim itself: the first succeeds, the second finds it taken.
    with sessions() as s:
        assert schedule_store.claim(s, schedule_id, "2026-11", DEC_1, CLAIM)
        assert not schedule_store.claim(s, schedule_id, "2026-11", DEC_1, CLAIM)
        s.rollback()

    # Two "processes" (their own engines) run the same pass at the same moment.
    engines = [make_engine(db_url) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[int] = []

    def process(engine: Engine) -> None:
        start.wait()
        outcome = run_due(session_factory(engine), settings, now=DEC_1)
        results.extend(1 for o in outcome.outcomes if o.status == "sent")

    threads = [threading.Thread(target=process, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()

    deliver_due(sessions, settings.notify, settings.data_dir, now=DEC_1)
    assert results == [1]
    assert len(mailbox.handler.received) == 1
    with sessions() as s:
        assert len(s.scalars(select(ReportArchive)).all()) == 1


def test_a_failing_report_is_recorded_and_the_next_schedule_still_runs(
    sessions: sessionmaker[Session], settings: Settings, mailbox: Mailbox
) -> None:
    broken = add(sessions, settings, FAILING_REPORT, cadence="daily")
    working = add(sessions, settings, unit=COMMUNE, cadence="weekly")

    result = run_due(sessions, settings, now=DEC_1)
    deliver_due(sessions, settings.notify, settings.data_dir, now=DEC_1)

    outcomes = {o.schedule_id: o for o in result.outcomes}
    assert outcomes[broken].status == "failed"
    assert outcomes[broken].period == "2026-11-30"
    assert outcomes[broken].error == "tỷ lệ chia cho 0 khi tính báo cáo"
    assert (outcomes[working].status, outcomes[working].period) == ("sent", "2026-W48")
    assert schedule(sessions, broken).last_error == "tỷ lệ chia cho 0 khi tính báo cáo"
    assert schedule(sessions, broken).last_period is None
    assert len(mailbox.handler.received) == 2  # the weekly report, to both recipients
    with sessions() as s:
        [failed] = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "report.schedule.failed")
        ).all()
        [saved] = s.scalars(select(ReportArchive)).all()
    assert failed.target == f"report_schedule:{broken}"
    assert failed.details == {"period": "2026-11-30", "error": "tỷ lệ chia cho 0 khi tính báo cáo"}
    assert (saved.schedule_id, saved.unit_id, saved.period) == (working, COMMUNE, "2026-W48")

    # Retried once the claim is stale, not on every pass in between.
    assert run_due(sessions, settings, now=DEC_1 + timedelta(minutes=5)).outcomes == []
    retry = run_due(sessions, settings, now=DEC_1 + CLAIM + timedelta(minutes=1))
    assert [(o.schedule_id, o.status) for o in retry.outcomes] == [(broken, "failed")]


def test_a_changed_archive_file_is_never_mailed(
    sessions: sessionmaker[Session], settings: Settings, mailbox: Mailbox
) -> None:
    add(sessions, settings, recipients=("cntt@phudo.gov.vn",))
    [outcome] = run_due(sessions, settings, now=DEC_1).outcomes
    with sessions() as s:
        row = s.get(ReportArchive, outcome.archive_id)
        assert row is not None
    stored = archive.root(settings.data_dir) / row.path
    stored.write_bytes(stored.read_bytes().replace(b"2", b"9"))

    with pytest.raises(archive.ArchiveIntegrityError, match="changed since it was archived"):
        archive.read_verified(settings.data_dir, row)
    result = deliver_due(sessions, settings.notify, settings.data_dir, now=DEC_1)

    assert (result.sent, result.failed) == (0, 1)
    assert mailbox.handler.received == []
    with sessions() as s:
        [note] = s.scalars(select(Notification)).all()
    assert note.status == "failed"
    assert note.last_error is not None
    assert f"report archive {row.id}: file {row.path} changed since it was archived" in (
        note.last_error
    )


def test_webhook_recipients_get_the_reference_without_the_file(
    sessions: sessionmaker[Session],
    tmp_path: Path,
    db_url: str,
    webhook_server: WebhookServerInfo,
) -> None:
    settings = settings_with(
        tmp_path / "data",
        notify_config(tmp_path / "data", webhook_url=webhook_server.url, routes=[]),
        db_url,
    )
    add(sessions, settings, recipients=("webhook:chat",), language="en")

    [outcome] = run_due(sessions, settings, now=DEC_1).outcomes
    sent = deliver_due(sessions, settings.notify, settings.data_dir, now=DEC_1)

    assert sent.sent == 1
    [hook] = webhook_server.received
    payload = json.loads(hook.body)
    [notice] = payload["notices"]
    assert notice["kind"] == "report.scheduled"
    assert notice["subject"]["en"] == (
        "Scheduled report: Computers per unit — UBND huyện Phù Đô — 2026-11"
    )
    with sessions() as s:
        row = s.get(ReportArchive, outcome.archive_id)
        assert row is not None
    assert notice["data"]["attachment"] == {
        "archive_id": row.id,
        "sha256": row.sha256,
        "filename": f"{UNITS_REPORT}_{DISTRICT}_2026-11.csv",
        "size_bytes": row.size_bytes,
    }
    assert b"xa-an-binh,UBND" not in hook.body  # the file itself does not travel


@pytest.fixture
def webhook_server() -> Iterator[WebhookServerInfo]:
    """The notification tests' HTTP receiver on loopback."""
    from tests.unit.controller.notify.conftest import _webhook_server

    yield from _webhook_server(None)


#: Changes to a valid schedule, and the error each must give.
BAD_SCHEDULES: list[tuple[dict[str, Any], str]] = [
    ({"report": "khong-co"}, "unknown report 'khong-co'"),
    ({"unit_id": "xa-khong-co"}, "unknown unit 'xa-khong-co'"),
    (
        {"cadence": "yearly"},
        "unknown cadence 'yearly'; cadences: daily, weekly, monthly, quarterly",
    ),
    ({"format": "docx"}, "unknown format 'docx'"),
    ({"language": "fr"}, "unknown language 'fr'"),
    ({"recipients": ("cntt@phudo",)}, "recipient: not a plain e-mail address: 'cntt@phudo'"),
    ({"recipients": ("a@b.vn\nBcc: x@y.vn",)}, "not a plain e-mail address"),
    ({"recipients": ("webhook:chat",)}, "no webhook named 'chat' (none configured)"),
    ({"recipients": ()}, "a schedule needs at least one recipient"),
]


def test_bad_schedules_are_refused_with_the_reason(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    valid = NewSchedule(UNITS_REPORT, DISTRICT, "monthly", "csv", "vi", RECIPIENTS)
    # One database for every case: its set-up is the slow part.
    for change, message in BAD_SCHEDULES:
        with sessions() as s, pytest.raises(ReportError, match=re.escape(message)):
            create(s, replace(valid, **change), notify=settings.notify, created_by="t", now=DEC_1)
    with sessions() as s:
        assert s.scalars(select(ReportSchedule)).all() == []
        assert s.scalars(select(AuditEntry)).all() == []


def test_the_periodic_job_runs_under_the_lease_and_purges_the_archive(
    sessions: sessionmaker[Session], settings: Settings, mailbox: Mailbox
) -> None:
    add(sessions, settings, recipients=("cntt@phudo.gov.vn",))
    first = ReportJobs(sessions, settings)
    second = ReportJobs(sessions, settings)

    result = first.run_once(DEC_1)
    # Another process a minute later: the job ran less than its interval ago.
    assert second.run_once(DEC_1 + timedelta(minutes=1)) is None
    assert result is not None
    assert [o.status for o in result.outcomes] == ["sent"]

    # Two years and a day later the daily purge removes the report (row and file).
    with sessions() as s:
        [row] = s.scalars(select(ReportArchive)).all()
    stored = archive.root(settings.data_dir) / row.path
    with sessions() as s:
        set_enabled(s, row.schedule_id or 0, False, actor="cli:tester", now=DEC_1)
        s.commit()
    later = DEC_1 + timedelta(days=settings.reports.archive_days + 1)
    second.run_once(later)
    with sessions() as s:
        assert s.scalars(select(ReportArchive)).all() == []
        purged = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "report.archive.purged")
        ).one()
    assert not stored.exists()
    assert purged.details == {"days": 730, "rows": 1, "files": 1}


def test_serve_delivers_scheduled_reports_with_a_mail_server_and_no_routes(
    sessions: sessionmaker[Session], settings: Settings, mailbox: Mailbox, engine: Engine
) -> None:
    # No notify routes at all: the schedule names its recipients, the loop must run anyway.
    assert settings.notify.routes == []
    add(sessions, settings, recipients=("cntt@phudo.gov.vn",))
    # Now, not DEC_1: the running loop delivers what is due by the real clock.
    [outcome] = run_due(sessions, settings, now=datetime.now(UTC)).outcomes
    assert outcome.status == "sent"
    app = create_app(settings, engine=engine)

    async def serve() -> None:
        async with app.router.lifespan_context(app):
            for _ in range(HANG_GUARD_S * 10):
                if mailbox.handler.received:
                    return
                await asyncio.sleep(0.1)

    asyncio.run(serve())

    [mail] = mailbox.handler.received
    assert mail.rcpt_tos == ["cntt@phudo.gov.vn"]
    assert len(list(mail.message.iter_attachments())) == 1


def test_a_schedule_added_after_one_was_removed_sends_its_own_report(
    sessions: sessionmaker[Session], settings: Settings, mailbox: Mailbox
) -> None:
    first = add(sessions, settings, recipients=("cntt@phudo.gov.vn",))
    run_due(sessions, settings, now=DEC_1)
    with sessions() as s:
        remove(s, first, actor="cli:tester", now=DEC_1)
        s.commit()
    # SQLite hands the removed schedule's id out again: its notices must not count as sent.
    second = add(sessions, settings, recipients=("cntt@phudo.gov.vn",))
    later = DEC_1 + timedelta(minutes=10)

    [outcome] = run_due(sessions, settings, now=later).outcomes
    sent = deliver_due(sessions, settings.notify, settings.data_dir, now=later)

    assert (outcome.schedule_id, outcome.status, outcome.queued) == (second, "sent", 1)
    assert sent.sent == 2
    assert len(mailbox.handler.received) == 2
    with sessions() as s:
        owners = s.scalars(select(ReportArchive.schedule_id).order_by(ReportArchive.id)).all()
    assert owners == [None, second]  # the removed schedule's report stays, unowned
