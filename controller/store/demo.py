"""What the demo's bounded run (``govguard demo --smoke``) checks in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.store import jobs
from controller.store.models import Finding, MacSighting, Report


@dataclass(frozen=True)
class DemoProgress:
    """How far the demo got."""

    local_reports: int
    #: Simulated agents with at least one stored report.
    fleet_reporting: int
    fleet_reports: int
    #: The SNMP round finished at least once, and how many MACs it saw.
    snmp_round_done: bool
    mac_sightings: int
    #: The open critical finding of the classified computer's sighting (its id), if raised.
    sighting_finding: int | None


def demo_progress(
    s: Session,
    local_agent_id: str | None,
    fleet_agent_ids: Sequence[str],
    classified_asset: str,
    *,
    snmp_job: str,
    tripwire_rule: str,
) -> DemoProgress:
    """Reports of the local and simulated agents, the SNMP round and the tripwire finding."""
    local = 0
    if local_agent_id is not None:
        local = s.scalar(select(func.count()).where(Report.agent_id == local_agent_id)) or 0
    reporting = reports = 0
    ids = list(fleet_agent_ids)
    for start in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[start : start + 500]
        row = s.execute(
            select(func.count(func.distinct(Report.agent_id)), func.count()).where(
                Report.agent_id.in_(chunk)
            )
        ).one()
        reporting += row[0]
        reports += row[1]
    job = jobs.get(s, snmp_job)
    finding = s.scalar(
        select(Finding.id).where(
            Finding.subject == f"asset:{classified_asset}",
            Finding.rule_id == tripwire_rule,
            Finding.severity == "critical",
            Finding.status == "open",
        )
    )
    return DemoProgress(
        local_reports=local,
        fleet_reporting=reporting,
        fleet_reports=reports,
        snmp_round_done=job is not None and job.finished_at is not None,
        mac_sightings=s.scalar(select(func.count()).select_from(MacSighting)) or 0,
        sighting_finding=finding,
    )
