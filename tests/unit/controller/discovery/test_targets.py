"""targets_from_store: the organisation file's live devices with an address become targets;
the rest come back as ``config:`` failures (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from controller.discovery.credentials import Credential
from controller.discovery.poller import targets_from_store
from controller.store.models import NetworkDevice, SnmpCredential
from tests.unit.controller.store.factories import make_unit

V2C = Credential("snmp-xa-v2c", "v2c", community="secret")


def add_devices(s: Session) -> None:
    unit = make_unit(s)
    s.add_all(
        [
            SnmpCredential(name="snmp-xa-v2c", version="v2c"),
            SnmpCredential(name="snmp-huyen-v3", version="v3"),
        ]
    )
    s.flush()
    rows = [
        ("sw-01", "10.63.0.11", "snmp-xa-v2c", None),
        ("sw-02", "10.63.0.12:1161", "snmp-xa-v2c", None),
        ("sw-v6", "[fd00::12]:1161", "snmp-xa-v2c", None),
        ("fw-01", "10.63.0.1", "snmp-huyen-v3", None),  # no secret for it
        ("np-01", "10.63.1.50", None, None),  # no credential named
        ("sw-old", "10.63.0.99", "snmp-xa-v2c", datetime(2026, 1, 1, tzinfo=UTC)),  # retired
        ("ap-01", None, "snmp-xa-v2c", None),  # no address
    ]
    for device_id, ip, credential, retired in rows:
        s.add(
            NetworkDevice(
                id=device_id,
                kind="switch",
                name=device_id,
                unit_id=unit,
                ip=ip,
                macs=[],
                snmp_credential=credential,
                retired_at=retired,
            )
        )
    s.flush()


def test_targets_and_config_failures(session: Session) -> None:
    add_devices(session)
    targets, failed = targets_from_store(session, {"snmp-xa-v2c": V2C})
    assert [(t.device_id, t.host, t.port, t.credential.name) for t in targets] == [
        ("sw-01", "10.63.0.11", 161, "snmp-xa-v2c"),
        ("sw-02", "10.63.0.12", 1161, "snmp-xa-v2c"),
        ("sw-v6", "fd00::12", 1161, "snmp-xa-v2c"),
    ]
    assert {r.device_id: r.error for r in failed} == {
        "fw-01": "config: no secret for SNMP credential 'snmp-huyen-v3' "
        "(secrets/snmp.yaml or environment)",
        "np-01": "config: the device names no snmp_credential",
    }
    assert all(not r.ok for r in failed)


def test_chosen_devices(session: Session) -> None:
    add_devices(session)
    targets, failed = targets_from_store(session, {"snmp-xa-v2c": V2C}, ["sw-02", "sw-old", "x"])
    assert [t.device_id for t in targets] == ["sw-02"]
    assert {r.device_id: r.error for r in failed} == {
        "sw-old": "config: not a live network device with an ip address",
        "x": "config: not a live network device with an ip address",
    }
