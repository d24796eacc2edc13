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
        pytest.param("2027-06-30T02:00:00Z", datetime(2027, 6, 30, 2, tzinfo=UTC), id="ISO with Z"),
        pytest.param("ngày 30/06/2027", None, id="localized text is not parsed"),
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


def test_a_failed_query_is_not_run_again_for_every_fact(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def timing_out(name: str, script: str) -> str:
        calls.append(name)
        raise FactUnavailable("powershell.exe did not answer within 60 s")

    _ps.clear_cache()
    monkeypatch.setattr(_ps, "runner", timing_out)
    try:
        for key in ("firewall", "accounts", "audit"):
            with pytest.raises(FactUnavailable, match="did not answer"):
                _ps.section("security", "", key)
        assert calls == ["security"]
        _ps.clear_cache()
        with pytest.raises(FactUnavailable):
            _ps.query("security", "")
        assert calls == ["security", "security"]  # a new collection asks again
    finally:
        _ps.clear_cache()


def test_powershell_runs_by_full_path_with_an_encoded_script(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import base64

    from agent.platform import _common

    seen: list[list[str]] = []

    def record(argv: list[str], timeout: float) -> str:
        seen.append(list(argv))
        return "{}"

    monkeypatch.setenv("SYSTEMROOT", r"D:\Windows")
    monkeypatch.setattr(_common, "runner", record)
    _ps._run_powershell("t", "Get-CimInstance Win32_BIOS | Select 'Tên \"máy\"'")
    [argv] = seen
    assert argv[0] == r"D:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
    script = base64.b64decode(argv[argv.index("-EncodedCommand") + 1]).decode("utf-16-le")
    assert "Select 'Tên \"máy\"'" in script
    assert script.endswith("| ConvertTo-Json -Depth 6 -Compress")
