"""The demo's simulated PCs: each fault fails exactly the rules docs/demo.md names, a PC without
faults fails none, and the fleet of the example district is varied and stable."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import pytest

from agent.report import decode
from controller.demo.fleet import plan_fleet
from controller.demo.reports import FAULTS, SimulatedPc, build_report
from controller.inventory.document import load_inventory
from controller.policy import HostContext, PolicySet, evaluate, load_installed

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[4] / "inventory" / "example-district.yaml"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    return load_installed(tmp_path_factory.mktemp("data"))


def _pc(faults: frozenset[str], *, kind: str = "desktop", family: str = "windows") -> SimulatedPc:
    return SimulatedPc(
        asset_id="xa-demo-pc-01", unit_id="xa-demo", hostname="XA-DEMO-PC01", kind=kind,
        macs=("d8:9e:f3:00:00:01",), serial="VN0000001", machine_id=None,
        model="Dell OptiPlex 3080", purchased_at=date(2022, 3, 1), family=family,
        faults=faults, tags=("signing-pc",), address="10.63.9.21",
    )  # fmt: skip


def _failed(shipped: PolicySet, pc: SimulatedPc) -> set[str]:
    report = build_report(pc, NOW)
    # What the controller receives: the report on the wire, decoded and validated.
    facts = msgspec.to_builtins(decode(msgspec.json.encode(report)))
    ctx = HostContext.from_facts(facts, tags=frozenset(pc.tags), kind=pc.kind, now=NOW)
    return {r.rule_id for r in evaluate(shipped.rules, facts, ctx) if r.outcome == "fail"}


@pytest.mark.parametrize("family", ["windows", "linux"])
@pytest.mark.parametrize("kind", ["desktop", "laptop"])
def test_a_pc_without_faults_fails_no_rule(shipped: PolicySet, kind: str, family: str) -> None:
    assert _failed(shipped, _pc(frozenset(), kind=kind, family=family)) == set()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_fails_its_rules(shipped: PolicySet, fault: str) -> None:
    assert _failed(shipped, _pc(frozenset({fault}), kind="laptop")) == set(FAULTS[fault])


def test_the_example_district_fleet() -> None:
    assets = load_inventory(EXAMPLE).records["assets"]
    fleet = plan_fleet(assets)
    assert len(fleet) == 349
    assert all(assets[pc.asset_id]["classification"] == "normal" for pc in fleet)
    compliant = sum(1 for pc in fleet if pc.compliant)
    assert 0.35 < compliant / len(fleet) < 0.65
    assert {f for pc in fleet for f in pc.faults} == set(FAULTS)
    assert {pc.family for pc in fleet} == {"windows", "linux"}
    # The same seed, the same demo.
    assert plan_fleet(assets) == fleet
