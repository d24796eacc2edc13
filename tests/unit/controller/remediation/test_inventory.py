"""Ansible inventories from the store (controller.remediation.inventory) on SQLite and PostgreSQL:
groups, connection variables, hostile reported strings, one run's hosts, reported addresses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from controller.remediation.inventory import (
    district,
    dynamic_list,
    for_hosts,
    group_hosts,
    host_name,
)
from controller.remediation.model import RemediationError
from controller.settings import ControllerConfig, RemediationConfig, Settings, settings_for
from controller.store import units
from controller.store.models import Asset, HostFacts, SshTarget
from tests.unit.controller.store.factories import gz, make_agent

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
#: What an agent controls about itself, written to break a shell, a Jinja template or YAML.
HOSTILE = "$(touch /tmp/x)`id`{{ lookup('pipe','id') }}\"'\n- evil: [yes]"
#: Pieces of HOSTILE that must not appear anywhere in an inventory.
PIECES = ("touch", "lookup", "{{", "$(", "`id`", "evil")


def _settings(tmp_path: Path, **remediation: Any) -> Settings:
    return settings_for(tmp_path, ControllerConfig(remediation=RemediationConfig(**remediation)))


def _asset(s: Session, asset_id: str, unit: str, **fields: Any) -> None:
    values: dict[str, Any] = {"kind": "desktop", "unit_id": unit, "tags": []}
    values.update(fields)
    s.add(Asset(id=asset_id, **values))


def _facts(s: Session, agent_id: str, interfaces: list[dict[str, Any]]) -> None:
    body = {"identity": {"hostname": HOSTILE}, "network": {"interfaces": interfaces}}
    s.add(
        HostFacts(
            agent_id=agent_id,
            updated_at=T0,
            last_report_at=T0,
            last_full_at=T0,
            last_seq=1,
            full_body=gz(body),
        )
    )


def _interface(*addresses: tuple[str, str], up: bool = True) -> dict[str, Any]:
    return {
        "name": HOSTILE,
        "up": up,
        "addresses": [{"address": a, "family": f} for a, f in addresses],
    }


@pytest.fixture
def world(session: Session) -> Session:
    """A district of three levels with Linux, Windows, classified, local and agent-only hosts."""
    s = session
    units.ensure_unit(s, "huyen-a", "Huyện A", kind="legacy_district")
    s.flush()
    units.ensure_unit(s, "xa-b", "Xã B", kind="commune", parent_id="huyen-a")
    s.flush()
    units.ensure_unit(s, "xa-b-vp", "Văn phòng", kind="office", parent_id="xa-b")
    units.ensure_unit(s, "xa-c", "Xã C", kind="commune", parent_id="huyen-a")
    s.flush()
    make_agent(s, "a1", unit_id="xa-b", hostname=HOSTILE, os="linux")
    make_agent(s, "w1", unit_id="xa-b-vp", hostname=HOSTILE, os="windows")
    make_agent(s, "e1", unit_id="xa-b", hostname=HOSTILE, os=HOSTILE)
    make_agent(s, "h1", unit_id="xa-c", hostname=HOSTILE, os="linux")
    make_agent(s, "o1", unit_id="xa-c", hostname=HOSTILE, os="windows", offline=True)
    make_agent(s, "r1", unit_id="xa-c", hostname=HOSTILE, os="linux", status="revoked")
    make_agent(s, "s1", unit_id="xa-c", hostname=HOSTILE, os="linux", source="ssh")
    make_agent(s, "p1", unit_id="xa-c", hostname=HOSTILE, os="linux")
    s.flush()
    _asset(
        s, "pc-lin", "xa-b", agent_id="a1", tags=["signing-pc"],
        connection={"address": "10.0.0.5", "user": "quantri"},
    )  # fmt: skip
    _asset(s, "pc-win", "xa-b-vp", kind="laptop", agent_id="w1", connection={"address": "pc.lan"})
    _asset(s, "pc-cls", "xa-b", classification="classified", security_plan_ref="PA-1")
    _asset(s, "pc-sec", "xa-b-vp", for_secret_use=True, connection={"address": "10.0.0.6"})
    _asset(s, "pc-odd", "xa-b", agent_id="e1", connection={"address": "10.0.0.7"})
    _asset(s, "srv-01", "huyen-a", kind="server", connection={"transport": "local"})
    _asset(s, "printer-01", "xa-b", kind="printer", connection={"address": "10.0.0.8"})
    _asset(s, "pc-old", "xa-b", retired_at=T0, connection={"address": "10.0.0.9"})
    s.add(SshTarget(host="10.0.0.20", port=2222, username="admin", unit_id="xa-c", agent_id="s1"))
    _facts(
        s, "h1",
        [_interface(("127.0.0.1", "ipv4")), _interface(("8.8.8.8", "ipv4"), (HOSTILE, "ipv4")),
         _interface(("192.168.1.20", "ipv4"), ("fd00::20", "ipv6"))],
    )  # fmt: skip
    _facts(s, "p1", [_interface(("8.8.4.4", "ipv4")), _interface(("169.254.3.3", "ipv4"))])
    _facts(s, "a1", [_interface(("192.168.9.9", "ipv4"))])
    s.flush()
    return s


def _vars(inventory: dict[str, Any], host: str) -> dict[str, Any]:
    hosts: dict[str, dict[str, Any]] = inventory["all"]["hosts"]
    return hosts[host]


def test_hosts_are_computers_and_active_agents_named_safely(world: Session, tmp_path: Path) -> None:
    inventory = district(world, _settings(tmp_path))
    assert set(inventory["all"]["hosts"]) == {
        "pc-lin", "pc-win", "pc-cls", "pc-sec", "pc-odd", "srv-01",
        "agent-h1", "agent-o1", "agent-s1", "agent-p1",
    }  # fmt: skip


def test_groups_follow_the_units_tree_the_os_the_classification_and_the_tags(
    world: Session, tmp_path: Path
) -> None:
    inventory = district(world, _settings(tmp_path))
    top = inventory["all"]["children"]
    huyen = top["unit_huyen_a"]
    assert set(huyen["hosts"]) == {"srv-01"}
    assert set(huyen["children"]) == {"unit_xa_b", "unit_xa_c"}
    xa_b = huyen["children"]["unit_xa_b"]
    assert set(xa_b["hosts"]) == {"pc-lin", "pc-cls", "pc-odd"}
    assert set(xa_b["children"]["unit_xa_b_vp"]["hosts"]) == {"pc-win", "pc-sec"}
    assert group_hosts(inventory, "unit_xa_b") == {"pc-lin", "pc-cls", "pc-odd", "pc-win", "pc-sec"}
    assert len(group_hosts(inventory, "unit_huyen_a")) == 10
    assert group_hosts(inventory, "os_linux") == {"pc-lin", "agent-h1", "agent-s1", "agent-p1"}
    # The windows agent enrolled by carried files is classified; an unknown OS is in no group.
    assert group_hosts(inventory, "os_windows") == {"pc-win", "agent-o1"}
    # Classified as the workflow decides: the asset, a computer for secret use, carried files.
    assert group_hosts(inventory, "classified") == {"pc-cls", "pc-sec", "agent-o1"}
    assert group_hosts(inventory, "tag_signing_pc") == {"pc-lin"}
    assert group_hosts(inventory, "unreachable") == {"pc-cls", "agent-o1", "agent-h1", "agent-p1"}
    assert "unit_root" not in top or "hosts" not in top["unit_root"]


def test_connection_variables_come_from_the_organisation_file_and_the_ssh_targets(
    world: Session, tmp_path: Path
) -> None:
    inventory = district(world, _settings(tmp_path, remote_user="qtv", become_method="su"))
    assert _vars(inventory, "pc-lin") == {
        "ansible_host": "10.0.0.5",
        "ansible_port": 22,
        "ansible_user": "quantri",
        "ansible_connection": "ssh",
        "ansible_become": True,
        "ansible_become_method": "su",
        "ansible_python_interpreter": "auto_silent",
        "govguard_unit": "xa-b",
        "govguard_asset": "pc-lin",
        "govguard_agent": "a1",
        "govguard_classified": False,
        "govguard_reachable": True,
    }
    win = _vars(inventory, "pc-win")
    assert (win["ansible_host"], win["ansible_port"], win["ansible_user"]) == (
        "pc.lan",
        5986,
        "qtv",
    )
    assert win["ansible_connection"] == "winrm"
    assert (win["ansible_winrm_transport"], win["ansible_winrm_scheme"]) == ("ntlm", "https")
    assert "ansible_become" not in win
    local = _vars(inventory, "srv-01")
    assert local["ansible_connection"] == "local" and "ansible_host" not in local
    ssh = _vars(inventory, "agent-s1")
    assert (ssh["ansible_host"], ssh["ansible_port"], ssh["ansible_user"]) == (
        "10.0.0.20", 2222, "admin"
    )  # fmt: skip
    assert ssh["govguard_asset"] is None and ssh["govguard_agent"] == "s1"
    unreachable = _vars(inventory, "pc-cls")
    assert unreachable["govguard_reachable"] is False and "ansible_host" not in unreachable
    assert unreachable["govguard_classified"] is True


def test_the_worker_s_winrm_user_logs_in_to_windows_hosts_the_file_names_no_user_for(
    world: Session, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    inventory = for_hosts(world, settings, ["pc-win", "pc-lin", "agent-s1"], winrm_user="XA\\qt")
    assert _vars(inventory, "pc-win")["ansible_user"] == "XA\\qt"
    assert _vars(inventory, "pc-lin")["ansible_user"] == "quantri"
    assert _vars(inventory, "agent-s1")["ansible_user"] == "admin"


def test_transport_port_and_user_of_the_file_win_over_the_defaults(
    world: Session, tmp_path: Path
) -> None:
    asset = world.get(Asset, "pc-win")
    assert asset is not None
    asset.connection = {"address": "2001:db8::5", "port": 5985, "transport": "psrp",
                        "user": "QUANTRI\\govguard"}  # fmt: skip
    world.flush()
    win = _vars(district(world, _settings(tmp_path)), "pc-win")
    assert win["ansible_host"] == "2001:db8::5"
    assert (win["ansible_port"], win["ansible_connection"]) == (5985, "psrp")
    assert (win["ansible_psrp_auth"], win["ansible_psrp_protocol"]) == ("ntlm", "http")
    assert win["ansible_user"] == "QUANTRI\\govguard"


@pytest.mark.parametrize("setting", [False, True], ids=["reports off", "reports on"])
def test_a_hostile_reported_hostname_appears_nowhere(
    world: Session, tmp_path: Path, setting: bool
) -> None:
    settings = _settings(tmp_path, address_from_reports=setting)
    inventory = district(world, settings)
    texts = [
        json.dumps(inventory),
        json.dumps(dynamic_list(inventory)),
        json.dumps(for_hosts(world, settings, ["pc-lin", "pc-win", "agent-s1"])),
    ]
    for text in texts:
        for piece in PIECES:
            assert piece not in text


def test_a_stored_connection_that_breaks_the_file_s_patterns_is_not_used(
    world: Session, tmp_path: Path
) -> None:
    asset = world.get(Asset, "pc-lin")
    assert asset is not None
    asset.connection = {"address": HOSTILE, "user": HOSTILE, "port": 0, "transport": HOSTILE}
    world.flush()
    inventory = district(world, _settings(tmp_path))
    assert _vars(inventory, "pc-lin")["govguard_reachable"] is False
    assert not any(piece in json.dumps(inventory) for piece in PIECES)


def test_reported_addresses_are_used_only_when_enabled_and_private(
    world: Session, tmp_path: Path
) -> None:
    off = district(world, _settings(tmp_path))
    assert "ansible_host" not in _vars(off, "agent-h1")
    on = district(world, _settings(tmp_path, address_from_reports=True))
    # Up interfaces, IPv4 first; the public address and the hostile text are never taken.
    assert _vars(on, "agent-h1")["ansible_host"] == "192.168.1.20"
    assert _vars(on, "agent-h1")["govguard_reachable"] is True
    # Only a public and a link-local address: still no address.
    assert _vars(on, "agent-p1")["govguard_reachable"] is False
    # The organisation file wins over what the agent says.
    assert _vars(on, "pc-lin")["ansible_host"] == "10.0.0.5"
    assert group_hosts(on, "unreachable") == {"pc-cls", "agent-o1", "agent-p1"}


def test_for_hosts_is_limited_to_those_hosts_and_their_units(
    world: Session, tmp_path: Path
) -> None:
    inventory = for_hosts(world, _settings(tmp_path), ["pc-win", "agent-s1", "pc-win"])
    assert set(inventory["all"]["hosts"]) == {"pc-win", "agent-s1"}
    top = inventory["all"]["children"]
    assert set(top["unit_huyen_a"]["children"]) == {"unit_xa_b", "unit_xa_c"}
    assert "hosts" not in top["unit_huyen_a"]
    assert group_hosts(inventory, "unit_xa_b_vp") == {"pc-win"}
    assert group_hosts(inventory, "os_linux") == {"agent-s1"}
    assert group_hosts(inventory, "classified") == set()
    assert "classified" in top  # `hosts: all:!classified` always resolves
    assert _vars(inventory, "pc-win") == _vars(district(world, _settings(tmp_path)), "pc-win")


@pytest.mark.parametrize(
    ("host", "message"),
    [
        pytest.param(
            "pc-cls",
            "pc-cls: no connection address (add `connection:` to asset pc-cls in the "
            "organisation file)",
            id="asset without address",
        ),
        pytest.param(
            "agent-h1",
            "agent-h1: no connection address (add `connection:` to this computer's asset in "
            "the organisation file (list it there first))",
            id="agent without asset",
        ),
        pytest.param("printer-01", "printer-01: unknown host", id="not a computer"),
        pytest.param("pc-old", "pc-old: unknown host", id="retired"),
        pytest.param("agent-r1", "agent-r1: unknown host", id="revoked agent"),
        pytest.param("agent-a1", "agent-a1: unknown host", id="agent named by its asset"),
        pytest.param("nope", "nope: unknown host", id="unknown"),
        pytest.param(HOSTILE, "not an inventory host name", id="hostile name"),
    ],
)
def test_for_hosts_refuses_a_host_it_cannot_reach(
    world: Session, tmp_path: Path, host: str, message: str
) -> None:
    with pytest.raises(RemediationError) as err:
        for_hosts(world, _settings(tmp_path), ["pc-lin", host])
    assert message in str(err.value)
    assert "\n" not in str(err.value).replace(repr(HOSTILE), "")


def test_the_dynamic_list_has_meta_hostvars_and_flat_groups(world: Session, tmp_path: Path) -> None:
    listed = dynamic_list(district(world, _settings(tmp_path)))
    assert listed["_meta"]["hostvars"]["pc-lin"]["ansible_host"] == "10.0.0.5"
    assert "unit_huyen_a" in listed["all"]["children"]
    assert listed["unit_huyen_a"]["children"] == ["unit_xa_b", "unit_xa_c"]
    assert listed["unit_xa_b_vp"]["hosts"] == ["pc-sec", "pc-win"]
    assert listed["classified"]["hosts"] == ["agent-o1", "pc-cls", "pc-sec"]
    assert "hosts" not in listed["all"]


@pytest.mark.parametrize(
    ("asset", "agent", "name"),
    [("pc-01", "abc", "pc-01"), (None, "0123abcd", "agent-0123abcd"), ("", "x_y-z", "agent-x_y-z")],
)
def test_host_names(asset: str | None, agent: str | None, name: str) -> None:
    assert host_name(asset, agent) == name


@pytest.mark.parametrize(("asset", "agent"), [(None, None), ("PC 01", None), (None, HOSTILE)])
def test_unsafe_host_names_are_refused(asset: str | None, agent: str | None) -> None:
    with pytest.raises(RemediationError):
        host_name(asset, agent)
