"""What a sound controller database looks like, checked table against table.

A copy torn in the middle of an ingest transaction breaks these (a report without its audit
entry, an agent whose ``last_seq`` points past its newest report, host facts ahead of the
reports), so backup tests read a restored database with them::

    assert consistency_problems(url) == []
    assert table_counts(url) == table_counts(original_url)

Valid only while nothing purged reports (``govguard reports purge`` removes reports but keeps
the agents' and host facts' sequence numbers).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from controller.store import sqlite_copy
from controller.store.db import make_engine
from controller.store.models import Agent, AuditEntry, Base, HostFacts, Report

__all__ = ["consistency_problems", "table_counts"]


def table_counts(url: str) -> dict[str, int]:
    """Rows of every table of the schema, by table name."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def consistency_problems(url: str) -> list[str]:
    """Everything inconsistent in the database behind ``url``; empty when it is sound."""
    found: list[str] = []
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        found += [f"sqlite: {line}" for line in sqlite_copy.problems(Path(parsed.database))]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            agents = {
                row.id: row.last_seq for row in conn.execute(select(Agent.id, Agent.last_seq))
            }
            newest = dict(
                conn.execute(
                    select(Report.agent_id, func.max(Report.seq)).group_by(Report.agent_id)
                ).all()
            )
            facts = dict(conn.execute(select(HostFacts.agent_id, HostFacts.last_seq)).all())
            stored = {(a, int(s)) for a, s in conn.execute(select(Report.agent_id, Report.seq))}
            audited = {
                target
                for (target,) in conn.execute(
                    select(AuditEntry.target).where(AuditEntry.action == "report.stored")
                )
            }
    finally:
        engine.dispose()
    for agent_id, seq in newest.items():
        if agent_id not in agents:
            found.append(f"reports of agent {agent_id} which does not exist")
        elif agents[agent_id] != seq:
            found.append(f"agent {agent_id}: last_seq {agents[agent_id]}, newest report {seq}")
        if facts.get(agent_id) != seq:
            found.append(f"host facts of {agent_id}: last_seq {facts.get(agent_id)}, newest {seq}")
    for agent_id in facts.keys() - newest.keys():
        found.append(f"host facts of {agent_id} without any report")
    expected = {f"report:{agent_id}:{seq}" for agent_id, seq in stored}
    if audited != expected:
        found.append(
            f"report.stored audit entries: {len(audited - expected)} without their report, "
            f"{len(expected - audited)} reports without theirs"
        )
    return found
