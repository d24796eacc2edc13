"""Remediation runs as the worker executes them: claim, heartbeat, events, end, interruption.

A run is claimed with a conditional UPDATE (``queued`` → ``running`` with the worker's
``holder``), under a lock that makes the count of running runs and the claim one step across
processes (PostgreSQL: a transaction advisory lock; SQLite: the caller's ``write_session``, which
takes the database's write lock at BEGIN). So no run starts twice and never more than
``remediation.max_concurrent`` run at once. Every end is conditional on the run still being
``running`` under the same holder: a run another process declared ``interrupted`` is not
overwritten by a worker that comes back to life.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from controller.remediation.model import RunEvent, RunOutcome
from controller.store.models import (
    RemediationEvent,
    RemediationJob,
    RemediationRun,
    RemediationTarget,
)

#: pg_advisory_xact_lock key of the claim ("ggrr"): the same in every controller process.
_CLAIM_LOCK: Final = 0x67677272


def _changed(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


def running_count(s: Session) -> int:
    """How many runs are ``running`` now (all workers)."""
    return int(s.scalar(select(func.count()).where(RemediationRun.state == "running")) or 0)


def queued_ids(s: Session, job_id: int | None = None) -> list[int]:
    """Ids of the ``queued`` runs (of one job), oldest first."""
    query = select(RemediationRun.id).where(RemediationRun.state == "queued")
    if job_id is not None:
        query = query.where(RemediationRun.job_id == job_id)
    return list(s.scalars(query.order_by(RemediationRun.id)))


def claim(
    s: Session,
    holder: str,
    now: datetime,
    *,
    max_concurrent: int,
    limit: int | None = None,
    job_id: int | None = None,
) -> list[RemediationRun]:
    """Take queued runs (oldest first, of ``job_id`` only if given) up to the free slots.

    On SQLite call :func:`controller.store.db.write_session` first; commit right after. An
    apply run's hosts become ``running`` and its job, if it was ``queued``, ``running``.
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(func.pg_advisory_xact_lock(_CLAIM_LOCK)))
    free = max_concurrent - running_count(s)
    if limit is not None:
        free = min(free, limit)
    if free <= 0:
        return []
    claimed: list[RemediationRun] = []
    for run_id in queued_ids(s, job_id)[:free]:
        result = s.execute(
            update(RemediationRun)
            .where(RemediationRun.id == run_id, RemediationRun.state == "queued")
            .values(state="running", holder=holder, started_at=now, heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
        if _changed(result) != 1:
            continue
        run = s.get(RemediationRun, run_id, populate_existing=True)
        if run is None:
            continue
        claimed.append(run)
        if run.mode == "apply":
            _mark_running(s, run)
    return claimed


def _mark_running(s: Session, run: RemediationRun) -> None:
    """The hosts of an apply run, and its job, are running (the workflow moves them on at the
    run's end: :func:`controller.remediation.workflow.run_finished`)."""
    s.execute(
        update(RemediationTarget)
        .where(
            RemediationTarget.job_id == run.job_id,
            RemediationTarget.host.in_(list(run.hosts)),
            RemediationTarget.state == "pending",
            or_(RemediationTarget.run_id == run.id, RemediationTarget.run_id.is_(None)),
        )
        .values(state="running", run_id=run.id)
        .execution_options(synchronize_session=False)
    )
    s.execute(
        update(RemediationJob)
        .where(RemediationJob.id == run.job_id, RemediationJob.status == "queued")
        .values(status="running")
        .execution_options(synchronize_session=False)
    )


def heartbeat(s: Session, run_id: int, holder: str, now: datetime) -> bool:
    """Say the run is alive; False when it is no longer ``running`` under ``holder`` (another
    process declared it interrupted)."""
    result = s.execute(
        update(RemediationRun)
        .where(
            RemediationRun.id == run_id,
            RemediationRun.state == "running",
            RemediationRun.holder == holder,
        )
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


def request_cancel(s: Session, run_id: int, now: datetime) -> bool:
    """Ask the worker running ``run_id`` to stop it (a queued run is cancelled at once);
    whether the run was still queued or running."""
    queued = s.execute(
        update(RemediationRun)
        .where(RemediationRun.id == run_id, RemediationRun.state == "queued")
        .values(state="cancelled", finished_at=now, cancel_requested_at=now)
        .execution_options(synchronize_session=False)
    )
    running = s.execute(
        update(RemediationRun)
        .where(
            RemediationRun.id == run_id,
            RemediationRun.state == "running",
            RemediationRun.cancel_requested_at.is_(None),
        )
        .values(cancel_requested_at=now)
        .execution_options(synchronize_session=False)
    )
    return _changed(queued) + _changed(running) == 1


def cancel_requested(s: Session, run_id: int) -> bool:
    """Whether someone asked to stop the run or its job."""
    row = s.execute(
        select(RemediationRun.cancel_requested_at, RemediationJob.cancel_requested_at)
        .join(RemediationJob, RemediationJob.id == RemediationRun.job_id)
        .where(RemediationRun.id == run_id)
    ).first()
    return row is not None and (row[0] is not None or row[1] is not None)


def append_events(s: Session, run_id: int, events: Sequence[RunEvent]) -> None:
    """Insert a batch of the run's events (one statement)."""
    if not events:
        return
    s.execute(
        insert(RemediationEvent),
        [
            {
                "run_id": run_id,
                "seq": e.seq,
                "at": e.at,
                "event": e.event,
                "host": e.host,
                "task": e.task,
                "changed": e.changed,
                "failed": e.failed,
                "stdout": e.stdout,
                "diff": e.diff,
            }
            for e in events
        ],
    )


def events_of(s: Session, run_id: int) -> list[RemediationEvent]:
    """The run's events in order."""
    query = select(RemediationEvent).where(RemediationEvent.run_id == run_id)
    return list(s.scalars(query.order_by(RemediationEvent.seq)))


def finish(
    s: Session, run_id: int, holder: str, outcome: RunOutcome, now: datetime
) -> RemediationRun | None:
    """Store how the run ended, if it is still ``running`` under ``holder``; the run (re-read),
    or None when another process ended it first."""
    result = s.execute(
        update(RemediationRun)
        .where(
            RemediationRun.id == run_id,
            RemediationRun.state == "running",
            RemediationRun.holder == holder,
        )
        .values(
            state=outcome.state,
            status_text=outcome.status_text,
            rc=outcome.rc,
            stats={host: asdict(stats) for host, stats in outcome.stats.items()},
            error=outcome.error,
            finished_at=now,
            heartbeat_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if _changed(result) != 1:
        return None
    return s.get(RemediationRun, run_id, populate_existing=True)


def holder_alive_here(holder: str | None) -> bool | None:
    """For a holder ``<hostname>:<pid>:<random>`` of this machine, whether its process still
    exists; None for another machine's (or a malformed) holder."""
    if not holder:
        return None
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return None
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def interrupt_stale(
    s: Session, now: datetime, stale_after_s: float, own_holder: str
) -> list[RemediationRun]:
    """Mark ``interrupted`` the running runs whose worker is gone: no heartbeat for
    ``stale_after_s``, or a holder of this machine (other than ``own_holder``) whose process no
    longer exists. Returns them (re-read); the caller calls
    :func:`controller.remediation.workflow.run_finished` for each in the same transaction.
    Never relaunched: the playbook may have changed half a host.
    """
    limit = now - timedelta(seconds=stale_after_s)
    running = s.execute(
        select(
            RemediationRun.id,
            RemediationRun.holder,
            RemediationRun.heartbeat_at,
            RemediationRun.started_at,
        ).where(RemediationRun.state == "running")
    ).all()
    interrupted: list[RemediationRun] = []
    for run_id, holder, beat, started in running:
        last = beat or started
        if holder != own_holder and holder_alive_here(holder) is False:
            error = f"the worker running it ({holder}) died; the run is not started again"
        elif last is None or last <= limit:
            error = (
                f"no sign of life from its worker ({holder}) for {int(stale_after_s)} s; "
                "the run is not started again"
            )
        else:
            continue
        result = s.execute(
            update(RemediationRun)
            .where(
                RemediationRun.id == run_id,
                RemediationRun.state == "running",
                RemediationRun.holder.is_(None)
                if holder is None
                else RemediationRun.holder == holder,
            )
            .values(state="interrupted", finished_at=now, status_text="interrupted", error=error)
            .execution_options(synchronize_session=False)
        )
        if _changed(result) == 1:
            run = s.get(RemediationRun, run_id, populate_existing=True)
            if run is not None:
                interrupted.append(run)
    return interrupted


def host_state(stats: object, run_state: str) -> str:
    """A target's state after a run, from its line of the play recap."""
    if not isinstance(stats, dict):
        # Ansible never reached the host: the run stopped first, or the play skipped it.
        return "cancelled" if run_state == "cancelled" else "failed"
    if stats.get("unreachable"):
        return "unreachable"
    if stats.get("failed"):
        return "failed"
    return "changed" if stats.get("changed") else "ok"


def settle_targets(s: Session, run: RemediationRun, now: datetime) -> list[str]:
    """After the workflow had its say on an ended apply run: its hosts still ``running`` (the
    job ended meanwhile, e.g. cancelled, so the workflow left them) get their state from the
    stats. The hosts changed."""
    if run.mode != "apply":
        return []
    left = list(
        s.scalars(
            select(RemediationTarget.host).where(
                RemediationTarget.job_id == run.job_id,
                RemediationTarget.run_id == run.id,
                RemediationTarget.state == "running",
            )
        )
    )
    for host in left:
        s.execute(
            update(RemediationTarget)
            .where(
                RemediationTarget.job_id == run.job_id,
                RemediationTarget.host == host,
                RemediationTarget.state == "running",
            )
            .values(state=host_state((run.stats or {}).get(host), run.state), ran_at=now)
            .execution_options(synchronize_session=False)
        )
    return left
