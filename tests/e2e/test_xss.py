"""Stored XSS: what agents report is hostile input, and the pages show it as text.

Three simulated computers enrolled with markup or template code as their host name, and two
report a software name that is an SVG payload (:mod:`tests.e2e.world`). Every payload assigns
``window.__xss``; the page fixture's trap fails the test if one ever runs, opens a dialog or
logs an error. Here each page must also show the strings literally: ``{{7*7}}`` stays
``{{7*7}}`` (no template evaluated it) and no element of the payloads exists in the DOM.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.e2e.browser import login, shot
from tests.e2e.world import ADMIN, COMMUNE_B, HOSTILE_HOSTNAMES, HOSTILE_SOFTWARE, World

pytestmark = pytest.mark.integration

#: Elements the payloads would create if a page inserted them as markup.
PAYLOAD_ELEMENTS = "img[src=x], svg[onload], script:not([src])"


def _no_payload_elements(page: Page) -> None:
    assert page.locator(PAYLOAD_ELEMENTS).count() == 0, page.url
    inline = page.evaluate(
        "() => [...document.scripts].filter(s => s.textContent.includes('__xss')).length"
    )
    assert inline == 0, f"{page.url}: a script element carries a payload"


def _shows_text(page: Page, text: str) -> None:
    # Lists folded into <details> (a host's software) are opened: only rendered text counts.
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    body = page.inner_text("body")
    assert text in body, f"{page.url} does not show {text!r} as text"


def test_hostile_host_names_render_as_text_everywhere(page: Page, world: World) -> None:
    login(page, world, ADMIN)
    hostile = [host for host in world.hosts if host.hostname in HOSTILE_HOSTNAMES]
    assert len(hostile) == len(HOSTILE_HOSTNAMES)

    page.goto(f"{world.url}/hosts")
    for host in hostile:
        _shows_text(page, host.hostname)
    assert "49" not in page.inner_text("table.data")  # {{7*7}} was not evaluated
    _no_payload_elements(page)
    shot(page, "xss-hosts")

    for host in hostile:
        page.goto(f"{world.url}/hosts/{host.agent_id}")
        _shows_text(page, host.hostname)
        for name in host.software:
            _shows_text(page, name)
        _no_payload_elements(page)
    shot(page, "xss-host-detail")

    page.goto(f"{world.url}/findings?status=all")  # the flow test may have exempted some
    for host in hostile:
        _shows_text(page, host.hostname)
    _no_payload_elements(page)
    shot(page, "xss-findings")

    page.goto(f"{world.url}/hosts?q={HOSTILE_HOSTNAMES[1]}")
    _shows_text(page, HOSTILE_HOSTNAMES[1])
    _no_payload_elements(page)

    for path in ("/", "/units", "/enrollment", "/audit"):
        page.goto(f"{world.url}{path}")
        _no_payload_elements(page)
    shot(page, "xss-overview")


def test_the_software_payload_is_text_on_the_host_page(page: Page, world: World) -> None:
    login(page, world, ADMIN)
    carriers = [host for host in world.hosts if HOSTILE_SOFTWARE in host.software]
    assert carriers
    for host in carriers:
        page.goto(f"{world.url}/hosts/{host.agent_id}")
        _shows_text(page, HOSTILE_SOFTWARE)
        _no_payload_elements(page)


def test_remediation_output_diff_and_evidence_are_text(page: Page, world: World) -> None:
    # The world's jobs carry the payloads in what ansible printed (the software payload), in the
    # preview's diff (the <img> host name) and in the verification's evidence (the <script>).
    login(page, world, ADMIN)
    page.goto(f"{world.url}/remediation/{world.a_job}")
    _shows_text(page, HOSTILE_SOFTWARE)
    _shows_text(page, HOSTILE_HOSTNAMES[2])
    _shows_text(page, HOSTILE_HOSTNAMES[1])  # the target's host name, not evaluated
    _no_payload_elements(page)
    shot(page, "xss-remediation-job")

    page.goto(f"{world.url}/remediation/{world.b_job}")
    _shows_text(page, "window.__xss=1")  # inside the evidence, as JSON text
    _shows_text(page, HOSTILE_HOSTNAMES[2])
    _no_payload_elements(page)

    # The live log's fragment is swapped in by htmx: it must escape as the page does.
    reply = page.request.get(f"{world.url}/remediation/{world.a_job}/log?after=0")
    assert reply.status == 200
    fragment = reply.text()
    assert HOSTILE_SOFTWARE not in fragment and "&lt;svg/onload" in fragment

    page.goto(f"{world.url}/remediation")
    _no_payload_elements(page)
    host = world.hosts_in(COMMUNE_B)[-1]
    page.goto(f"{world.url}/hosts/{host.agent_id}")
    _shows_text(page, host.hostname)
    _no_payload_elements(page)
