"""The browser suite's own machinery: chromium reaches the controller, the trap catches scripts."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

from tests.e2e.browser import Trap, shot
from tests.e2e.world import HOSTILE_HOSTNAMES, World

pytestmark = pytest.mark.integration


def test_chromium_reaches_the_controller_over_tls(page: Page, world: World) -> None:
    reply = page.goto(f"{world.url}/api/v1/health")
    assert reply is not None
    assert reply.status == 200
    assert page.url.startswith("https://127.0.0.1:")
    # The controller's answer, not an interstitial: chromium parsed its JSON body.
    assert isinstance(json.loads(page.inner_text("body")), dict)
    assert shot(page, "health").stat().st_size > 0


@pytest.mark.parametrize(
    "markup",
    [
        pytest.param(f"<p>{HOSTILE_HOSTNAMES[0]}</p>", id="script element"),
        pytest.param(f"<p>{HOSTILE_HOSTNAMES[2]}</p>", id="onerror attribute"),
        pytest.param("<p><script>alert('x')</script></p>", id="dialog"),
    ],
)
def test_the_trap_catches_a_payload_that_runs(page: Page, trap: Trap, markup: str) -> None:
    # Markup inserted as HTML (what an unescaped template would do) must trip the trap.
    page.set_content(markup)
    page.wait_for_timeout(200)  # an <img onerror> fires after the failed load
    with pytest.raises(AssertionError, match="must never do"):
        trap.check(page)
    page.close()  # the payload's window.__xss stays set on this page: the fixture must not see it


def test_the_trap_lets_escaped_text_through(page: Page, trap: Trap) -> None:
    page.set_content("<p></p>")
    page.eval_on_selector("p", "(p, text) => { p.textContent = text; }", HOSTILE_HOSTNAMES[0])
    assert page.inner_text("p") == HOSTILE_HOSTNAMES[0]
    trap.check(page)


def test_the_district_is_in_the_database(world: World) -> None:
    assert len(world.hosts) == 5
    assert all(host.finding_id for host in world.hosts)
    # Pending at build time (build_world checks); the flow test approves it later.
    from controller.store.models import Agent

    with world.db() as session:
        pending = session.get(Agent, world.pending_agent_id)
        assert pending is not None
        assert pending.replaces == world.host("XA-YEN-DINH-PC01").agent_id
    assert world.bundle.is_file()
