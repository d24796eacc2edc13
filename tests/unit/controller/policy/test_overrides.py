"""An operator's overrides: disable rules, set parameters, add packs, never edit shipped files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.policy import PolicyError, load_policies
from tests.unit.controller.policy.conftest import EXAMPLE, REFERENCES, Loader, pack, rule, run_rule

MIN_LENGTH = rule(
    [{"fact": "security.password_policy.min_length", "expect": {"gt": {"param": "min_length"}}}],
    params={"min_length": 7},
)
SIX = {"security": {"password_policy": {"min_length": 6}}}
EIGHT = {"security": {"password_policy": {"min_length": 8}}}


def test_param_default_is_used(load: Loader) -> None:
    policies = load(pack(MIN_LENGTH))
    assert run_rule(policies, EIGHT).outcome == "pass"
    assert run_rule(policies, SIX).outcome == "fail"
    assert run_rule(policies, SIX).evidence[0].expected == {"gt": 7}


def test_param_override_changes_the_threshold(load: Loader) -> None:
    policies = load(pack(MIN_LENGTH), overrides={"params": {"T-01": {"min_length": 9}}})
    assert policies.rules[0].params == {"min_length": 9}
    assert run_rule(policies, EIGHT).outcome == "fail"


def test_param_in_where_and_days_ago(load: Loader) -> None:
    doc = pack(
        rule(
            [
                {
                    "fact": "security.antimalware",
                    "where": {"signature_age_days": {"gt": {"param": "max_days"}}},
                    "expect": {"count": 0},
                },
                {
                    "fact": "security.updates.last_installed_at",
                    "expect": {"gt": {"days_ago": {"param": "max_days"}}},
                },
            ],
            params={"max_days": 7.5},
        )
    )
    facts = {
        "security": {
            "antimalware": [{"name": "Bkav", "source": "package", "signature_age_days": 5}],
            "updates": {"last_installed_at": "2026-11-25T00:00:00Z"},
        }
    }
    assert run_rule(load(doc), facts).outcome == "pass"
    stricter = load(doc, overrides={"params": {"T-01": {"max_days": 2}}})
    result = run_rule(stricter, facts)
    assert result.outcome == "fail"
    assert [e.check for e in result.evidence] == [0, 1]


def test_disable_removes_the_rule(load: Loader) -> None:
    other = rule(MIN_LENGTH["checks"], id="T-02", params={"min_length": 1})
    policies = load(pack(MIN_LENGTH, other), overrides={"disable": ["T-01"]})
    assert [r.id for r in policies.rules] == ["T-02"]
    assert policies.disabled == ("T-01",)


def test_extra_pack_directory_relative_to_the_overrides_file(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "mine.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("packs: [local]\ndisable: [EX-09]\n", encoding="utf-8")
    policies = load_policies([], references=[REFERENCES], overrides=overrides)
    assert len(policies.rules) == 9


def test_extra_references_file(tmp_path: Path) -> None:
    refs = tmp_path / "province.yaml"
    refs.write_text(
        "references:\n  - {id: qd-tinh-12, title: {vi: a, en: b}, source: QĐ 12 của tỉnh}\n",
        encoding="utf-8",
    )
    text = EXAMPLE.read_text(encoding="utf-8").replace("[test-law-1]", "[qd-tinh-12]")
    (tmp_path / "pack.yaml").write_text(text, encoding="utf-8")
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("references: [province.yaml]\n", encoding="utf-8")
    policies = load_policies([tmp_path / "pack.yaml"], references=[REFERENCES], overrides=overrides)
    assert policies.rules[0].references == ("qd-tinh-12",)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param("disable: [T-99]\n", "overrides.yaml:1: disable: unknown rule 'T-99'",
                     id="disable an unknown rule"),
        pytest.param("params:\n  T-01: {min_len: 9}\n",
                     "overrides.yaml:2: params.T-01.min_len: rule T-01 has no parameter "
                     "'min_len' (declared: min_length)", id="undeclared parameter"),
        pytest.param("params:\n  T-01:\n    min_length: '9'\n",
                     "overrides.yaml:3: params.T-01.min_length: '9' is not of type int",
                     id="parameter of the wrong type"),
        pytest.param("params:\n  T-01:\n    min_length: true\n",
                     "params.T-01.min_length: True is not of type int", id="a bool is not an int"),
        pytest.param("params:\n  T-77: {min_length: 9}\n",
                     "overrides.yaml:2: params.T-77: unknown rule 'T-77'", id="unknown rule"),
        pytest.param("severity: {T-01: low}\n", "overrides.yaml:1: severity: unknown key",
                     id="unknown key"),
        pytest.param("packs: [missing-dir]\n", "missing-dir: cannot read", id="missing pack dir"),
    ],
)  # fmt: skip
def test_override_errors(load: Loader, overrides: str, expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load(pack(MIN_LENGTH), overrides=overrides)
    assert any(expected in line for line in caught.value.errors), caught.value.errors


def test_shipped_file_is_not_modified(load: Loader, tmp_path: Path) -> None:
    load(pack(MIN_LENGTH), overrides={"params": {"T-01": {"min_length": 9}}})
    text: Any = (tmp_path / "pack.yaml").read_text(encoding="utf-8")
    assert "min_length: 7" in text
