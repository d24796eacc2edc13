"""A small district for the workflow tests: policies naming playbooks, hosts with and without
an address, online and offline agents, a classified computer; reports stored through the
ingest writer's store function (the real findings engine writes rule states and findings).

The worker's part (claiming a run, ansible-runner, storing the outcome) is played by
:func:`finish`: it stores an outcome as the worker does and calls
:func:`controller.remediation.workflow.run_finished` in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.findings import FindingsWriter, PolicyCache
from controller.remediation import workflow
from controller.settings import ControllerConfig, RemediationConfig, Settings, settings_for
from controller.store import remediation as store
from controller.store.models import (
    Asset,
    AuditEntry,
    RemediationJob,
    RemediationRun,
    RemediationTarget,
)
from controller.store.reports import NewReport
from tests.unit.controller.findings.test_findings import cache_for, write_pack
from tests.unit.controller.policy.conftest import rule
from tests.unit.controller.store.factories import T0, UNIT, full, make_agent, make_unit

FIREWALL = rule(
    [{"fact": "security.firewall.enabled", "expect": {"eq": True}}],
    id="FW-01",
    severity="high",
    remediation={"playbook": "enable_firewall.yml", "approval": "required"},
)
#: The same check, fixed without an approval (automatic remediation runs it unattended).
FIREWALL_AUTO = rule(
    [{"fact": "security.firewall.enabled", "expect": {"eq": True}}],
    id="FW-02",
    severity="medium",
    remediation={"playbook": "enable_firewall.yml", "approval": "none"},
)
ISOLATED = rule(
    [{"fact": "connectivity.internet.reachable", "expect": {"eq": False}}],
    id="CLS-01",
    severity="critical",
    remediation={"playbook": "isolate_classified_host.yml", "approval": "required"},
)
NO_FIX = rule(
    [{"fact": "security.firewall.enabled", "expect": {"eq": True}}], id="FW-09", severity="low"
)
PLAYBOOKS = ("enable_firewall.yml", "isolate_classified_host.yml")
ACTOR = "cli:quantri"
#: When the tests' requests are made (the first reports are at T0 + seq minutes).
NOW = T0 + timedelta(minutes=30)


@dataclass
class World:
    """The test's settings, policies and ingest writer."""

    settings: Settings
    policies: PolicyCache
    writer: FindingsWriter
    bundles: FindingsWriter

    def ingest(self, s: Session, *reports: NewReport, at: datetime) -> None:
        """Store ``reports`` as online ingest does (rule states, findings), in ``s``."""
        self.writer(s, list(reports), at)
        s.flush()

    def import_bundle(self, s: Session, *reports: NewReport, at: datetime) -> None:
        """Store ``reports`` as a bundle import does (no clock skew, source bundle)."""
        carried = [replace(r, clock_skew_s=None, source="bundle") for r in reports]
        self.bundles(s, carried, at)
        s.flush()

    def request(self, s: Session, **given: Any) -> RemediationJob:
        """:func:`workflow.request` with the test's settings and policies."""
        values: dict[str, Any] = {"actor": ACTOR, "origin": "cli", "now": NOW, "source": "cli"}
        values.update(given)
        return workflow.request(s, self.settings, policies=self.policies, **values)

    def tick(self, s: Session, now: datetime) -> None:
        """:func:`workflow.tick` with the test's settings and policies."""
        workflow.tick(s, self.settings, now, policies=self.policies)
        s.flush()


def make_world(tmp_path: Path, **config: Any) -> World:
    """Playbook files, a policy pack and settings whose ``remediation`` block has ``config``."""
    books = tmp_path / "playbooks"
    books.mkdir()
    for name in PLAYBOOKS:
        (books / name).write_text("- hosts: all\n  tasks: []\n", encoding="utf-8")
    remediation = RemediationConfig(playbooks_dir=books, **config)
    settings = settings_for(tmp_path / "data", ControllerConfig(remediation=remediation))
    policies = cache_for(write_pack(tmp_path, FIREWALL, FIREWALL_AUTO, ISOLATED, NO_FIX))
    return World(
        settings,
        policies,
        FindingsWriter(policies),
        FindingsWriter(policies, online=False),
    )


def add_host(
    s: Session,
    asset_id: str,
    *,
    agent_id: str | None = None,
    address: str | None = "10.0.0.5",
    classification: str = "normal",
    secret_use: bool = False,
    seen: datetime | None = NOW - timedelta(minutes=1),
    **agent_fields: Any,
) -> None:
    """An asset (with a connection when ``address``) and, with ``agent_id``, its agent."""
    make_unit(s)
    if agent_id is not None:
        make_agent(s, agent_id, last_seen_at=seen, **agent_fields)
    s.add(
        Asset(
            id=asset_id,
            kind="desktop",
            unit_id=UNIT,
            classification=classification,
            for_secret_use=secret_use,
            agent_id=agent_id,
            connection={"address": address} if address else None,
        )
    )
    s.flush()


def firewall(agent_id: str, seq: int, enabled: bool) -> NewReport:
    """A full report of ``agent_id`` (sent at T0 + ``seq`` minutes) with its firewall state."""
    return full(agent_id, seq, security={"firewall": {"enabled": enabled}})


def finish(
    s: Session,
    world: World,
    run_id: int,
    at: datetime,
    *,
    state: str = "succeeded",
    stats: dict[str, dict[str, int]] | None = None,
    error: str | None = None,
) -> RemediationRun:
    """End the run as the worker does (state, stats, times), then call run_finished."""
    run = store.get_run(s, run_id)
    assert run is not None
    run.state = state
    run.started_at = run.started_at or at - timedelta(minutes=1)
    run.finished_at = at
    run.error = error
    run.status_text = {"succeeded": "successful", "failed": "failed"}.get(state, state)
    run.stats = (
        stats
        if stats is not None
        else {
            h: {"ok": 2, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 0}
            for h in run.hosts
        }
    )
    s.flush()
    workflow.run_finished(s, world.settings, run, at)
    s.flush()
    return run


def runs(s: Session, job_id: int) -> list[tuple[str, str, list[str]]]:
    """``(mode, state, hosts)`` of the job's runs, oldest first."""
    return [(r.mode, r.state, r.hosts) for r in store.runs_of(s, job_id)]


def targets(s: Session, job_id: int) -> dict[str, tuple[str, str | None]]:
    """``{host: (state, verification)}`` of the job."""
    return {t.host: (t.state, t.verification) for t in store.targets_of(s, job_id)}


def status(s: Session, job_id: int) -> str:
    """The job's status now."""
    job = store.get_job(s, job_id)
    assert job is not None
    return job.status


def count(s: Session, model: type[Any]) -> int:
    """Rows of a table."""
    return int(s.scalar(select(func.count()).select_from(model)) or 0)


def audit_actions(s: Session) -> list[str]:
    """The audit log's remediation actions, oldest first."""
    return list(
        s.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("remediation.%"))
            .order_by(AuditEntry.id)
        )
    )


__all__ = [
    "ACTOR",
    "NOW",
    "RemediationTarget",
    "World",
    "add_host",
    "audit_actions",
    "count",
    "finish",
    "firewall",
    "make_world",
    "runs",
    "status",
    "targets",
]
