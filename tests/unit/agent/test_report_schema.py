"""The report schema: the committed JSON Schema matches the models, and every field is described."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agent.report import Report, decode, encode, json_schema


def test_committed_schema_matches_models(repo_root: Path) -> None:
    committed = json.loads((repo_root / "docs" / "report-schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), (
        "docs/report-schema.json is out of date: run `make schema` and commit it"
    )


def _properties(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for name, definition in schema["$defs"].items():
        for prop, spec in definition.get("properties", {}).items():
            out.append((name, prop, spec))
    return out


@pytest.mark.parametrize(
    ("model", "prop", "spec"),
    [pytest.param(m, p, s, id=f"{m}.{p}") for m, p, s in _properties(json_schema())],
)
def test_every_field_has_a_description(model: str, prop: str, spec: dict[str, Any]) -> None:
    assert spec.get("description"), f"{model}.{prop} has no description"


def test_every_model_has_a_description() -> None:
    for name, definition in json_schema()["$defs"].items():  # type: ignore[attr-defined]
        assert definition.get("description"), f"{name} has no docstring"


def test_report_round_trips() -> None:
    report = decode(
        b'{"schema_version": 1, "kind": "full", "agent_version": "0.1.0",'
        b' "collected_at": "2026-11-28T00:00:00Z"}'
    )
    encoded = encode(report)
    assert decode(encoded) == report
    assert isinstance(report, Report)
    assert b'"schema_version":1' in encoded and b'"kind":"full"' in encoded


def test_a_report_without_its_schema_version_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="schema_version"):
        decode(
            b'{"kind": "full", "agent_version": "0.1.0", "collected_at": "2026-11-28T00:00:00Z"}'
        )
