"""Every text the agent shows people exists in Vietnamese (the default) and English."""

from __future__ import annotations

import ast
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agent import i18n
from agent.cli import _format_summary
from agent.collectors import COLLECTORS
from agent.collectors.base import UNKNOWN, Collector
from agent.config import AgentConfig
from agent.report import SCHEMA_VERSION, CollectorError, CollectorRun, Report

AGENT_DIR = Path(__file__).parents[3] / "agent"
SOURCES = [*sorted((AGENT_DIR / "collectors").glob("*.py")), AGENT_DIR / "cli.py"]
#: Keyword arguments of the summary helpers whose value is a text passed through ``t``.
TEXT_KEYWORDS = {"yes", "no", "empty"}


def _texts(path: Path) -> list[str]:
    """English texts given to ``t(...)`` or to the helpers' text keywords in one module."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id == "t" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append(arg.value)
        for kw in node.keywords:
            if kw.arg in TEXT_KEYWORDS and isinstance(kw.value, ast.Constant):
                found.append(str(kw.value.value))
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_shown_text_has_a_vietnamese_translation(path: Path) -> None:
    missing = [text for text in _texts(path) if text not in i18n.VI]
    assert not missing, f"{path.name}: no Vietnamese text for {missing}"


def test_helper_defaults_are_translated() -> None:
    for word in (UNKNOWN, "yes", "NO", "none"):
        assert word in i18n.VI


def test_catalogue_has_no_empty_or_unformattable_entries() -> None:
    for english, vietnamese in i18n.VI.items():
        assert vietnamese.strip(), english
        # A template keeps exactly the placeholders of its English text.
        assert _fields(english) == _fields(vietnamese), english


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def _empty_section(collector: type[Collector[Any]]) -> Any:
    required = {"hostname": "MAY-TINH-01"} if collector.name == "identity" else {}
    return msgspec.convert(required, type=collector.section)


@pytest.mark.parametrize("collector", COLLECTORS, ids=lambda c: c.name)
def test_summary_of_an_empty_section_is_all_vietnamese(collector: type[Collector[Any]]) -> None:
    # i18n.strict raises KeyError for any text the catalogue lacks.
    lines = collector(AgentConfig()).summary(_empty_section(collector), i18n.strict)
    assert lines and all(label in i18n.VI.values() for label, _ in lines)


def test_closing_lines_in_vietnamese() -> None:
    report = Report(
        schema_version=SCHEMA_VERSION,
        kind="full",
        agent_version="0.1.0",
        collected_at=datetime(2026, 11, 28, tzinfo=UTC),
        collectors=[CollectorRun(name="security", duration_ms=1.0, ok=False)],
        errors=[CollectorError(collector="security", error="RuntimeError", message="hỏng")],
    )
    text = _format_summary([("Tên máy", "MAY-TINH-01")], report, i18n.strict)
    assert "Bộ thu thập" in text and "1 đã chạy, 1 lỗi, 0 thông tin không rõ" in text
    assert "  lỗi" in text and "security: hỏng" in text


def test_the_scan_sees_the_summary_texts() -> None:
    texts = {text for path in SOURCES for text in _texts(path)}
    assert {"Host", "Firewall", "NONE FOUND", "{days} days left", "Collectors"} <= texts
