"""Re-evaluate every host: after a policy or organisation change, and to find stale hosts.

Hosts go by in chunks, each in its own short transaction (an ingest batch never waits long for
SQLite's write lock), and only the outcomes that changed are written. A host's facts are its
newest full report with the newest later heartbeat laid over it, as
:func:`controller.store.reports.latest_facts` reads them; a host that never reported is
evaluated on the controller's facts alone (``controller.last_report_at`` missing).
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller.findings.engine import Evaluator
from controller.findings.hosts import UnitPaths, document, load_hosts
from controller.findings.tripwire import STATE_ONLY
from controller.store.db import write_session
from controller.store.findings import (
    RESOLVING,
    Opened,
    apply_changes,
    expire_exemptions,
    forget_rules,
    load_states,
)
from controller.store.models import Agent, HostFacts

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
) -> dict[str, tuple[dict[str, Any], datetime]]:
    rows = s.execute(
        select(
            HostFacts.agent_id, HostFacts.full_body, HostFacts.heartbeat, HostFacts.last_report_at
        ).where(HostFacts.agent_id.in_(agent_ids))
    )
    found: dict[str, tuple[dict[str, Any], datetime]] = {}
    for agent_id, full_body, heartbeat, last_report_at in rows:
        facts = evaluator.decode(gzip.decompress(full_body)) if full_body is not None else {}
        if heartbeat is not None:
            facts.update(evaluator.decode(gzip.decompress(heartbeat)))
        found[agent_id] = (facts, last_report_at)
    return found


def reevaluate(
    sessions: sessionmaker[Session],
    evaluator: Evaluator,
    now: datetime,
    *,
    units: UnitPaths | None = None,
    chunk: int = CHUNK,
    progress: Progress | None = None,
    on_opened: OnOpened | None = None,
) -> Totals:
    """Evaluate every active host against every enabled rule; write only what changed."""

    started = time.perf_counter()
    paths = units or UnitPaths()
    totals = Totals()
    with sessions() as s, s.begin():
        write_session(s)
        ids = list(s.scalars(select(Agent.id).where(Agent.status == "active").order_by(Agent.id)))
        totals.forgotten = forget_rules(s, evaluator.by_id, now)
        totals.exemptions_expired = expire_exemptions(s, now)
    for start in range(0, len(ids), max(1, chunk)):
        part = ids[start : start + chunk]
        with sessions() as s, s.begin():
            # The write lock first: the states read here must still be the stored ones when
            # the changes are written (SQLite; PostgreSQL rows are updated by key).
            write_session(s)
            hosts = load_hosts(s, part, paths)
            states = load_states(s, hosts)
            facts = _facts(s, part, evaluator)
            changes = []
            for agent_id in part:
                host = hosts.get(agent_id)
                if host is None:
                    continue
                report, last_report_at = facts.get(agent_id, ({}, None))
                observed = {"last_report_at": last_report_at.isoformat()} if last_report_at else {}
                doc = document(report, host, observed)
                changes.extend(evaluator.changes(host, doc, now, states[agent_id], evaluator.rules))
                totals.evaluations += len(evaluator.rules)
            opened = apply_changes(s, changes, now, STATE_ONLY)
            if opened and on_opened is not None:
                on_opened(s, opened, now)
        totals.hosts += len(part)
        totals.changes += len(changes)
        totals.opened += len(opened)
        totals.resolved += sum(
            1 for c in changes if c.previous == "fail" and c.outcome in RESOLVING
        )
        if progress is not None:
            progress(totals.hosts, len(ids))
    totals.seconds = time.perf_counter() - started
    return totals
