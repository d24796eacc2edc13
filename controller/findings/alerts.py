"""Tell people about new findings: one notice per finding opened, in Vietnamese and English.

Called in the transaction that opens the findings (ingest, re-evaluation, an enrollment
attempt of a classified computer), so a notice is queued exactly when its finding commits.
Critical findings go out at once; the others in the daily digest (controller.notify).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from controller.findings.network import RULES as NETWORK_RULES
from controller.findings.policies import PolicyCache
from controller.findings.tripwire import RULE as TRIPWIRE_RULE
from controller.notify import Notice, enqueue
from controller.notify.config import NotifyConfig
from controller.policy.model import Text
from controller.store.findings import Opened

log = logging.getLogger(__name__)


class _Described(Protocol):
    """A policy rule, or a rule the network decides: what a notice says about it."""

    @property
    def title(self) -> Text: ...

    @property
    def rationale(self) -> Text: ...


def _subject_name(subject: str) -> tuple[str, str]:
    kind, _, name = subject.partition(":")
    if kind == "asset":
        return f"tài sản {name}", f"asset {name}"
    if kind == "device":
        return f"thiết bị mạng {name}", f"network device {name}"
    if kind == "unit":
        return f"đơn vị {name}", f"unit {name}"
    return f"máy {name}", f"computer {name}"


def notice_for(opened: Opened, at: datetime, policies: PolicyCache | None) -> Notice:
    """The notice of one opened finding."""
    vi_who, en_who = _subject_name(opened.subject)
    evaluator = policies.current() if policies is not None else None
    rule: _Described | None = evaluator.by_id.get(opened.rule_id) if evaluator is not None else None
    # Rules the network decides (NET-01, PRN-01...) are declared in code, not in a pack.
    rule = rule or NETWORK_RULES.get(opened.rule_id)
    if opened.rule_id == TRIPWIRE_RULE and opened.subject.startswith("asset:"):
        vi_title = "Máy tính mật bị phát hiện trên mạng"
        en_title = "Classified computer seen on the network"
        vi_body = (
            f"Máy tính soạn thảo, lưu giữ bí mật nhà nước ({vi_who}) vừa xuất hiện trên mạng. "
            "Luật Bảo vệ bí mật nhà nước 2018, Điều 5, cấm kết nối máy này với mạng. "
            "Ngắt kết nối ngay và kiểm tra máy."
        )
        en_body = (
            f"A computer that drafts or stores state secrets ({en_who}) has just appeared on "
            "the network. Law 29/2018 Art. 5 forbids connecting it to any network. Disconnect "
            "it now and inspect it."
        )
    else:
        vi_title = rule.title.vi if rule is not None else opened.rule_id
        en_title = rule.title.en if rule is not None else opened.rule_id
        vi_body = f"{vi_who}: {vi_title}."
        en_body = f"{en_who}: {en_title}."
        if rule is not None:
            vi_body += f" {rule.rationale.vi}"
            en_body += f" {rule.rationale.en}"
    return Notice(
        key=f"finding:{opened.subject}|{opened.rule_id}|{at.isoformat()}",
        unit_id=opened.unit_id,
        severity=opened.severity,
        kind="finding.opened",
        # The notifier adds "[govguard] [severity]" in front.
        subject={
            "vi": f"{vi_title} ({vi_who}, {opened.rule_id})",
            "en": f"{en_title} ({en_who}, {opened.rule_id})",
        },
        body={
            "vi": f"{vi_body}\nĐơn vị: {opened.unit_id}. Quy tắc: {opened.rule_id}.",
            "en": f"{en_body}\nUnit: {opened.unit_id}. Rule: {opened.rule_id}.",
        },
        data={
            "subject": opened.subject,
            "unit": opened.unit_id,
            "rule": opened.rule_id,
            "severity": opened.severity,
            "opened_at": at.isoformat(),
        },
        occurred_at=at,
    )


class FindingAlerts:
    """The ``on_opened`` hook: queue a notice per finding opened (nothing without routes)."""

    def __init__(self, config: NotifyConfig, policies: PolicyCache | None = None) -> None:
        self.config = config
        self.policies = policies

    def __call__(self, s: Session, opened: list[Opened], at: datetime) -> None:
        """Queue the notices of ``opened`` in the caller's transaction."""
        if not self.config.routes:
            return
        for finding in opened:
            enqueue(s, notice_for(finding, at, self.policies), self.config, now=at)
