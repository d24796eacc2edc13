"""The remediation report on both databases: the jobs of the period on the scope's computers,
one row per job and computer, with the run's result and the verification in both languages."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from controller.reports import period, registry
from controller.reports.base import ReportContext
from controller.reports.document import Figures, Table
from controller.reports.generate import render
from controller.store import units
from controller.store.models import RemediationJob, RemediationTarget
from tests.unit.controller.store.factories import make_agent

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
IN_PERIOD = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
#: Hostile text an agent could report as its host name: the CSV must not make it a formula.
FORMULA = '=HYPERLINK("http://x")'


def _job(
    s: Session, at: datetime, status: str, targets: list[tuple[str, str, str, str | None]]
) -> int:
    job = RemediationJob(
        playbook="enable_firewall.yml", rule_id="ATTT-07", status=status, approval="required",
        origin="web", requested_by="user:op", requested_at=at, decided_by="user:admin",
        decided_at=at + timedelta(minutes=5),
        finished_at=at + timedelta(hours=1) if status in ("fixed", "not_fixed") else None,
    )  # fmt: skip
    s.add(job)
    s.flush()
    for agent_id, unit, state, verification in targets:
        s.add(
            RemediationTarget(
                job_id=job.id, host=f"agent-{agent_id}", agent_id=agent_id, unit_id=unit,
                state=state, verification=verification,
            )
        )  # fmt: skip
    s.flush()
    return job.id


def _district(s: Session) -> tuple[int, int]:
    units.ensure_unit(s, "huyen", "Huyện Thử", kind="district")
    units.ensure_unit(s, "xa-a", "Xã A", "huyen", "commune")
    units.ensure_unit(s, "xa-b", "Xã B", "huyen", "commune")
    make_agent(s, "a1", unit_id="xa-a", hostname="PC-A1")
    make_agent(s, "b1", unit_id="xa-b", hostname=FORMULA)
    fixed = _job(s, IN_PERIOD, "fixed", [("a1", "xa-a", "changed", "fixed")])
    both = _job(
        s,
        IN_PERIOD + timedelta(days=1),
        "not_fixed",
        [("a1", "xa-a", "ok", "fixed"), ("b1", "xa-b", "changed", "not_fixed")],
    )
    # October: outside the period.
    _job(s, datetime(2026, 10, 30, tzinfo=UTC), "fixed", [("a1", "xa-a", "changed", "fixed")])
    return fixed, both


def _ctx(unit: str, scope: frozenset[str] | None) -> ReportContext:
    return ReportContext(unit_id=unit, scope=scope, period=period.parse("2026-11"), now=NOW)


def test_the_jobs_of_the_period_by_computer(session: Session) -> None:
    with session.begin():
        fixed, both = _district(session)
    names = registry.names()
    order = [n for n in names if n in ("security", "classified", "hardware", "remediation")]
    assert order == ["security", "classified", "hardware", "remediation"]
    definition = registry.get("remediation")
    ctx = _ctx("huyen", frozenset({"huyen", "xa-a", "xa-b"}))
    result = definition.compute(session, ctx)
    assert [(j.job_id, j.hostname, j.host_state, j.verification) for j in result.jobs] == [
        (str(fixed), "PC-A1", "changed", "fixed"),
        (str(both), "PC-A1", "ok", "fixed"),
        (str(both), FORMULA, "changed", "not_fixed"),
    ]
    assert (
        result.jobs[0].decided_by == "user:admin" and result.jobs[0].action == "enable_firewall.yml"
    )
    document = definition.layout(result, ctx)
    assert document.header.unit_path == ("Huyện Thử",)
    figures, table = document.sections[0].blocks
    assert isinstance(figures, Figures) and isinstance(table, Table)
    assert [f.value for f in figures.items] == [2, 3, 2, 1]
    assert [row.emphasis for row in table.rows] == ["ok", "ok", "bad"]

    rows = list(csv.reader(io.StringIO(render(document, "csv", "en").decode("utf-8-sig"))))
    header = rows.index(["Remediation jobs: Jobs by computer"]) + 1
    assert rows[header][:4] == ["Requested", "Job", "Unit", "Host"]
    last = rows[header + 3]
    assert last[1:4] == [str(both), "Xã B", "'" + FORMULA]
    assert last[8:11] == ["not fixed", "changed", "not fixed"]
    vi = list(csv.reader(io.StringIO(render(document, "csv", "vi").decode("utf-8-sig"))))
    assert "vẫn vi phạm" in vi[vi.index(["Lệnh khắc phục: Lệnh theo máy"]) + 4]


def test_a_communes_report_shows_only_its_computers(session: Session) -> None:
    with session.begin():
        _fixed, both = _district(session)
    definition = registry.get("remediation")
    result = definition.compute(session, _ctx("xa-b", frozenset({"xa-b"})))
    assert [(j.job_id, j.unit_id) for j in result.jobs] == [(str(both), "xa-b")]


def test_an_empty_period_says_so(session: Session) -> None:
    with session.begin():
        units.ensure_unit(session, "huyen", "Huyện Thử", kind="district")
    definition = registry.get("remediation")
    ctx = _ctx("huyen", None)
    result = definition.compute(session, ctx)
    assert result.jobs == ()
    _figures, table = definition.layout(result, ctx).sections[0].blocks
    assert isinstance(table, Table) and table.rows == ()
    assert table.empty is not None
    assert table.empty.en == "No remediation job was requested in the period."
    assert table.empty.vi == "Không có lệnh khắc phục nào trong kỳ."
