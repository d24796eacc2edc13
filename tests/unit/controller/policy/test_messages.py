"""Every reason and outcome has a Vietnamese and an English text, and every code is produced."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller.policy import OUTCOMES, Reason, render
from controller.policy.messages import (
    OUTCOME_TEXT,
    REASON_TEXT,
    SEVERITY_TEXT,
    format_expected,
)
from controller.policy.model import SEVERITIES

SOURCES = Path(__file__).resolve().parents[4] / "controller" / "policy"


def test_every_text_has_both_languages() -> None:
    for table in (REASON_TEXT, OUTCOME_TEXT, SEVERITY_TEXT):
        for code, text in table.items():
            assert text.vi.strip() and text.en.strip(), code
    assert set(OUTCOME_TEXT) == set(OUTCOMES)
    assert set(SEVERITY_TEXT) == set(SEVERITIES)


def test_every_reason_code_in_the_code_has_a_text() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES.glob("*.py"))
    used = set(re.findall(r'Reason\(\s*"([a-z_]+)"', code)) | set(
        re.findall(r'"(check_failed|forbidden_match)"\)', code)
    )
    assert used, "no reason code found: the pattern is stale"
    assert used <= set(REASON_TEXT), used - set(REASON_TEXT)


@pytest.mark.parametrize(
    ("reason", "vi", "en"),
    [
        pytest.param(
            Reason("check_failed", {"fact": "security.firewall.enabled", "expected": {"eq": True},
                                    "actual": False}),
            "security.firewall.enabled là false, yêu cầu = true",
            "security.firewall.enabled is false, expected = true",
            id="check failed",
        ),
        pytest.param(
            Reason("check_failed", {"fact": "network.interfaces", "expected": {"count": 0},
                                    "actual": [{"name": "eth0"}, {"name": "wlan0"}]}),
            "network.interfaces là 2 mục (eth0, wlan0), yêu cầu số lượng = 0",
            "network.interfaces is 2 item(s) (eth0, wlan0), expected count = 0",
            id="list evidence",
        ),
        pytest.param(
            Reason("classification_not_applicable",
                   {"classification": "normal", "applies_to": ["classified"]}),
            "quy tắc dành cho máy mật, máy này là thường",
            "the rule is for classified computers, this one is normal",
            id="classification",
        ),
    ],
)  # fmt: skip
def test_render(reason: Reason, vi: str, en: str) -> None:
    assert render(reason) == vi
    assert render(reason, "en") == en


def test_format_expected() -> None:
    assert format_expected({"gt": {"days_ago": 30}}, "vi") == "> 30 ngày trước"
    assert format_expected({"count": {"gt": 0, "lt": 3}}, "en") == "count > 0, < 3"
    assert format_expected({"exists": False}, "en") == "absent"


def test_unknown_code_still_renders() -> None:
    assert render(Reason("from_a_newer_version", {"x": 1})) == 'from_a_newer_version {"x": 1}'
