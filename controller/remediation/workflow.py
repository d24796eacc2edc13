"""Remediation jobs: preview → approve → run → verify (owned by the workflow work of issue 8).

The signatures below are the contract the worker, the CLI and the dashboard call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from controller.settings import Settings
from controller.store.models import RemediationJob, RemediationRun


def request(
    s: Session,
    settings: Settings,
    *,
    playbook: str | None = None,
    rule_id: str | None = None,
    finding_id: int | None = None,
    hosts: Sequence[str] = (),
    actor: str,
    origin: str,
    source: str | None = None,
    approve: bool = False,
    now: datetime,
) -> RemediationJob:
    """Create a job from a finding, or a rule (its failing hosts, or ``hosts``), or a playbook
    and ``hosts`` (agent ids, asset ids or inventory names); queue its check-mode preview, or
    with ``approve`` (an operator/admin) skip straight to the apply run.

    Refuses (:class:`controller.remediation.model.RemediationError`) a classified host for any
    playbook but the isolation one, an unknown playbook, a host without a connection address,
    before any run exists.
    """
    raise NotImplementedError


def approve(
    s: Session, job_id: int, *, actor: str, now: datetime, source: str | None = None
) -> RemediationJob:
    """Approve a job awaiting approval: queue its apply run (offline hosts wait)."""
    raise NotImplementedError


def reject(
    s: Session, job_id: int, *, actor: str, now: datetime, source: str | None = None
) -> RemediationJob:
    """Reject a job awaiting approval (terminal)."""
    raise NotImplementedError


def cancel(
    s: Session, job_id: int, *, actor: str, now: datetime, source: str | None = None
) -> RemediationJob:
    """Cancel a job: queued runs never start, a running one is stopped by its worker."""
    raise NotImplementedError


def run_finished(s: Session, settings: Settings, run: RemediationRun, now: datetime) -> None:
    """Called by the worker in the transaction that stores a run's end: move the job on
    (preview done → awaiting approval or queued; apply done → verifying; failures)."""
    raise NotImplementedError


def tick(s: Session, settings: Settings, now: datetime) -> None:
    """The worker's periodic step: queue runs for waiting hosts that came back online, expire
    hosts offline too long, conclude verifications, start automatic remediation."""
    raise NotImplementedError
