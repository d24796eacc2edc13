"""What the schedule and archive tests share: a small real report definition (computers per
unit, counted from the database), one that always fails, a district with computers, and the
loopback mail server of the notification tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from controller.notify.config import NotifyConfig
from controller.reports import registry
from controller.reports.base import ReportContext, ReportDefinition
from controller.reports.document import Column, Document, Header, Ratio, Row, Section, T, Table
from controller.reports.registry import register
from controller.settings import ControllerConfig, Settings, settings_for
from controller.store.models import Agent, Unit
from controller.store.units import ensure_unit
from tests.unit.controller.notify.conftest import SmtpHandler, notify_config
from tests.unit.controller.store.factories import make_agent

DISTRICT = "huyen-phu-do"
COMMUNE = "xa-an-binh"
OTHER = "xa-tan-lap"
DISTRICT_NAME = "UBND huyện Phù Đô"
UNITS_REPORT = "test-units"
FAILING_REPORT = "test-failing"
UNITS_TITLE = T("Số máy tính theo đơn vị", "Computers per unit")
#: 1 December 2026, 08:00 in Hà Nội: a monthly schedule reports November.
DEC_1 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@dataclass(frozen=True)
class UnitCounts:
    """The computed result: (unit id, unit name, active computers) per unit of the scope."""

    unit_name: str
    rows: tuple[tuple[str, str, int], ...]


class UnitsReport:
    """Active computers per unit of the scope, counted in the database."""

    name = UNITS_REPORT
    title = UNITS_TITLE
    description = T("Đếm máy tính đang hoạt động của từng đơn vị.", "Active computers per unit.")

    def compute(self, s: Session, ctx: ReportContext) -> UnitCounts:
        """Count active agents per unit, narrowed to ``ctx.scope``."""
        query = (
            select(Unit.id, Unit.name, func.count(Agent.id))
            .outerjoin(Agent, (Agent.unit_id == Unit.id) & (Agent.status == "active"))
            .group_by(Unit.id, Unit.name)
            .order_by(Unit.id)
        )
        if ctx.scope is not None:
            query = query.where(Unit.id.in_(sorted(ctx.scope)))
        rows = tuple((uid, name, int(count)) for uid, name, count in s.execute(query))
        root = s.get(Unit, ctx.unit_id)
        return UnitCounts(root.name if root is not None else ctx.unit_id, rows)

    def layout(self, result: UnitCounts, ctx: ReportContext) -> Document:
        """One table of the counts."""
        total = sum(count for _, _, count in result.rows)
        header = Header(
            unit_id=ctx.unit_id,
            unit_name=result.unit_name,
            unit_path=(result.unit_name,),
            period_label=ctx.period.label,
            period_first=ctx.period.first,
            period_last=ctx.period.last,
            generated_at=ctx.now,
            generated_by=ctx.generated_by,
            fresh_24h=Ratio(total, total),
            fresh_7d=Ratio(total, total),
        )
        table = Table(
            key="units",
            title=T("Đơn vị", "Units"),
            columns=(
                Column("unit", T("Mã đơn vị", "Unit id")),
                Column("name", T("Tên đơn vị", "Unit name")),
                Column("computers", T("Số máy", "Computers"), "int"),
            ),
            rows=tuple(Row(values) for values in result.rows),
        )
        section = Section("units", UNITS_TITLE, (table,))
        return Document(UNITS_REPORT, UNITS_TITLE, header, (section,))


class FailingReport:
    """A report whose computation always fails (a bug in a definition)."""

    name = FAILING_REPORT
    title = T("Báo cáo hỏng", "Broken report")
    description = T("Luôn lỗi.", "Always fails.")

    def compute(self, s: Session, ctx: ReportContext) -> None:
        """Fail as a real bug would."""
        raise ZeroDivisionError("tỷ lệ chia cho 0 khi tính báo cáo")

    def layout(self, result: None, ctx: ReportContext) -> Document:
        """Never reached."""
        raise AssertionError("layout after a failed compute")


@contextmanager
def registered() -> Iterator[None]:
    """The two test definitions registered for the duration of a test."""
    definitions: list[ReportDefinition[Any]] = [UnitsReport(), FailingReport()]
    registry.names()  # load the shipped definitions first, so ours come after them
    for definition in definitions:
        register(definition)
    try:
        yield
    finally:
        for definition in definitions:
            registry._DEFINITIONS.pop(definition.name, None)


def make_district(sessions: sessionmaker[Session]) -> None:
    """A district with two communes; An Bình has 2 active computers and 1 revoked, Tân Lập 1,
    the district office 1."""
    with sessions() as s:
        ensure_unit(s, DISTRICT, DISTRICT_NAME, kind="district")
        ensure_unit(s, COMMUNE, "UBND xã An Bình", parent_id=DISTRICT, kind="commune")
        ensure_unit(s, OTHER, "UBND xã Tân Lập", parent_id=DISTRICT, kind="commune")
        make_agent(s, "a1" * 8, unit_id=COMMUNE)
        make_agent(s, "a2" * 8, unit_id=COMMUNE)
        make_agent(s, "a3" * 8, unit_id=COMMUNE, status="revoked")
        make_agent(s, "b1" * 8, unit_id=OTHER)
        make_agent(s, "c1" * 8, unit_id=DISTRICT)
        s.commit()


@dataclass
class Mailbox:
    """A running loopback mail server (STARTTLS and login required)."""

    port: int
    ca_file: Path
    handler: SmtpHandler


def settings_with(data_dir: Path, notify: NotifyConfig, db_url: str) -> Settings:
    """Settings of ``data_dir`` on the test database with ``notify``."""
    return settings_for(data_dir, ControllerConfig(notify=notify, database_url=db_url))


def mail_settings(data_dir: Path, mailbox: Mailbox, db_url: str) -> Settings:
    """Settings whose mail server is ``mailbox`` (no routes: schedules name their recipients)."""
    notify = notify_config(data_dir, smtp_port=mailbox.port, ca_file=mailbox.ca_file, routes=[])
    return settings_with(data_dir, notify, db_url)


def payload(part: EmailMessage) -> bytes:
    """The decoded bytes of a MIME part (an attachment as the recipient saves it)."""
    content = part.get_payload(decode=True)
    assert isinstance(content, bytes)
    return content


def november() -> tuple[date, date]:
    """The first and last day of November 2026."""
    return date(2026, 11, 1), date(2026, 11, 30)
