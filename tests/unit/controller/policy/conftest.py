"""Helpers for the policy engine's tests: write a pack, load it, evaluate it on facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.policy import HostContext, PolicySet, RuleResult, evaluate, load_policies

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "policies"
REFERENCES = FIXTURES / "references.yaml"
EXAMPLE = FIXTURES / "example.yaml"
REPORT = FIXTURES / "report-debian12-vm.json"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def rule(checks: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A valid rule with the given checks; ``fields`` replace or add keys."""
    base: dict[str, Any] = {
        "id": "T-01",
        "title": {"vi": "Quy tắc thử", "en": "Test rule"},
        "rationale": {"vi": "Lý do", "en": "Why"},
        "severity": "high",
        "references": ["test-law-1"],
        "checks": checks,
    }
    base.update(fields)
    return base


def pack(*rules: dict[str, Any], **header: Any) -> dict[str, Any]:
    """A pack document around ``rules``; ``header`` adds top-level keys (applies_to)."""
    doc: dict[str, Any] = {
        "policy": {"id": "test", "version": 1, "title": {"vi": "Gói thử", "en": "Test pack"}}
    }
    doc.update(header)
    doc["rules"] = list(rules)
    return doc


Loader = Callable[..., PolicySet]


@pytest.fixture
def load(tmp_path: Path) -> Loader:
    """``load(doc_or_text, overrides=doc_or_text)``: write the pack (and overrides), load them."""

    def write(name: str, content: dict[str, Any] | str) -> Path:
        path = tmp_path / name
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    def run(
        content: dict[str, Any] | str, overrides: dict[str, Any] | str | None = None
    ) -> PolicySet:
        over = write("overrides.yaml", overrides) if overrides is not None else None
        return load_policies([write("pack.yaml", content)], references=[REFERENCES], overrides=over)

    return run


def run_rule(
    policies: PolicySet, facts: dict[str, Any], ctx: HostContext | None = None
) -> RuleResult:
    """The result of the only rule of ``policies`` on ``facts``."""
    context = ctx or HostContext(os="linux", now=NOW)
    (result,) = evaluate(policies.rules, facts, context)
    return result
