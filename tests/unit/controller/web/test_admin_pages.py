"""The administration pages (enrollment, users, audit, policies) and their JSON twins, through
HTTP on both databases: rendering, actions and their audit entries, roles and unit scopes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller.auth.accounts import add_user
from controller.policy.loader import overrides_path
from controller.store import agents as agent_store
from controller.store import units
from controller.store.models import Agent, AuditEntry, EnrollmentToken, Unit, User
from controller.tokens import create_token
from controller.web.i18n import TIME_ZONE
from tests.unit.controller.bundles.test_import import enroll
from tests.unit.controller.web.conftest import Web

A, B = "xa-an-binh", "xa-binh-minh"
PASSWORD = "mật khẩu thứ hai đủ dài"  # noqa: S105 - test accounts' password
NOW = datetime.now(UTC)


@dataclass
class Fleet:
    """Two communes, an operator and an auditor of commune A, agents and tokens of both."""

    web: Web
    sessions: sessionmaker[Session]
    #: The enrollment token id of each commune.
    tokens: dict[str, str]

    def session(self) -> Session:
        return self.sessions()

    def audit(self, action: str) -> list[AuditEntry]:
        with self.sessions() as s:
            return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))

    def agent(self, agent_id: str) -> Agent:
        with self.sessions() as s:
            found = s.get(Agent, agent_id)
            assert found is not None
            return found

    def token(self, token_id: str) -> EnrollmentToken:
        with self.sessions() as s:
            found = s.get(EnrollmentToken, token_id)
            assert found is not None
            return found

    def login(self, username: str) -> None:
        self.web.client.cookies.clear()
        self.web.login(username, PASSWORD)


def _agent(s: Session, agent_id: str, unit: str, status: str, **more: Any) -> None:
    agent_store.add_agent(
        s, id=agent_id, key_id=f"k-{agent_id}", public_key=bytes(32), status=status,
        unit_id=unit, hostname=more.pop("hostname", f"PC-{agent_id}"), os="linux",
        agent_version="test", created_at=NOW, **more,
    )  # fmt: skip


@pytest.fixture
def fleet(web: Web) -> Iterator[Fleet]:
    sessions: sessionmaker[Session] = web.client.app.state.govguard.sessions  # type: ignore[attr-defined]
    with sessions.begin() as s:
        root = s.scalar(select(Unit.id).where(Unit.parent_id.is_(None)))
        units.ensure_unit(s, A, "Xã An Bình", root, "commune")
        units.ensure_unit(s, B, "Xã Bình Minh", root, "commune")
        for name, role, unit in (("op-a", "operator", A), ("aud-a", "auditor", A),
                                 ("admin-a", "admin", A), ("op-b", "operator", B)):  # fmt: skip
            add_user(s, actor="test", source=None, username=name, password=PASSWORD, role=role,
                     unit_id=unit, now=NOW)  # fmt: skip
        _agent(s, "a-old", A, "active", machine_id="m-a")
        _agent(s, "a-new", A, "pending", machine_id="m-a", replaces="a-old")
        _agent(s, "b-old", B, "active", machine_id="m-b")
        _agent(s, "b-new", B, "pending", machine_id="m-b", replaces="b-old",
               hostname="<script>window.__xss=1</script>")  # fmt: skip
        for unit in (A, B):
            create_token(s, unit_id=unit, expires=timedelta(days=1), uses=1, created_by="test",
                         ca_fingerprint="00" * 32, now=NOW, note=f"note {unit}")  # fmt: skip
    with sessions() as s:
        ids = {t.unit_id: t.id for t in s.scalars(select(EnrollmentToken))}
    yield Fleet(web, sessions, ids)


# --- rendering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/enrollment", "/bundles", "/users", "/audit", "/policies"])
def test_admin_pages_render(fleet: Fleet, path: str) -> None:
    fleet.web.login()
    reply = fleet.web.client.get(path)
    assert reply.status_code == 200, reply.text
    assert '<html lang="vi">' in reply.text and "<h1>" in reply.text
    assert f'href="{path}" aria-current="page"' in reply.text


def test_agent_strings_are_escaped(fleet: Fleet) -> None:
    fleet.web.login()
    page = fleet.web.client.get("/enrollment").text
    assert "<script>window.__xss" not in page
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page


def test_empty_enrollment_page_tells_what_to_do(web: Web) -> None:
    web.login()
    page = web.client.get("/enrollment?lang=en").text
    assert 'class="empty-state"' in page
    web.post("/settings/language", {"locale": "en"})
    page = web.client.get("/enrollment").text
    assert "No agents yet: create an enrollment token." in page


# --- enrollment --------------------------------------------------------------------------------


def test_token_secret_is_shown_once(fleet: Fleet) -> None:
    fleet.web.login()
    reply = fleet.web.post("/enrollment/tokens", {"unit": A, "ttl": "7d", "uses": "3",
                                                  "note": "phòng kế toán"})  # fmt: skip
    assert reply.status_code == 200
    text: str = reply.text
    secret = text.split('<p class="secret" id="token">')[1].split("</p>")[0]
    assert secret.startswith("gg1.")
    assert "govguard-agent enroll --controller https://govguard.test" in text
    assert "--token-file token.txt" in text
    token_id = secret.split(".")[1]
    listing = fleet.web.client.get("/enrollment").text
    assert f'data-id="{token_id}"' in listing and secret.split(".")[2] not in listing
    assert fleet.token(token_id).max_uses == 3
    entry = next(e for e in fleet.audit("token.created") if e.target == f"token:{token_id}")
    assert entry.actor == "user:admin" and entry.source == "testclient"


def test_token_form_refusals_show_the_form_again(fleet: Fleet) -> None:
    fleet.web.login()
    bad = fleet.web.post("/enrollment/tokens", {"unit": A, "ttl": "forever", "uses": "1"})
    assert bad.status_code == 400
    assert "not a duration" in bad.text and 'class="flash error"' in bad.text
    fleet.login("op-a")
    other = fleet.web.post("/enrollment/tokens", {"unit": B, "ttl": "7d", "uses": "1"})
    assert other.status_code == 400
    with fleet.session() as s:
        assert not s.scalars(
            select(EnrollmentToken).where(EnrollmentToken.created_by == "user:op-a")
        ).all()


def test_revoke_token_and_scope(fleet: Fleet) -> None:
    tokens = fleet.tokens
    fleet.login("op-a")
    page = fleet.web.client.get("/enrollment").text
    assert f'data-id="{tokens[A]}"' in page and f'data-id="{tokens[B]}"' not in page
    assert fleet.web.post(f"/enrollment/tokens/{tokens[B]}/revoke").status_code == 404
    assert fleet.token(tokens[B]).revoked_at is None
    reply = fleet.web.post(f"/enrollment/tokens/{tokens[A]}/revoke")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/enrollment?done=token_revoked"
    assert fleet.token(tokens[A]).revoked_at is not None
    [entry] = fleet.audit("token.revoked")
    assert entry.actor == "user:op-a" and entry.source == "testclient"
    again = fleet.web.post(f"/enrollment/tokens/{tokens[A]}/revoke")
    assert again.status_code == 400


def test_approve_and_revoke_agents_in_scope_only(fleet: Fleet) -> None:
    fleet.login("op-a")
    page = fleet.web.client.get("/enrollment").text
    assert 'data-id="a-new"' in page and 'data-id="b-new"' not in page
    assert fleet.web.post("/agents/b-new/approve").status_code == 404
    assert fleet.web.post("/agents/b-new/revoke").status_code == 404
    assert fleet.agent("b-new").status == "pending"
    assert fleet.web.post("/agents/nobody/approve").status_code == 404
    reply = fleet.web.post("/agents/a-new/approve")
    assert reply.status_code == 303
    assert fleet.agent("a-new").status == "active" and fleet.agent("a-old").status == "revoked"
    [approved] = fleet.audit("agent.approved")
    assert approved.actor == "user:op-a" and approved.source == "testclient"
    assert approved.details["revoked"] == ["a-old"]
    assert fleet.web.post("/agents/a-new/approve").status_code == 400  # no longer pending
    assert fleet.web.post("/agents/a-new/revoke").status_code == 303
    assert fleet.agent("a-new").status == "revoked"
    revoked = [e for e in fleet.audit("agent.revoked") if e.target == "agent:a-new"]
    assert revoked and revoked[0].source == "testclient"


def test_auditor_may_read_but_not_act(fleet: Fleet) -> None:
    fleet.login("aud-a")
    assert fleet.web.client.get("/enrollment").status_code == 200
    assert 'action="/agents/a-new/approve"' not in fleet.web.client.get("/enrollment").text
    assert fleet.web.post("/agents/a-new/approve").status_code == 403
    tokens = fleet.tokens
    assert fleet.web.post(f"/enrollment/tokens/{tokens[A]}/revoke").status_code == 403
    assert fleet.web.post("/enrollment/tokens", {"unit": A, "ttl": "1d"}).status_code == 403
    assert fleet.web.post("/users", {"username": "x"}).status_code == 403
    assert fleet.web.post("/policies/rules/ATTT-01", {"enabled": "off"}).status_code == 403
    assert fleet.agent("a-new").status == "pending"


def test_enrollment_api(fleet: Fleet) -> None:
    fleet.login("op-a")
    csrf = fleet.web.csrf()
    client = fleet.web.client
    listing = client.get("/api/v1/enrollment").json()
    assert [p["id"] for p in listing["pending"]] == ["a-new"]
    assert {t["unit_id"] for t in listing["tokens"]} == {A}
    made = client.post("/api/v1/enrollment/tokens", json={"unit": A, "ttl": "2d"},
                       headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert made.status_code == 201 and made.json()["token"].startswith("gg1.")
    refused = client.post("/api/v1/enrollment/tokens", json={"unit": B},
                          headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"] == "bad_request"
    assert client.post("/api/v1/agents/b-new/approve", headers={"X-CSRF-Token": csrf}).json() == {
        "error": "not_found", "message": "No such object."}  # fmt: skip
    assert client.post("/api/v1/agents/a-new/approve").status_code == 403  # no CSRF header
    ok = client.post("/api/v1/agents/a-new/approve", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and fleet.agent("a-new").status == "active"


# --- users -------------------------------------------------------------------------------------


def test_users_page_is_for_admins(fleet: Fleet) -> None:
    fleet.login("op-a")
    assert fleet.web.client.get("/users").status_code == 403
    assert fleet.web.client.get("/api/v1/users").status_code == 403
    assert 'href="/users"' not in fleet.web.client.get("/enrollment").text


def test_users_list_is_scoped(fleet: Fleet) -> None:
    fleet.login("admin-a")
    page = fleet.web.client.get("/users").text
    assert 'data-id="op-a"' in page and 'data-id="op-b"' not in page
    assert 'data-id="admin"' not in page
    assert fleet.web.post("/users/op-b/disable").status_code == 404
    assert fleet.web.post("/users/admin/password", {"password": PASSWORD}).status_code == 404
    names = {u["username"] for u in fleet.web.client.get("/api/v1/users").json()}
    assert names == {"op-a", "aud-a", "admin-a"}


def test_create_disable_enable_and_reset(fleet: Fleet) -> None:
    fleet.web.login()
    reply = fleet.web.post("/users", {"username": "Lan.Nguyen", "full_name": "Nguyễn Thị Lan",
                                      "role": "operator", "unit": A, "locale": "vi",
                                      "password": PASSWORD})  # fmt: skip
    assert reply.status_code == 303
    with fleet.session() as s:
        user = s.scalar(select(User).where(User.username == "lan.nguyen"))
        assert user is not None and user.unit_id == A and user.full_name == "Nguyễn Thị Lan"
    [created] = [e for e in fleet.audit("user.created") if e.target == "user:lan.nguyen"]
    assert created.actor == "user:admin" and created.source == "testclient"
    assert fleet.web.post("/users/lan.nguyen/disable").status_code == 303
    assert fleet.audit("user.disabled")[0].source == "testclient"
    assert fleet.web.post("/users/lan.nguyen/enable").status_code == 303
    assert fleet.audit("user.enabled")[0].target == "user:lan.nguyen"
    new_password = "một mật khẩu mới khác"  # noqa: S105
    reset = fleet.web.post("/users/lan.nguyen/password", {"password": new_password})
    assert reset.status_code == 303
    entries = [e for e in fleet.audit("user.password_changed") if e.target == "user:lan.nguyen"]
    assert entries and entries[0].actor == "user:admin"
    fleet.web.client.cookies.clear()
    fleet.web.login("lan.nguyen", new_password)


def test_refused_account_shows_the_form_again(fleet: Fleet) -> None:
    fleet.web.login()
    reply = fleet.web.post("/users", {"username": "op-a", "role": "operator", "unit": A,
                                      "password": PASSWORD, "full_name": "Trùng tên"})  # fmt: skip
    assert reply.status_code == 400
    text: str = reply.text
    assert "already exists" in text and 'value="Trùng tên"' in text
    short = fleet.web.post("/users", {"username": "ngan", "role": "auditor", "password": "ngắn"})
    assert short.status_code == 400 and "password refused" in short.text
    last = fleet.web.post("/users/admin/disable")
    assert last.status_code == 400 and "last enabled administrator" in last.text


def test_scoped_admin_cannot_create_district_accounts(fleet: Fleet) -> None:
    fleet.login("admin-a")
    reply = fleet.web.post("/users", {"username": "toan-huyen", "role": "admin", "unit": "",
                                      "password": PASSWORD})  # fmt: skip
    assert reply.status_code == 400
    with fleet.session() as s:
        assert s.scalar(select(User).where(User.username == "toan-huyen")) is None


# --- audit -------------------------------------------------------------------------------------


def test_audit_filters_and_pages(fleet: Fleet) -> None:
    fleet.web.login()
    with fleet.sessions.begin() as s:
        from controller.store import audit

        for n in range(60):
            audit.record(s, "user:admin", "test.bulk", f"unit:{A}", {"n": n}, at=NOW)
    first = fleet.web.client.get("/audit?action=test.bulk").text
    assert first.count("<tr data-id=") == 50
    assert 'href="/audit?action=test.bulk&amp;page=2"' in first
    second = fleet.web.client.get("/audit?action=test.bulk&page=2").text
    assert second.count("<tr data-id=") == 10
    api = fleet.web.client.get("/api/v1/audit?action=test.bulk&page=2").json()
    assert len(api["entries"]) == 10 and api["has_next"] is False
    assert fleet.web.client.get("/api/v1/audit?actor=nobody").json()["entries"] == []
    tomorrow = (NOW + timedelta(days=2)).date().isoformat()
    assert fleet.web.client.get(f"/api/v1/audit?since={tomorrow}").json()["entries"] == []
    today = NOW.astimezone(TIME_ZONE).date().isoformat()  # a Vietnam day
    assert fleet.web.client.get(f"/api/v1/audit?until={today}&action=test.bulk").json()["entries"]
    assert fleet.web.client.get("/audit?since=29/11/2026").status_code == 400


def test_audit_of_a_scoped_account(fleet: Fleet) -> None:
    fleet.login("aud-a")
    targets = {e["target"] for e in fleet.web.client.get("/api/v1/audit").json()["entries"]}
    tokens = fleet.tokens
    assert f"token:{tokens[A]}" in targets and "user:op-a" in targets
    assert f"token:{tokens[B]}" not in targets and "user:op-b" not in targets
    assert "user:admin" not in targets
    fleet.login("op-a")
    assert fleet.web.client.get("/audit").status_code == 403


# --- policies ----------------------------------------------------------------------------------


def _a_rule_with_int_param(fleet: Fleet) -> tuple[str, str, int]:
    packs = fleet.web.client.get("/api/v1/policies").json()["packs"]
    for pack in packs:
        for rule in pack["rules"]:
            for name, value in rule["params"].items():
                if type(value) is int and value > 1:
                    return rule["id"], name, value
    raise AssertionError("no rule with an integer parameter")


def test_disable_and_enable_a_rule(fleet: Fleet) -> None:
    fleet.web.login()
    rule_id, _, _ = _a_rule_with_int_param(fleet)
    reply = fleet.web.post(f"/policies/rules/{rule_id}", {"enabled": "off"})
    assert reply.status_code == 303
    path = overrides_path(fleet.web.data_dir)
    assert rule_id in path.read_text(encoding="utf-8")
    page = fleet.web.client.get("/policies").text
    row = page.split(f'<tr data-id="{rule_id}">')[1].split("</tr>")[0]
    assert "đã tắt" in row or "disabled" in row
    [entry] = fleet.audit("policy.rule_changed")
    assert entry.target == f"rule:{rule_id}" and entry.details["enabled"] is False
    assert entry.actor == "user:admin" and entry.source == "testclient"
    with fleet.session() as s:
        from controller.store import jobs

        job = jobs.get(s, "findings.reevaluate")
        assert job is not None and job.requested_at is not None
    assert fleet.web.post(f"/policies/rules/{rule_id}", {"enabled": "on"}).status_code == 303
    assert rule_id not in path.read_text(encoding="utf-8").split("params")[0]
    assert path.with_name("overrides.yaml.bak").is_file()
    api = fleet.web.client.get("/api/v1/policies").json()
    rule = next(r for p in api["packs"] for r in p["rules"] if r["id"] == rule_id)
    assert rule["enabled"] is True


def test_change_a_threshold_and_refuse_a_bad_one(fleet: Fleet) -> None:
    fleet.web.login()
    rule_id, name, value = _a_rule_with_int_param(fleet)
    ok = fleet.web.post(f"/policies/rules/{rule_id}", {"enabled": "on", name: str(value + 1)})
    assert ok.status_code == 303
    path = overrides_path(fleet.web.data_dir)
    before = path.read_text(encoding="utf-8")
    assert f"{name}: {value + 1}" in before
    entry = fleet.audit("policy.rule_changed")[0]
    assert entry.details["params"] == {name: {"from": value, "to": value + 1}}
    bad = fleet.web.post(f"/policies/rules/{rule_id}", {"enabled": "on", name: "nhiều"})
    assert bad.status_code == 400
    assert "is not of type int" in bad.text
    assert path.read_text(encoding="utf-8") == before
    assert len(fleet.audit("policy.rule_changed")) == 1
    unknown = fleet.web.post("/policies/rules/KHONG-CO", {"enabled": "off"})
    assert unknown.status_code == 404
    csrf = fleet.web.csrf()
    api = fleet.web.client.post(f"/api/v1/policies/rules/{rule_id}",
                                json={"enabled": True, "params": {name: value}},
                                headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert api.status_code == 200 and api.json()["changed"] is True
    assert f"{name}: {value}" in path.read_text(encoding="utf-8")


def test_scoped_admin_cannot_change_district_policies(fleet: Fleet) -> None:
    fleet.login("admin-a")
    rule_id, _, _ = _a_rule_with_int_param(fleet)
    path = overrides_path(fleet.web.data_dir)
    before = path.read_bytes() if path.exists() else None
    assert fleet.web.post(f"/policies/rules/{rule_id}", {"enabled": "off"}).status_code == 403
    assert (path.read_bytes() if path.exists() else None) == before
    assert not fleet.audit("policy.rule_changed")


# --- offline bundles ---------------------------------------------------------------------------


def _upload(fleet: Fleet, path: Path, data: bytes | None = None, api: bool = False) -> Any:
    csrf = fleet.web.csrf()
    files = {"bundle": (path.name, data if data is not None else path.read_bytes(),
                        "application/octet-stream")}  # fmt: skip
    if api:
        return fleet.web.client.post("/api/v1/bundles", files=files,
                                     headers={"X-CSRF-Token": csrf})  # fmt: skip
    return fleet.web.client.post("/bundles", data={"csrf_token": csrf}, files=files)


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in (folder / "bundles" / "uploads").rglob("*") if p.is_file()]


def test_bundle_upload_accepted(
    fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pc = enroll(fleet.web.data_dir, tmp_path / "pcs", "pc", capsys)
    bundle = pc.export()
    fleet.web.login()
    assert 'class="empty-state"' in fleet.web.client.get("/bundles").text
    reply = _upload(fleet, bundle)
    assert reply.status_code == 200, reply.text
    assert "PC-MAT-01" in reply.text and 'class="flash ok"' in reply.text
    assert not _leftovers(fleet.web.data_dir)
    [entry] = fleet.audit("bundle.imported")
    assert entry.target == f"agent:{pc.agent_id}" and entry.actor == "user:admin"
    assert entry.source == "testclient"
    listing = fleet.web.client.get("/bundles").text
    assert f'data-id="{pc.agent_id}-1"' in listing
    assert fleet.web.client.get("/api/v1/bundles").json()[0]["seq"] == 1
    again = _upload(fleet, bundle, api=True)
    assert again.status_code == 200 and again.json()["stored"] is False


def test_bundle_upload_opens_findings(
    fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pc = enroll(fleet.web.data_dir, tmp_path / "pcs", "pc", capsys)
    fleet.web.login()
    reply = _upload(fleet, pc.export(), api=True)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["stored"] is True and body["reports"] == 1
    assert body["findings_opened"], "the carried report opens findings like an online one"


def test_bundle_upload_refused_and_quarantined(
    fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pc = enroll(fleet.web.data_dir, tmp_path / "pcs", "pc", capsys)
    bundle = pc.export()
    fleet.web.login()
    reply = _upload(fleet, bundle, data=b"not a bundle at all")
    assert reply.status_code == 400
    assert 'class="flash error"' in reply.text and 'class="reason"' in reply.text
    assert list((fleet.web.data_dir / "bundles" / "quarantine").glob("*.reason"))
    assert not _leftovers(fleet.web.data_dir)
    assert not fleet.audit("bundle.imported")
    fleet.login("op-b")  # another commune's operator
    other = _upload(fleet, bundle, api=True)
    assert other.status_code == 400 and "outside your account's units" in other.json()["message"]
    assert not fleet.audit("bundle.imported")
    fleet.login("aud-a")
    assert _upload(fleet, bundle).status_code == 403
