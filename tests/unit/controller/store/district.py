"""A small district built through the real ingest path, every dashboard figure known by hand.

Units: ``huyen`` (district, 10 + 5 officials, expired certificate) over ``xa-a`` (3 + 2, valid
certificate) and ``xa-b`` (4 + 0, none). Rules FW-01 (firewall on, high) and OS-01 (Linux, low).

| agent | unit | state  | FW-01 | OS-01 | LAN | Internet | notes                              |
|-------|------|--------|-------|-------|-----|----------|------------------------------------|
| a1    | xa-a | online | fail  | pass  | yes | yes      | asset xa-a-pc-01, user nguyenvana  |
| a2    | xa-a | online | pass  | pass  | yes | no       |                                    |
| o1    | xa-a | never  |       |       |     |          | offline agent, classified asset    |
| b1    | xa-b | stale  | pass  | fail  | no  | ?        | windows, user tranthib; finding ack|
| p1    | xa-b | pending|       |       |     |          |                                    |

Classified assets: xa-a-mat-01 (no agent: never), xa-a-mat-02 (o1, bundle 5 days ago:
attested), xa-b-mat-01 (tripwire finding: sighted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from controller.findings import FindingsWriter, PolicyCache
from controller.policy import load_policies
from controller.store import findings as store_findings
from controller.store import tokens, units
from controller.store.models import (
    Asset,
    AssetMac,
    AuditEntry,
    Bundle,
    Finding,
    NetworkDevice,
    Office,
    Unit,
    User,
)
from tests.unit.controller.policy.conftest import REFERENCES, pack, rule
from tests.unit.controller.store.factories import T0, full, heartbeat, make_agent

FIREWALL = rule(
    [{"fact": "security.firewall.enabled", "expect": {"eq": True}}],
    id="FW-01",
    severity="high",
    title={"vi": "Tường lửa bật", "en": "Firewall on"},
)
LINUX = rule(
    [{"fact": "os.version.family", "expect": {"eq": "linux"}}],
    id="OS-01",
    severity="low",
)
#: When the online agents last reported (the writer's clock).
SEEN = T0 + timedelta(hours=1)
#: The dashboard's "now": a1 and a2 heard 10 minutes ago, b1 an hour and 10 minutes ago.
NOW = SEEN + timedelta(minutes=10)
A = frozenset({"xa-a"})
B = frozenset({"xa-b"})


@dataclass(frozen=True)
class District:
    """What the tests need to know about the built district."""

    b1_finding: int
    a1_finding: int
    sighting: int


def _cache(folder: Path) -> PolicyCache:
    path = folder / "pack.yaml"
    path.write_text(yaml.safe_dump(pack(FIREWALL, LINUX), sort_keys=False), encoding="utf-8")
    return PolicyCache(
        folder,
        check_every_s=0,
        loader=lambda _d: load_policies([path], references=[REFERENCES]),
        watch=[path],
    )


def _os(family: str, name: str, version: str, user: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"version": {"family": family, "name": name, "version": version}}
    doc["users"] = [{"name": user}] if user else []
    return doc


def _commit(s: Session) -> None:
    if s.in_transaction():
        s.commit()


def build(s: Session, folder: Path) -> District:
    """Build the district in ``s`` (committed)."""
    _commit(s)
    with s.begin():
        units.ensure_unit(s, "huyen", "Huyện Thử", kind="district")
        units.ensure_unit(s, "xa-a", "Xã A", parent_id="huyen", kind="commune")
        units.ensure_unit(s, "xa-b", "Xã B", parent_id="huyen", kind="commune")
        for uid, can_bo, cong_chuc, serial, expires in (
            ("huyen", 10, 5, "H-1", date(2026, 1, 1)),
            ("xa-a", 3, 2, "A-1", date(2027, 6, 30)),
            ("xa-b", 4, 0, None, None),
        ):
            unit = s.get(Unit, uid)
            assert unit is not None
            unit.headcount_can_bo, unit.headcount_cong_chuc = can_bo, cong_chuc
            unit.org_cert_serial, unit.org_cert_expires_on = serial, expires
        make_agent(s, "a1", unit_id="xa-a", hostname="PC-KeToan", macs=["aa:bb:cc:00:00:01"])
        make_agent(s, "a2", unit_id="xa-a", hostname="pc-van-thu", macs=["AA-BB-CC-00-00-02"])
        make_agent(s, "o1", unit_id="xa-a", hostname="may-mat", macs=[], offline=True)
        make_agent(
            s, "b1", unit_id="xa-b", hostname="pc-xa-b", os="windows", macs=["aa:bb:cc:00:00:03"]
        )
        make_agent(s, "p1", unit_id="xa-b", hostname="pc-moi", status="pending", macs=[])
        # make_agent's own commune: not part of this district.
        s.flush()
        s.delete(s.get(Unit, "xa-an-binh"))
        s.add_all(
            [
                Office(unit_id="xa-a", id="vp", name="Văn phòng"),
                Office(unit_id="xa-b", id="vp", name="Văn phòng"),
                Asset(id="xa-a-pc-01", kind="desktop", unit_id="xa-a", office_id="vp"),
                Asset(
                    id="xa-a-mat-01", kind="desktop", unit_id="xa-a", classification="classified"
                ),
                Asset(
                    id="xa-a-mat-02", kind="desktop", unit_id="xa-a", classification="classified"
                ),
                Asset(
                    id="xa-b-mat-01", kind="desktop", unit_id="xa-b", classification="classified"
                ),
                NetworkDevice(
                    id="xa-a-in-01", kind="printer", name="Máy in", unit_id="xa-a", office_id="vp"
                ),
            ]
        )
        s.flush()
        s.add(AssetMac(asset_id="xa-b-mat-01", mac="de:ad:be:ef:00:01"))
        pc = s.get(Asset, "xa-a-pc-01")
        secret = s.get(Asset, "xa-a-mat-02")
        assert pc is not None and secret is not None
        pc.agent_id, secret.agent_id = "a1", "o1"
        s.add(
            Bundle(
                agent_id="o1",
                seq=1,
                digest="d1",
                prev_digest="",
                created_at=NOW - timedelta(days=6),
                imported_at=NOW - timedelta(days=5),
                reports=2,
            )
        )
        for name, unit_id in (("an", "xa-a"), ("binh", "xa-b")):
            s.add(User(username=name, password_hash="-", role="operator", unit_id=unit_id))  # noqa: S106 - no login
        tokens.add_token(s, "tok-a", "h", "xa-a", NOW + timedelta(days=7), 5, "user:an")
        tokens.add_token(s, "tok-b", "h", "xa-b", NOW - timedelta(days=1), 5, "user:binh")
    writer = FindingsWriter(_cache(folder))
    with s.begin():
        writer(
            s,
            [
                full(
                    "a1",
                    1,
                    os=_os("linux", "Debian GNU/Linux", "12", "nguyenvana"),
                    hardware={"system": {"serial": "SN-A1"}},
                    network={
                        "interfaces": [
                            {
                                "name": "lo",
                                "loopback": True,
                                "addresses": [{"address": "127.0.0.1", "family": "ipv4"}],
                            },
                            {
                                "name": "eth0",
                                "mac": "aa:bb:cc:00:00:01",
                                "up": True,
                                "addresses": [{"address": "10.0.0.5", "family": "ipv4"}],
                            },
                        ]
                    },
                    software={
                        "packages": [{"name": "firefox", "version": "128"}, {"name": "bash"}]
                    },
                    connectivity={"lan": {"reachable": True}, "internet": {"reachable": True}},
                    security={"firewall": {"enabled": False}},
                ),
                heartbeat("a1", 2, connectivity={"lan": {"reachable": False}}),
                heartbeat("a1", 3, connectivity={"lan": {"reachable": True}}),
                full(
                    "a2",
                    1,
                    os=_os("linux", "Ubuntu", "24.04", None),
                    connectivity={"lan": {"reachable": True}, "internet": {"reachable": False}},
                    security={"firewall": {"enabled": True}},
                ),
            ],
            SEEN,
        )
    with s.begin():
        writer(
            s,
            [
                full(
                    "b1",
                    1,
                    os=_os("windows", "Windows 11 Pro", "23H2", "XA-B\\tranthib"),
                    hardware={"system": {"serial": "SN-B1"}},
                    connectivity={"lan": {"reachable": False}},
                    security={"firewall": {"enabled": True}},
                )
            ],
            T0,
        )
    with s.begin():
        sighting, _ = store_findings.open_finding(
            s,
            subject="asset:xa-b-mat-01",
            unit_id="xa-b",
            rule_id="BMNN-04",
            severity="critical",
            reason={"code": "classified_on_network", "values": {}},
            evidence=[],
            at=SEEN,
        )
        ids = {f.agent_id: f.id for f in s.query(Finding).filter(Finding.agent_id.is_not(None))}
        store_findings.acknowledge(s, ids["b1"], "user:binh", SEEN)
        s.add_all(
            [
                AuditEntry(at=SEEN, actor="user:an", action="finding.exempted", target="x"),
                AuditEntry(at=SEEN, actor="user:binh", action="user.login", target="user:binh"),
                AuditEntry(at=SEEN, actor="cli", action="policy.changed", target="policy:x"),
            ]
        )
        sighting_id = sighting.id
    return District(b1_finding=ids["b1"], a1_finding=ids["a1"], sighting=sighting_id)


def moment(day_offset: int) -> datetime:
    """``NOW`` moved by whole days."""
    return NOW + timedelta(days=day_offset)
