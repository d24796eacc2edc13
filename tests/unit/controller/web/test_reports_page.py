"""The Reports page through HTTP on both databases: the form, downloads in every format, the
HTML view under the dashboard's CSP, unit scopes, refusals and the audit entry of a download.

The reports are made by a small definition registered for these tests (the computers of the
unit's subtree), so what a scoped account gets can be asserted host by host; the renderers are
the real ones.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.reports import registry
from controller.reports.base import ReportContext
from controller.reports.document import (
    Column,
    Document,
    Header,
    Ratio,
    Row,
    Section,
    T,
    Table,
)
from controller.settings import load_settings
from controller.store.db import make_engine, session_factory
from controller.store.models import Agent, AuditEntry, ReportSchedule
from tests.unit.controller.web.conftest import PASSWORD, District, Web

NAME = "test-computers"
ADMIN_REPORT = "/reports/generate?report=test-computers&unit={unit}&period=2026-Q4&format={fmt}"


@dataclass(frozen=True)
class Computers:
    """The computers of a report's units (what the definition computes)."""

    hostnames: tuple[tuple[str, str], ...]


class ComputersReport:
    """A report listing each computer of the unit's subtree with its unit."""

    name = NAME
    title = T("Danh sách máy tính thử nghiệm", "Test computer list")
    description = T("Các máy tính của đơn vị (báo cáo thử).", "The unit's computers (a test).")

    def compute(self, s: Session, ctx: ReportContext) -> Computers:
        query = select(Agent.hostname, Agent.unit_id).order_by(Agent.hostname)
        if ctx.scope is not None:
            query = query.where(Agent.unit_id.in_(sorted(ctx.scope)))
        return Computers(tuple((h or "", u or "") for h, u in s.execute(query)))

    def layout(self, result: Computers, ctx: ReportContext) -> Document:
        header = Header(
            unit_id=ctx.unit_id,
            unit_name="Xã An Bình" if ctx.unit_id == "xa-a" else ctx.unit_id,
            unit_path=(),
            period_label=ctx.period.label,
            period_first=ctx.period.first,
            period_last=ctx.period.last,
            generated_at=ctx.now,
            generated_by=ctx.generated_by,
            fresh_24h=Ratio(0, len(result.hostnames)),
            fresh_7d=Ratio(0, len(result.hostnames)),
        )
        table = Table(
            "computers",
            T("Máy tính", "Computers"),
            (Column("hostname", T("Tên máy", "Host name")), Column("unit", T("Đơn vị", "Unit"))),
            tuple(Row((h, u)) for h, u in result.hostnames),
        )
        section = Section("computers", T("Máy tính", "Computers"), (table,))
        return Document(NAME, self.title, header, (section,))


@pytest.fixture
def report() -> Iterator[None]:
    """The test report, registered for one test."""
    registry.register(ComputersReport())
    try:
        yield
    finally:
        registry._DEFINITIONS.pop(NAME, None)


@pytest.fixture
def admin(web: Web, district: District, report: None) -> Web:
    """``web`` with the district seeded and the administrator logged in."""
    web.login()
    return web


def _login(web: Web, username: str) -> None:
    web.client.cookies.clear()
    web.login(username, PASSWORD)


def _audit(web: Web) -> list[AuditEntry]:
    engine = make_engine(load_settings(web.data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            query = select(AuditEntry).where(AuditEntry.action == "report.generated")
            return list(s.scalars(query.order_by(AuditEntry.id)))
    finally:
        engine.dispose()


def test_page_lists_the_reports_and_the_form(admin: Web) -> None:
    reply = admin.client.get("/reports")
    assert reply.status_code == 200
    html = reply.text
    assert "Danh sách máy tính thử nghiệm" in html
    assert "Các máy tính của đơn vị (báo cáo thử)." in html
    assert 'href="/reports" aria-current="page"' in html
    # Every unit of the district, the communes indented under it; the current quarter.
    assert re.search(r'<option value="xa-a">(\xa0)+└\xa0Xã An Bình</option>', html)
    assert re.search(r'name="period" value="\d{4}-Q[1-4]"', html)
    assert 'name="locations"' in html


def test_pdf_download_with_both_filenames_and_an_audit_entry(admin: Web) -> None:
    reply = admin.client.get(ADMIN_REPORT.format(unit="xa-a", fmt="pdf"))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/pdf"
    assert reply.content.startswith(b"%PDF")
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="test-computers_xa-a_2026-Q4.pdf"; ')
    readable = unquote(disposition.split("filename*=UTF-8''", 1)[1])
    assert readable == "Danh sách máy tính thử nghiệm - Xã An Bình - 2026-Q4.pdf"
    entries = _audit(admin)
    assert len(entries) == 1
    assert entries[0].actor == "user:admin"
    assert entries[0].details is not None
    assert {k: entries[0].details[k] for k in ("report", "unit", "period", "format")} == {
        "report": NAME,
        "unit": "xa-a",
        "period": "2026-Q4",
        "format": "pdf",
    }


def test_xlsx_and_csv_downloads(admin: Web) -> None:
    xlsx = admin.client.get(ADMIN_REPORT.format(unit="xa-b", fmt="xlsx") + "&lang=en")
    assert xlsx.status_code == 200, xlsx.text
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert xlsx.content.startswith(b"PK\x03\x04")
    assert zipfile.is_zipfile(io.BytesIO(xlsx.content))
    book = load_workbook(io.BytesIO(xlsx.content))
    cells = {c.value for sheet in book.worksheets for row in sheet.iter_rows() for c in row}
    assert "pc-b-01" in cells
    csv = admin.client.get(ADMIN_REPORT.format(unit="xa-b", fmt="csv"))
    assert csv.status_code == 200, csv.text
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.content.startswith("\ufeff".encode())
    assert "pc-b-01" in csv.content.decode("utf-8-sig")
    assert "pc-a-" not in csv.content.decode("utf-8-sig")
    assert [e.details["format"] for e in _audit(admin) if e.details] == ["xlsx", "csv"]


def test_html_report_is_shown_under_the_dashboards_csp(admin: Web) -> None:
    reply = admin.client.get(ADMIN_REPORT.format(unit="xa-a", fmt="html"))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/html")
    assert "content-disposition" not in reply.headers
    policy = reply.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    # Agent text stays escaped in the report, as on every page.
    assert "pc-a-&lt;b&gt;01&lt;/b&gt;" in reply.text
    assert "<b>01</b>" not in reply.text
    assert "Danh sách máy tính thử nghiệm" in reply.text


def test_commune_officer_reports_on_its_commune_only(
    web: Web, district: District, report: None
) -> None:
    _login(web, "op-a")
    page = web.client.get("/reports").text
    assert 'value="xa-a"' in page
    assert 'value="xa-b"' not in page
    # Administrators only may put classified computers' locations into a copy.
    assert 'name="locations"' not in page
    csv = web.client.get(ADMIN_REPORT.format(unit="xa-a", fmt="csv"))
    assert csv.status_code == 200
    assert "pc-a-<b>01</b>" in csv.content.decode("utf-8-sig")
    assert "pc-b-01" not in csv.content.decode("utf-8-sig")
    assert web.client.get(ADMIN_REPORT.format(unit="xa-b", fmt="csv")).status_code == 404
    assert web.client.get(ADMIN_REPORT.format(unit="nowhere", fmt="csv")).status_code == 404
    refused = web.client.get(ADMIN_REPORT.format(unit="xa-a", fmt="csv") + "&locations=1")
    assert refused.status_code == 400
    assert len(_audit(web)) == 1


def test_bad_input_shows_the_form_again_with_a_message(admin: Web) -> None:
    for key, value, message in (
        ("period", "2026-Q5", "2026-Q5 không phải là một kỳ báo cáo"),
        ("period", "", "— không phải là một kỳ báo cáo"),
        ("report", "nope", "Hãy chọn một trong các báo cáo"),
        ("format", "docx", "Hãy chọn định dạng"),
    ):
        values = {"report": NAME, "unit": "xa-a", "period": "2026-Q4", "format": "pdf"}
        values[key] = value
        reply = admin.client.get("/reports/generate", params=values)
        assert reply.status_code == 400, key
        assert message in reply.text
        # The form again, as it was sent.
        assert 'id="make-report"' in reply.text
        assert f'name="period" value="{values["period"]}"' in reply.text
    assert _audit(admin) == []


def test_archive_lists_the_download_and_checks_its_digest(admin: Web) -> None:
    made = admin.client.get(ADMIN_REPORT.format(unit="xa-b", fmt="csv"))
    assert made.status_code == 200
    entry = _audit(admin)[0]
    assert entry.details is not None
    archive_id = entry.details["archive_id"]
    assert entry.details["sha256"] == hashlib.sha256(made.content).hexdigest()
    page = admin.client.get("/reports").text
    row = re.search(rf'<tr data-id="archive-{archive_id}">(.*?)</tr>', page, re.DOTALL)
    assert row is not None
    assert "Xã Bình Minh" in row.group(1)
    assert "2026-Q4" in row.group(1)
    assert entry.details["sha256"][:12] in row.group(1)
    again = admin.client.get(f"/reports/archive/{archive_id}")
    assert again.status_code == 200
    assert again.content == made.content
    assert again.headers["content-disposition"].startswith(
        'attachment; filename="test-computers_xa-b_2026-Q4.csv"'
    )
    # A file changed on disk is refused with a message, never served.
    stored = next((admin.data_dir / "reports").rglob(f"{archive_id}_*"))
    stored.write_bytes(made.content + b"tampered\r\n")
    refused = admin.client.get(f"/reports/archive/{archive_id}")
    assert refused.status_code == 409
    assert "không còn khớp với SHA-256" in refused.text
    assert b"tampered" not in refused.content
    # Unknown ids: 404; ids beyond the database's integers: a 400, never a database error.
    assert admin.client.get("/reports/archive/424242").status_code == 404
    assert admin.client.get(f"/reports/archive/{2**64}").status_code == 400
    # Another commune's officer does not even learn that it exists.
    _login(admin, "op-a")
    assert admin.client.get(f"/reports/archive/{archive_id}").status_code == 404
    assert f'<tr data-id="archive-{archive_id}">' not in admin.client.get("/reports").text


@pytest.fixture
def data_dir(data_dir: Path) -> Path:
    """The data directory with a mail server in ``notify:`` (schedules e-mail their reports)."""
    config = data_dir / "config.yaml"
    text = config.read_text(encoding="utf-8")
    assert "\nnotify:" not in text
    config.write_text(
        text + "\nnotify:\n  smtp:\n    host: 127.0.0.1\n    port: 2525\n"
        "    starttls: false\n    from_address: govguard@huyen.gov.vn\n",
        encoding="utf-8",
    )
    return data_dir


def _schedules(web: Web) -> list[ReportSchedule]:
    engine = make_engine(load_settings(web.data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            return list(s.scalars(select(ReportSchedule).order_by(ReportSchedule.id)))
    finally:
        engine.dispose()


def _actions(web: Web, prefix: str) -> list[AuditEntry]:
    engine = make_engine(load_settings(web.data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            query = select(AuditEntry).where(AuditEntry.action.startswith(prefix))
            return list(s.scalars(query.order_by(AuditEntry.id)))
    finally:
        engine.dispose()


SCHEDULE: dict[str, object] = {
    "report": NAME,
    "unit": "xa-a",
    "cadence": "monthly",
    "format": "xlsx",
    "lang": "vi",
    "recipients": "Cntt@Huyen.gov.vn, vanthu@huyen.gov.vn",
}


def test_admin_adds_pauses_resumes_and_removes_a_schedule(admin: Web) -> None:
    # Without the form's token nothing happens (403).
    forged = admin.client.post("/reports/schedules", data=SCHEDULE, follow_redirects=False)
    assert forged.status_code == 403
    assert _schedules(admin) == []
    bad = admin.post("/reports/schedules", {**SCHEDULE, "recipients": "không phải địa chỉ"})
    assert bad.status_code == 400
    assert "Lịch gửi bị từ chối" in bad.text
    assert "không phải địa chỉ" in bad.text  # the form comes back as it was sent
    made = admin.post("/reports/schedules", SCHEDULE)
    assert made.status_code == 303
    assert made.headers["location"] == "/reports?done=schedule_added"
    [row] = _schedules(admin)
    assert (row.report, row.unit_id, row.cadence, row.format, row.enabled) == (
        NAME, "xa-a", "monthly", "xlsx", True,
    )  # fmt: skip
    assert row.recipients == ["cntt@huyen.gov.vn", "vanthu@huyen.gov.vn"]
    page = admin.client.get("/reports?done=schedule_added").text
    assert "Đã thêm lịch gửi báo cáo." in page
    listed = re.search(
        rf'<tr data-id="schedule-{row.id}">(.*?)</tr>',
        page.split('id="report-schedules"')[1],
        re.DOTALL,
    )
    assert listed is not None
    assert "hằng tháng" in listed.group(1)
    assert "cntt@huyen.gov.vn, vanthu@huyen.gov.vn" in listed.group(1)
    assert admin.post(f"/reports/schedules/{row.id}/disable").status_code == 303
    assert _schedules(admin)[0].enabled is False
    assert admin.post(f"/reports/schedules/{row.id}/enable").status_code == 303
    assert _schedules(admin)[0].enabled is True
    assert admin.post(f"/reports/schedules/{row.id}/remove").status_code == 303
    assert _schedules(admin) == []
    assert admin.post(f"/reports/schedules/{row.id}/remove").status_code == 404
    assert admin.post(f"/reports/schedules/{2**40}/remove").status_code == 400
    entries = _actions(admin, "report.schedule.")
    assert [e.action for e in entries] == [
        "report.schedule.created",
        "report.schedule.disabled",
        "report.schedule.enabled",
        "report.schedule.removed",
    ]
    assert {(e.actor, e.source) for e in entries} == {("user:admin", "testclient")}


def test_who_sees_and_changes_schedules(admin: Web) -> None:
    assert admin.post("/reports/schedules", {**SCHEDULE, "unit": "xa-b"}).status_code == 303
    [row] = _schedules(admin)
    # An auditor makes and downloads reports, but sees no schedule and cannot add one.
    _login(admin, "aud")
    page = admin.client.get("/reports").text
    assert 'id="schedules"' not in page
    assert admin.client.get(ADMIN_REPORT.format(unit="xa-a", fmt="csv")).status_code == 200
    assert admin.post("/reports/schedules", SCHEDULE).status_code == 403
    # A district operator sees them, without the form or the buttons.
    _login(admin, "op")
    page = admin.client.get("/reports").text
    assert f'<tr data-id="schedule-{row.id}">' in page
    assert 'id="new-schedule"' not in page
    assert admin.post(f"/reports/schedules/{row.id}/disable").status_code == 403
    # Commune A's operator does not see commune B's schedule.
    _login(admin, "op-a")
    assert f'<tr data-id="schedule-{row.id}">' not in admin.client.get("/reports").text
    assert len(_schedules(admin)) == 1
    assert _schedules(admin)[0].enabled is True
