"""Remediation in headless chromium (issue 8, item 5): a computer fails ATTT-07 (no firewall
fact), whose rule names ``enable_firewall.yml``; an operator asks for the remediation from the
computer's page, follows the preview in the live log, reads the diff, approves, cancels; then
starts one from a finding and rejects it; in Vietnamese and in English.

The world's controller runs no ``govguard worker``, so the worker's part is played here, in the
test's own database session, exactly as the worker stores it: the check run's events are
written while the page is open (the live log shows them through htmx polling, without a
reload), then the run is finished through :func:`controller.remediation.workflow.run_finished`
(the page reloads itself when the job's status changes). The computer is reached by a ``local``
connection in the organisation file, so the workflow accepts it; nothing is ever run here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.e2e.browser import Trap, login, shot
from tests.e2e.world import COMMUNE_B, Host, World

pytestmark = pytest.mark.integration

ASSET = f"{COMMUNE_B}-pc-e2e-remediation"
DIFF = "--- before: /etc/ufw/ufw.conf\n+++ after: /etc/ufw/ufw.conf\n-ENABLED=no\n+ENABLED=yes\n"


def _write(world: World) -> Iterator[Session]:
    from controller.store.db import make_engine

    engine = make_engine(world.controller.database_url)
    try:
        with Session(engine) as session, session.begin():
            yield session
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def reachable(world: World) -> Host:
    """Commune B's first computer, listed in the organisation file with a ``local`` connection
    (what Ansible would use), and reporting: the workflow may target it."""
    from controller.store.models import Agent, Asset

    host = world.hosts_in(COMMUNE_B)[0]
    for session in _write(world):
        session.add(
            Asset(
                id=ASSET,
                kind="desktop",
                unit_id=COMMUNE_B,
                agent_id=host.agent_id,
                connection={"transport": "local"},
            )
        )
        agent = session.get(Agent, host.agent_id)
        assert agent is not None
        agent.last_seen_at = datetime.now(UTC)
    return host


def _check_run(world: World, job_id: int) -> int:
    from controller.store.models import RemediationRun

    with world.db() as session:
        run = session.scalars(select(RemediationRun).where(RemediationRun.job_id == job_id)).one()
        assert (run.mode, run.state, run.hosts) == ("check", "queued", [ASSET])
        return run.id


def _event(world: World, run_id: int, seq: int, event: str, **fields: object) -> int:
    """One event of the run, as the worker streams it in while ansible runs."""
    from controller.store.models import RemediationEvent, RemediationRun

    for session in _write(world):
        run = session.get(RemediationRun, run_id)
        assert run is not None
        if run.state == "queued":
            run.state, run.started_at = "running", datetime.now(UTC)
        row = RemediationEvent(run_id=run_id, seq=seq, at=datetime.now(UTC), event=event, **fields)
        session.add(row)
        session.flush()
        made = row.id
    return made


def _finish(world: World, run_id: int) -> None:
    """The preview's end, stored as the worker stores it (run_finished in the same commit)."""
    from controller.remediation import workflow
    from controller.settings import load_settings
    from controller.store.models import RemediationRun

    settings = load_settings(world.controller.data_dir)
    at = datetime.now(UTC)
    for session in _write(world):
        run = session.get(RemediationRun, run_id)
        assert run is not None
        run.state, run.status_text, run.rc, run.finished_at = "succeeded", "successful", 0, at
        run.stats = {ASSET: {"ok": 3, "changed": 1}}
        workflow.run_finished(session, settings, run, at)


def _status(world: World, job_id: int) -> str:
    from controller.store.models import RemediationJob

    with world.db() as session:
        job = session.get(RemediationJob, job_id)
        assert job is not None
        return job.status


def _job_id(page: Page) -> int:
    found = re.search(r"/remediation/(\d+)", page.url)
    assert found is not None, page.url
    return int(found.group(1))


def test_remediate_from_a_computer(page: Page, world: World, trap: Trap, reachable: Host) -> None:
    login(page, world, world.account("huyen-operator"))
    page.goto(f"{world.url}/hosts/{reachable.agent_id}")
    form = page.locator("form.remediate")
    form.locator("select[name=rule]").select_option("ATTT-07")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Khắc phục")
    choice = page.locator('table.remediations tr[data-id="ATTT-07"]')
    expect(choice.locator("code.playbook")).to_have_text("enable_firewall.yml")
    expect(choice.locator("td.approval")).to_have_text("cần phê duyệt")
    shot(page, "vi-remediation-new")

    # -- request: the preview is queued for the worker --------------------------------------
    with page.expect_navigation():
        page.click("form#remediate button[type=submit]")
    expect(page.locator(".flash.ok")).to_contain_text("govguard worker")
    job_id = _job_id(page)
    expect(page.locator("#job-status")).to_have_text("đang chạy thử")
    expect(page.locator("#log-poll")).to_have_count(1)
    expect(page.locator("form#approve")).to_have_count(0)
    shot(page, "vi-remediation-previewing")

    # -- the live log: events appear while the page stays open (htmx polling) ---------------
    run_id = _check_run(world, job_id)
    first = _event(world, run_id, 1, "playbook_on_task_start", task="Enable the firewall")
    expect(page.locator(f'ol.log li[data-id="event-{first}"]')).to_contain_text(
        "Enable the firewall"
    )
    second = _event(
        world, run_id, 2, "runner_on_ok", host=ASSET, task="Enable the firewall",
        changed=True, stdout=f"changed: [{ASSET}]", diff=DIFF,
    )  # fmt: skip
    expect(page.locator(f'ol.log li[data-id="event-{second}"]')).to_contain_text(
        f"changed: [{ASSET}]"
    )
    # Still the same page (no reload): the first line is there once.
    expect(page.locator(f'ol.log li[data-id="event-{first}"]')).to_have_count(1)

    # -- the preview ends: the page reloads itself with the diff and the decision -----------
    _finish(world, run_id)
    expect(page.locator("#job-status")).to_have_text("chờ phê duyệt")
    expect(page.locator(f'.diff-host[data-id="diff-{ASSET}"] pre.diff')).to_contain_text(
        "+ENABLED=yes"
    )
    expect(page.locator("table.targets")).to_contain_text(reachable.hostname)
    shot(page, "vi-remediation-awaiting-approval")

    # -- approve (asks first): the apply run waits for the worker ----------------------------
    trap.expect_confirm()
    with page.expect_navigation():
        page.click("form#approve button[type=submit]")
    assert trap.confirms == 0, "approving did not ask for confirmation"
    expect(page.locator(".flash.ok")).to_be_visible()
    expect(page.locator("#job-status")).to_have_text("đang chờ chạy")
    assert _status(world, job_id) == "queued"

    # -- cancel: nothing runs, the log stops polling ----------------------------------------
    trap.expect_confirm()
    with page.expect_navigation():
        page.click("form#cancel button[type=submit]")
    expect(page.locator("#job-status")).to_have_text("đã hủy")
    expect(page.locator("#log-poll")).to_have_count(0)
    expect(page.locator("form#cancel")).to_have_count(0)
    assert _status(world, job_id) == "cancelled"
    shot(page, "vi-remediation-cancelled")

    # -- the computer's history and the jobs list --------------------------------------------
    page.goto(f"{world.url}/hosts/{reachable.agent_id}")
    expect(page.locator(f'table.remediation-history tr[data-id="job-{job_id}"]')).to_contain_text(
        "đã hủy"
    )
    page.click('nav a[href="/remediation"]')
    expect(page.locator("h1")).to_have_text("Khắc phục")
    expect(page.locator(f'table.jobs tr[data-id="job-{job_id}"]')).to_contain_text("đã hủy")
    page.select_option("form.filters select[name=status]", "cancelled")
    expect(page.locator(f'table.jobs tr[data-id="job-{job_id}"]')).to_be_visible()
    expect(page.locator(f'table.jobs tr[data-id="job-{world.a_job}"]')).to_have_count(0)
    shot(page, "vi-remediation-jobs")

    # -- the same job in English --------------------------------------------------------------
    with page.expect_navigation():
        page.click("form.lang-switch button[value=en]")
    page.goto(f"{world.url}/remediation/{job_id}")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_contain_text(f"Remediation job {job_id}")
    expect(page.locator("#job-status")).to_have_text("cancelled")
    expect(page.locator(".preview h2")).to_have_text("Preview: what the playbook would change")
    shot(page, "en-remediation-job")
    with page.expect_navigation():
        page.click("form.lang-switch button[value=vi]")


def test_remediate_from_a_finding_then_reject(
    page: Page, world: World, trap: Trap, reachable: Host
) -> None:
    login(page, world, world.account("huyen-admin"))
    page.goto(f"{world.url}/findings?unit={COMMUNE_B}")
    row = page.locator(f'table.findings tr[data-id="{reachable.finding_id}"]')
    with page.expect_navigation():
        row.locator("a.remediate").click()
    expect(page.locator("code.playbook")).to_have_text("enable_firewall.yml")
    with page.expect_navigation():
        page.click("form#remediate button[type=submit]")
    job_id = _job_id(page)
    expect(page.locator("#job-status")).to_have_text("đang chạy thử")
    _finish(world, _check_run(world, job_id))
    # The poll notices the new status and reloads: the preview changed nothing.
    expect(page.locator("#job-status")).to_have_text("chờ phê duyệt")
    expect(page.locator(".preview")).to_contain_text("Chạy thử không thấy gì cần thay đổi.")
    with page.expect_navigation():
        page.click("form#reject button[type=submit]")
    expect(page.locator(".flash.ok")).to_contain_text("từ chối")
    expect(page.locator("#job-status")).to_have_text("đã từ chối")
    assert _status(world, job_id) == "rejected"
    shot(page, "vi-remediation-rejected")


def test_a_refusal_is_a_page_with_its_reason(page: Page, world: World, trap: Trap) -> None:
    # Commune B's last computer has no connection address: the workflow refuses it.
    host = world.hosts_in(COMMUNE_B)[-1]
    login(page, world, world.account("huyen-operator"))
    page.goto(f"{world.url}/remediation/new?agent={host.agent_id}&rule=ATTT-07")
    trap.allow_http_errors()
    with page.expect_navigation():
        page.click("form#remediate button[type=submit]")
    expect(page.locator("main")).to_contain_text("Lệnh khắc phục bị từ chối")
    expect(page.locator("main")).to_contain_text("no connection address")


@pytest.fixture
def worker(world: World) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``govguard worker`` on the world's data directory (stopped with SIGTERM after)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("GOVGUARD_DATA_DIR", None)
    log = world.tmp / "worker.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "worker", "--data-dir",
             str(world.controller.data_dir)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_real_worker_fills_the_live_log(
    page: Page, world: World, trap: Trap, reachable: Host, worker: subprocess.Popen[bytes]
) -> None:
    # The worker claims the preview and runs enable_firewall.yml in check mode through
    # ansible-runner on this machine (the `local` connection). The play cannot pass here: become
    # needs sudo, and the playbook allows SSH from the address Ansible came in by, which a local
    # connection has none of; so the preview fails, on the first task that reaches the computer.
    # What matters here is what the page shows while a real run streams its events.
    login(page, world, world.account("huyen-operator"))
    page.goto(f"{world.url}/remediation/new?agent={reachable.agent_id}&rule=ATTT-07")
    with page.expect_navigation():
        page.click("form#remediate button[type=submit]")
    job_id = _job_id(page)
    # Safety nets only: the worker looks for queued runs every few seconds.
    expect(page.locator("#job-status")).to_have_text("thất bại", timeout=120_000)
    assert worker.poll() is None, (world.tmp / "worker.log").read_text(errors="replace")[-3000:]
    expect(page.locator("ol.log li.event").first).to_be_visible()
    expect(page.locator("ol.log li.failed").first).to_be_visible()
    expect(page.locator("ol.log")).to_contain_text("playbook_on_start")
    expect(page.locator(".job-error")).to_contain_text("the preview failed")
    expect(page.locator("table.runs")).to_contain_text("thất bại")
    expect(page.locator("#log-poll")).to_have_count(0)
    assert _status(world, job_id) == "failed"
    shot(page, "vi-remediation-real-worker-failed")
