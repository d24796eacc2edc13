"""Remediation activity: the hook for issue 8.

Remediation jobs do not exist yet, so :func:`compute` returns no job and the document says so.
:class:`RemediationJob` holds the fields a job list will have; issue 8 fills :func:`compute`
(and nothing else needs to change: the layout already draws the jobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from controller.reports.base import ReportContext
from controller.reports.definitions import audit_layout as lay
from controller.reports.document import Column, Document, Paragraph, Row, Section, T, Table
from controller.reports.registry import register
from controller.store.reporting.audit_common import HeaderFacts, header_facts

NOT_YET = T(
    "Các lệnh khắc phục sẽ hiện ở đây khi chức năng khắc phục được bật (issue 8).",
    "Remediation jobs appear here once remediation is enabled (issue 8).",
)


@dataclass(frozen=True, slots=True)
class RemediationJob:
    """One remediation job on one host (the fields issue 8's job list will have)."""

    job_id: str
    unit_id: str
    unit_name: str
    hostname: str
    rule_id: str
    action: str
    requested_by: str
    requested_at: datetime
    #: queued, running, succeeded, failed, cancelled.
    status: str
    finished_at: datetime | None
    #: What the agent reported back (an error, the output's first line).
    detail: str | None


@dataclass(frozen=True, slots=True)
class RemediationResult:
    """The remediation jobs of the scope within the period (always empty until issue 8)."""

    header: HeaderFacts
    jobs: tuple[RemediationJob, ...]
    enabled: bool


def compute(s: Session, ctx: ReportContext) -> RemediationResult:
    """No jobs: remediation does not exist yet (issue 8 reads its jobs here)."""
    return RemediationResult(header_facts(s, ctx.unit_id, ctx.scope, ctx.now), (), False)


def layout(result: RemediationResult, ctx: ReportContext) -> Document:
    """The job list, or the paragraph saying remediation is not enabled yet."""
    jobs = Table(
        "jobs",
        T("Lệnh khắc phục", "Remediation jobs"),
        (
            Column("requested_at", T("Yêu cầu lúc", "Requested"), "datetime"),
            lay.UNIT,
            lay.HOST,
            lay.RULE,
            Column("action", T("Hành động", "Action")),
            Column("by", T("Người yêu cầu", "Requested by")),
            Column("status", T("Trạng thái", "Status")),
            Column("finished_at", T("Kết thúc", "Finished"), "datetime"),
            Column("detail", T("Chi tiết", "Detail")),
        ),
        tuple(
            Row(
                (
                    j.requested_at,
                    j.unit_name,
                    j.hostname,
                    j.rule_id,
                    j.action,
                    j.requested_by,
                    j.status,
                    j.finished_at,
                    j.detail,
                ),
                "bad" if j.status == "failed" else None,
            )
            for j in result.jobs
        ),
        empty=NOT_YET,
    )
    blocks = (jobs,) if result.enabled else (Paragraph(NOT_YET),)
    return Document(
        report=REMEDIATION.name,
        title=REMEDIATION.title,
        header=lay.header(result.header, ctx),
        sections=(Section("jobs", T("Lệnh khắc phục", "Remediation jobs"), blocks),),
    )


REMEDIATION: lay.Definition[RemediationResult] = lay.Definition(
    "remediation",
    T("Báo cáo hoạt động khắc phục", "Remediation activity report"),
    T(
        "Các lệnh khắc phục trong kỳ (khi chức năng khắc phục được bật, issue 8).",
        "Remediation jobs in the period (once remediation is enabled, issue 8).",
    ),
    compute,
    layout,
)
register(REMEDIATION)
