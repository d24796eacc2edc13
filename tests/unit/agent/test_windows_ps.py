"""The PowerShell plumbing shared by every Windows area."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.errors import FactUnavailable
from agent.platform._windows import _ps


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "/Date(1700000000000)/", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), id="PS 5.1"
        ),
        pytest.param(
            "2023-11-14T22:13:20.0000000+07:00",
            datetime(2023, 11, 14, 15, 13, 20, tzinfo=UTC),
            id="PS 7 ISO with offset",
        ),
        pytest.param(
            "20231105093000.000000+420",
            datetime(2023, 11, 5, 2, 30, 0, tzinfo=UTC),
            id="DMTF in Vietnam time",
        ),
        pytest.param(
            {"value": "/Date(0)/", "DisplayHint": 2},
            datetime(1970, 1, 1, tzinfo=UTC),
            id="DateTime with DisplayHint",
        ),
        pytest.param(None, None, id="null"),
        pytest.param("không rõ", None, id="garbage"),
    ],
)
def test_parse_datetime(raw: object, expected: datetime | None) -> None:
    assert _ps.parse_datetime(raw) == expected


def test_section_turns_error_objects_into_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    _ps.clear_cache()
    monkeypatch.setattr(
        _ps, "runner", lambda name, script: '{"ok": [1], "bad": {"error": "Access is denied."}}'
    )
    try:
        assert _ps.as_list(_ps.section("t", "", "ok")) == [1]
        with pytest.raises(FactUnavailable, match="Access is denied"):
            _ps.section("t", "", "bad")
        with pytest.raises(FactUnavailable, match="did not return missing"):
            _ps.section("t", "", "missing")
    finally:
        _ps.clear_cache()


def test_invalid_json_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    _ps.clear_cache()
    monkeypatch.setattr(_ps, "runner", lambda name, script: "Lỗi: không hợp lệ")
    try:
        with pytest.raises(FactUnavailable, match="invalid JSON"):
            _ps.query("broken", "")
    finally:
        _ps.clear_cache()
