"""Re-evaluate every host: after a policy or organisation change, and to find stale hosts.

Hosts go by in chunks, each in its own short transaction (an ingest batch never waits long for
SQLite's write lock), and only the outcomes that changed are written. A host's facts are its
newest full report with the newest later heartbeat laid over it, as
:func:`controller.store.reports.latest_facts` reads them; a host that never reported is
evaluated on the controller's facts alone (``controller.last_report_at`` missing).
"""

from __future__ import annotations

import gzip
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from controller.findings.engine import Evaluator
from controller.findings.hosts import UnitPaths, document, load_hosts
from controller.findings.tripwire import STATE_ONLY
from controller.store.db import write_session
from controller.store.findings import (
    RESOLVING,
    Change,
    Opened,
    apply_changes,
    expire_exemptions,
    forget_rules,
    load_states,
)
from controller.store.models import Agent, HostFacts

#: Rule states written between two refreshes of PostgreSQL's planner statistics. A first
#: evaluation of a large fleet writes millions of rows into an empty table; with the
#: statistics of the empty table the planner reads every chunk's states with a sequential scan
#: (measured: 6.5 ms per host at 100,000 hosts instead of about 1 ms) until autovacuum, if it
#: runs at all, analyses the table.
ANALYZE_EVERY = 50_000

#: Hosts per transaction: on SQLite, ingest waits for the write lock while a chunk is evaluated
#: (about 0.5 ms per host here), so a chunk stays well under a tenth of a second.
CHUNK = 100

Progress = Callable[[int, int], None]
OnOpened = Callable[[Session, list[Opened], datetime], None]


@dataclass
class Totals:
    """What a full re-evaluation did."""

    hosts: int = 0
    evaluations: int = 0
    changes: int = 0
    opened: int = 0
    resolved: int = 0
    forgotten: int = 0
    exemptions_expired: int = 0
    seconds: float = 0.0


def _facts(
    s: Session, agent_ids: list[str], evaluator: Evaluator
) -> dict[str, tuple[dict[str, Any], datetime, int]]:
    rows = s.execute(
        select(
            HostFacts.agent_id,
            HostFacts.full_body,
            HostFacts.heartbeat,
            HostFacts.last_report_at,
            HostFacts.last_seq,
        ).where(HostFacts.agent_id.in_(agent_ids))
    )
    found: dict[str, tuple[dict[str, Any], datetime, int]] = {}
    for agent_id, full_body, heartbeat, last_report_at, last_seq in rows:
        facts = evaluator.decode(gzip.decompress(full_body)) if full_body is not None else {}
        if heartbeat is not None:
            facts.update(evaluator.decode(gzip.decompress(heartbeat)))
        found[agent_id] = (facts, last_report_at, int(last_seq))
    return found


@dataclass
class _Job:
    """What every chunk of one re-evaluation shares (inherited by forked workers)."""

    sessions: sessionmaker[Session]
    evaluator: Evaluator
    now: datetime
    units: UnitPaths
    on_opened: OnOpened | None


_JOB: _Job | None = None


def _evaluate(job: _Job, part: list[str]) -> tuple[list[Change], dict[str, int | None]]:
    """Evaluate a chunk without holding any lock; the changes and the reports they saw."""
    with job.sessions() as s:
        hosts = load_hosts(s, part, job.units)
        states = load_states(s, hosts)
        facts = _facts(s, part, job.evaluator)
    changes: list[Change] = []
    seen: dict[str, int | None] = {}
    for agent_id in part:
        host = hosts.get(agent_id)
        if host is None:
            continue
        report, last_report_at, last_seq = facts.get(agent_id, ({}, host.enrolled_at, None))
        seen[agent_id] = last_seq
        observed = {"last_report_at": last_report_at.isoformat()} if last_report_at else {}
        doc = document(report, host, observed)
        found = job.evaluator.changes(host, doc, job.now, states[agent_id], job.evaluator.rules)
        changes.extend(found)
    return changes, seen


def _write(job: _Job, changes: list[Change], seen: dict[str, int | None]) -> tuple[int, int]:
    """Write the changes of hosts that sent nothing new meanwhile; (written, opened).

    A host whose newest report changed since the chunk was read was evaluated by ingest on
    newer facts: its changes here are stale and dropped (the next run sees it again). The
    check and the write share one transaction that holds SQLite's write lock, for a moment.
    """
    if not changes:
        return 0, 0
    agents = sorted({c.agent_id for c in changes})
    with job.sessions() as s, s.begin():
        write_session(s)
        now_seq = dict(
            s.execute(
                select(HostFacts.agent_id, HostFacts.last_seq).where(HostFacts.agent_id.in_(agents))
            ).all()
        )
        kept = [c for c in changes if now_seq.get(c.agent_id) == seen.get(c.agent_id)]
        opened = apply_changes(s, kept, job.now, STATE_ONLY)
        if opened and job.on_opened is not None:
            job.on_opened(s, opened, job.now)
    return len(kept), len(opened)


def _current_job() -> _Job:
    if _JOB is None:  # only forked workers of reevaluate() run these
        raise RuntimeError("no re-evaluation in progress")
    return _JOB


def _chunk(part: list[str]) -> tuple[int, int, int, int]:
    """One chunk in a worker process: (hosts, changes written, opened, resolved)."""
    job = _current_job()
    changes, seen = _evaluate(job, part)
    written, opened = _write(job, changes, seen)
    resolved = sum(1 for c in changes if c.previous == "fail" and c.outcome in RESOLVING)
    return len(part), written, opened, resolved


def _fresh_connections() -> None:
    """In a forked worker: never reuse the parent's pooled connections."""
    bind = _current_job().sessions.kw.get("bind")
    if bind is not None:
        bind.dispose(close=False)


def refresh_statistics(sessions: sessionmaker[Session]) -> None:
    """ANALYZE the findings tables on PostgreSQL (SQLite plans these look-ups by key anyway)."""
    with sessions() as s:
        if s.get_bind().dialect.name != "postgresql":
            return
        s.execute(text("ANALYZE rule_states"))
        s.execute(text("ANALYZE findings"))
        s.commit()


def reevaluate(
    sessions: sessionmaker[Session],
    evaluator: Evaluator,
    now: datetime,
    *,
    units: UnitPaths | None = None,
    chunk: int = CHUNK,
    progress: Progress | None = None,
    on_opened: OnOpened | None = None,
    workers: int = 1,
) -> Totals:
    """Evaluate every active host against every enabled rule; write only what changed.

    ``workers`` > 1 forks that many processes, each evaluating chunks on its own database
    connection (the CLI uses every core; ``govguard serve`` evaluates in its own thread, one
    core, since forking a threaded server is not safe).
    """
    global _JOB
    started = time.perf_counter()
    job = _Job(sessions, evaluator, now, units or UnitPaths(), on_opened)
    totals = Totals()
    with sessions() as s, s.begin():
        write_session(s)
        ids = list(s.scalars(select(Agent.id).where(Agent.status == "active").order_by(Agent.id)))
        totals.forgotten = forget_rules(s, evaluator.by_id, now)
        totals.exemptions_expired = expire_exemptions(s, now)
    parts = [ids[i : i + max(1, chunk)] for i in range(0, len(ids), max(1, chunk))]
    totals.evaluations = len(ids) * len(evaluator.rules)

    unanalysed = 0

    def count(done: tuple[int, int, int, int]) -> None:
        nonlocal unanalysed
        totals.hosts += done[0]
        totals.changes += done[1]
        totals.opened += done[2]
        totals.resolved += done[3]
        unanalysed += done[1]
        if unanalysed >= ANALYZE_EVERY:
            refresh_statistics(sessions)
            unanalysed = 0
        if progress is not None:
            progress(totals.hosts, len(ids))

    if workers <= 1 or len(parts) < 2:
        for part in parts:
            changes, seen = _evaluate(job, part)
            written, opened = _write(job, changes, seen)
            resolved = sum(1 for c in changes if c.previous == "fail" and c.outcome in RESOLVING)
            count((len(part), written, opened, resolved))
    else:
        _JOB = job
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_fresh_connections
            ) as pool:
                for done in pool.map(_chunk, parts):
                    count(done)
        finally:
            _JOB = None
    if unanalysed >= ANALYZE_EVERY // 10:
        refresh_statistics(sessions)
    totals.seconds = time.perf_counter() - started
    return totals
