"""The readiness report on the organisation of egov_district.py (figures in its docstring),
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

import pytest
from sqlalchemy.orm import Session

from controller.reports import registry
from controller.reports.base import ReportContext, ReportError
from controller.reports.definitions.egov import EgovResult
from controller.reports.document import Ratio, Table
from controller.reports.period import parse
from controller.settings import ReportsConfig
from tests.unit.controller.reports.egov_district import NOW, PERIOD, build

R = Ratio
M = "missing"
#: metric key → (value, source) for huyen (the whole report), phong-a, xa-a, xa-b.
EXPECTED: dict[str, tuple[tuple[object, str], ...]] = {
    "egov.1": ((17, "register"), (5, "register"), (8, "register"), (4, "register")),
    "egov.2": ((6, "measured"), (2, "measured"), (2, "measured"), (2, "measured")),
    "egov.3": ((R(6, 17), "measured"), (R(2, 5), "measured"), (R(2, 8), "measured"),
               (R(2, 4), "measured")),
    "egov.4": ((R(4, 17), "measured"), (R(2, 5), "measured"), (R(1, 8), "measured"),
               (R(1, 4), "measured")),
    "egov.5": ((R(2, 3), "register"), (None, M), (R(2, 2), "register"), (R(0, 1), "register")),
    "egov.6": ((R(3, 5), "register"), (R(1, 1), "register"), (R(1, 2), "register"),
               (R(1, 2), "register")),
    "egov.7": ((2, "register"), (0, "register"), (2, "register"), (0, "register")),
    "egov.8": ((R(1, 2), "register"), (None, M), (R(1, 2), "register"), (None, M)),
    "egov.9": ((R(1, 2), "measured"), (None, M), (R(1, 2), "measured"), (None, M)),
    "egov.10": ((1, "measured"), (0, "measured"), (1, "measured"), (0, "measured")),
    "egov.11": ((R(3, 5), "measured"), (R(1, 2), "measured"), (R(1, 1), "measured"),
                (R(1, 2), "measured")),
    "egov.12": ((R(3, 5), "measured"), (R(2, 2), "measured"), (R(1, 1), "measured"),
                (R(0, 2), "measured")),
    "egov.13": ((R(2, 3), "declared"), (R(1, 1), "measured"), (R(0, 1), "measured"),
                (R(1, 1), "declared")),
    "egov.14": ((R(2, 3), "register"), (R(1, 1), "register"), (R(0, 1), "register"),
                (R(1, 1), "measured")),
    "egov.15": ((R(1, 3), "register"), (R(1, 1), "register"), (R(0, 1), "register"),
                (R(0, 1), "register")),
    "egov.16": ((None, M),) * 4,
    "egov.17": ((R(75, 90), "declared"), (None, M), (R(45, 50), "declared"),
                (R(30, 40), "declared")),
    "egov.18": ((None, M),) * 4,
    "egov.19": ((None, M),) * 4,
    "egov.20": ((None, M),) * 4,
    "egov.20.partial": ((None, M),) * 4,
    "egov.21": ((None, M),) * 4,
    "egov.22": ((None, M),) * 4,
    "egov.23": ((R(10, 17), "declared"), (None, M), (None, M), (None, M)),
    "egov.24": ((R(3, 6), "measured"), (R(1, 2), "measured"), (R(1, 2), "measured"),
                (R(1, 2), "measured")),
    "egov.25": ((R(3, 6), "measured"), (R(2, 2), "measured"), (R(0, 2), "measured"),
                (R(1, 2), "measured")),
    "egov.26": ((R(2, 6), "measured"), (R(1, 2), "measured"), (R(1, 2), "measured"),
                (R(0, 2), "measured")),
    "egov.27": ((R(3, 6), "measured"), (R(2, 2), "measured"), (R(1, 2), "measured"),
                (R(0, 2), "measured")),
    "egov.29": ((R(3, 6), "measured"), (R(2, 2), "measured"), (R(0, 2), "measured"),
                (R(1, 2), "measured")),
}  # fmt: skip
UNITS = ("huyen", "phong-a", "xa-a", "xa-b")
#: Metric 28 by hand: per computer Σ(pass × weight) ÷ Σ(weight), summed over the unit.
SCORES = {
    "huyen": (33 / 36 + 12 / 15 + 13 / 15 + 4 / 7 + 9 / 15, 5),
    "phong-a": (33 / 36 + 12 / 15, 2),
    "xa-a": (13 / 15 + 4 / 7, 2),
    "xa-b": (9 / 15, 1),
}


@pytest.fixture
def organisation(session: Session) -> Iterator[Session]:
    build(session)
    yield session


def _context(unit: str = "huyen", **fields: object) -> ReportContext:
    values: dict[str, object] = {"scope": None, "period": parse(PERIOD), "now": NOW}
    values.update(fields)
    return ReportContext(unit_id=unit, **values)  # type: ignore[arg-type]


def _compute(s: Session, ctx: ReportContext) -> EgovResult:
    result = registry.get("egov").compute(s, ctx)
    assert isinstance(result, EgovResult)
    return result


def test_every_metric_per_unit_and_rolled_up(organisation: Session) -> None:
    result = _compute(organisation, _context())
    assert [(u.id, u.depth, u.parent_id) for u in result.units] == [
        ("huyen", 0, None),
        ("phong-a", 1, "huyen"),
        ("xa-a", 1, "huyen"),
        ("xa-b", 1, "huyen"),
    ]
    for key, expected in EXPECTED.items():
        for unit_id, (value, source) in zip(UNITS, expected, strict=True):
            metric = result.unit(unit_id).metric(key)
            assert (metric.value, metric.source) == (value, source), (key, unit_id)
    for unit_id, (total, computers) in SCORES.items():
        score = result.unit(unit_id).metric("egov.28")
        assert isinstance(score.value, Ratio) and score.source == "measured"
        assert score.value.numerator == pytest.approx(total, abs=1e-4)
        assert score.value.denominator == computers
    assert result.unit("huyen").metric("egov.28").rate == pytest.approx(0.75095, abs=1e-4)
    # Leaves: own figures are the subtree's; the root has none of its own but declared 23.
    for unit_id in ("phong-a", "xa-a", "xa-b"):
        unit = result.unit(unit_id)
        assert unit.own == unit.subtree
    root_own = {m.key: m for m in result.root.own}
    assert root_own["egov.2"].value == 0
    assert root_own["egov.23"].value == R(10, 17)
    assert root_own["egov.3"].source == "missing"
    assert result.unit("xa-a").vien_chuc == 2


def test_classified_left_out_of_lan_and_internet(organisation: Session) -> None:
    result = _compute(organisation, _context())
    xa_a = result.unit("xa-a")
    # xa-a has 2 active computers, one of them classified (a-mat1): the denominators are 1.
    assert xa_a.metric("egov.2").value == 2
    assert xa_a.metric("egov.11").value == R(1, 1)
    assert xa_a.metric("egov.12").value == R(1, 1)
    # ...while the security metrics count every active computer.
    assert xa_a.metric("egov.24").value == R(1, 2)
    assert [(pc.asset_id, pc.agent_id, pc.unit_id, pc.active) for pc in result.excluded] == [
        ("a-mat1", "ag-am1", "xa-a", True),
        ("a-mat2", None, "xa-a", False),
        (None, "ag-b3", "xa-b", False),
    ]


def test_header_targets_and_gaps(organisation: Session) -> None:
    result = _compute(organisation, _context())
    assert result.coverage == R(7, 8)
    assert (result.fresh_24h, result.fresh_7d) == (R(4, 6), R(5, 6))
    assert result.unit_path == ("Huyện Cũ",)
    root = result.root
    internet = root.metric("egov.11")
    assert (internet.target, internet.met) == (1.0, False)
    assert internet.gap == pytest.approx(0.4)
    patched = root.metric("egov.26")
    assert (patched.target, patched.met) == (0.95, False)
    assert patched.gap == pytest.approx(0.95 - 2 / 6, abs=1e-6)
    sightings = root.metric("egov.10")
    assert (sightings.target, sightings.met, sightings.gap) == (0, False, 1.0)
    assert result.unit("phong-a").metric("egov.10").met is True
    assert result.unit("phong-a").metric("egov.6").met is True
    # No target (informational): never judged; missing: never judged either.
    assert (root.metric("egov.29").met, root.metric("egov.17").met) == (None, None)
    assert (root.metric("egov.16").met, root.metric("egov.16").gap) == (None, None)
    # Overridden targets (config.yaml reports.targets), by number or by key.
    relaxed = ReportsConfig(targets={"26": 0.3, "egov.3": 0.3, "20.partial": 0.5})
    result = _compute(organisation, _context(settings=relaxed))
    assert result.root.metric("egov.26").met is True
    assert result.root.metric("egov.3").met is True
    assert result.root.metric("egov.20.partial").target == 0.5
    assert result.root.metric("egov.20").target is None


def test_settings_change_what_counts(organisation: Session) -> None:
    # Active within 2 days: pa-pc2 (3 days) drops out; ageing at 3 years: a-pc1 (2024) stays
    # young; critical rules only in the score: ATTT-01 alone.
    settings = ReportsConfig(
        active_days=2,
        classified_attestation_days=10,
        ageing_years=3,
        severity_weights={"critical": 1.0},
    )
    root = _compute(organisation, _context(settings=settings)).root
    # Active: pa-pc1, a-pc1, b-pc1, ag-b2 (a-mat1's bundle is 20 days old now).
    assert root.metric("egov.2").value == 4
    assert root.metric("egov.11").value == R(3, 4)
    assert root.metric("egov.29").value == R(3, 4)  # pa-pc1 2019, b-pc1 2020, ag-b2's BIOS 2023
    assert root.metric("egov.28").value == R(3, 3)  # ATTT-01 passes on pa1, a1, b1


def test_declared_figures_and_their_periods(organisation: Session) -> None:
    result = _compute(organisation, _context())
    used = [(d.unit_id, d.metric, d.period, d.value, d.source) for d in result.declared]
    assert used == [
        ("huyen", "egov.23", "2026", R(10, 17), "Danh sách tập huấn"),
        ("xa-a", "egov.17", "2026-Q4", R(45, 50), "Báo cáo QLVB quý 4"),
        ("xa-b", "egov.13", "2026", R(1, 1), "VNPT xác nhận"),
        ("xa-b", "egov.17", "2026", R(30, 40), None),
    ]
    # The year report takes the year's figures only; Q3's 21 shows in a Q3 report.
    year = _compute(organisation, _context(period=parse("2026")))
    assert year.unit("xa-a").metric("egov.17").value == R(100, 200)
    q3 = _compute(organisation, _context(period=parse("2026-Q3")))
    assert q3.unit("phong-a").metric("egov.21").value == R(5, 10)
    assert q3.unit("phong-a").metric("egov.21").source == "declared"
    assert q3.root.metric("egov.10").value == 1  # the sighting of 20 September


def test_a_commune_report_holds_only_that_commune(organisation: Session) -> None:
    whole = _compute(organisation, _context())
    result = _compute(organisation, _context("xa-a"))
    assert [u.id for u in result.units] == ["xa-a"]
    assert result.root.depth == 0
    assert result.root.subtree == whole.unit("xa-a").subtree
    assert result.unit_path == ("Huyện Cũ", "Xã A")
    assert result.coverage == R(3, 5)
    assert (result.fresh_24h, result.fresh_7d) == (R(1, 2), R(1, 2))
    assert [pc.asset_id for pc in result.excluded] == ["a-mat1", "a-mat2"]
    assert [(d.unit_id, d.metric) for d in result.declared] == [("xa-a", "egov.17")]
    # A commune officer (scope xa-a) cannot report on the district, nor on xa-b.
    for unit in ("huyen", "xa-b", "nowhere", "xa-cu"):
        with pytest.raises(ReportError):
            _compute(organisation, _context(unit, scope=frozenset({"xa-a"})))


def _table(doc_tables: Sequence[tuple[object, Table]], key: str) -> Table:
    return next(t for _, t in doc_tables if t.key == key)


def test_layout(organisation: Session) -> None:
    ctx = _context()
    definition = registry.get("egov")
    result = _compute(organisation, ctx)
    doc = definition.layout(result, ctx)
    assert doc.report == "egov" and doc.redacted
    assert doc.title.vi == "Báo cáo mức độ sẵn sàng hạ tầng chính quyền điện tử"
    assert [s.key for s in doc.sections] == [
        "summary", "metrics", "units", "classified", "declared", "method",
    ]  # fmt: skip
    assert doc.header.fresh_24h == R(4, 6)
    assert [(f.label.en, f.value) for f in doc.header.extra] == [
        ("Units", 4),
        ("Agent coverage", R(7, 8)),
    ]
    tables = list(doc.tables())
    metrics = _table(tables, "metrics")
    rows = {row.values[0]: row for row in metrics.rows if row.values[0] != 20}
    assert len(metrics.rows) == 30
    internet = rows[11]
    assert internet.values[1].vi == "Tỷ lệ máy tính kết nối Internet"  # type: ignore[union-attr]
    assert internet.values[2] == R(3, 5) and internet.values[3] is None
    assert internet.values[4].vi == "100 %"  # type: ignore[union-attr]
    assert internet.values[5].en == "Not met"  # type: ignore[union-attr]
    assert internet.values[6].vi == "thiếu 40,0 điểm %"  # type: ignore[union-attr]
    assert internet.values[7].vi == "Đo tự động" and internet.emphasis == "bad"  # type: ignore[union-attr]
    assert rows[26].values[4].vi == "≥ 95 %"  # type: ignore[union-attr]
    assert rows[3].values[4].vi == "≥ 1,0" and rows[10].values[3] == 1  # type: ignore[union-attr]
    assert rows[13].values[7].en == "Declared"  # type: ignore[union-attr]
    assert rows[16].values[7].vi == "Không có dữ liệu" and rows[16].values[2] is None  # type: ignore[union-attr]
    assert rows[16].emphasis is None
    units = _table(tables, "units_security")
    assert [(row.values[0], row.depth) for row in units.rows] == [
        ("Huyện Cũ", 0), ("Phòng Văn hóa", 1), ("Xã A", 1), ("Xã B", 1),
    ]  # fmt: skip
    column = [c.key for c in units.columns].index("11")
    assert [row.values[column] for row in units.rows] == [R(3, 5), R(1, 2), R(1, 1), R(1, 2)]
    excluded = _table(tables, "excluded")
    assert [row.values for row in excluded.rows] == [
        ("a-mat1", None, "Xã A", True),
        ("a-mat2", None, "Xã A", False),
        (None, "ag-b3", "Xã B", False),
    ]
    declared = _table(tables, "declared")
    assert [(row.values[0], row.values[1], row.values[4]) for row in declared.rows] == [
        ("Huyện Cũ", 23, R(10, 17)),
        ("Xã A", 17, R(45, 50)),
        ("Xã B", 13, R(1, 1)),
        ("Xã B", 17, R(30, 40)),
    ]
    # Host names never appear in the document.
    text = repr(doc)
    assert "pc-ag-" not in text


def test_metric_catalogue_matches_the_declarable_keys() -> None:
    from controller.reports.definitions.egov import DECLARED_ONLY, SPECS
    from controller.store.declared import DECLARABLE

    keys = [s.key for s in SPECS]
    assert len(keys) == len(set(keys)) == 30
    assert set(DECLARED_ONLY) | {"egov.13", "egov.14"} == set(DECLARABLE)


def test_bios_date_is_read_from_the_start_of_a_real_report_body() -> None:
    """Metric 29 reads only the first bytes of a stored body: the agent's own encoder puts the
    hardware section's BIOS date there, however long the rest of the report is."""
    import msgspec

    from agent.daemon import gzip_body
    from agent.report import Report
    from controller.store.reporting.egov import BODY_PREFIX, firmware_date

    disks = [
        {"name": f"sd{i}", "model": "Samsung SSD 870", "serial": f"S{i:08d}", "size_bytes": 10**12}
        for i in range(40)
    ]
    packages = [{"name": f"package-{i}", "version": f"1.{i}"} for i in range(3000)]
    report = msgspec.convert(
        {
            "schema_version": 1,
            "kind": "full",
            "agent_version": "0.1.0",
            "collected_at": "2026-11-28T08:00:00Z",
            "identity": {"hostname": "PC-KE-TOAN-01", "machine_id": "a" * 32},
            "hardware": {
                "system": {"vendor": "Dell Inc.", "model": "OptiPlex 7080", "serial": "ABC1"},
                "form_factor": "desktop",
                "bios": {"vendor": "Dell Inc.", "version": "1.2.3", "release_date": "2019-03-04"},
                "disks": disks,
            },
            "software": {"packages": packages},
        },
        Report,
    )
    body = gzip_body(report)
    assert len(body) > 4 * BODY_PREFIX
    assert firmware_date(body[:BODY_PREFIX]) == firmware_date(body) == date(2019, 3, 4)
    assert firmware_date(b"\x1f\x8b\x08not gzip") is None
    assert firmware_date(b'{"hardware": {"bios": {"release_date": "2019-02-30"}}}') is None
    assert firmware_date(None) is None
