"""The overview and units tree on a district whose figures are known by hand (district.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from controller.store.dashboard import Ratio, local_day, overview, snapshot_compliance, units_tree
from tests.unit.controller.store.district import NOW, A, B, build


@pytest.fixture
def district(session: Session, tmp_path: Path) -> Session:
    build(session, tmp_path)
    return session


def test_the_whole_district(district: Session) -> None:
    view = overview(district, None, now=NOW)
    assert [(u.id, u.parent_id, u.depth) for u in view.units] == [
        ("huyen", None, 0),
        ("xa-a", "huyen", 1),
        ("xa-b", "huyen", 1),
    ]
    by_id = {u.id: u for u in view.units}
    a, b = by_id["xa-a"].own, by_id["xa-b"].own
    assert (a.hosts, a.online, a.stale, a.never) == (3, 2, 0, 1)
    assert (b.hosts, b.online, b.stale, b.never) == (1, 0, 1, 0)
    assert a.compliance == Ratio(3, 4) and b.compliance == Ratio(1, 2)
    assert a.findings == {"high": 1} and b.findings == {"critical": 1, "low": 1}
    top = by_id["huyen"]
    assert top.own.hosts == 0 and top.subtree.hosts == 4
    assert top.subtree.compliance == Ratio(4, 6)
    assert view.totals.compliance == Ratio(4, 6)
    assert (view.totals.hosts, view.totals.online, view.totals.stale, view.totals.never) == (
        4,
        2,
        1,
        1,
    )
    assert view.findings["high"] == {"open": 1, "acknowledged": 0}
    assert view.findings["low"] == {"open": 0, "acknowledged": 1}
    assert view.findings["critical"] == {"open": 1, "acknowledged": 0}
    assert [(c.asset_id, c.status) for c in view.classified] == [
        ("xa-b-mat-01", "sighted"),
        ("xa-a-mat-01", "never"),
        ("xa-a-mat-02", "attested"),
    ]
    egov = view.egov
    # Registered computers 4 (pc-01, three classified) + agents without an asset (a2, b1).
    assert egov.computers_per_official == Ratio(6, 24)
    assert egov.offices_equipped == Ratio(1, 2)
    assert egov.lan == Ratio(2, 3)
    assert egov.internet == Ratio(1, 2)
    assert egov.org_certificates == Ratio(1, 3)
    assert view.trend == () and not view.from_snapshot


def test_a_commune_sees_only_itself(district: Session) -> None:
    view = overview(district, B, now=NOW)
    assert [u.id for u in view.units] == ["xa-b"]
    assert view.totals.hosts == 1 and view.totals.compliance == Ratio(1, 2)
    assert [c.asset_id for c in view.classified] == ["xa-b-mat-01"]
    assert view.findings["high"] == {"open": 0, "acknowledged": 0}
    egov = view.egov
    assert egov.computers_per_official == Ratio(2, 4)
    assert egov.offices_equipped == Ratio(0, 1)
    assert (egov.lan, egov.internet, egov.org_certificates) == (
        Ratio(0, 1),
        Ratio(0, 0),
        Ratio(0, 1),
    )
    assert egov.internet.rate is None
    view_a = overview(district, A, now=NOW)
    assert {c.asset_id for c in view_a.classified} == {"xa-a-mat-01", "xa-a-mat-02"}


def test_an_attestation_older_than_30_days_is_overdue(district: Session) -> None:
    later = NOW + timedelta(days=26)
    statuses = {c.asset_id: c.status for c in overview(district, A, now=later).classified}
    assert statuses["xa-a-mat-02"] == "overdue"


def test_the_trend_reads_the_daily_snapshots(district: Session) -> None:
    today = local_day(NOW)
    with district.begin():
        assert snapshot_compliance(district, today - timedelta(days=1)) == 2
        snapshot_compliance(district, today)
        snapshot_compliance(district, today)  # the last run of a day replaces the earlier one
        snapshot_compliance(district, today - timedelta(days=40))  # too old for the trend
    view = overview(district, None, now=NOW)
    assert view.from_snapshot
    assert [(p.day, p.compliance) for p in view.trend] == [
        (today - timedelta(days=1), Ratio(4, 6)),
        (today, Ratio(4, 6)),
    ]
    assert [p.compliance for p in overview(district, B, now=NOW).trend] == [Ratio(1, 2)] * 2
    assert view.totals.compliance == Ratio(4, 6)


def test_units_tree(district: Session) -> None:
    tree = units_tree(district, None, now=NOW)
    assert [(n.id, n.depth, n.hosts, n.own_hosts, n.compliance) for n in tree] == [
        ("huyen", 0, 4, 0, Ratio(4, 6)),
        ("xa-a", 1, 3, 3, Ratio(3, 4)),
        ("xa-b", 1, 1, 1, Ratio(1, 2)),
    ]
    assert [n.id for n in units_tree(district, A, now=NOW)] == ["xa-a"]
    assert units_tree(district, frozenset(), now=NOW) == []
