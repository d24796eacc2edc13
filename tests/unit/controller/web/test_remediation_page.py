"""The remediation pages through HTTP on both databases: the jobs list (filters, pages, scope),
one job (targets, preview diff, runs, decisions, the live log's fragment), the Remediate form of a
finding and of a computer, the host page's history, and POSTs refused by role, CSRF and scope.

Jobs are written as the workflow and the worker store them (the rows of migration 0010): the
pages are tested on the tables the worker fills; the workflow has its own tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.remediation import workflow
from controller.settings import load_settings
from controller.store import findings
from controller.store.db import make_engine, session_factory
from controller.store.models import (
    Agent,
    Asset,
    AuditEntry,
    RemediationEvent,
    RemediationJob,
    RemediationRun,
    RemediationTarget,
    RuleState,
)
from tests.unit.controller.web.conftest import PASSWORD, T0, District, Web

#: Hostile text in what ansible printed and in the diff: pages must show it as text.
HOSTILE = "<script>window.__xss=1</script>"
DIFF = f"--- before: /etc/ufw/ufw.conf\n+++ after\n-ENABLED=no\n+ENABLED=yes\n+# {HOSTILE}\n"


@dataclass
class Jobs:
    """What :func:`jobs` stored: ids the tests look for."""

    a_only: int
    both: int
    b_only: int
    a_finding: int
    events: list[int]


def _write(web: Web) -> Iterator[Session]:
    engine = make_engine(load_settings(web.data_dir).database_url)
    try:
        with session_factory(engine).begin() as s:
            yield s
    finally:
        engine.dispose()


def _job(s: Session, status: str, rule: str, hosts: list[tuple[str, str]], **more: object) -> int:
    job = RemediationJob(
        playbook="enable_firewall.yml",
        rule_id=rule,
        status=status,
        approval="required",
        origin="web",
        requested_by="user:op",
        requested_at=more.pop("at", T0),
        **more,
    )
    s.add(job)
    s.flush()
    for agent_id, unit in hosts:
        s.add(
            RemediationTarget(
                job_id=job.id,
                host=f"agent-{agent_id}",
                agent_id=agent_id,
                unit_id=unit,
                state="pending",
            )
        )
    s.flush()
    return job.id


@pytest.fixture
def jobs(web: Web, district: District) -> Jobs:
    """Three jobs: commune A's awaiting approval (a finished preview with a diff and events),
    one on both communes running, commune B's fixed; ATTT-07 failing on commune A's computer."""
    a, b = district.agents["xa-a"], district.agents["xa-b"]
    for s in _write(web):
        a_finding, _new = findings.open_finding(
            s,
            subject=f"agent:{a}",
            unit_id="xa-a",
            rule_id="ATTT-07",
            severity="high",
            reason={"code": "check_failed", "values": {}},
            evidence=None,
            at=T0,
            agent_id=a,
        )
        s.add(RuleState(agent_id=a, rule_id="ATTT-07", outcome="fail", since=T0, reason={}))
        a_only = _job(s, "awaiting_approval", "ATTT-07", [(a, "xa-a")], finding_id=a_finding.id)
        run = RemediationRun(
            job_id=a_only, mode="check", state="succeeded", hosts=[f"agent-{a}"],
            created_at=T0, started_at=T0, finished_at=T0 + timedelta(seconds=9), timeout_s=600,
        )  # fmt: skip
        s.add(run)
        s.flush()
        made = []
        for seq, (event, task, stdout, diff) in enumerate(
            (
                ("playbook_on_task_start", "Enable the firewall", None, None),
                ("runner_on_ok", "Enable the firewall", f"changed: [{HOSTILE}]", DIFF),
                ("playbook_on_stats", None, "PLAY RECAP ok=2 changed=1", None),
            ),
            start=1,
        ):
            row = RemediationEvent(
                run_id=run.id, seq=seq, at=T0 + timedelta(seconds=seq), event=event,
                host=f"agent-{a}" if seq == 2 else None, task=task, changed=seq == 2,
                stdout=stdout, diff=diff,
            )  # fmt: skip
            s.add(row)
            s.flush()
            made.append(row.id)
        both = _job(s, "running", "ATTT-05", [(a, "xa-a"), (b, "xa-b")], at=T0 + timedelta(hours=1))
        b_only = _job(
            s, "not_fixed", "ATTT-07", [(b, "xa-b")], at=T0 + timedelta(hours=2),
            finished_at=T0 + timedelta(hours=3),
        )  # fmt: skip
        target = s.get(RemediationTarget, (b_only, f"agent-{b}"))
        assert target is not None
        target.state, target.verification = "changed", "not_fixed"
        target.evidence = {
            "reason": {"code": "check_failed", "values": {}},
            "evidence": [{"fact": "security.firewall.enabled", "found": HOSTILE}],
        }
    return Jobs(a_only, both, b_only, a_finding.id, made)


def _rows(html: str) -> list[str]:
    return re.findall(r'data-id="job-(\d+)"', html)


def test_the_jobs_list_by_scope_with_filters(web: Web, jobs: Jobs) -> None:
    web.login()
    reply = web.client.get("/remediation")
    assert reply.status_code == 200
    assert 'href="/remediation" aria-current="page"' in reply.text
    # Newest first, in Vietnamese, with the number of computers.
    assert _rows(reply.text) == [str(jobs.b_only), str(jobs.both), str(jobs.a_only)]
    assert "chờ phê duyệt" in reply.text and "chưa khắc phục được" in reply.text
    assert _rows(web.client.get("/remediation?status=running").text) == [str(jobs.both)]
    assert _rows(web.client.get("/remediation?rule=attt-07").text) == [
        str(jobs.b_only),
        str(jobs.a_only),
    ]
    assert web.client.get("/remediation?status=nonsense").status_code == 400
    assert web.client.get("/remediation?page=0").status_code == 400
    # A commune's operator sees the jobs all of whose computers are in the commune, no other.
    web.client.cookies.clear()
    web.login("op-a", PASSWORD)
    assert _rows(web.client.get("/remediation").text) == [str(jobs.a_only)]


def test_the_job_page_shows_the_preview_and_the_decisions(web: Web, jobs: Jobs) -> None:
    web.login()
    reply = web.client.get(f"/remediation/{jobs.a_only}")
    assert reply.status_code == 200
    html = reply.text
    assert "enable_firewall.yml" in html and "ATTT-07" in html
    # The diff and the output are text, never markup.
    assert HOSTILE not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert '<pre class="diff">--- before: /etc/ufw/ufw.conf' in html
    assert f'action="/remediation/{jobs.a_only}/approve"' in html
    assert f'action="/remediation/{jobs.a_only}/reject"' in html
    assert f'action="/remediation/{jobs.a_only}/cancel"' in html
    # Every event so far, and the poller asking for those after the last one.
    assert all(f'data-id="event-{e}"' in html for e in jobs.events)
    assert (
        f'hx-get="/remediation/{jobs.a_only}/log?after={jobs.events[-1]}&amp;'
        'status=awaiting_approval"' in html
    )
    assert 'hx-trigger="every 2s"' in html
    # An auditor reads the same page without the buttons.
    web.client.cookies.clear()
    web.login("aud", PASSWORD)
    html = web.client.get(f"/remediation/{jobs.a_only}").text
    assert "/approve" not in html and "/cancel" not in html


def test_a_finished_job_shows_its_evidence_and_stops_polling(web: Web, jobs: Jobs) -> None:
    web.login()
    html = web.client.get(f"/remediation/{jobs.b_only}").text
    assert 'class="verify not_fixed"' in html
    assert "security.firewall.enabled" in html and HOSTILE not in html
    assert "hx-trigger" not in html
    assert f"/remediation/{jobs.b_only}/cancel" not in html


def test_the_live_log_fragment(web: Web, jobs: Jobs) -> None:
    web.login()
    first = jobs.events[0]
    reply = web.client.get(f"/remediation/{jobs.a_only}/log?after={first}&status=awaiting_approval")
    assert reply.status_code == 200
    assert "<html" not in reply.text  # a fragment, not a page
    assert f'data-id="event-{first}"' not in reply.text
    assert all(f'data-id="event-{e}"' in reply.text for e in jobs.events[1:])
    assert HOSTILE not in reply.text
    assert f"after={jobs.events[-1]}" in reply.text and "HX-Redirect" not in reply.headers
    # Nothing new: only the poller again, at the same place.
    again = web.client.get(
        f"/remediation/{jobs.a_only}/log?after={jobs.events[-1]}&status=awaiting_approval"
    )
    assert "data-id=" not in again.text and f"after={jobs.events[-1]}" in again.text
    # The job moved on since the page was drawn: htmx reloads the page.
    moved = web.client.get(f"/remediation/{jobs.a_only}/log?after=0&status=previewing")
    assert moved.headers.get("HX-Redirect") == f"/remediation/{jobs.a_only}"
    # A finished job's fragment has no poller: polling stops.
    done = web.client.get(f"/remediation/{jobs.b_only}/log?after=0&status=not_fixed")
    assert "hx-trigger" not in done.text
    assert web.client.get(f"/remediation/{jobs.a_only}/log?after=-1").status_code == 400


def test_jobs_of_other_communes_are_not_found(web: Web, jobs: Jobs) -> None:
    web.login("op-a", PASSWORD)
    for path in (f"/remediation/{jobs.both}", f"/remediation/{jobs.b_only}/log", "/remediation/9"):
        assert web.client.get(path).status_code == 404, path
    for decision in ("approve", "reject", "cancel"):
        assert web.post(f"/remediation/{jobs.both}/{decision}").status_code == 404
    assert web.client.get(f"/remediation/{2**40}").status_code == 400
    assert _status(web, jobs.both) == "running"


def test_decisions_need_the_role_and_the_token(web: Web, jobs: Jobs) -> None:
    web.login("aud", PASSWORD)
    assert web.post(f"/remediation/{jobs.a_only}/approve").status_code == 403
    assert web.client.get(f"/remediation/new?finding={jobs.a_finding}").status_code == 403
    web.client.cookies.clear()
    web.login("op", PASSWORD)
    bare = web.client.post(f"/remediation/{jobs.a_only}/approve", follow_redirects=False)
    assert bare.status_code == 403
    assert _status(web, jobs.a_only) == "awaiting_approval"


def test_the_remediate_form_of_a_finding(web: Web, jobs: Jobs, district: District) -> None:
    web.login("op-a", PASSWORD)
    reply = web.client.get(f"/remediation/new?finding={jobs.a_finding}")
    assert reply.status_code == 200
    assert '<code class="playbook">enable_firewall.yml</code>' in reply.text
    assert "cần phê duyệt" in reply.text
    assert f'name="finding" value="{jobs.a_finding}"' in reply.text
    # The findings list links to it; a rule without a playbook gets no link.
    listing = web.client.get("/findings").text
    assert f'href="/remediation/new?finding={jobs.a_finding}"' in listing
    other = district.findings["xa-a"][0]
    assert f"/remediation/new?finding={other}" not in listing
    no_playbook = web.client.get(f"/remediation/new?finding={other}")
    assert no_playbook.status_code == 200 and 'id="remediate"' not in no_playbook.text
    # Another commune's finding, and no subject at all.
    b_finding = district.findings["xa-b"][0]
    assert web.client.get(f"/remediation/new?finding={b_finding}").status_code == 404
    assert web.client.get("/remediation/new").status_code == 400
    assert web.client.get("/remediation/new?finding=x").status_code == 400
    # A rule the computer does not fail (or without a playbook) is refused before the workflow.
    refused = web.post("/remediation", {"agent": district.agents["xa-a"], "rule": "ATTT-05"})
    assert refused.status_code == 400
    assert (
        web.post("/remediation", {"agent": district.agents["xa-b"], "rule": "ATTT-07"}).status_code
        == 404
    )


def test_the_host_page_history_and_remediate_choice(
    web: Web, jobs: Jobs, district: District
) -> None:
    a = district.agents["xa-a"]
    web.login()
    html = web.client.get(f"/hosts/{a}").text
    assert _rows(html) == [str(jobs.both), str(jobs.a_only)]
    assert 'action="/remediation/new"' in html
    assert '<option value="ATTT-07">ATTT-07 · enable_firewall.yml</option>' in html
    form = web.client.get(f"/remediation/new?agent={a}&rule=ATTT-07").text
    assert 'name="rule" value="ATTT-07"' in form and "checked" in form
    # A classified computer: only the isolation playbook may be offered (none here).
    for s in _write(web):
        s.add(Asset(id="xa-a-pc-01", kind="desktop", unit_id="xa-a", classification="classified",
                    agent_id=a))  # fmt: skip
    html = web.client.get(f"/hosts/{a}").text
    assert 'action="/remediation/new"' not in html
    form = web.client.get(f"/remediation/new?agent={a}").text
    assert 'id="remediate"' not in form and "playbook cách ly" in form
    assert web.post("/remediation", {"agent": a, "rule": "ATTT-07"}).status_code == 400
    # Once it fails a rule whose playbook is the isolation one, that rule alone is offered.
    for s in _write(web):
        s.add(RuleState(agent_id=a, rule_id="BMNN-01", outcome="fail", since=T0, reason={}))
    html = web.client.get(f"/hosts/{a}").text
    assert '<option value="BMNN-01">BMNN-01 · isolate_classified_host.yml</option>' in html
    assert '<option value="ATTT-07">' not in html
    form = web.client.get(f"/remediation/new?agent={a}").text
    assert 'name="rule" value="BMNN-01"' in form and 'value="ATTT-07"' not in form
    # An auditor sees the history, not the form.
    web.client.cookies.clear()
    web.login("aud", PASSWORD)
    html = web.client.get(f"/hosts/{a}").text
    assert _rows(html) and 'action="/remediation/new"' not in html


def _status(web: Web, job_id: int) -> str:
    engine = make_engine(load_settings(web.data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            status = s.scalar(select(RemediationJob.status).where(RemediationJob.id == job_id))
            assert status is not None
            return status
    finally:
        engine.dispose()


def _audited(web: Web, action: str) -> list[tuple[str, str | None]]:
    engine = make_engine(load_settings(web.data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action))
            return [(row.actor, row.target) for row in rows]
    finally:
        engine.dispose()


def _reachable(web: Web, agent_id: str) -> None:
    """Commune A's computer in the organisation file, reached by a local connection, online."""
    for s in _write(web):
        s.add(Asset(id="xa-a-pc-01", kind="desktop", unit_id="xa-a", agent_id=agent_id,
                    connection={"transport": "local"}))  # fmt: skip
        agent = s.get(Agent, agent_id)
        assert agent is not None
        agent.last_seen_at = datetime.now(UTC)


def _preview_done(web: Web, job_id: int) -> None:
    """What ``govguard worker`` stores when the preview ends: its events, then run_finished."""
    settings = load_settings(web.data_dir)
    engine = make_engine(settings.database_url)
    at = datetime.now(UTC)
    try:
        with session_factory(engine).begin() as s:
            run = s.scalars(select(RemediationRun).where(RemediationRun.job_id == job_id)).one()
            assert (run.mode, run.state, run.hosts) == ("check", "queued", ["xa-a-pc-01"])
            s.add(RemediationEvent(run_id=run.id, seq=1, at=at, event="runner_on_ok",
                                   host="xa-a-pc-01", task="Enable the firewall", changed=True,
                                   stdout="changed: [xa-a-pc-01]", diff=DIFF))  # fmt: skip
            run.state, run.status_text, run.rc, run.finished_at = "succeeded", "successful", 0, at
            run.stats = {"xa-a-pc-01": {"ok": 2, "changed": 1}}
            workflow.run_finished(s, settings, run, at)
    finally:
        engine.dispose()


def test_request_preview_approve_and_cancel_for_real(
    web: Web, jobs: Jobs, district: District
) -> None:
    _reachable(web, district.agents["xa-a"])
    web.login("op-a", PASSWORD)
    reply = web.post("/remediation", {"finding": jobs.a_finding})
    assert reply.status_code == 303, reply.text
    location = reply.headers["location"]
    found = re.fullmatch(r"/remediation/(\d+)\?done=remediation_requested", location)
    assert found is not None, location
    job_id = int(found.group(1))
    html = web.client.get(location).text
    assert 'class="flash ok"' in html and "đang chạy thử" in html
    assert "hx-trigger" in html and "/approve" not in html
    assert _audited(web, "remediation.requested") == [("user:op-a", f"remediation:{job_id}")]

    _preview_done(web, job_id)
    html = web.client.get(f"/remediation/{job_id}").text
    assert "chờ phê duyệt" in html and '<pre class="diff">' in html and HOSTILE not in html
    reply = web.post(f"/remediation/{job_id}/approve")
    assert (reply.status_code, reply.headers["location"]) == (
        303,
        f"/remediation/{job_id}?done=remediation_approved",
    )
    assert _status(web, job_id) == "queued"
    # Approving again: the workflow's line on a 400 page, nothing changed.
    again = web.post(f"/remediation/{job_id}/approve")
    assert again.status_code == 400 and "Lệnh khắc phục bị từ chối" in again.text
    assert web.post(f"/remediation/{job_id}/cancel").status_code == 303
    assert _status(web, job_id) == "cancelled"
    assert _audited(web, "remediation.cancelled") == [("user:op-a", f"remediation:{job_id}")]
    html = web.client.get(f"/hosts/{district.agents['xa-a']}").text
    assert f'data-id="job-{job_id}"' in html


def test_a_refused_request_is_a_400_and_audited(web: Web, jobs: Jobs, district: District) -> None:
    # No connection address for commune A's computer: the workflow refuses before any run.
    web.login("op-a", PASSWORD)
    reply = web.post("/remediation", {"agent": district.agents["xa-a"], "rule": "ATTT-07"})
    assert reply.status_code == 400
    assert "no connection address" in reply.text
    assert [actor for actor, _target in _audited(web, "remediation.refused")] == ["user:op-a"]
    web.client.cookies.clear()
    web.login()
    assert _rows(web.client.get("/remediation").text) == [
        str(jobs.b_only),
        str(jobs.both),
        str(jobs.a_only),
    ]
