"""A small organisation for the readiness report, every metric known by hand.

Built with plain inserts (agents, host facts, rule states, bundles, findings, the register,
declared figures): the report only reads these tables. ``NOW`` is 2026-11-28 10:00 UTC, the
period 2026-Q4 (from 2026-09-30 17:00 UTC), default settings: active = heard within 7 days or a
classified bundle within 90 days; ageing = dated before 2021-11-28; score weights critical 4,
high 3, medium 2, low 1 (ATTT-01 critical, 02 high, 03 medium, 05 high, 06 high; all 14 = 36).

Units (tree order): ``huyen`` legacy_district (a grouping: no headcount, not an agency), then
``phong-a`` division "Phòng Văn hóa" (2 + 3 staff, valid certificate), ``xa-a`` commune "Xã A"
(4 + 4, 2 viên chức, expired certificate, managed), ``xa-b`` commune "Xã B" (staff only per
office: 1 + 2 and 0 + 1; no certificate, not managed). ``xa-cu`` is retired: left out.

Computers (rules stored: p pass, f fail, n/a not applicable; ATTT-NN written NN):

- pa-pc1, phong-a: ag-pa1 heard 1 h ago (active); ATTT-01..14 p except 05 f; CQĐT-01 p,
  CQĐT-02 p, CQĐT-03 p; bought 2019-05-01 (ageing).
- pa-pc2, phong-a (laptop): ag-pa2 3 d (active); 01 p, 02 f, 03 p, 05 p, 06 p; CQĐT-01 f,
  CQĐT-02 p; no purchase date, host facts age since 2020-01-15 (ageing; BIOS says 2022).
- a-pc1, xa-a: ag-a1 2 h (active); 01 p, 02 p, 03 f, 05 p, 06 p; CQĐT-01 p, 02 p, 03 f;
  bought 2024 (its BIOS 2015 is ignored: the purchase date wins).
- a-pc2, xa-a: ag-a2 10 d (not active); 01..06 p, CQĐT-03 p (ignored: not active).
- a-pc3, xa-a (all-in-one): no agent (not active).
- a-mat1, xa-a, classified: offline ag-am1, bundle 20 d ago (active); BMNN-01/02/03/05 p;
  01 p, 02 f; no date at all.
- a-mat2, xa-a, classified: no agent (not active); plan approved 2024, never reviewed.
- b-pc1, xa-b (clerk o-b-3's signing PC): ag-b1 23 h (active); 01 p, 02 p, 03 p, 05 f, 06 f,
  13 n/a; CQĐT-01 p, 02 f, 05 p; bought 2020-12-31 (ageing).
- ag-b2, xa-b, in no asset: heard 30 min (active); no rules; BIOS 2023-03-01.
- ag-b3, xa-b, offline, in no asset: bundle 100 d ago (classified, not active).
- b-old, xa-b: disposed (not a computer any more); ag-b4 is pending (not counted).

Expected figures (root ``huyen`` = whole report; per unit phong-a / xa-a / xa-b):

| # | root | phong-a | xa-a | xa-b | source |
|---|------|---------|------|------|--------|
| 1 | 17 | 5 | 8 | 4 | register |
| 2 | 6 | 2 | 2 | 2 | measured |
| 3 | 6/17 | 2/5 | 2/8 | 2/4 | measured |
| 4 | 4/17 | 2/5 | 1/8 | 1/4 | measured |
| 5 | 2/3 | missing | 2/2 | 0/1 | register |
| 6 | 3/5 | 1/1 | 1/2 | 1/2 | register |
| 7 | 2 | 0 | 2 | 0 | register |
| 8 | 1/2 | missing | 1/2 | missing | register |
| 9 | 1/2 | missing | 1/2 | missing | measured |
| 10 | 1 | 0 | 1 | 0 | measured (one BMNN-04 opened 2026-10-15; one on 09-20 is outside) |
| 11 | 3/5 | 1/2 | 1/1 | 1/2 | measured (a-mat1 left out) |
| 12 | 3/5 | 2/2 | 1/1 | 0/2 | measured |
| 13 | 2/3 | 1/1 measured | 0/1 measured | 1/1 declared | root: declared |
| 14 | 2/3 | 1/1 register | 0/1 register | 1/1 measured (clerk's PC) | root: register |
| 15 | 1/3 | 1/1 | 0/1 (expired 2026-11-01) | 0/1 (revoked) | register |
| 17 | 75/90 | missing | 45/50 (Q4 beats the year's 100/200) | 30/40 (year 2026) | declared |
| 21 | missing (phong-a declared 2026-Q3 only) | | | | missing |
| 23 | 10/17 (declared at huyen for 2026) | | | | declared |
| 24 | 3/6 | 1/2 | 1/2 | 1/2 | measured |
| 25 | 3/6 | 2/2 | 0/2 | 1/2 | measured |
| 26 | 2/6 | 1/2 | 1/2 | 0/2 | measured |
| 27 | 3/6 | 2/2 | 1/2 | 0/2 | measured |
| 28 | 3.7548/5 | (33/36 + 12/15)/2 | (13/15 + 4/7)/2 | 9/15 | measured |
| 29 | 3/6 | 2/2 | 0/2 | 1/2 | measured |

Header: 4 units; coverage 7/8 (computers heard since the period's start: pa1, pa2, a1, a2,
am1's bundle, b1, b2 ÷ registered computers 2 + 5 + 1); freshness over the 6 non-classified
agents: 24 h 4/6 (pa1, a1, b1, b2), 7 d 5/6 (+ pa2). Excluded classified computers: a-mat1
(active), a-mat2, and the unregistered offline agent ag-b3.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from controller.store.models import (
    Agent,
    Asset,
    Bundle,
    DeclaredFigure,
    Finding,
    HostFacts,
    NetworkDevice,
    Office,
    Official,
    RuleState,
    Unit,
)

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
PERIOD = "2026-Q4"
ALL_ATTT = [f"ATTT-{n:02d}" for n in range(1, 15)]


def _body(hardware: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps({"kind": "full", "hardware": hardware}).encode())


def _agent(s: Session, agent_id: str, unit: str, seen: timedelta | None, **fields: Any) -> None:
    key = hashlib.sha256(agent_id.encode()).digest()
    s.add(
        Agent(
            id=agent_id,
            key_id=hashlib.sha256(key).hexdigest()[:16],
            public_key=key,
            status=fields.pop("status", "active"),
            unit_id=unit,
            hostname=f"pc-{agent_id}",
            os="windows",
            agent_version="0.1.0",
            created_at=NOW - timedelta(days=200),
            last_seen_at=NOW - seen if seen is not None else None,
            **fields,
        )
    )


def _rules(s: Session, agent_id: str, outcomes: dict[str, str]) -> None:
    for rule_id, outcome in outcomes.items():
        s.add(
            RuleState(
                agent_id=agent_id,
                rule_id=rule_id,
                outcome=outcome,
                since=NOW - timedelta(days=1),
                reason={"code": outcome, "values": {}},
            )
        )


def _facts(s: Session, agent_id: str, hardware: dict[str, Any]) -> None:
    s.add(
        HostFacts(
            agent_id=agent_id,
            updated_at=NOW,
            last_report_at=NOW,
            last_full_at=NOW,
            last_seq=1,
            full_body=_body(hardware),
        )
    )


def _official(s: Session, oid: str, unit: str, roles: list[str], **fields: Any) -> None:
    s.add(Official(id=oid, name=f"Cán bộ {oid}", unit_id=unit, roles=roles, **fields))


def _computer(s: Session, aid: str, unit: str, **fields: Any) -> None:
    s.add(Asset(id=aid, kind=fields.pop("kind", "desktop"), unit_id=unit, **fields))


def build(s: Session) -> None:
    """Build the organisation in ``s`` and commit."""
    if s.in_transaction():
        s.commit()
    with s.begin():
        s.add_all(
            [
                Unit(id="huyen", name="Huyện Cũ", kind="legacy_district", inventory_managed=True),
                Unit(
                    id="phong-a", name="Phòng Văn hóa", kind="division", parent_id="huyen",
                    headcount_can_bo=2, headcount_cong_chuc=3, org_cert_serial="P-1",
                    org_cert_expires_on=date(2027, 1, 1), inventory_managed=True,
                ),
                Unit(
                    id="xa-a", name="Xã A", kind="commune", parent_id="huyen",
                    headcount_can_bo=4, headcount_cong_chuc=4, headcount_vien_chuc=2,
                    org_cert_serial="A-1", org_cert_expires_on=date(2026, 6, 30),
                    inventory_managed=True,
                ),
                Unit(id="xa-b", name="Xã B", kind="commune", parent_id="huyen"),
                Unit(
                    id="xa-cu", name="Xã Cũ", kind="commune", parent_id="huyen",
                    headcount_can_bo=9, retired_at=NOW - timedelta(days=100),
                ),
            ]
        )  # fmt: skip
        s.flush()
        s.add_all(
            [
                Office(unit_id="phong-a", id="vp", name="Văn phòng"),
                Office(unit_id="xa-a", id="vp", name="Văn phòng"),
                Office(unit_id="xa-a", id="mc", name="Một cửa"),
                Office(unit_id="xa-b", id="vp", name="Văn phòng", headcount_can_bo=1,
                       headcount_cong_chuc=2),
                Office(unit_id="xa-b", id="mc", name="Một cửa", headcount_cong_chuc=1),
            ]
        )  # fmt: skip
        valid = {"cert_status": "valid", "cert_expires_on": date(2027, 5, 1)}
        _official(s, "o-pa-1", "phong-a", ["signing_leader"], **valid)
        _official(s, "o-pa-2", "phong-a", [])
        _official(s, "o-a-1", "xa-a", ["key_official", "signing_leader"],
                  cert_status="valid", cert_expires_on=date(2026, 11, 1))  # fmt: skip
        _official(s, "o-a-2", "xa-a", ["key_official"])
        _official(s, "o-a-3", "xa-a", [])
        _official(s, "o-b-1", "xa-b", ["key_official", "signing_leader"], cert_status="revoked")
        _official(s, "o-b-2", "xa-b", ["key_official"], retired_at=NOW - timedelta(days=5))
        _official(s, "o-b-3", "xa-b", ["clerk"])
        _official(s, "o-cu-1", "xa-cu", ["key_official"])
        s.flush()

        _agent(s, "ag-pa1", "phong-a", timedelta(hours=1))
        _agent(s, "ag-pa2", "phong-a", timedelta(days=3))
        _agent(s, "ag-a1", "xa-a", timedelta(hours=2))
        _agent(s, "ag-a2", "xa-a", timedelta(days=10))
        _agent(s, "ag-am1", "xa-a", None, offline=True)
        _agent(s, "ag-b1", "xa-b", timedelta(hours=23))
        _agent(s, "ag-b2", "xa-b", timedelta(minutes=30))
        _agent(s, "ag-b3", "xa-b", None, offline=True)
        _agent(s, "ag-b4", "xa-b", timedelta(minutes=5), status="pending")
        _agent(s, "ag-cu1", "xa-cu", timedelta(hours=1))
        s.flush()

        _computer(s, "pa-pc1", "phong-a", office_id="vp", assigned_user="o-pa-1",
                  purchased_at=date(2019, 5, 1), agent_id="ag-pa1")  # fmt: skip
        _computer(s, "pa-pc2", "phong-a", kind="laptop", office_id="vp",
                  assigned_user="o-pa-2", agent_id="ag-pa2")  # fmt: skip
        _computer(s, "pa-in1", "phong-a", kind="printer", office_id="vp")
        _computer(s, "a-pc1", "xa-a", office_id="vp", assigned_user="o-a-1",
                  purchased_at=date(2024, 1, 1), agent_id="ag-a1")  # fmt: skip
        _computer(s, "a-pc2", "xa-a", office_id="mc", assigned_user="o-a-2", agent_id="ag-a2")
        _computer(s, "a-pc3", "xa-a", kind="all_in_one", office_id="mc")
        _computer(s, "a-mat1", "xa-a", classification="classified", agent_id="ag-am1",
                  security_plan_ref="PA-1", security_plan_approved_at=date(2024, 1, 10),
                  security_plan_reviewed_at=date(2026, 2, 1))  # fmt: skip
        _computer(s, "a-mat2", "xa-a", classification="classified", security_plan_ref="PA-2",
                  security_plan_approved_at=date(2024, 1, 10))  # fmt: skip
        _computer(s, "b-pc1", "xa-b", office_id="vp", assigned_user="o-b-3", agent_id="ag-b1",
                  purchased_at=date(2020, 12, 31), tags=["signing-pc"])  # fmt: skip
        _computer(s, "b-in1", "xa-b", kind="printer", office_id="vp")
        _computer(s, "b-old", "xa-b", office_id="mc", state="disposed")
        _computer(s, "cu-pc1", "xa-cu", agent_id="ag-cu1", assigned_user="o-cu-1")
        s.add(NetworkDevice(id="a-in1", kind="printer", name="Máy in", unit_id="xa-a",
                            office_id="mc"))  # fmt: skip

        attt = dict.fromkeys(ALL_ATTT, "pass") | {"ATTT-05": "fail"}
        _rules(s, "ag-pa1", attt | {"CQĐT-01": "pass", "CQĐT-02": "pass", "CQĐT-03": "pass"})
        _rules(s, "ag-pa2", {"ATTT-01": "pass", "ATTT-02": "fail", "ATTT-03": "pass",
                             "ATTT-05": "pass", "ATTT-06": "pass", "CQĐT-01": "fail",
                             "CQĐT-02": "pass"})  # fmt: skip
        _rules(s, "ag-a1", {"ATTT-01": "pass", "ATTT-02": "pass", "ATTT-03": "fail",
                            "ATTT-05": "pass", "ATTT-06": "pass", "CQĐT-01": "pass",
                            "CQĐT-02": "pass", "CQĐT-03": "fail"})  # fmt: skip
        _rules(s, "ag-a2", dict.fromkeys(ALL_ATTT[:6], "pass") | {"CQĐT-03": "pass"})
        _rules(s, "ag-am1", {"BMNN-01": "pass", "BMNN-02": "pass", "BMNN-03": "pass",
                             "BMNN-05": "pass", "ATTT-01": "pass", "ATTT-02": "fail"})  # fmt: skip
        _rules(s, "ag-b1", {"ATTT-01": "pass", "ATTT-02": "pass", "ATTT-03": "pass",
                            "ATTT-05": "fail", "ATTT-06": "fail", "ATTT-13": "not_applicable",
                            "CQĐT-01": "pass", "CQĐT-02": "fail", "CQĐT-05": "pass"})  # fmt: skip
        _rules(s, "ag-cu1", dict.fromkeys(ALL_ATTT, "pass"))

        _facts(s, "ag-pa2", {"bios": {"release_date": "2022-06-01"},
                             "age": {"age_years": 6.9, "since": "2020-01-15",
                                     "source": "bios_release_date"}})  # fmt: skip
        _facts(s, "ag-b2", {"bios": {"release_date": "2023-03-01"}})
        _facts(s, "ag-a1", {"bios": {"release_date": "2015-01-01"}})  # bought 2024: purchase wins

        for agent_id, age in (("ag-am1", 20), ("ag-b3", 100)):
            s.add(Bundle(agent_id=agent_id, seq=1, digest=f"d-{agent_id}", prev_digest="",
                         created_at=NOW - timedelta(days=age + 1),
                         imported_at=NOW - timedelta(days=age), reports=1))  # fmt: skip
        for opened, status in ((datetime(2026, 10, 15, 3, tzinfo=UTC), "open"),
                               (datetime(2026, 9, 20, 3, tzinfo=UTC), "resolved")):  # fmt: skip
            s.add(
                Finding(
                    open_key="asset:a-mat2|BMNN-04" if status == "open" else None,
                    subject="asset:a-mat2", unit_id="xa-a", rule_id="BMNN-04",
                    severity="critical", status=status, opened_at=opened, last_seen_at=opened,
                    resolved_at=opened + timedelta(days=1) if status == "resolved" else None,
                    reason={"code": "classified_on_network", "values": {}},
                )
            )  # fmt: skip

        for unit, period, metric, n, d, source in (
            ("xa-a", "2026-Q4", "egov.17", 45, 50, "Báo cáo QLVB quý 4"),
            ("xa-a", "2026", "egov.17", 100, 200, "Báo cáo QLVB năm"),
            ("xa-b", "2026", "egov.17", 30, 40, None),
            ("xa-b", "2026", "egov.13", 1, 1, "VNPT xác nhận"),
            ("phong-a", "2026-Q3", "egov.21", 5, 10, None),
            ("huyen", "2026", "egov.23", 10, 17, "Danh sách tập huấn"),
        ):
            s.add(DeclaredFigure(unit_id=unit, period=period, metric=metric, numerator=n,
                                 denominator=d, source=source, entered_by="cli:test",
                                 entered_at=NOW - timedelta(days=1)))  # fmt: skip
