"""Report schedules: a report generated every day, week, month or quarter, archived, and
e-mailed to its recipients through the notification outbox.

Each run reports on the last whole period (:func:`controller.reports.period.previous`): on
1 December a monthly schedule reports November. :func:`run_due` runs every due schedule once
for its period, whichever and however many controller processes call it
(:mod:`controller.store.report_schedules` explains the claim). One schedule failing is recorded
in its ``last_error`` and the audit log, retried after :data:`CLAIM`, and never stops the
others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller.notify import Notice, Recipient, enqueue_direct
from controller.notify import attachments as notify_attachments
from controller.notify.config import NotifyConfig, check_address
from controller.reports import archive, registry
from controller.reports.base import ReportError
from controller.reports.document import LANGUAGES, T
from controller.reports.generate import FORMATS, Format, Generated, generate
from controller.reports.period import TIME_ZONE, Period, PeriodKind, local_day, previous
from controller.settings import Settings
from controller.store import audit, report_archive
from controller.store import report_schedules as store
from controller.store.db import write_session
from controller.store.models import ReportSchedule, Unit
from controller.store.scope import UnitScope, unit_subtree
from controller.store.units import get_unit

log = logging.getLogger(__name__)

#: Cadence → the kind of period each run reports on.
CADENCES: dict[str, PeriodKind] = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "quarterly": "quarter",
}
CADENCE_TEXT: dict[str, T] = {
    "daily": T("hằng ngày", "daily"),
    "weekly": T("hằng tuần", "weekly"),
    "monthly": T("hằng tháng", "monthly"),
    "quarterly": T("hằng quý", "quarterly"),
}
#: A recipient written ``webhook:NAME`` gets a JSON notice on that webhook instead of a mail.
WEBHOOK_PREFIX = "webhook:"
#: How long a run holds a schedule: a run that died is taken over after this, and a failed
#: run is retried after this (no faster than once an hour per schedule).
CLAIM = timedelta(hours=1)
#: Who a scheduled run is recorded as in the audit log.
ACTOR = "system:report-schedules"

_SUBJECT = T(
    "Báo cáo định kỳ: {title} — {unit} — kỳ {period}",
    "Scheduled report: {title} — {unit} — {period}",
)
_BODY = T(
    "Đính kèm là báo cáo «{title}» của {unit}, kỳ {period} (từ {first_vi} đến {last_vi}), "
    "lập lúc {at_vi} giờ Việt Nam.\n\n"
    "Tệp: {filename} ({size} byte)\n"
    "SHA-256: {sha256}\n"
    "Mã lưu trữ: {archive_id} (xem bằng `govguard report archive list`)\n\n"
    "Thư gửi theo lịch báo cáo số {schedule_id} ({cadence_vi}).",
    'Attached is the report "{title}" of {unit} for {period} ({first_en} to {last_en}), '
    "made at {at_en} Vietnam time.\n\n"
    "File: {filename} ({size} bytes)\n"
    "SHA-256: {sha256}\n"
    "Archive id: {archive_id} (see `govguard report archive list`)\n\n"
    "Sent by report schedule {schedule_id} ({cadence_en}).",
)


class ScheduleError(ReportError):
    """A schedule cannot be created or run as asked (one clear line)."""


@dataclass(frozen=True, slots=True)
class NewSchedule:
    """What ``report schedule add`` asks for, before validation."""

    report: str
    unit_id: str | None
    cadence: str
    format: str
    language: str = "vi"
    recipients: tuple[str, ...] = ()
    show_locations: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one schedule's run did."""

    schedule_id: int
    period: str
    status: Literal["sent", "failed", "skipped"]
    archive_id: int | None = None
    queued: int = 0
    error: str | None = None


@dataclass
class RunResult:
    """Every outcome of one :func:`run_due` pass."""

    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many schedules ended with ``status``."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)


def normalise_recipients(recipients: Sequence[str], notify: NotifyConfig) -> list[str]:
    """Recipients checked and written the way they are stored (addresses in lower case).

    :class:`ScheduleError` for a bad address, an unknown webhook, or e-mail without a mail
    server in ``notify:``.
    """
    if not recipients:
        raise ScheduleError("a schedule needs at least one recipient (--to ADDRESS)")
    found: list[str] = []
    for given in recipients:
        text = given.strip()
        if text.startswith(WEBHOOK_PREFIX):
            name = text[len(WEBHOOK_PREFIX) :]
            if notify.webhook(name) is None:
                names = ", ".join(hook.name for hook in notify.webhooks) or "none configured"
                raise ScheduleError(f"recipient {given!r}: no webhook named {name!r} ({names})")
        else:
            try:
                text = check_address(text, "recipient").lower()
            except ValueError as exc:
                raise ScheduleError(str(exc)) from None
            if notify.smtp is None:
                raise ScheduleError(
                    f"recipient {given!r}: e-mail needs notify.smtp in config.yaml "
                    "(docs/notifications.md)"
                )
        if text not in found:
            found.append(text)
    return found


def create(
    s: Session,
    new: NewSchedule,
    *,
    notify: NotifyConfig,
    created_by: str,
    now: datetime,
    source: str | None = "cli",
) -> ReportSchedule:
    """Validate ``new`` and add it (audited); :class:`ScheduleError` says what is wrong."""
    registry.get(new.report)  # ReportError listing the reports
    if new.cadence not in CADENCES:
        raise ScheduleError(f"unknown cadence {new.cadence!r}; cadences: {', '.join(CADENCES)}")
    if new.format not in FORMATS:
        raise ScheduleError(f"unknown format {new.format!r}; formats: {', '.join(FORMATS)}")
    if new.language not in LANGUAGES:
        raise ScheduleError(f"unknown language {new.language!r}; languages: {', '.join(LANGUAGES)}")
    if new.unit_id is not None and get_unit(s, new.unit_id) is None:
        raise ScheduleError(f"unknown unit {new.unit_id!r} (see `govguard units list`)")
    if new.unit_id is None:
        top_unit(s)  # the whole organisation must have one top unit to report on
    recipients = normalise_recipients(new.recipients, notify)
    row = store.add(
        s,
        ReportSchedule(
            report=new.report,
            unit_id=new.unit_id,
            cadence=new.cadence,
            format=new.format,
            language=new.language,
            recipients=recipients,
            show_locations=new.show_locations,
            enabled=True,
            created_by=created_by,
            created_at=now,
        ),
    )
    audit.record(
        s,
        created_by,
        "report.schedule.created",
        f"report_schedule:{row.id}",
        describe(row),
        at=now,
        source=source,
    )
    return row


def describe(row: ReportSchedule) -> dict[str, object]:
    """A schedule's settings as plain JSON (for the audit log)."""
    return {
        "report": row.report,
        "unit": row.unit_id,
        "cadence": row.cadence,
        "format": row.format,
        "language": row.language,
        "recipients": list(row.recipients),
        "show_locations": row.show_locations,
        "enabled": row.enabled,
    }


def get_or_fail(s: Session, schedule_id: int) -> ReportSchedule:
    """The schedule ``schedule_id``; :class:`ScheduleError` when there is none."""
    row = store.get(s, schedule_id)
    if row is None:
        raise ScheduleError(
            f"no report schedule {schedule_id} (see `govguard report schedule list`)"
        )
    return row


def remove(
    s: Session, schedule_id: int, *, actor: str, now: datetime, source: str | None = "cli"
) -> ReportSchedule:
    """Delete a schedule (audited); the reports it archived stay in the archive."""
    row = get_or_fail(s, schedule_id)
    report_archive.detach_schedule(s, schedule_id)
    s.delete(row)
    s.flush()
    audit.record(
        s,
        actor,
        "report.schedule.removed",
        f"report_schedule:{schedule_id}",
        describe(row),
        at=now,
        source=source,
    )
    return row


def set_enabled(
    s: Session,
    schedule_id: int,
    enabled: bool,
    *,
    actor: str,
    now: datetime,
    source: str | None = "cli",
) -> ReportSchedule:
    """Enable or disable a schedule (audited when it changes)."""
    row = get_or_fail(s, schedule_id)
    if row.enabled != enabled:
        row.enabled = enabled
        s.flush()
        action = "report.schedule.enabled" if enabled else "report.schedule.disabled"
        audit.record(s, actor, action, f"report_schedule:{schedule_id}", at=now, source=source)
    return row


def top_unit(s: Session) -> Unit:
    """The one unit without a parent (the whole organisation's report root)."""
    tops = list(s.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)))
    if len(tops) != 1:
        raise ScheduleError(
            f"the organisation has {len(tops)} top units; give the schedule a unit (--unit)"
        )
    return tops[0]


def target(row: ReportSchedule, now: datetime) -> Period:
    """The period a run of ``row`` at ``now`` reports on: the last whole one."""
    return previous(CADENCES[row.cadence], local_day(now))


def due(s: Session, now: datetime) -> list[tuple[int, Period]]:
    """The enabled schedules whose period is not done and not being made, with that period."""
    found: list[tuple[int, Period]] = []
    for row in store.enabled(s):
        if row.cadence not in CADENCES:
            continue  # refused at creation; a hand-edited row must not stop the others
        period = target(row, now)
        if row.last_period is not None and row.last_period >= period.label:
            continue
        if row.last_run_at is not None and row.last_run_at > now - CLAIM:
            continue
        found.append((row.id, period))
    return found


def run_due(sessions: sessionmaker[Session], settings: Settings, *, now: datetime) -> RunResult:
    """Run every due schedule once for its period; safe in several processes at once."""
    with sessions() as s:
        pending = due(s, now)
    result = RunResult()
    for schedule_id, period in pending:
        try:
            outcome = run_one(sessions, settings, schedule_id, period, now=now)
        except Exception as exc:
            # Even recording the failure failed (the database is gone): the next pass retries.
            log.exception("report schedule %s: run failed", schedule_id)
            outcome = Outcome(schedule_id, period.label, "failed", error=_one_line(exc))
        result.outcomes.append(outcome)
    return result


def run_one(
    sessions: sessionmaker[Session],
    settings: Settings,
    schedule_id: int,
    period: Period,
    *,
    now: datetime,
) -> Outcome:
    """Claim, generate, archive and mail one schedule for ``period``; never raises for a
    failure of the report itself (it is recorded in ``last_error`` and the audit log)."""
    with sessions() as s, s.begin():
        write_session(s)
        if not store.claim(s, schedule_id, period.label, now, CLAIM):
            return Outcome(schedule_id, period.label, "skipped")
    try:
        with sessions() as s:
            row = get_or_fail(s, schedule_id)
            targets = _targets(row, settings.notify)
            generated, notice_unit = _generate(s, row, period, settings, now)
        done = _archive_and_queue(sessions, settings, row, generated, notice_unit, targets, now)
        if done is None:
            log.warning("report schedule %s: taken over by another run", schedule_id)
            return Outcome(schedule_id, period.label, "skipped")
        archive_id, queued = done
    except Exception as exc:
        error = _one_line(exc)
        if not isinstance(exc, ReportError | archive.ArchiveError):
            log.exception("report schedule %s: unexpected error", schedule_id)
        else:
            log.error("report schedule %s for %s failed: %s", schedule_id, period.label, error)
        with sessions() as s, s.begin():
            write_session(s)
            store.fail(s, schedule_id, now, error)
            audit.record(
                s,
                ACTOR,
                "report.schedule.failed",
                f"report_schedule:{schedule_id}",
                {"period": period.label, "error": error},
                at=now,
            )
        return Outcome(schedule_id, period.label, "failed", error=error)
    log.info(
        "report schedule %s: %s archived as %s, %d deliveries queued",
        schedule_id,
        period.label,
        archive_id,
        queued,
    )
    return Outcome(schedule_id, period.label, "sent", archive_id=archive_id, queued=queued)


def _archive_and_queue(
    sessions: sessionmaker[Session],
    settings: Settings,
    row: ReportSchedule,
    generated: Generated,
    unit: Unit,
    targets: list[Recipient],
    now: datetime,
) -> tuple[int, int] | None:
    """In one transaction: mark the period done, archive the file, queue the messages, audit.

    None when the claim was lost (another run took the schedule over). A transaction that
    fails after the file was written takes the file with it.
    """
    written = None
    try:
        with sessions() as s, s.begin():
            write_session(s)
            if not store.finish(s, row.id, generated.period.label, now):
                return None
            saved = archive.save(
                s,
                settings.data_dir,
                generated,
                generated_by=f"schedule:{row.id}",
                schedule_id=row.id,
            )
            written = archive.file_path(settings.data_dir, saved)
            notice = _notice(row, generated, saved.id, unit, now)
            queued = enqueue_direct(s, notice, targets, now=now)
            details = {
                "period": generated.period.label,
                "archive_id": saved.id,
                "sha256": saved.sha256,
                "recipients": len(targets),
            }
            audit.record(
                s, ACTOR, "report.schedule.sent", f"report_schedule:{row.id}", details, at=now
            )
            return saved.id, queued
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)
        raise


def _targets(row: ReportSchedule, notify: NotifyConfig) -> list[Recipient]:
    # Checked before generating: a schedule that cannot be delivered must not archive reports.
    try:
        recipients = normalise_recipients(row.recipients, notify)
    except ScheduleError as exc:
        raise ScheduleError(f"schedule {row.id}: {exc}") from None
    return [
        Recipient("webhook", text[len(WEBHOOK_PREFIX) :], row.language)
        if text.startswith(WEBHOOK_PREFIX)
        else Recipient("email", text, row.language)
        for text in recipients
    ]


def _generate(
    s: Session, row: ReportSchedule, period: Period, settings: Settings, now: datetime
) -> tuple[Generated, Unit]:
    if row.unit_id is None:
        unit = top_unit(s)
        scope: UnitScope = None
    else:
        found = get_unit(s, row.unit_id)
        if found is None:
            raise ScheduleError(f"schedule {row.id}: unit {row.unit_id!r} no longer exists")
        unit = found
        scope = unit_subtree(s, unit.id)
    if row.format not in FORMATS:
        raise ScheduleError(f"schedule {row.id}: unknown format {row.format!r}")
    fmt: Format = row.format  # checked just above
    generated = generate(
        s,
        row.report,
        unit_id=unit.id,
        scope=scope,
        period=period,
        fmt=fmt,
        lang=row.language,
        now=now,
        generated_by=f"govguard (schedule {row.id})",
        show_locations=row.show_locations,
        settings=settings.reports,
    )
    return generated, unit


def _notice(
    row: ReportSchedule, generated: Generated, archive_id: int, unit: Unit, now: datetime
) -> Notice:
    title = generated.document.title
    period = generated.period
    values = {
        "unit": unit.name,
        "period": period.label,
        "first_vi": f"{period.first:%d/%m/%Y}",
        "last_vi": f"{period.last:%d/%m/%Y}",
        "first_en": period.first.isoformat(),
        "last_en": period.last.isoformat(),
        "at_vi": f"{generated.generated_at.astimezone(TIME_ZONE):%H:%M %d/%m/%Y}",
        "at_en": f"{generated.generated_at.astimezone(TIME_ZONE):%Y-%m-%d %H:%M}",
        "filename": generated.filename,
        "size": f"{len(generated.content):,}".replace(",", "."),
        "sha256": generated.sha256,
        "archive_id": archive_id,
        "schedule_id": row.id,
        "cadence_vi": CADENCE_TEXT[row.cadence].vi,
        "cadence_en": CADENCE_TEXT[row.cadence].en,
    }
    subject = T(
        _SUBJECT.vi.format(title=title.vi, **values), _SUBJECT.en.format(title=title.en, **values)
    )
    body = T(_BODY.vi.format(title=title.vi, **values), _BODY.en.format(title=title.en, **values))
    data: dict[str, object] = {
        "schedule_id": row.id,
        "report": generated.report,
        "unit_id": generated.unit_id,
        "period": period.label,
        "format": generated.format,
        **notify_attachments.reference(
            archive_id, generated.sha256, generated.filename, len(generated.content)
        ),
    }
    return Notice(
        # The digest too: SQLite may give a removed schedule's id to a new one.
        key=f"report-schedule:{row.id}:{period.label}:{generated.sha256[:16]}",
        unit_id=unit.id,
        severity="info",
        kind="report.scheduled",
        subject={"vi": subject.vi, "en": subject.en},
        body={"vi": body.vi, "en": body.en},
        data=data,
        occurred_at=now,
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:1000]
