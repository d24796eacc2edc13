"""Policies: the packs, their rules and how the caller's hosts fare; administrators switch
rules on and off and set their parameters (:mod:`controller.policy.overrides_edit`).

The overrides file applies to the whole district, so only a district-wide administrator may
change it; a scoped administrator reads this page like everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from controller.auth import Permission
from controller.policy.loader import PolicySet
from controller.policy.overrides_edit import OverrideError, RuleEdit, RuleUnknown, edit_rule
from controller.store.dashboard import rule_pass_rates
from controller.web.policies import policy_cache
from controller.web.security import (
    Caller,
    Forbidden,
    InputError,
    NotFound,
    actor,
    now,
    reader,
    reading,
    transaction,
)
from controller.web.view import done, page

router = APIRouter()


@dataclass(frozen=True)
class RuleRow:
    """One rule as the page and ``GET /api/v1/policies`` show it."""

    id: str
    pack: str
    title: str
    severity: str
    enabled: bool
    params: dict[str, Any]
    passed: int
    failed: int
    errors: int


@dataclass(frozen=True)
class PackRow:
    """One pack and its rules."""

    id: str
    title: str
    version: int
    rules: list[RuleRow]


def policies_view(request: Request, caller: Caller) -> tuple[list[PackRow], str | None]:
    """The policies in use with each rule's counts in the caller's scope; the load error.

    The set comes from the application's :class:`PolicyCache` (loaded once, reloaded when the
    files change): loading every pack takes more than half a second.
    """
    cache = policy_cache(request)
    evaluator = cache.current()
    policies: PolicySet | None = evaluator.policies if evaluator is not None else None
    error = cache.error
    with reading(request) as s:
        rates = rule_pass_rates(s, caller.principal.scope)
    packs: list[PackRow] = []
    if policies is None:
        return packs, error
    lang = caller.principal.locale
    disabled = set(policies.disabled)
    for pack in policies.packs:
        rows = [
            RuleRow(
                id=rule.id,
                pack=pack.id,
                title=rule.title.get(lang),
                severity=str(rule.severity),
                enabled=rule.id not in disabled,
                params=dict(rule.params),
                passed=rates[rule.id].passed if rule.id in rates else 0,
                failed=rates[rule.id].failed if rule.id in rates else 0,
                errors=rates[rule.id].error if rule.id in rates else 0,
            )
            for rule in pack.rules
        ]
        packs.append(PackRow(pack.id, pack.title.get(lang), pack.version, rows))
    return packs, error


def param_text(value: Any) -> str:
    """A parameter's value as the form shows it (lists as comma-separated items)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def change_rule(
    request: Request, caller: Caller, rule_id: str, *, enabled: bool, params: dict[str, str]
) -> RuleEdit:
    """Apply one rule change for a district-wide administrator (403 for a scoped one)."""
    if caller.principal.scope is not None:
        raise Forbidden("scope")
    data_dir = request.app.state.govguard.settings.data_dir
    try:
        with transaction(request) as s:
            edit = edit_rule(s, data_dir, rule_id, enabled=enabled, params=params,
                             actor=caller.actor, source=caller.address, now=now())  # fmt: skip
    except RuleUnknown:
        raise NotFound from None
    except OverrideError as exc:
        raise InputError(
            caller.t.gettext("The change was refused: %(reason)s", reason=str(exc))
        ) from None
    # This process shows the change on the very next page; the others within seconds.
    policy_cache(request).check_now()
    return edit


def _page(
    request: Request, caller: Caller, *, error: str | None = None, status: int = 200
) -> Response:
    packs, load_error = policies_view(request, caller)
    return page(
        request,
        caller,
        "policies.html",
        {
            "packs": packs,
            "load_error": load_error,
            "error": error,
            "param_text": param_text,
            "can_manage": caller.principal.can(Permission.POLICIES_MANAGE)
            and caller.principal.scope is None,
        },
        active="/policies",
        status=status,
    )


@router.get("/policies")
def policies_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """Packs, rules and pass/fail counts; the rule forms for administrators."""
    return _page(request, caller)


@router.post("/policies/rules/{rule_id}")
async def rule_form(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.POLICIES_MANAGE))],
    rule_id: str,
    enabled: Annotated[str, Form(max_length=3)] = "on",
) -> Response:
    """Enable or disable a rule and set its parameters (every other form field is one)."""
    form = await request.form()
    params = {
        str(name): value
        for name, value in form.multi_items()
        if name not in ("csrf_token", "enabled") and isinstance(value, str)
    }
    if enabled not in ("on", "off"):
        raise InputError(caller.t.gettext("Invalid request"))
    try:
        await _in_thread(request, caller, rule_id, enabled == "on", params)
    except InputError as exc:
        return await run_in_threadpool(_page, request, caller, error=str(exc), status=400)
    return done("/policies", "rule_saved")


async def _in_thread(
    request: Request, caller: Caller, rule_id: str, enabled: bool, params: dict[str, str]
) -> RuleEdit:
    return await run_in_threadpool(
        lambda: change_rule(request, caller, rule_id, enabled=enabled, params=params)
    )
