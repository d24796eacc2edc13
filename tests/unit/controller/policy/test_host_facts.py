"""asset.* and controller.* facts, dates, the ge/le/not_in operators, kind applicability."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from controller.cli import main
from controller.policy import HostContext, PolicyError
from controller.policy.facts import resolve
from controller.policy.host_facts import ASSET_KINDS, Asset, ControllerFacts, json_schema
from controller.policy.messages import format_expected
from tests.unit.controller.policy.conftest import (
    NOW,
    REFERENCES,
    REPORT,
    Loader,
    pack,
    rule,
    run_rule,
)

ASSET: dict[str, dict[str, Any]] = {
    "asset": {
        "id": "xa-thanh-mai-pc-03",
        "kind": "laptop",
        "classification": "classified",
        "macs": ["aa:bb:cc:dd:ee:ff"],
        "tags": ["signing-pc"],
        "security_plan_reviewed_at": "2026-06-01",
        "purchased_at": "2019-03-15",
    },
    "controller": {"last_bundle_at": "2026-11-20T08:00:00Z", "network_sightings": 0},
}


def check(fact: str, expect: Any, **extra: Any) -> dict[str, Any]:
    return {"fact": fact, "expect": expect, **extra}


def test_every_contract_path_resolves_with_its_type() -> None:
    # The contract of docs/policies.md ("Facts the controller adds"), path by path.
    expected = {
        "asset.id": "str", "asset.kind": "str", "asset.classification": "str",
        "asset.state": "str", "asset.hostname": "str", "asset.macs": "list",
        "asset.serial": "str", "asset.machine_id": "str", "asset.unit": "str",
        "asset.office": "str", "asset.assigned_user": "str",
        "asset.assigned_user_roles": "list", "asset.tags": "list",
        "asset.for_secret_use": "bool", "asset.security_plan_ref": "str",
        "asset.security_plan_approved_at": "date", "asset.security_plan_reviewed_at": "date",
        "asset.sanitisation_ref": "str", "asset.purchased_at": "date",
        "controller.last_report_at": "datetime", "controller.last_bundle_at": "datetime",
        "controller.network_sightings": "int", "controller.office_computers": "int",
        "controller.office_printers": "int",
    }  # fmt: skip
    assert len(Asset.__struct_fields__) + len(ControllerFacts.__struct_fields__) == len(expected)
    for path, kind in expected.items():
        assert resolve(path).type.kind == kind, path
    assert set(resolve("asset.kind").type.choices) == set(ASSET_KINDS)


def test_a_misspelt_asset_path_is_a_load_error(load: Loader) -> None:
    with pytest.raises(PolicyError) as exc:
        load(pack(rule([check("asset.security_plan", {"exists": True})])))
    assert "asset has no field 'security_plan'" in exc.value.errors[0]
    with pytest.raises(PolicyError) as exc:
        load(pack(rule([check("asset.kind", {"eq": "tablet"})])))
    assert "'tablet' is not a str (one of: all_in_one, copier, desktop" in exc.value.errors[0]


@pytest.mark.parametrize(
    ("spec", "facts", "outcome", "code"),
    [
        pytest.param(check("asset.security_plan_reviewed_at", {"gt": {"days_ago": 365}}), ASSET,
                     "pass", "all_checks_hold", id="date within a year"),
        pytest.param(check("asset.security_plan_reviewed_at", {"gt": {"days_ago": 90}}), ASSET,
                     "fail", "check_failed", id="date older than 90 days"),
        pytest.param(check("asset.purchased_at", {"lt": {"days_ago": 1825}}), ASSET, "pass",
                     "all_checks_hold", id="hardware older than five years"),
        pytest.param(check("asset.purchased_at", {"gt": {"days_ago": 30}}),
                     {"asset": {"purchased_at": "15/03/2019"}}, "error", "bad_datetime",
                     id="a date in another format is an error"),
        pytest.param(check("controller.last_bundle_at", {"gt": {"days_ago": 30}}), ASSET, "pass",
                     "all_checks_hold", id="controller date-time"),
        pytest.param(check("controller.network_sightings", {"le": 0}), ASSET, "pass",
                     "all_checks_hold", id="le holds on equality"),
        pytest.param(check("controller.network_sightings", {"ge": 1}), ASSET, "fail",
                     "check_failed", id="ge fails"),
        pytest.param(check("controller.office_printers", {"ge": 1}), ASSET, "error",
                     "fact_missing", id="absent controller fact is missing"),
        pytest.param(check("asset.macs", {"count": {"ge": 1}}), {}, "error", "fact_missing",
                     id="no inventory record: missing, not an empty list"),
        pytest.param(check("asset.macs", {"count": 0}, where={"not_in": ["aa:bb:cc:dd:ee:ff"]}),
                     ASSET, "pass", "all_checks_hold", id="not_in on a list of texts"),
        pytest.param(check("asset.tags", {"count": 1}, where={"not_in": []}), ASSET, "pass",
                     "all_checks_hold", id="not_in an empty list keeps every item"),
        pytest.param(check("asset.kind", {"not_in": ["desktop", "laptop"]}), ASSET, "fail",
                     "check_failed", id="not_in on a value"),
        pytest.param(check("asset.sanitisation_ref", {"exists": False}), ASSET, "pass",
                     "all_checks_hold", id="exists false on an absent asset field"),
    ],
)  # fmt: skip
def test_host_fact_checks(
    load: Loader, spec: dict[str, Any], facts: dict[str, Any], outcome: str, code: str
) -> None:
    result = run_rule(load(pack(rule([spec]))), facts)
    assert (result.outcome, result.reason.code) == (outcome, code)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(check("asset.purchased_at", {"eq": "2019-03-15"}),
                     "'2019-03-15' is not a date value", id="eq on a date"),
        pytest.param(check("asset.purchased_at", {"ge": {"days_ago": 3}}),
                     "ge does not compare times: use lt or gt with days_ago", id="ge on a date"),
        pytest.param(check("asset.purchased_at", {"gt": 3}),
                     "gt on a date fact takes {days_ago: N}", id="date without days_ago"),
        pytest.param(check("asset.kind", {"in": []}), "in needs a non-empty list of values",
                     id="empty in"),
        pytest.param(check("asset.tags", {"count": {"le": "two"}}),
                     "le needs a number fact and a number", id="le with a text"),
    ],
)  # fmt: skip
def test_new_operator_errors(load: Loader, spec: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as exc:
        load(pack(rule([spec])))
    assert message in exc.value.errors[0]


def test_applies_to_kind(load: Loader) -> None:
    policies = load(
        pack(rule([check("asset.id", {"exists": True})], applies_to={"kind": "laptop"}))
    )
    laptop = run_rule(policies, ASSET, HostContext.from_facts(ASSET, now=NOW))
    assert laptop.outcome == "pass"
    desktop = {"asset": {**ASSET["asset"], "kind": "desktop"}}
    result = run_rule(policies, desktop, HostContext.from_facts(desktop, now=NOW))
    assert (result.outcome, result.reason.code) == ("not_applicable", "kind_not_applicable")
    result = run_rule(policies, {}, HostContext.from_facts({}, now=NOW))
    assert (result.outcome, result.reason.code) == ("error", "kind_unknown")
    with pytest.raises(PolicyError) as exc:
        load(pack(rule([check("asset.id", {"exists": True})], applies_to={"kind": "tablet"})))
    assert "applies_to.kind: 'tablet' is not one of desktop, laptop" in exc.value.errors[0]


def test_host_context_reads_the_inventory_record() -> None:
    ctx = HostContext.from_facts(ASSET, tags=frozenset({"cli"}))
    assert (ctx.classification, ctx.kind) == ("classified", "laptop")
    assert ctx.tags == {"cli", "signing-pc"}
    # What the caller says wins over the record.
    assert HostContext.from_facts(ASSET, classification="normal", kind="desktop").kind == "desktop"
    assert HostContext.from_facts(ASSET, classification="normal").classification == "normal"
    secret = HostContext.from_facts({"asset": {"kind": "copier", "for_secret_use": True}})
    assert "for-secret-use" in secret.tags
    bare = HostContext.from_facts({"asset": {"classification": "top"}})
    assert (bare.classification, bare.kind, bare.tags) == ("normal", None, frozenset())


def test_reference_basis_is_validated(tmp_path: Path, load: Loader) -> None:
    refs = tmp_path / "refs.yaml"
    refs.write_text(
        "references:\n  - id: x\n    title: {vi: a, en: b}\n    source: s\n    basis: guess\n",
        encoding="utf-8",
    )
    assert main(["policy", "check", str(tmp_path / "none"), "--references", str(refs)]) == 1


def test_policy_test_kind_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = tmp_path / "p.yaml"
    doc.write_text(
        "policy: {id: p, version: 1, title: {vi: Gói, en: Pack}}\n"
        "rules:\n"
        "  - id: P-01\n"
        "    title: {vi: Mã hóa, en: Encryption}\n"
        "    rationale: {vi: Lý do, en: Why}\n"
        "    severity: low\n"
        "    applies_to: {kind: laptop}\n"
        "    checks: [{fact: security.encryption, where: {protected: true}, expect: {count: 1}}]\n",
        encoding="utf-8",
    )
    args = ["policy", "test", str(doc), "--report", str(REPORT), "--references", str(REFERENCES)]
    assert main([*args, "--kind", "laptop", "--lang", "en"]) == 0
    assert "P-01  low       FAIL" in capsys.readouterr().out
    assert main([*args, "--kind", "tablet"]) == 1
    assert "--kind tablet: not an asset kind" in capsys.readouterr().err


def test_committed_json_schema_is_current() -> None:
    # The inventory engine validates what it adds against this file (`make schema` rewrites it).
    committed = Path(__file__).resolve().parents[4] / "docs" / "host-facts-schema.json"
    assert json.loads(committed.read_text(encoding="utf-8")) == json_schema(), (
        "docs/host-facts-schema.json is out of date: run `make schema` and commit it"
    )


def test_new_operators_render_as_symbols() -> None:
    assert format_expected({"not_in": ["root"]}, "en") == '∉ ["root"]'
    assert format_expected({"ge": 8, "le": 900}, "vi") == "≥ 8, ≤ 900"
    assert format_expected({"count": {"ge": 1}}, "vi") == "số lượng ≥ 1"
