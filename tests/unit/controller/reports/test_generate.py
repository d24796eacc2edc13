"""generate(): which units a report covers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from controller.reports.base import ReportError
from controller.reports.generate import report_unit
from controller.store.models import Unit


@pytest.fixture
def tree(session: Session) -> Session:
    """huyen → xa-a → vp-a; huyen → xa-b; a retired top-level unit beside huyen."""
    session.add_all(
        [
            Unit(id="huyen", name="Huyện Đông Sơn"),
            Unit(id="xa-a", parent_id="huyen", name="Xã A"),
            Unit(id="vp-a", parent_id="xa-a", name="Văn phòng xã A"),
            Unit(id="xa-b", parent_id="huyen", name="Xã B"),
            Unit(id="cu", name="Đơn vị cũ", retired_at=datetime(2025, 1, 1, tzinfo=UTC)),
        ]
    )
    session.flush()
    return session


def test_a_unit_covers_its_subtree(tree: Session) -> None:
    assert report_unit(tree, "xa-a", None) == ("xa-a", frozenset({"xa-a", "vp-a"}))
    assert report_unit(tree, "huyen", None)[1] == frozenset({"huyen", "xa-a", "vp-a", "xa-b"})


def test_the_default_is_the_top_the_caller_sees(tree: Session) -> None:
    assert report_unit(tree, None, None)[0] == "huyen"  # the retired root is no default
    assert report_unit(tree, None, frozenset({"xa-a", "vp-a"})) == (
        "xa-a",
        frozenset({"xa-a", "vp-a"}),
    )


def test_several_tops_ask_for_a_unit(tree: Session) -> None:
    with pytest.raises(ReportError, match="choose a unit: the top units are xa-a, xa-b"):
        report_unit(tree, None, frozenset({"xa-a", "xa-b"}))


def test_unknown_and_hidden_units_read_the_same(tree: Session) -> None:
    with pytest.raises(ReportError, match=r"^unknown unit 'xa-c'$"):
        report_unit(tree, "xa-c", None)
    # A commune officer asking for the other commune (or the district) learns nothing more.
    for other in ("xa-b", "huyen"):
        with pytest.raises(ReportError, match=rf"^unknown unit '{other}'$"):
            report_unit(tree, other, frozenset({"xa-a", "vp-a"}))
    assert report_unit(tree, "vp-a", frozenset({"xa-a", "vp-a"}))[1] == frozenset({"vp-a"})
