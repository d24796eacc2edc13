"""The classified computers audit on the hand-counted district (tests/.../store/district.py).

Classified assets: xa-a-mat-01 (no agent: never attested; plan reviewed 2025-10-01, overdue),
xa-a-mat-02 (offline agent o1, bundle d1 imported 5 days ago; plan reviewed 2026-03-01; its
last attestation passes BMNN-01/02/03/05; office vp, host name may-mat-02), xa-b-mat-01 (no plan,
sighted on the network on 2026-11-28).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from controller.reports import period
from controller.reports.base import ReportContext
from controller.reports.definitions import classified
from controller.reports.document import Document, Figures, Ratio, T, Table
from controller.store.models import Asset, RuleState
from tests.unit.controller.store.district import NOW, B, build

NOVEMBER = period.parse("2026-11")
LOCATIONS = ("may-mat", "Văn phòng", "vp")


@pytest.fixture
def district(session: Session, tmp_path: Path) -> Session:
    build(session, tmp_path)
    with session.begin():
        for asset_id, ref, reviewed, office, host in (
            ("xa-a-mat-01", "PA-02/2024", date(2025, 10, 1), None, "may-mat-01"),
            ("xa-a-mat-02", "PA-01/2026", date(2026, 3, 1), "vp", "may-mat-02"),
        ):
            asset = session.get(Asset, asset_id)
            assert asset is not None
            asset.security_plan_ref, asset.security_plan_reviewed_at = ref, reviewed
            asset.office_id, asset.hostname = office, host
        session.add_all(
            RuleState(
                agent_id="o1",
                rule_id=rule,
                outcome="pass",
                since=NOW - timedelta(days=5),
                reason={"code": "all_checks_hold", "values": {}},
            )
            for rule in ("BMNN-01", "BMNN-02", "BMNN-03", "BMNN-05")
        )
    return session


def ctx(
    scope: frozenset[str] | None = None,
    unit: str = "huyen",
    show_locations: bool = False,
    label: str = "2026-11",
) -> ReportContext:
    return ReportContext(
        unit_id=unit,
        scope=scope,
        period=period.parse(label),
        now=NOW,
        show_locations=show_locations,
    )


def every_cell(document: Document) -> list[str]:
    """Every text of the document: header, notes, figures and table cells, in both languages."""
    found: list[str] = [document.header.unit_name, *document.header.unit_path]
    for note in document.notes:
        found += [note.vi, note.en]
    for section in document.sections:
        for block in section.blocks:
            values: list[object] = []
            if isinstance(block, Table):
                values = [v for row in block.rows for v in row.values]
            elif isinstance(block, Figures):
                values = [item.value for item in block.items]
            for value in values:
                if isinstance(value, T):
                    found += [value.vi, value.en]
                elif value is not None:
                    found.append(str(value))
    return found


def test_each_classified_computer_with_its_audit_figures(district: Session) -> None:
    result = classified.compute(district, ctx())
    by_id = {c.asset_id: c for c in result.computers}
    assert [c.asset_id for c in result.computers] == ["xa-b-mat-01", "xa-a-mat-01", "xa-a-mat-02"]
    mat02 = by_id["xa-a-mat-02"]
    assert mat02.status == "attested" and mat02.agent_id == "o1"
    assert mat02.bundle is not None
    assert (mat02.bundle.seq, mat02.bundle.digest, mat02.bundle.in_period) == (1, "d1", 1)
    assert mat02.bundle.imported_at == NOW - timedelta(days=5)
    assert mat02.bundle.created_at == NOW - timedelta(days=6)
    assert mat02.isolation == ("pass", "pass", "pass", "pass") and mat02.isolated
    assert (mat02.plan_ref, mat02.plan_due_on) == ("PA-01/2026", date(2027, 3, 1))
    assert mat02.plan_current(result.today)
    mat01 = by_id["xa-a-mat-01"]
    assert mat01.status == "never" and mat01.bundle is None
    assert mat01.isolation == (None, None, None, None) and not mat01.isolated
    assert mat01.plan_due_on == date(2026, 10, 1) and not mat01.plan_current(result.today)
    sighted = by_id["xa-b-mat-01"]
    assert sighted.status == "sighted" and sighted.plan_ref is None
    assert (sighted.sightings.in_period, sighted.sightings.open) == (1, 1)
    assert sighted.sightings.last_seen_at is not None
    assert result.plans == Ratio(1, 3)
    assert result.isolation == Ratio(1, 3)
    assert result.sightings_in_period == 1
    # October: the sighting was raised in November, it is still open.
    october = classified.compute(district, ctx(label="2026-10"))
    seen = {c.asset_id: c.sightings for c in october.computers}["xa-b-mat-01"]
    assert (seen.in_period, seen.open, october.sightings_in_period) == (0, 1, 0)
    assert {c.asset_id: c.bundle.in_period if c.bundle else None for c in october.computers} == {
        "xa-b-mat-01": None,
        "xa-a-mat-01": None,
        "xa-a-mat-02": 0,
    }


def test_locations_are_left_out_unless_asked(district: Session) -> None:
    hidden = classified.layout(classified.compute(district, ctx()), ctx())
    assert hidden.redacted
    cells = every_cell(hidden)
    assert "xa-a-mat-02" in cells and "Xã A" in cells
    for text in cells:
        for where in LOCATIONS:
            assert where not in text, (where, text)
    table = hidden.sections[0].blocks[1]
    assert isinstance(table, Table)
    assert "hostname" not in [c.key for c in table.columns]
    row = table.rows[2].values
    assert row[0] == "xa-a-mat-02"
    assert row[3] == NOW - timedelta(days=5) and row[5] == "d1"
    shown_ctx = ctx(show_locations=True)
    shown = classified.layout(classified.compute(district, shown_ctx), shown_ctx)
    assert not shown.redacted
    cells = every_cell(shown)
    assert "may-mat-02" in cells and "Văn phòng" in cells


def test_a_commune_audit_has_only_that_commune(district: Session) -> None:
    result = classified.compute(district, ctx(B, unit="xa-b"))
    assert [(c.asset_id, c.unit_id) for c in result.computers] == [("xa-b-mat-01", "xa-b")]
    assert result.plans == Ratio(0, 1) and result.sightings_in_period == 1
    cells = every_cell(classified.layout(result, ctx(B, unit="xa-b")))
    assert not any("xa-a" in text or "Xã A" in text for text in cells)


def test_plan_review_months() -> None:
    assert classified.add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert classified.add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert classified.add_months(date(2025, 12, 1), 12) == date(2026, 12, 1)
