"""Remediation on the dashboard (issue 8, item 5): the Remediate form, the jobs list, one job's
page with its preview diff, decisions and live log.

The web process never runs Ansible (it holds no SSH key or become password, ARCHITECTURE.md):
every route here only writes a decision through :mod:`controller.remediation.workflow`, and
``govguard worker`` runs what was decided.

Routes (``JOB_ID`` is :attr:`RemediationJob.id`)::

    GET  /remediation                     the jobs the caller sees (filters status, rule; pages)
    GET  /remediation/new?finding=ID      the Remediate form of a finding, or of a computer:
    GET  /remediation/new?agent=ID        ?agent=ID[&rule=RULE] (its failing rules with a
                                          playbook; a classified one: the isolation playbook only)
    POST /remediation                     fields finding | agent + rule: request a job (preview)
    GET  /remediation/JOB_ID              the job: targets, runs, preview diff, log, verification
    GET  /remediation/JOB_ID/log?after=N  the live log's fragment (htmx): events above id N
    POST /remediation/JOB_ID/approve      awaiting approval -> queued
    POST /remediation/JOB_ID/reject       awaiting approval -> rejected
    POST /remediation/JOB_ID/cancel       not finished      -> cancelled

Reading needs :attr:`Permission.READ`; the form and every POST need :attr:`Permission.REMEDIATE`
(operators and administrators) and the CSRF token. A job is visible only when all its targets
are in the caller's units (:func:`controller.store.dashboard.remediation.visible`); any other job
id is a 404, like an unknown one. A refusal of the workflow (a classified host, no address, a job
no longer awaiting approval) is a 400 page with its line, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from controller.api import context
from controller.auth import Permission
from controller.policy.model import Remediation
from controller.remediation import workflow
from controller.remediation.model import ISOLATION_PLAYBOOK, RemediationError
from controller.store.dashboard import QueryError
from controller.store.dashboard.remediation import (
    FINISHED_STATUSES,
    JobQuery,
    job_detail,
    job_events,
    job_visible,
    list_jobs,
)
from controller.store.dashboard.remediation_subjects import finding_subject, host_subject
from controller.store.models import REMEDIATION_JOB_STATUSES
from controller.web.forms import page_number
from controller.web.policies import policy_cache, remediations, rule_titles
from controller.web.security import (
    Caller,
    InputError,
    NotFound,
    actor,
    now,
    reader,
    reading,
    transaction,
)
from controller.web.templating import render
from controller.web.view import done, names, page

router = APIRouter()
ACT = Permission.REMEDIATE
#: A job id in a path: the database's integer range (a larger one is a 400, not a 500).
JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: The jobs list's query-string filters.
FILTERS = ("status", "rule")
#: How often the job page asks for new log lines while the job is not finished (seconds).
POLL_EVERY_S = 2


def offered(
    rules: dict[str, Remediation], rule_ids: tuple[str, ...], classified: bool
) -> dict[str, Remediation]:
    """The rules among ``rule_ids`` a Remediate form may offer: those with a playbook, and on a
    classified computer only the isolation playbook (the workflow refuses any other)."""
    return {
        rule_id: rules[rule_id]
        for rule_id in rule_ids
        if rule_id in rules and (not classified or rules[rule_id].playbook == ISOLATION_PLAYBOOK)
    }


def _refused(caller: Caller, exc: RemediationError) -> InputError:
    return InputError(caller.t.gettext("The remediation was refused: %(reason)s", reason=str(exc)))


@router.get("/remediation")
def jobs_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The remediation jobs of the caller's units, newest first."""
    params = request.query_params
    t = caller.t
    status = params.get("status") or None
    if status is not None and status not in REMEDIATION_JOB_STATUSES:
        raise InputError(t.gettext("Unknown job status."))
    rule = (params.get("rule") or "").strip().upper()[:40] or None
    query = JobQuery(status=status, rule=rule, page=page_number(params.get("page"), t))
    try:
        with reading(request) as s:
            result = list_jobs(s, caller.principal.scope, query)
    except QueryError as exc:
        raise InputError(str(exc)) from None
    kept = [(k, v) for k, v in params.multi_items() if k in FILTERS and v]
    return page(
        request,
        caller,
        "remediation.html",
        {
            "result": result,
            "statuses": REMEDIATION_JOB_STATUSES,
            "filters": {"status": status or "", "rule": rule or ""},
            "titles": rule_titles(request, t.locale),
            "query_string": urlencode(kept),
        },
    )


@router.get("/remediation/new")
def new_job_page(request: Request, caller: Annotated[Caller, Depends(reader(ACT))]) -> Response:
    """The Remediate form: a finding's playbook, or a computer's failing rules with one."""
    params = request.query_params
    t = caller.t
    scope = caller.principal.scope
    rules = remediations(request)
    finding_text = params.get("finding") or ""
    agent_id = (params.get("agent") or "")[:200]
    with reading(request) as s:
        if finding_text:
            if not finding_text.isdigit() or len(finding_text) > 18:
                raise InputError(t.gettext("A finding number is not a number."))
            finding = finding_subject(s, scope, int(finding_text))
            if finding is None:
                raise NotFound
            subject = None
            choices = offered(rules, (finding.rule_id,), finding.classified)
        elif agent_id:
            subject = host_subject(s, scope, agent_id)
            if subject is None:
                raise NotFound
            finding = None
            choices = offered(rules, subject.failing, subject.classified)
        else:
            raise InputError(t.gettext("Choose a finding or a computer to remediate."))
    wanted = (params.get("rule") or "").strip().upper()
    return page(
        request,
        caller,
        "remediation_new.html",
        {
            "finding": finding,
            "subject": subject,
            "choices": choices,
            "chosen": wanted if wanted in choices else next(iter(choices), ""),
            "titles": rule_titles(request, t.locale),
        },
        active="/remediation",
    )


@router.post("/remediation")
def request_job(
    request: Request,
    caller: Annotated[Caller, Depends(actor(ACT))],
    finding: Annotated[int | None, Form(ge=1, le=2**62)] = None,
    agent: Annotated[str, Form(max_length=200)] = "",
    rule: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Ask for a job: its check-mode preview is queued for ``govguard worker``; audited.

    A refusal of the workflow is committed too (its ``remediation.refused`` audit entry), then
    shown as a 400 page with its line.
    """
    t = caller.t
    scope = caller.principal.scope
    rules = remediations(request)
    settings = context(request).settings
    refusal: RemediationError | None = None
    job_id = 0
    rule_id: str | None = None
    with transaction(request) as s:
        if finding is not None:
            subject = finding_subject(s, scope, finding)
            if subject is None:
                raise NotFound
            if not offered(rules, (subject.rule_id,), subject.classified):
                raise InputError(t.gettext("This rule cannot be remediated on this computer."))
            finding_id, hosts = subject.id, []
        elif agent:
            host = host_subject(s, scope, agent)
            if host is None:
                raise NotFound
            rule_id = rule.strip().upper()
            if rule_id not in offered(rules, host.failing, host.classified):
                raise InputError(t.gettext("This rule cannot be remediated on this computer."))
            finding_id, hosts = None, [host.agent_id]
        else:
            raise InputError(t.gettext("Choose a finding or a computer to remediate."))
        try:
            job = workflow.request(
                s, settings, finding_id=finding_id, rule_id=rule_id, hosts=hosts,
                actor=caller.actor, origin="web", source=caller.address, now=now(),
                policies=policy_cache(request),
            )  # fmt: skip
            job_id = job.id
        except RemediationError as exc:
            refusal = exc
    if refusal is not None:
        raise _refused(caller, refusal)
    return done(f"/remediation/{job_id}", "remediation_requested")


@router.get("/remediation/{job_id}")
def job_page(
    request: Request, job_id: JobId, caller: Annotated[Caller, Depends(reader())]
) -> Response:
    """One job: what it does, where, the preview's diff, the decisions, the log, the result."""
    scope = caller.principal.scope
    with reading(request) as s:
        job = job_detail(s, scope, job_id)
        if job is None:
            raise NotFound
        found = job_events(s, scope, job_id)
    events = found[1] if found is not None else ()
    return page(
        request,
        caller,
        "remediation_job.html",
        {
            "job": job,
            "events": events,
            "after": events[-1].id if events else 0,
            "titles": rule_titles(request, caller.t.locale),
            "can_act": caller.principal.can(ACT),
            # The log's poller (partials/remediation_log.html), while the job is not finished.
            "job_id": job.id,
            "status": job.status,
            "polling": not job.finished,
            "poll_every": POLL_EVERY_S,
        },
        active="/remediation",
    )


@router.get("/remediation/{job_id}/log")
def job_log(
    request: Request,
    job_id: JobId,
    caller: Annotated[Caller, Depends(reader())],
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    status: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The live log's next lines and the poller that fetches the ones after (htmx swaps it in
    for the old poller). When the job's status is no longer ``status`` (the one the page shows),
    htmx loads the job's page again (``HX-Redirect``): new buttons, the diff, the verification."""
    with reading(request) as s:
        found = job_events(s, caller.principal.scope, job_id, after=after)
    if found is None:
        raise NotFound
    current, events = found
    # A full load of the job's page, not a refresh: the request's flash (?done=) is not shown
    # again.
    headers = {"HX-Redirect": f"/remediation/{job_id}"} if status and current != status else None
    return render(
        "partials/remediation_log.html",
        caller.t.locale,
        {
            "job_id": job_id,
            "events": events,
            "after": events[-1].id if events else after,
            "status": current,
            "polling": current not in FINISHED_STATUSES,
            "poll_every": POLL_EVERY_S,
            "caller": caller,
            **names(caller.t),
        },
        headers=headers,
    )


def _decide(
    request: Request,
    caller: Caller,
    job_id: int,
    decision: Callable[[Session], object],
) -> None:
    """Run one decision on a job the caller sees, in one transaction (others: 404)."""
    try:
        with transaction(request) as s:
            if not job_visible(s, caller.principal.scope, job_id):
                raise NotFound
            decision(s)
    except RemediationError as exc:
        raise _refused(caller, exc) from None


@router.post("/remediation/{job_id}/approve")
def approve_job(
    request: Request, job_id: JobId, caller: Annotated[Caller, Depends(actor(ACT))]
) -> Response:
    """Approve a previewed job: its apply run is queued (offline hosts wait for their report)."""
    _decide(
        request,
        caller,
        job_id,
        lambda s: workflow.approve(s, job_id, actor=caller.actor, now=now(), source=caller.address),
    )
    return done(f"/remediation/{job_id}", "remediation_approved")


@router.post("/remediation/{job_id}/reject")
def reject_job(
    request: Request, job_id: JobId, caller: Annotated[Caller, Depends(actor(ACT))]
) -> Response:
    """Reject a previewed job: nothing is applied."""
    _decide(
        request,
        caller,
        job_id,
        lambda s: workflow.reject(s, job_id, actor=caller.actor, now=now(), source=caller.address),
    )
    return done(f"/remediation/{job_id}", "remediation_rejected")


@router.post("/remediation/{job_id}/cancel")
def cancel_job(
    request: Request, job_id: JobId, caller: Annotated[Caller, Depends(actor(ACT))]
) -> Response:
    """Cancel a job: queued runs never start, a running one is stopped by its worker."""
    _decide(
        request,
        caller,
        job_id,
        lambda s: workflow.cancel(s, job_id, actor=caller.actor, now=now(), source=caller.address),
    )
    return done(f"/remediation/{job_id}", "remediation_cancelled")
