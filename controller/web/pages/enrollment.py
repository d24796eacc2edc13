"""Enrollment: tokens (create, shown once; revoke) and agents waiting for approval.

An operator of a commune sees, creates and revokes only the tokens of its units, and approves
or revokes only their agents; anything else is answered like an unknown id (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from controller import agent_admin, pki
from controller.auth import Permission
from controller.store import agents as agent_store
from controller.store import tokens as token_store
from controller.store.models import Agent, EnrollmentToken, Unit
from controller.store.units import list_units
from controller.tokens import TokenError, TokenNotFound, create_token, parse_duration, revoke_token
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
from controller.web.view import done, page

router = APIRouter()

#: The newest tokens shown; older ones stay in `govguard tokens list`.
TOKEN_ROWS = 200


@dataclass(frozen=True)
class Pending:
    """A pending agent and why it waits (the agent of the same computer it would replace)."""

    agent: Agent
    replaces_hostname: str | None


@dataclass(frozen=True)
class EnrollmentView:
    """What the Enrollment page and ``GET /api/v1/enrollment`` show."""

    tokens: list[EnrollmentToken]
    pending: list[Pending]
    units: list[Unit]
    unit_names: dict[str, str]
    agents: int


def enrollment_view(request: Request, caller: Caller) -> EnrollmentView:
    """The caller's tokens, pending agents and the units it may create tokens for."""
    scope = caller.principal.scope
    with reading(request) as s:
        tokens = token_store.list_tokens(s, scope, limit=TOKEN_ROWS)
        pending = []
        for agent in agent_store.list_agents(s, "pending", scope):
            old = agent_store.get_agent(s, agent.replaces) if agent.replaces else None
            pending.append(Pending(agent, old.hostname if old is not None else None))
        all_units = list_units(s)
        count = agent_store.count_agents(s, scope)
        s.expunge_all()
    visible = [u for u in all_units if caller.principal.sees(u.id)]
    return EnrollmentView(
        tokens=tokens,
        pending=pending,
        units=[u for u in visible if u.retired_at is None],
        unit_names={u.id: u.name for u in visible},
        agents=count,
    )


def enroll_url(request: Request) -> str:
    """The address agents enroll with: the first server name and the agents' port."""
    settings = request.app.state.govguard.settings
    port = settings.listen.agents.port
    return f"https://{settings.server_names[0]}" + ("" if port == 443 else f":{port}")


def enroll_command(request: Request) -> str:
    """The command that enrolls a computer with a token saved in ``token.txt`` (docs/agent.md)."""
    return f"govguard-agent enroll --controller {enroll_url(request)} --token-file token.txt"


def new_token(
    request: Request, caller: Caller, *, unit: str, ttl: str, uses: int, note: str
) -> tuple[str, str]:
    """Create a token for ``unit`` (in the caller's scope); its text and id.

    Raises :class:`InputError` with the reason in the caller's language.
    """
    t = caller.t
    if not caller.principal.sees(unit):
        raise InputError(t.gettext("Choose one of your units."))
    settings = request.app.state.govguard.settings
    try:
        expires = parse_duration(ttl)
        fingerprint = pki.ca_fingerprint(settings.ca_cert.read_bytes())
        with transaction(request) as s:
            text = create_token(
                s,
                unit_id=unit,
                expires=expires,
                uses=uses,
                created_by=caller.actor,
                ca_fingerprint=fingerprint,
                now=now(),
                note=note.strip() or None,
                source=caller.address,
            )
    except TokenError as exc:
        raise InputError(
            t.gettext("The token was not created: %(reason)s", reason=str(exc))
        ) from None
    except OSError as exc:
        raise InputError(
            t.gettext("The token was not created: %(reason)s", reason="cannot read the CA")
        ) from exc
    return text, text.split(".")[1]


def revoke(request: Request, caller: Caller, token_id: str) -> None:
    """Revoke a token of the caller's scope (NotFound otherwise)."""
    try:
        with transaction(request) as s:
            revoke_token(
                s,
                token_id,
                revoked_by=caller.actor,
                now=now(),
                source=caller.address,
                scope=caller.principal.scope,
            )
    except TokenNotFound:
        raise NotFound from None
    except TokenError as exc:
        raise InputError(caller.t.gettext("Nothing changed: %(reason)s", reason=str(exc))) from exc


def agent_action(request: Request, caller: Caller, agent_id: str, action: str) -> None:
    """Approve or revoke an agent of the caller's scope (NotFound otherwise)."""
    do = agent_admin.approve if action == "approve" else agent_admin.revoke
    try:
        # Approval reads the computer's other agents, then writes: transaction() takes SQLite's
        # write lock first, so an enrollment running now cannot slip in between.
        with transaction(request) as s:
            do(s, agent_id, actor=caller.actor, source=caller.address, now=now(),
               scope=caller.principal.scope)  # fmt: skip
    except agent_admin.AgentUnknown:
        raise NotFound from None
    except agent_admin.AgentActionError as exc:
        raise InputError(caller.t.gettext("Nothing changed: %(reason)s", reason=str(exc))) from exc


def _page(
    request: Request,
    caller: Caller,
    *,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    view = enrollment_view(request, caller)
    return page(
        request,
        caller,
        "enrollment.html",
        {
            "view": view,
            "error": error,
            "form": form or {"unit": "", "ttl": "7d", "uses": "1", "note": ""},
            "now_utc": now(),
            "can_tokens": caller.principal.can(Permission.TOKENS_MANAGE),
            "can_agents": caller.principal.can(Permission.AGENTS_MANAGE),
        },
        active="/enrollment",
        status=status,
    )


@router.get("/enrollment")
def enrollment_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """Tokens, the form to create one, and the agents waiting for approval."""
    return _page(request, caller)


@router.post("/enrollment/tokens")
def create_token_form(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.TOKENS_MANAGE))],
    unit: Annotated[str, Form(max_length=64)] = "",
    ttl: Annotated[str, Form(max_length=20)] = "7d",
    uses: Annotated[str, Form(max_length=6)] = "1",
    note: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create a token; the result page shows its text once, with the agent's command."""
    form = {"unit": unit, "ttl": ttl, "uses": uses, "note": note}
    try:
        if not uses.strip().isdigit():
            raise InputError(caller.t.gettext("The number of uses must be a whole number."))
        text, token_id = new_token(request, caller, unit=unit, ttl=ttl, uses=int(uses), note=note)
    except InputError as exc:
        return _page(request, caller, error=str(exc), status=400, form=form)
    return page(
        request,
        caller,
        "token_created.html",
        {"token": text, "token_id": token_id, "unit": unit, "command": enroll_command(request)},
        active="/enrollment",
    )


@router.post("/enrollment/tokens/{token_id}/revoke")
def revoke_token_form(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.TOKENS_MANAGE))],
    token_id: str,
) -> Response:
    """Revoke a token: it enrolls nothing more (agents enrolled with it stay)."""
    revoke(request, caller, token_id)
    return done("/enrollment", "token_revoked")


@router.post("/agents/{agent_id}/approve")
def approve_form(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.AGENTS_MANAGE))],
    agent_id: str,
) -> Response:
    """Approve a pending agent (the other keys of its computer are revoked)."""
    agent_action(request, caller, agent_id, "approve")
    return done("/enrollment", "approved")


@router.post("/agents/{agent_id}/revoke")
def revoke_agent_form(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.AGENTS_MANAGE))],
    agent_id: str,
) -> Response:
    """Revoke an agent: its reports are refused from now on."""
    agent_action(request, caller, agent_id, "revoke")
    return done("/enrollment", "revoked")
