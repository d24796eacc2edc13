"""Remediation activity: the Ansible jobs requested in the period on the scope's computers.

One row per computer of each job (a job on several computers has a row for each, so a commune's
report shows only its own computers): what was run, by whom, who approved it, how the run ended
on that computer and what the next report showed (verification). The figures count jobs and
computers by outcome. The rows are read by
:func:`controller.store.dashboard.remediation_subjects.report_targets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from controller.reports.base import ReportContext
from controller.reports.definitions import audit_layout as lay
from controller.reports.document import (
    Column,
    Document,
    Emphasis,
    Figure,
    Figures,
    Row,
    Section,
    T,
    Table,
)
from controller.reports.registry import register
from controller.store.dashboard.remediation_subjects import report_targets
from controller.store.reporting.audit_common import HeaderFacts, header_facts

NONE_IN_PERIOD = T(
    "Không có lệnh khắc phục nào trong kỳ.",
    "No remediation job was requested in the period.",
)

#: The words of a job's stage (controller.store.models.REMEDIATION_JOB_STATUSES).
STATUS_TEXT: Mapping[str, T] = {
    "previewing": T("đang chạy thử", "previewing"),
    "awaiting_approval": T("chờ phê duyệt", "awaiting approval"),
    "queued": T("đang chờ chạy", "queued"),
    "running": T("đang chạy", "running"),
    "verifying": T("đang kiểm chứng", "verifying"),
    "fixed": T("đã khắc phục", "fixed"),
    "not_fixed": T("chưa khắc phục được", "not fixed"),
    "failed": T("thất bại", "failed"),
    "cancelled": T("đã hủy", "cancelled"),
    "rejected": T("đã từ chối", "rejected"),
    "interrupted": T("bị gián đoạn", "interrupted"),
}
#: How the run ended on one computer (REMEDIATION_TARGET_STATES).
STATE_TEXT: Mapping[str, T] = {
    "pending": T("chưa chạy", "not run yet"),
    "waiting": T("chờ máy trực tuyến", "waiting for the computer"),
    "running": T("đang chạy", "running"),
    "ok": T("không cần thay đổi", "nothing to change"),
    "changed": T("đã thay đổi", "changed"),
    "failed": T("thất bại", "failed"),
    "unreachable": T("không kết nối được", "unreachable"),
    "cancelled": T("đã hủy", "cancelled"),
    "expired": T("ngoại tuyến quá lâu", "offline too long"),
}
#: What the computer's next report showed (REMEDIATION_VERIFICATIONS).
VERIFICATION_TEXT: Mapping[str, T] = {
    "waiting": T("chờ báo cáo", "waiting for the report"),
    "fixed": T("đã đạt", "fixed"),
    "not_fixed": T("vẫn vi phạm", "not fixed"),
    "unknown": T("không có báo cáo kịp thời", "no report in time"),
}
_BAD = frozenset({"failed", "not_fixed", "interrupted"})


def _words(table: Mapping[str, T], code: str | None) -> T | None:
    if code is None:
        return None
    return table.get(code, T(code, code))


@dataclass(frozen=True, slots=True)
class RemediationJob:
    """One remediation job on one host (a row of the report)."""

    job_id: str
    unit_id: str
    unit_name: str
    hostname: str
    rule_id: str
    #: The playbook run.
    action: str
    requested_by: str
    requested_at: datetime
    #: The job's stage (:data:`STATUS_TEXT`).
    status: str
    finished_at: datetime | None
    #: Why the job failed or was cancelled (one line), else None.
    detail: str | None
    #: Who approved or rejected it (None: not decided, or no approval needed).
    decided_by: str | None = None
    #: How the run ended on this host (:data:`STATE_TEXT`).
    host_state: str = "pending"
    #: What this host's next report showed (:data:`VERIFICATION_TEXT`), None before the run.
    verification: str | None = None


@dataclass(frozen=True, slots=True)
class RemediationResult:
    """The remediation jobs of the scope within the period, one row per job and host."""

    header: HeaderFacts
    jobs: tuple[RemediationJob, ...]
    #: Remediation is part of govguard since issue 8 (the field stays for older callers).
    enabled: bool = True

    @property
    def job_count(self) -> int:
        """Distinct jobs among the rows."""
        return len({j.job_id for j in self.jobs})

    def hosts_verified(self, verification: str) -> int:
        """Rows (job and host) whose verification is ``verification``."""
        return sum(1 for j in self.jobs if j.verification == verification)


def compute(s: Session, ctx: ReportContext) -> RemediationResult:
    """The jobs requested in the period on the scope's computers (one row per host)."""
    targets = report_targets(s, ctx.scope, ctx.period.start_at, ctx.period.end_at)
    return RemediationResult(
        header_facts(s, ctx.unit_id, ctx.scope, ctx.now),
        tuple(
            RemediationJob(
                job_id=str(t.job_id),
                unit_id=t.unit_id,
                unit_name=t.unit_name,
                hostname=t.hostname,
                rule_id=t.rule_id or "",
                action=t.playbook,
                requested_by=t.requested_by,
                requested_at=t.requested_at,
                status=t.status,
                finished_at=t.finished_at,
                detail=t.error,
                decided_by=t.decided_by,
                host_state=t.state,
                verification=t.verification,
            )
            for t in targets
        ),
    )


def _emphasis(job: RemediationJob) -> Emphasis | None:
    if job.verification == "fixed":
        return "ok"
    if job.verification == "not_fixed" or job.host_state in ("failed", "unreachable"):
        return "bad"
    return "bad" if job.status in _BAD else None


def layout(result: RemediationResult, ctx: ReportContext) -> Document:
    """Figures (jobs, computers fixed and not fixed), then the list of jobs by computer."""
    figures = Figures(
        "figures",
        None,
        (
            Figure(T("Lệnh khắc phục", "Jobs"), result.job_count, "int"),
            Figure(T("Lượt máy", "Computers targeted"), len(result.jobs), "int"),
            Figure(T("Đã khắc phục", "Fixed"), result.hosts_verified("fixed"), "int", "ok"),
            Figure(
                T("Chưa khắc phục được", "Not fixed"),
                result.hosts_verified("not_fixed"),
                "int",
                "bad" if result.hosts_verified("not_fixed") else None,
            ),
        ),
    )
    jobs = Table(
        "jobs",
        T("Lệnh theo máy", "Jobs by computer"),
        (
            Column("requested_at", T("Yêu cầu lúc", "Requested"), "datetime"),
            Column("job", T("Số lệnh", "Job")),
            lay.UNIT,
            lay.HOST,
            lay.RULE,
            Column("action", T("Playbook", "Playbook")),
            Column("by", T("Người yêu cầu", "Requested by")),
            Column("decided_by", T("Người phê duyệt", "Decided by")),
            Column("status", T("Trạng thái", "Status")),
            Column("host_state", T("Kết quả trên máy", "Result on the computer")),
            Column("verification", T("Kiểm chứng", "Verification")),
            Column("finished_at", T("Kết thúc", "Finished"), "datetime"),
            Column("detail", T("Chi tiết", "Detail")),
        ),
        tuple(
            Row(
                (
                    j.requested_at,
                    j.job_id,
                    j.unit_name,
                    j.hostname,
                    j.rule_id,
                    j.action,
                    j.requested_by,
                    j.decided_by,
                    _words(STATUS_TEXT, j.status),
                    _words(STATE_TEXT, j.host_state),
                    _words(VERIFICATION_TEXT, j.verification),
                    j.finished_at,
                    j.detail,
                ),
                _emphasis(j),
            )
            for j in result.jobs
        ),
        empty=NONE_IN_PERIOD,
    )
    return Document(
        report=REMEDIATION.name,
        title=REMEDIATION.title,
        header=lay.header(result.header, ctx),
        sections=(Section("jobs", T("Lệnh khắc phục", "Remediation jobs"), (figures, jobs)),),
    )


REMEDIATION: lay.Definition[RemediationResult] = lay.Definition(
    "remediation",
    T("Báo cáo hoạt động khắc phục", "Remediation activity report"),
    T(
        "Các lệnh khắc phục bằng Ansible trong kỳ: máy, người yêu cầu, người phê duyệt, kết quả "
        "và kiểm chứng.",
        "Ansible remediation jobs in the period: computers, who asked, who approved, the result "
        "and its verification.",
    ),
    compute,
    layout,
)
register(REMEDIATION)
