"""Inventory tables: apply a plan, identity look-ups for the tripwire, the asset.* facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from controller.inventory import apply_plan, asset_facts, load_inventory, make_plan
from controller.store import inventory as store
from controller.store.models import Asset
from tests.unit.controller.store.factories import make_agent

SMALL = Path(__file__).resolve().parents[3] / "fixtures" / "inventory" / "small.yaml"
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@pytest.fixture
def imported(session: Session) -> Session:
    """The small organisation file applied to the test database."""
    stored = store.load_inventory_rows(session)
    apply_plan(session, make_plan(load_inventory(SMALL), stored), stored, T0)
    session.commit()
    return session


def _ids(assets: list[Asset]) -> list[str]:
    return [asset.id for asset in assets]


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        pytest.param({"macs": ["d8:9e:f3:00:00:03"]}, ["xa-thanh-mai-pc-03"], id="mac"),
        pytest.param({"serial": "VN000001A"}, ["xa-thanh-mai-pc-01"], id="serial"),
        pytest.param(
            {"machine_ids": ["2b1c0c1e-5f39-4a55-9a0e-000000000001"]},
            ["xa-thanh-mai-pc-01"],
            id="machine id",
        ),
        pytest.param({"hostname": "xa-thanh-mai-pc03"}, ["xa-thanh-mai-pc-03"], id="hostname"),
        pytest.param(
            {"macs": ["d8:9e:f3:00:00:01"], "serial": "VN000003C"},
            ["xa-thanh-mai-pc-01", "xa-thanh-mai-pc-03"],
            id="any identifier matches",
        ),
        pytest.param({"macs": ["00:00:00:00:00:00"], "serial": "nope"}, [], id="no match"),
        pytest.param({}, [], id="nothing given"),
    ],
)
def test_find_assets_by_identity(
    imported: Session, identity: dict[str, object], expected: list[str]
) -> None:
    assert _ids(store.find_assets_by_identity(imported, **identity)) == expected  # type: ignore[arg-type]


def test_a_retired_asset_is_found_only_when_asked(imported: Session) -> None:
    asset = imported.get(Asset, "xa-thanh-mai-pc-03")
    assert asset is not None
    store.retire_row(asset, T0)
    imported.flush()
    assert store.find_assets_by_identity(imported, serial="VN000003C") == []
    found = store.find_assets_by_identity(imported, serial="VN000003C", include_retired=True)
    assert _ids(found) == ["xa-thanh-mai-pc-03"]


def test_the_agent_link_is_kept_by_a_reimport(imported: Session) -> None:
    make_agent(imported, "agent-pc-01")
    asset = imported.get(Asset, "xa-thanh-mai-pc-01")
    assert asset is not None
    asset.agent_id = "agent-pc-01"
    imported.commit()
    stored = store.load_inventory_rows(imported)
    assert make_plan(load_inventory(SMALL), stored).empty


def test_asset_facts_follow_the_contract(imported: Session) -> None:
    asset = imported.get(Asset, "xa-thanh-mai-pc-03")
    assert asset is not None
    roles = store.official_roles(imported, [asset.assigned_user or ""])
    facts = asset_facts(
        asset, store.asset_macs(imported, asset.id), roles.get(asset.assigned_user or "", [])
    )
    assert facts == {
        "id": "xa-thanh-mai-pc-03",
        "kind": "desktop",
        "classification": "classified",
        "state": "in_use",
        "hostname": "XA-THANH-MAI-PC03",
        "macs": ["d8:9e:f3:00:00:03"],
        "serial": "VN000003C",
        "unit": "xa-thanh-mai",
        "office": "van-phong",
        "assigned_user": "cb-0002",
        "assigned_user_roles": ["clerk"],
        "tags": [],
        "for_secret_use": False,
        "security_plan_ref": "PA-BMNN-2024-07",
        "security_plan_approved_at": "2024-03-15",
        "security_plan_reviewed_at": "2026-02-01",
    }


def test_asset_facts_leave_out_what_is_unknown(imported: Session) -> None:
    printer = imported.get(Asset, "xa-thanh-mai-printer-01")
    assert printer is not None
    facts = asset_facts(printer, [])
    assert "assigned_user" not in facts and "assigned_user_roles" not in facts
    assert "hostname" not in facts and "security_plan_ref" not in facts
    assert facts["macs"] == [] and facts["kind"] == "printer"


def test_official_roles(imported: Session) -> None:
    assert store.official_roles(imported, ["cb-0001", "cb-9999"]) == {
        "cb-0001": ["key_official", "signing_leader"]
    }
    assert store.official_roles(imported, []) == {}


def test_unit_users_counts_active_agents_and_usable_tokens(session: Session) -> None:
    make_agent(session, "agent-a")
    make_agent(session, "agent-b", status="revoked")
    session.flush()
    assert store.unit_users(session, ["xa-an-binh", "xa-khac"], T0) == {"xa-an-binh": (1, 0)}
    assert store.unit_users(session, [], T0) == {}
