"""The rule editor behind the Policies page: validated, atomic, audited, the rest kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.policy.loader import load_installed, overrides_path
from controller.policy.overrides_edit import (
    OverrideError,
    RuleUnknown,
    edit_rule,
    parse_value,
)
from controller.store import jobs
from controller.store.models import AuditEntry

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def _edit(s: Session, data_dir: Path, rule: str, enabled: bool = True, **params: str) -> object:
    return edit_rule(s, data_dir, rule, enabled=enabled, params=params, actor="user:admin",
                     source="10.0.0.5", now=NOW)  # fmt: skip


def test_parse_value_reads_yaml_and_comma_lists() -> None:
    assert parse_value("45", 30) == 45
    assert parse_value("0.5", 1.0) == 0.5
    assert parse_value("true", False) is True
    assert parse_value("a, b", ["x"]) == ["a", "b"]
    assert parse_value("[1, 2]", [0]) == [1, 2]
    assert parse_value("nhiều", 3) == "nhiều"


def test_edit_keeps_the_rest_of_the_file(session: Session, tmp_path: Path) -> None:
    path = overrides_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("disable: [ATTT-12]\nparams:\n  ATTT-09: {min_length: 10}\n", "utf-8")
    edit = _edit(session, tmp_path, "ATTT-05", max_days="45")
    assert edit.changed  # type: ignore[attr-defined]
    doc = yaml.safe_load(path.read_text("utf-8"))
    assert doc == {
        "disable": ["ATTT-12"],
        "params": {"ATTT-09": {"min_length": 10}, "ATTT-05": {"max_days": 45}},
    }
    assert "ATTT-09" in path.with_name("overrides.yaml.bak").read_text("utf-8")
    rule = next(r for r in load_installed(tmp_path).rules if r.id == "ATTT-05")
    assert rule.params["max_days"] == 45
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.actor, entry.action, entry.target, entry.source) == (
        "user:admin", "policy.rule_changed", "rule:ATTT-05", "10.0.0.5"
    )  # fmt: skip
    assert entry.details == {"enabled": True, "params": {"max_days": {"from": 30, "to": 45}}}
    job = jobs.get(session, "findings.reevaluate")
    assert job is not None and job.requested_at == NOW
    _edit(session, tmp_path, "ATTT-12", enabled=True)
    assert "disable" not in yaml.safe_load(path.read_text("utf-8"))
    assert not list(path.parent.glob(".*.tmp"))


def test_same_values_change_nothing(session: Session, tmp_path: Path) -> None:
    edit = _edit(session, tmp_path, "ATTT-05", max_days="30", max_pending_security="0")
    assert not edit.changed  # type: ignore[attr-defined]
    assert not overrides_path(tmp_path).exists()
    assert not session.scalars(select(AuditEntry)).all()


def test_bad_values_leave_the_file_untouched(session: Session, tmp_path: Path) -> None:
    _edit(session, tmp_path, "ATTT-05", enabled=False)
    path = overrides_path(tmp_path)
    before = path.read_bytes()
    with pytest.raises(OverrideError, match=r"overrides.yaml:\d+: .*is not of type int"):
        _edit(session, tmp_path, "ATTT-05", max_days="ba mươi")
    with pytest.raises(OverrideError, match="has no parameter 'nope'"):
        _edit(session, tmp_path, "ATTT-05", nope="1")
    with pytest.raises(RuleUnknown):
        _edit(session, tmp_path, "KHONG-CO")
    assert path.read_bytes() == before
    assert not list(path.parent.glob(".*.tmp"))


def test_a_broken_current_file_is_not_overwritten(session: Session, tmp_path: Path) -> None:
    path = overrides_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("disable: [KHONG-CO]\n", "utf-8")
    with pytest.raises(OverrideError, match="do not load"):
        _edit(session, tmp_path, "ATTT-05", enabled=False)
    assert path.read_text("utf-8") == "disable: [KHONG-CO]\n"
