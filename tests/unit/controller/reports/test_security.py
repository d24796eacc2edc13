"""The security compliance report on the hand-counted district (tests/.../store/district.py).

Now: FW-01 fails on a1 (xa-a) and passes on a2, b1; OS-01 fails on b1 (xa-b, Windows) and
passes on a1, a2: 4 of 6 checks pass (xa-a 3/4, xa-b 1/2). Open findings: a1 FW-01 high, b1
OS-01 low (acknowledged), the xa-b-mat-01 sighting critical.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from controller.findings import FindingsWriter
from controller.reports import period
from controller.reports.base import ReportContext
from controller.reports.definitions import security
from controller.reports.document import Document, Ratio, T, Table
from controller.store import findings as store_findings
from controller.store.dashboard import snapshot_compliance, snapshot_rules
from controller.store.models import RuleDaily, RuleState
from tests.unit.controller.store.district import NOW, SEEN, B, District, _cache, build
from tests.unit.controller.store.factories import full

NOVEMBER = period.parse("2026-11")


@pytest.fixture
def district(session: Session, tmp_path: Path) -> tuple[Session, District, Path]:
    return session, build(session, tmp_path), tmp_path


def ctx(scope: frozenset[str] | None = None, unit: str = "huyen", **kw: object) -> ReportContext:
    return ReportContext(unit_id=unit, scope=scope, period=NOVEMBER, now=NOW, **kw)  # type: ignore[arg-type]


def cells(table: Table, lang: str = "en") -> list[list[object]]:
    return [[v.get(lang) if isinstance(v, T) else v for v in row.values] for row in table.rows]


def table(document: Document, key: str) -> Table:
    for _, t in document.tables():
        if t.key == key:
            return t
    raise AssertionError(f"no table {key}")


def test_rates_failed_hosts_evidence_and_exemptions(
    district: tuple[Session, District, Path],
) -> None:
    s, built, _ = district
    with s.begin():
        store_findings.exempt(
            s,
            built.b1_finding,
            "user:binh",
            "Máy Windows được phép đến khi thay",
            NOW + timedelta(days=30),
            SEEN,
        )
    result = security.compute(s, ctx())
    assert result.compliance() == Ratio(4, 6)
    by_unit = {u.unit.id: u for u in result.units}
    assert [(u.unit.id, u.unit.depth) for u in result.units] == [
        ("huyen", 0),
        ("xa-a", 1),
        ("xa-b", 1),
    ]
    assert by_unit["huyen"].compliance == Ratio(4, 6)
    assert by_unit["xa-a"].compliance == Ratio(3, 4)
    assert by_unit["xa-b"].compliance == Ratio(1, 2)
    # The exempted b1 finding no longer counts as open.
    assert dict(by_unit["huyen"].findings) == {"critical": 1, "high": 1}
    assert dict(result.findings) == {"critical": 1, "high": 1}
    assert [(r.rule_id, r.passing, r.failing, r.first) for r in result.rules] == [
        ("FW-01", 2, 1, None),
        ("OS-01", 2, 1, None),
    ]
    assert {(r.unit_id, r.rule_id): r.rate for r in result.unit_rules} == {
        ("huyen", "FW-01"): Ratio(2, 3),
        ("xa-a", "FW-01"): Ratio(1, 2),
        ("xa-b", "FW-01"): Ratio(1, 1),
        ("huyen", "OS-01"): Ratio(2, 3),
        ("xa-a", "OS-01"): Ratio(2, 2),
        ("xa-b", "OS-01"): Ratio(0, 1),
    }
    assert [(f.rule_id, f.hostname, f.unit_id) for f in result.failed] == [
        ("FW-01", "PC-KeToan", "xa-a"),
        ("OS-01", "pc-xa-b", "xa-b"),
    ]
    document = security.layout(result, ctx())
    failed = cells(table(document, "failed"))
    assert failed[0][:3] == ["FW-01", "Xã A", "PC-KeToan"]
    assert failed[0][4] == "security.firewall.enabled is false, expected = true"
    assert failed[0][5] == "security.firewall.enabled = false (expected = true)"
    vi = cells(table(document, "failed"), "vi")
    assert vi[0][4] == "security.firewall.enabled là false, yêu cầu = true"
    assert vi[1][5] == "os.version.family = windows (yêu cầu = linux)"
    exemptions = cells(table(document, "exemptions"))
    assert exemptions == [
        [
            "OS-01",
            "low",
            "Xã B",
            "pc-xa-b",
            "Máy Windows được phép đến khi thay",
            "user:binh",
            NOW + timedelta(days=30),
            result.exemptions[0].opened_at,
        ]
    ]
    assert not document.redacted
    assert table(document, "failed").note is None


def test_failed_hosts_are_capped_per_rule_with_the_rest_counted(
    district: tuple[Session, District, Path],
) -> None:
    s, _, _ = district
    result = security.compute(s, ctx(), per_rule=0)
    assert result.failed == () and dict(result.failed_totals) == {"FW-01": 1, "OS-01": 1}
    note = table(security.layout(result, ctx()), "failed").note
    assert note is not None
    assert note.en == (
        "Each rule lists its first 0 hosts (by unit, host name). FW-01: and 1 more; "
        "OS-01: and 1 more."
    )


def test_trend_from_snapshots_of_two_days(district: tuple[Session, District, Path]) -> None:
    s, _, folder = district
    yesterday, today = date(2026, 11, 27), date(2026, 11, 28)
    with s.begin():
        assert snapshot_compliance(s, yesterday) == 2
        assert snapshot_rules(s, yesterday) == 4
    # a1 turns its firewall on (through the real ingest path), then today's snapshot.
    with s.begin():
        FindingsWriter(_cache(folder))(
            s,
            [
                full(
                    "a1",
                    4,
                    os={"version": {"family": "linux"}},
                    security={"firewall": {"enabled": True}},
                )
            ],
            SEEN + timedelta(minutes=5),
        )
    with s.begin():
        snapshot_compliance(s, today)
        snapshot_rules(s, today)
        snapshot_rules(s, today)  # the last run of a day replaces the earlier one
    assert s.query(RuleDaily).filter(RuleDaily.day == today).count() == 4
    result = security.compute(s, ctx())
    fw = {p.day: p.rate for p in result.rule_trend if p.rule_id == "FW-01"}
    assert fw == {yesterday: Ratio(2, 3), today: Ratio(3, 3)}
    assert [(p.day, p.rate) for p in result.trend] == [
        (yesterday, Ratio(4, 6)),
        (today, Ratio(5, 6)),
    ]
    rules = {r.rule_id: r for r in result.rules}
    assert (rules["FW-01"].first, rules["FW-01"].last) == (Ratio(2, 3), Ratio(3, 3))
    assert [f.hostname for f in result.failed] == ["pc-xa-b"]
    # October has no snapshot: the trend section says so.
    october = ReportContext(unit_id="huyen", scope=None, period=period.parse("2026-10"), now=NOW)
    doc = security.layout(security.compute(s, october), october)
    trend = next(sec for sec in doc.sections if sec.key == "trend")
    assert "No daily snapshot" in trend.blocks[0].text.en  # type: ignore[union-attr]
    chart = security.layout(result, ctx()).sections[3].blocks[0]
    assert chart.series[0].points == (("27/11", 4 / 6), ("28/11", 5 / 6))  # type: ignore[union-attr]


def test_a_commune_report_has_only_that_commune(district: tuple[Session, District, Path]) -> None:
    s, _, _ = district
    with s.begin():
        snapshot_compliance(s, date(2026, 11, 28))
        snapshot_rules(s, date(2026, 11, 28))
    result = security.compute(s, ctx(B, unit="xa-b"))
    assert [u.unit.id for u in result.units] == ["xa-b"]
    assert result.units[0].unit.depth == 0
    assert result.compliance() == Ratio(1, 2)
    assert [f.hostname for f in result.failed] == ["pc-xa-b"]
    assert {p.rule_id: p.rate for p in result.rule_trend} == {
        "FW-01": Ratio(1, 1),
        "OS-01": Ratio(0, 1),
    }
    assert [(p.rate) for p in result.trend] == [Ratio(1, 2)]
    document = security.layout(result, ctx(B, unit="xa-b"))
    assert document.header.unit_path == ("Huyện Thử", "Xã B")
    text = repr(document)
    for other in ("Xã A", "PC-KeToan", "pc-van-thu", "xa-a"):
        assert other not in text


def test_classified_host_names_are_withheld_unless_asked(
    district: tuple[Session, District, Path],
) -> None:
    s, _, _ = district
    with s.begin():
        s.add(
            RuleState(
                agent_id="o1",
                rule_id="BMNN-03",
                outcome="fail",
                since=NOW,
                reason={"code": "check_failed", "values": {}},
                evidence=[
                    {"check": 0, "fact": "network.radios", "expected": {"count": 0}, "actual": []}
                ],
            )
        )
    hidden = security.layout(security.compute(s, ctx()), ctx())
    assert hidden.redacted and "may-mat" not in repr(hidden)
    rows = cells(table(hidden, "failed"))
    assert rows[0][:3] == ["BMNN-03", "Xã A", "classified computer (name withheld)"]
    assert rows[0][5] == "network.radios = 0 item(s) (expected count = 0)"
    shown = security.layout(security.compute(s, ctx(show_locations=True)), ctx(show_locations=True))
    assert not shown.redacted and cells(table(shown, "failed"))[0][2] == "may-mat"
    assert hidden.header.extra[0].value == 3
