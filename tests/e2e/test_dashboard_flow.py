"""An officer's day in the dashboard, in headless chromium (issue 5, "Tests").

Log in (Vietnamese by default), open every page (a screenshot of each, both languages for the
main ones), filter the hosts, acknowledge and exempt a finding, upload a classified computer's
bundle, approve the agent waiting for approval, create an enrollment token (and enroll a
computer with it), switch the language, log out: the old session cookie then opens nothing.

The steps are one test on purpose: they share the login and run in the order an officer
would; each step checks what it changed in the controller's database, not only the page.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from agent.enrollment import enroll
from tests.e2e.browser import SESSION_COOKIE, ApiClient, iter_rows, login, shot
from tests.e2e.world import ADMIN, COMMUNE_A, COMMUNE_B, World, identity_for

pytestmark = pytest.mark.integration

#: Every page of the contract: path template, screenshot name, both languages?
PAGES = (
    ("/", "overview", True),
    ("/units", "units", False),
    ("/hosts", "hosts", True),
    ("/hosts/{host}", "host-detail", True),
    ("/findings", "findings", True),
    ("/policies", "policies", False),
    ("/enrollment", "enrollment", False),
    ("/bundles", "bundles", False),
    ("/users", "users", False),
    ("/settings", "settings", True),
    ("/audit", "audit", False),
)


def _visit_all(page: Page, world: World, lang: str, *, only_main: bool) -> None:
    """Open every page (or the main ones), check it and keep a screenshot."""
    host = world.hosts_in(COMMUNE_A)[0]
    for template, name, main in PAGES:
        if only_main and not main:
            continue
        reply = page.goto(world.url + template.format(host=host.agent_id))
        assert reply is not None
        assert reply.status == 200, f"{template}: {reply.status}"
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("h1").first).to_be_visible()
        if template != "/":
            # The menu marks where we are, in every page's header.
            assert page.locator(f'nav a[href="{template.split("/{")[0]}"]').count() >= 1
        shot(page, f"{lang}-{name}")


def _submit(page: Page, scope: Locator, action: str) -> Locator:
    """The submit button in ``scope`` of the form posting to ``action``.

    Inside the form, or (a form cannot sit inside a table row) linked to it by ``form=ID``.
    """
    inside = f'form[action="{action}"] button'
    form_id = page.locator(f'form[action="{action}"]').first.get_attribute("id")
    if form_id:
        return scope.locator(f'{inside}, button[form="{form_id}"]').first
    return scope.locator(inside).first


def test_an_officers_day(page: Page, world: World, tmp_path: Path) -> None:
    # -- the login page is Vietnamese by default --------------------------------------------
    page.goto(f"{world.url}/login")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text("Đăng nhập govguard")
    shot(page, "vi-login")
    login(page, world, ADMIN)
    assert page.url.rstrip("/") == world.url, page.url
    # The session cookie as the browser stored it: host-only, Secure, HttpOnly, Strict.
    stored = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert stored["secure"] and stored["httpOnly"], stored
    assert stored["sameSite"] == "Strict", stored
    assert stored["path"] == "/" and stored["domain"] == "127.0.0.1", stored
    assert page.evaluate("() => document.cookie") == "", "a script can read a cookie"

    # -- every page, in Vietnamese -----------------------------------------------------------
    _visit_all(page, world, "vi", only_main=False)

    # -- filter hosts: by unit, then search by MAC -------------------------------------------
    page.goto(f"{world.url}/hosts")
    page.locator("[name=unit]").first.select_option(COMMUNE_A)
    with page.expect_navigation():
        page.locator("[name=unit]").first.evaluate("field => field.form.requestSubmit()")
    shown = set(iter_rows(page))
    assert {h.agent_id for h in world.hosts_in(COMMUNE_A)} <= shown
    assert not shown & {h.agent_id for h in world.hosts_in(COMMUNE_B)}
    shot(page, "vi-hosts-filtered-unit")

    target = world.hosts_in(COMMUNE_B)[0]
    page.goto(f"{world.url}/hosts")
    page.locator("[name=q]").first.fill(target.mac)
    with page.expect_navigation():
        page.locator("[name=q]").first.press("Enter")
    assert list(iter_rows(page)) == [target.agent_id]
    shot(page, "vi-hosts-search-mac")

    # -- acknowledge one finding, exempt another ----------------------------------------------
    first, second = world.hosts_in(COMMUNE_A)[0], world.hosts_in(COMMUNE_A)[1]
    page.goto(f"{world.url}/findings")
    row = page.locator(f'tr[data-id="{first.finding_id}"]')
    with page.expect_navigation():
        _submit(page, row, f"/findings/{first.finding_id}/ack").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    assert world.finding_status(first.finding_id) == "acknowledged"

    until = (date.today() + timedelta(days=90)).isoformat()
    page.goto(f"{world.url}/findings")
    row = page.locator(f'tr[data-id="{second.finding_id}"]')
    reason = row.locator("[name=reason]")
    if not reason.is_visible():
        # The exemption fields may sit behind a disclosure (<details>) of the row.
        row.locator("details:has([name=reason]) > summary").click()
    reason.fill("Máy chờ thay thế, đã báo cáo lãnh đạo")
    row.locator("[name=until]").fill(until)
    with page.expect_navigation():
        _submit(page, row, f"/findings/{second.finding_id}/exempt").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    assert world.finding_status(second.finding_id) == "exempted"
    shot(page, "vi-findings-after-actions")

    # -- upload the classified computer's bundle ---------------------------------------------
    page.goto(f"{world.url}/bundles")
    page.set_input_files("input[name=bundle]", str(world.bundle))
    with page.expect_navigation():
        _submit(page, page.locator("main"), "/bundles").click()
    expect(page.locator(".flash.error")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("XA-NHU-CO-MAT-01")
    assert any(agent == world.bundle_agent_id for agent, _, _ in world.controller.reports())
    shot(page, "vi-bundle-imported")

    # -- approve the agent waiting for approval ----------------------------------------------
    page.goto(f"{world.url}/enrollment")
    pending = page.locator(f'tr[data-id="{world.pending_agent_id}"]')
    expect(pending).to_contain_text(world.pending_hostname)
    with page.expect_navigation():
        _submit(page, pending, f"/agents/{world.pending_agent_id}/approve").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    assert world.agent_status(world.pending_agent_id) == "active"

    # -- create an enrollment token; a new computer enrolls with it --------------------------
    page.goto(f"{world.url}/enrollment")
    form = page.locator('form[action="/enrollment/tokens"]')
    form.locator("[name=unit]").select_option(COMMUNE_A)
    form.locator("[name=ttl]").fill("7d")
    form.locator("[name=uses]").fill("2")
    form.locator("[name=note]").fill("Máy mới phòng văn hóa")
    with page.expect_navigation():
        _submit(page, page.locator("main"), "/enrollment/tokens").click()
    found = re.search(r"gg1\.[A-Za-z0-9._~+/=-]+", page.inner_text("main"))
    assert found is not None, "the new token's secret is not shown"
    shot(page, "vi-token-created")
    state = enroll(
        world.url,
        found.group(0),
        tmp_path / "new-pc",
        identity=identity_for("new-pc", "XA-YEN-DINH-PC09"),
    )
    assert state.status == "active"
    page.goto(f"{world.url}/enrollment")
    assert found.group(0) not in page.inner_text("main"), "the secret is shown more than once"

    # -- switch to English, the main pages again, and back ----------------------------------
    with page.expect_navigation():
        page.locator("form.lang-switch button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    _visit_all(page, world, "en", only_main=True)
    page.goto(f"{world.url}/settings")
    expect(page.locator("h1")).to_have_text("Settings")
    page.locator("form#language select[name=locale]").select_option("vi")
    with page.expect_navigation():
        page.locator("form#language button").click()
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text("Cài đặt")

    # -- log out: the old cookie no longer works ---------------------------------------------
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    with page.expect_navigation():
        page.locator("form#logout button").click()
    assert "/login" in page.url
    with ApiClient(world) as client:
        client.http.cookies.set(SESSION_COOKIE, cookie, domain="127.0.0.1", path="/")
        assert client.get("/api/v1/session").status_code == 401
        assert client.http.get("/hosts").status_code == 303
