"""The JSON twins of the dashboard's administration pages (``/api/v1``).

Each route calls the same function as its page (:mod:`controller.web.pages`), so the page and
the API cannot drift apart; only the rendering differs. Refusals are the API's usual
``{"error", "message"}`` bodies (400, 403, 404); messages are in the account's language.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from controller.api import ApiError, json_response, read_body
from controller.auth import Permission
from controller.web.pages import audit as audit_page
from controller.web.pages import bundles as bundles_page
from controller.web.pages import enrollment as enrollment_page
from controller.web.pages import policies as policies_page
from controller.web.pages import users as users_page
from controller.web.security import Caller, actor, reader, reading

router = APIRouter(prefix="/api/v1")
_BODY_LIMIT = 64 * 1024
T = TypeVar("T")


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def _body(request: Request, kind: type[T]) -> T:
    """The request's JSON body as ``kind``; 400 with the decoder's reason otherwise."""
    raw = await read_body(request, _BODY_LIMIT)
    try:
        return msgspec.json.decode(raw, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ApiError(400, "bad_request", f"Invalid body: {exc}.") from None


class NewToken(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/v1/enrollment/tokens``."""

    unit: str
    ttl: str = "7d"
    uses: int = 1
    note: str = ""


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/v1/users``."""

    username: str
    password: str
    role: str
    unit: str | None = None
    full_name: str = ""
    locale: str = "vi"


class NewPassword(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/v1/users/{username}/password``."""

    password: str


class RuleChange(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/v1/policies/rules/{rule_id}``: values as text or JSON values."""

    enabled: bool
    params: dict[str, Any] = msgspec.field(default_factory=dict)


@router.get("/enrollment")
def get_enrollment(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The caller's enrollment tokens (never their secrets) and pending agents."""
    view = enrollment_page.enrollment_view(request, caller)
    tokens = [
        {"id": t.id, "unit_id": t.unit_id, "expires_at": _when(t.expires_at), "uses": t.uses,
         "max_uses": t.max_uses, "note": t.note, "created_by": t.created_by,
         "created_at": _when(t.created_at), "revoked_at": _when(t.revoked_at)}
        for t in view.tokens
    ]  # fmt: skip
    pending = [
        {"id": p.agent.id, "hostname": p.agent.hostname, "unit_id": p.agent.unit_id,
         "machine_id": p.agent.machine_id, "system_uuid": p.agent.system_uuid,
         "system_serial": p.agent.system_serial, "macs": p.agent.macs,
         "replaces": p.agent.replaces, "replaces_hostname": p.replaces_hostname,
         "requested_at": _when(p.agent.created_at)}
        for p in view.pending
    ]  # fmt: skip
    return json_response(200, {"tokens": tokens, "pending": pending, "agents": view.agents})


@router.post("/enrollment/tokens")
async def post_token(
    request: Request, caller: Annotated[Caller, Depends(actor(Permission.TOKENS_MANAGE))]
) -> Response:
    """Create a token: 201 with its text (shown once) and the agent's enroll command."""
    body = await _body(request, NewToken)
    text, token_id = await run_in_threadpool(
        lambda: enrollment_page.new_token(
            request, caller, unit=body.unit, ttl=body.ttl, uses=body.uses, note=body.note
        )
    )
    return json_response(
        201,
        {"id": token_id, "token": text, "unit_id": body.unit,
         "command": enrollment_page.enroll_command(request)},
    )  # fmt: skip


@router.post("/enrollment/tokens/{token_id}/revoke")
def post_token_revoke(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.TOKENS_MANAGE))],
    token_id: str,
) -> Response:
    """Revoke a token of the caller's units."""
    enrollment_page.revoke(request, caller, token_id)
    return json_response(200, {"id": token_id, "revoked": True})


@router.post("/agents/{agent_id}/approve")
def post_approve(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.AGENTS_MANAGE))],
    agent_id: str,
) -> Response:
    """Approve a pending agent of the caller's units."""
    enrollment_page.agent_action(request, caller, agent_id, "approve")
    return json_response(200, {"id": agent_id, "status": "active"})


@router.post("/agents/{agent_id}/revoke")
def post_agent_revoke(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.AGENTS_MANAGE))],
    agent_id: str,
) -> Response:
    """Revoke an agent of the caller's units."""
    enrollment_page.agent_action(request, caller, agent_id, "revoke")
    return json_response(200, {"id": agent_id, "status": "revoked"})


@router.get("/bundles")
def get_bundles(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The imported bundles of the caller's units, newest first."""
    from controller.store.bundles import list_bundles

    with reading(request) as s:
        rows = list_bundles(s, caller.principal.scope)
    return json_response(
        200,
        [{"agent_id": b.agent_id, "hostname": b.hostname, "unit_id": b.unit_id, "seq": b.seq,
          "created_at": _when(b.created_at), "imported_at": _when(b.imported_at),
          "reports": b.reports, "gap": b.gap} for b in rows],
    )  # fmt: skip


@router.post("/bundles")
async def post_bundle(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.BUNDLES_IMPORT))],
    bundle: Annotated[UploadFile, File()],
) -> Response:
    """Import a bundle (multipart field ``bundle``): 200 imported, 400 refused (quarantined)."""
    result = await run_in_threadpool(
        bundles_page.import_upload, request, caller, bundle.file, bundle.filename
    )
    if not result.accepted:
        return json_response(
            400, {"error": "bundle_refused", "message": result.reason, "kept": result.kept}
        )
    return json_response(
        200,
        {"agent_id": result.agent_id, "hostname": result.hostname, "seq": result.seq,
         "reports": result.reports, "stored": result.stored, "gap": result.gap,
         "broken_chain": result.broken_chain, "findings_opened": result.opened},
    )  # fmt: skip


def _user(u: Any) -> dict[str, object]:
    return {"username": u.username, "full_name": u.full_name, "role": u.role,
            "unit_id": u.unit_id, "locale": u.locale, "disabled": u.disabled,
            "last_login_at": _when(u.last_login_at), "created_at": _when(u.created_at)}  # fmt: skip


@router.get("/users")
def get_users(
    request: Request, caller: Annotated[Caller, Depends(reader(Permission.USERS_MANAGE))]
) -> Response:
    """The accounts of the caller's scope (never their password hashes)."""
    view = users_page.users_view(request, caller)
    return json_response(200, [_user(u) for u in view.users])


@router.post("/users")
async def post_user(
    request: Request, caller: Annotated[Caller, Depends(actor(Permission.USERS_MANAGE))]
) -> Response:
    """Create an account: 201; 400 with the reason when refused."""
    body = await _body(request, NewUser)
    await run_in_threadpool(
        lambda: users_page.create(
            request, caller, username=body.username, full_name=body.full_name, role=body.role,
            unit=body.unit or "", locale=body.locale, password=body.password,
        )
    )  # fmt: skip
    return json_response(201, {"username": body.username.strip().casefold()})


@router.post("/users/{username}/disable")
def post_disable(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.USERS_MANAGE))],
    username: str,
) -> Response:
    """Disable an account of the caller's scope."""
    users_page.toggle(request, caller, username, True)
    return json_response(200, {"username": username, "disabled": True})


@router.post("/users/{username}/enable")
def post_enable(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.USERS_MANAGE))],
    username: str,
) -> Response:
    """Enable an account of the caller's scope."""
    users_page.toggle(request, caller, username, False)
    return json_response(200, {"username": username, "disabled": False})


@router.post("/users/{username}/password")
async def post_password(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.USERS_MANAGE))],
    username: str,
) -> Response:
    """Set a new password for an account of the caller's scope."""
    body = await _body(request, NewPassword)
    await run_in_threadpool(users_page.reset_password, request, caller, username, body.password)
    return json_response(200, {"username": username, "password_changed": True})


@router.get("/audit")
def get_audit(
    request: Request,
    caller: Annotated[Caller, Depends(reader(Permission.AUDIT_READ))],
    actor_name: Annotated[str, Query(alias="actor", max_length=200)] = "",
    action: Annotated[str, Query(max_length=100)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    """A page of the audit log (50 entries, newest first) and whether an older page exists."""
    f = audit_page.AuditFilter(actor_name, action, since, until, page)
    found, _ = audit_page.audit_page_data(request, caller, f)
    entries = [
        {"id": e.id, "at": _when(e.at), "actor": e.actor, "action": e.action, "target": e.target,
         "source": e.source, "details": e.details}
        for e in found.rows
    ]  # fmt: skip
    return json_response(
        200,
        {"entries": entries, "page": found.page, "per_page": found.per_page,
         "has_next": found.has_next},
    )  # fmt: skip


@router.get("/policies")
def get_policies(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The installed packs and rules with their pass/fail/error counts in the caller's scope."""
    packs, error = policies_page.policies_view(request, caller)
    return json_response(
        200, {"packs": [_pack(p) for p in packs],
              "error": error},
    )  # fmt: skip


def _pack(p: policies_page.PackRow) -> dict[str, object]:
    return {
        "id": p.id, "title": p.title, "version": p.version,
        "rules": [
            {"id": r.id, "title": r.title, "severity": r.severity, "enabled": r.enabled,
             "params": r.params, "pass": r.passed, "fail": r.failed, "error": r.errors}
            for r in p.rules
        ],
    }  # fmt: skip


@router.post("/policies/rules/{rule_id}")
async def post_rule(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.POLICIES_MANAGE))],
    rule_id: str,
) -> Response:
    """Enable or disable a rule and set its parameters (district-wide administrators)."""
    body = await _body(request, RuleChange)
    params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.params.items()}
    edit = await run_in_threadpool(
        lambda: policies_page.change_rule(
            request, caller, rule_id, enabled=body.enabled, params=params
        )
    )
    return json_response(
        200,
        {"rule_id": edit.rule_id, "enabled": edit.enabled, "changed": edit.changed,
         "params": {k: {"from": old, "to": new} for k, (old, new) in edit.params.items()}},
    )  # fmt: skip
