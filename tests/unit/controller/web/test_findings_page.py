"""The findings page: list, filters, acknowledge, exempt, bulk, roles and unit scope."""

from __future__ import annotations

from sqlalchemy import select

from controller.settings import load_settings
from controller.store.db import make_engine, session_factory
from controller.store.models import AuditEntry, Finding
from tests.unit.controller.web.conftest import PASSWORD, District, Web


def _finding(web: Web, finding_id: int) -> Finding:
    engine = make_engine(load_settings(web.data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            finding = s.get(Finding, finding_id)
            assert finding is not None
            s.expunge(finding)
            return finding
    finally:
        engine.dispose()


def _audit(web: Web, action: str) -> list[AuditEntry]:
    engine = make_engine(load_settings(web.data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))
    finally:
        engine.dispose()


def test_list_shows_every_unit_to_the_district_and_escapes_hostnames(
    web: Web, district: District
) -> None:
    web.login()
    page = web.client.get("/findings")
    assert page.status_code == 200
    for ids in district.findings.values():
        for finding_id in ids:
            assert f'data-id="{finding_id}"' in page.text
    assert "pc-a-&lt;b&gt;01&lt;/b&gt;" in page.text
    assert "<b>01</b>" not in page.text
    high = web.client.get("/findings?severity=high&unit=xa-b")
    assert f'data-id="{district.findings["xa-b"][0]}"' in high.text
    assert f'data-id="{district.findings["xa-a"][0]}"' not in high.text
    assert f'data-id="{district.findings["xa-b"][1]}"' not in high.text


def test_bad_filters_are_a_400_page(web: Web, district: District) -> None:
    web.login()
    reply = web.client.get("/findings?severity=apocalyptic")
    assert reply.status_code == 400
    assert "Mức độ không hợp lệ." in reply.text or "Unknown severity." in reply.text
    assert web.client.get("/findings?page=-1").status_code == 400


def test_acknowledge_and_exempt_write_the_audit_log(web: Web, district: District) -> None:
    web.login("op", PASSWORD)
    first, second = district.findings["xa-a"]
    reply = web.post(f"/findings/{first}/ack")
    assert reply.status_code == 303
    assert _finding(web, first).status == "acknowledged"
    assert _finding(web, first).acknowledged_by == "user:op"
    reply = web.post(
        f"/findings/{second}/exempt", {"reason": "máy chờ thanh lý", "until": "2099-12-31"}
    )
    assert reply.status_code == 303
    exempted = _finding(web, second)
    assert exempted.status == "exempted"
    assert exempted.exempt_reason == "máy chờ thanh lý"
    entries = _audit(web, "finding.exempted")
    assert entries and entries[-1].source == "testclient"


def test_exemption_needs_a_reason_and_a_future_date(web: Web, district: District) -> None:
    web.login("op", PASSWORD)
    target = district.findings["xa-b"][0]
    assert (
        web.post(f"/findings/{target}/exempt", {"reason": "", "until": "2099-01-01"}).status_code
        == 400
    )
    assert (
        web.post(f"/findings/{target}/exempt", {"reason": "x", "until": "2001-01-01"}).status_code
        == 400
    )
    assert (
        web.post(f"/findings/{target}/exempt", {"reason": "x", "until": "tomorrow"}).status_code
        == 400
    )
    assert _finding(web, target).status == "open"


def test_bulk_acknowledge_is_all_or_nothing(web: Web, district: District) -> None:
    web.login("op", PASSWORD)
    ids = district.findings["xa-a"] + district.findings["xa-b"]
    reply = web.post("/findings/bulk", {"action": "ack", "ids": [str(i) for i in ids]})
    assert reply.status_code == 303
    assert all(_finding(web, i).status == "acknowledged" for i in ids)
    # One unknown id in a batch: nothing of the batch changes.
    target = district.findings["xa-a"][0]
    bad = web.post(
        "/findings/bulk",
        {"action": "exempt", "ids": [str(target), "999999"], "reason": "r", "until": "2099-01-01"},
    )
    assert bad.status_code == 404
    assert _finding(web, target).status == "acknowledged"


def test_auditor_reads_but_cannot_act(web: Web, district: District) -> None:
    web.login("aud", PASSWORD)
    assert web.client.get("/findings").status_code == 200
    target = district.findings["xa-a"][0]
    assert web.post(f"/findings/{target}/ack").status_code == 403
    assert _finding(web, target).status == "open"


def test_commune_officer_sees_and_acts_only_in_its_commune(web: Web, district: District) -> None:
    web.login("op-a", PASSWORD)
    page = web.client.get("/findings?status=all")
    for finding_id in district.findings["xa-a"]:
        assert f'data-id="{finding_id}"' in page.text
    for finding_id in district.findings["xa-b"]:
        assert f'data-id="{finding_id}"' not in page.text
    assert "pc-b-01" not in page.text
    other = district.findings["xa-b"][0]
    assert web.post(f"/findings/{other}/ack").status_code == 404
    assert _finding(web, other).status == "open"
    assert web.client.get("/findings?unit=xa-b").status_code == 404


def test_api_lists_and_acts_with_the_same_rules(web: Web, district: District) -> None:
    login = web.client.post("/api/v1/session", json={"username": "op-a", "password": PASSWORD})
    token = login.json()["csrf_token"]
    listed = web.client.get("/api/v1/findings?status=all").json()
    assert {f["unit_id"] for f in listed["findings"]} == {"xa-a"}
    assert listed["total"] == 2
    mine, other = district.findings["xa-a"][0], district.findings["xa-b"][0]
    headers = {"X-CSRF-Token": token}
    assert web.client.post(f"/api/v1/findings/{mine}/ack").status_code == 403
    assert web.client.post(f"/api/v1/findings/{mine}/ack", headers=headers).status_code == 204
    assert web.client.post(f"/api/v1/findings/{other}/ack", headers=headers).status_code == 404
    exempt = web.client.post(
        f"/api/v1/findings/{district.findings['xa-a'][1]}/exempt",
        headers=headers,
        json={"reason": "đang thay máy", "until": "2099-01-31"},
    )
    assert exempt.status_code == 204
    bad = web.client.post(
        f"/api/v1/findings/{district.findings['xa-a'][1]}/exempt",
        headers=headers,
        json={"reason": "x", "until": "soon"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "bad_request"
    assert _finding(web, other).status == "open"
