"""Fixtures of the dashboard's end-to-end suite: one controller and one browser for the package.

``world`` is a real ``govguard serve`` on SQLite with the example district, accounts of every
role and simulated agents (:mod:`tests.e2e.world`). ``browser`` is Debian's chromium driven by
Playwright (never a downloaded browser); each test gets a fresh context (no cookies) and a page
whose :class:`tests.e2e.browser.Trap` fails the test on any JS dialog, console error or
``window.__xss``. Without chromium the browser tests are skipped, except in CI (``CI=true``),
where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.e2e.browser import TRAP_SCRIPT, ApiClient, Trap, artifacts_dir, chromium_path, shot
from tests.e2e.world import World, build_world

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

#: A page waits this long for an element or a navigation before the test fails.
TIMEOUT_MS = 10_000


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _no_browser(reason: str) -> None:
    """Skip on a developer machine, fail in CI: CI must run the browser suite."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: the browser suite must run in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def fresh_artifacts() -> None:
    """Screenshots of earlier runs go: the folder shows this run only (a stale FAILED-*.png
    would point at a failure that is gone)."""
    for old in artifacts_dir().glob("*.png"):
        old.unlink(missing_ok=True)


# Package scope, not session: Playwright's sync API keeps an event loop running in this thread
# while its driver lives, and every later test that calls asyncio.run() would fail. The driver,
# the browser and the controller end with the last test of tests/e2e.
@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The running controller with the test district (stopped after the last e2e test)."""
    made = build_world(tmp_path_factory.mktemp("e2e"))
    try:
        yield made
    finally:
        made.controller.stop()


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright's sync driver (its node process), once for tests/e2e."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's headless chromium, once for tests/e2e."""
    executable = chromium_path()
    if executable is None:
        _no_browser("chromium is not installed (apt-get install chromium)")
    args = ["--disable-dev-shm-usage"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # chromium refuses to start its sandbox as root (containers, CI runners).
        args.append("--no-sandbox")
    launched = playwright_driver.chromium.launch(
        executable_path=executable, headless=True, args=args
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) that accepts the controller's own CA.

    The test CA is not in chromium's trust store; ``ignore_https_errors`` stands in for an
    office that installed it. Secure and ``__Host-`` cookies still behave as over trusted TLS.
    """
    made = browser.new_context(
        ignore_https_errors=True, viewport={"width": 1366, "height": 900}, locale="vi-VN"
    )
    made.set_default_timeout(TIMEOUT_MS)
    made.add_init_script(TRAP_SCRIPT)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def trap() -> Trap:
    """What the test's pages must never do (the ``page`` fixture checks it at the end)."""
    return Trap()


@pytest.fixture
def page(context: BrowserContext, trap: Trap, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page of a fresh context, trapped; a screenshot is kept when the test fails."""
    made = context.new_page()
    trap.attach(made)
    yield made
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        if not made.is_closed():
            shot(made, f"FAILED-{request.node.name}")
        # The failure is reported already; what the trap caught goes with its output.
        if trap.problems:
            print("the trap also caught:", *trap.problems, sep="\n  ")
        return
    trap.check(made)


@pytest.fixture
def api(world: World) -> Iterator[Callable[[], ApiClient]]:
    """A factory of JSON API clients (each with its own cookie jar), closed after the test."""
    made: list[ApiClient] = []

    def new() -> ApiClient:
        client = ApiClient(world)
        made.append(client)
        return client

    yield new
    for client in made:
        client.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so the ``page`` fixture knows the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
