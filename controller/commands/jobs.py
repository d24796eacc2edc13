"""``govguard jobs list|show|approve|reject|cancel``: remediation jobs (docs/remediation.md).

The decisions are the workflow's (:mod:`controller.remediation.workflow`), recorded with the
actor ``cli:<login>``; ``show --follow`` prints the job's log as the worker writes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from controller.commands.common import (
    CliError,
    actor,
    now,
    open_store,
    print_table,
    settings,
    when,
)
from controller.remediation import workflow
from controller.remediation.model import RemediationError
from controller.store import remediation as store
from controller.store.models import RemediationJob, RemediationRun, RemediationTarget

SOURCE = "cli"


def job_id(text: str) -> int:
    """A job id as typed (``12`` or ``#12``)."""
    digits = text.strip().removeprefix("#")
    if not digits.isdigit() or not 1 <= int(digits) <= 2**31 - 1:
        raise CliError(f"a job id is a number, not {text!r}")
    return int(digits)


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def job_json(job: RemediationJob, hosts: int | None = None) -> dict[str, Any]:
    """One job as ``jobs list --json`` prints it."""
    return {
        "id": job.id,
        "status": job.status,
        "playbook": job.playbook,
        "rule": job.rule_id,
        "finding": job.finding_id,
        "approval": job.approval,
        "origin": job.origin,
        "requested_by": job.requested_by,
        "requested_at": _time(job.requested_at),
        "decided_by": job.decided_by,
        "decided_at": _time(job.decided_at),
        "ran_at": _time(job.ran_at),
        "finished_at": _time(job.finished_at),
        "error": job.error,
        "hosts": hosts,
    }


def list_(args: argparse.Namespace) -> int:
    """Print jobs, newest first."""
    with open_store(settings(args)) as session:
        jobs = store.list_jobs(
            session, None, statuses=args.status, rule_id=args.rule, host=args.host, limit=args.limit
        )
        counts = store.host_counts(session, [job.id for job in jobs])
    if args.json:
        json.dump(
            [job_json(job, counts.get(job.id, 0)) for job in jobs],
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        print()
        return 0
    rows = [
        (
            str(job.id),
            job.status,
            job.playbook,
            job.rule_id or "-",
            str(counts.get(job.id, 0)),
            job.requested_by,
            when(job.requested_at),
            (job.error or "")[:60],
        )
        for job in jobs
    ]
    print_table(
        ("ID", "STATUS", "PLAYBOOK", "RULE", "HOSTS", "REQUESTED BY", "AT", "ERROR"),
        rows,
        "no remediation jobs",
    )
    return 0


def _evidence(target: RemediationTarget) -> str:
    """One line of what verification read back."""
    evidence = target.evidence
    if not isinstance(evidence, dict):
        return "-"
    parts: list[str] = []
    reason = evidence.get("reason")
    if isinstance(reason, dict):
        parts.append(str(reason.get("code", "")))
    elif reason:
        parts.append(str(reason))
    for item in evidence.get("evidence") or []:
        if isinstance(item, dict) and "fact" in item:
            parts.append(f"{item['fact']}={json.dumps(item.get('actual'), ensure_ascii=False)}")
    return "; ".join(p for p in parts if p)[:120] or "-"


def print_job(view: store.JobView) -> None:
    """The job, its hosts and runs, for people."""
    job = view.job
    about = f" for {job.rule_id}" if job.rule_id else ""
    about += f" (finding #{job.finding_id})" if job.finding_id else ""
    print(f"job {job.id}: {job.playbook}{about}: {job.status}")
    print(f"  requested by {job.requested_by} at {when(job.requested_at)} ({job.origin})")
    if job.decided_by:
        print(f"  decided by {job.decided_by} at {when(job.decided_at)} (approval {job.approval})")
    else:
        print(f"  approval {job.approval}: not decided yet")
    if job.error:
        print(f"  error: {job.error}")
    print()
    print_table(
        ("HOST", "UNIT", "STATE", "VERIFICATION", "EVIDENCE"),
        [
            (
                t.host + (" (classified)" if t.classified else ""),
                t.unit_id,
                t.state,
                t.verification or "-",
                _evidence(t),
            )
            for t in view.targets
        ],
        "no hosts",
    )
    print()
    print_table(
        ("RUN", "MODE", "STATE", "HOSTS", "STARTED", "FINISHED", "RC", "ERROR"),
        [_run_row(run) for run in view.runs],
        "no runs",
    )


def _run_row(run: RemediationRun) -> tuple[str, ...]:
    return (
        str(run.id),
        run.mode,
        run.state,
        ",".join(run.hosts),
        when(run.started_at),
        when(run.finished_at),
        "-" if run.rc is None else str(run.rc),
        (run.error or "")[:60],
    )


def show(args: argparse.Namespace) -> int:
    """Print a job: hosts with verification and evidence, runs, the preview diff, the log."""
    from controller.commands.remediate import follow, print_events

    wanted = job_id(args.id)
    current = settings(args)
    with open_store(current) as session:
        view = store.job_view(session, wanted)
        if view is None:
            raise CliError(f"no remediation job {wanted}")
        print_job(view)
        diffs = store.preview_diffs(session, wanted)
        events = store.events_tail(session, wanted, max(args.lines, 1))
    if diffs:
        print("\npreview (check mode, nothing was changed):")
        for event in diffs:
            print(f"--- {event.host or '?'}: {event.task or ''}")
            print(event.diff)
    if args.follow:
        return follow(current, wanted)
    if events:
        print(f"\nlog (the last {len(events)} events):")
        print_events(events)
    return 0


def _decide(args: argparse.Namespace, verb: str) -> int:
    wanted = job_id(args.id)
    current = settings(args)
    refused: RemediationError | None = None
    with open_store(current) as session:
        try:
            if verb == "approve":
                job = workflow.approve(
                    session, wanted, actor=actor(), now=now(), source=SOURCE, settings=current
                )
            elif verb == "reject":
                job = workflow.reject(session, wanted, actor=actor(), now=now(), source=SOURCE)
            else:
                job = workflow.cancel(session, wanted, actor=actor(), now=now(), source=SOURCE)
        except RemediationError as exc:
            refused = exc
        else:
            status = job.status
    if refused is not None:
        raise CliError(str(refused))
    print(f"job {wanted}: {status}")
    return 0


def approve(args: argparse.Namespace) -> int:
    """Approve a job awaiting approval: its apply run is queued for `govguard worker`."""
    return _decide(args, "approve")


def reject(args: argparse.Namespace) -> int:
    """Reject a job awaiting approval."""
    return _decide(args, "reject")


def cancel(args: argparse.Namespace) -> int:
    """Cancel a job: queued runs never start, a running one is stopped."""
    return _decide(args, "cancel")
