"""Switch-port shutdowns on the dashboard: approve, reject, undo and request (issue 7, item 5).

The Network page (:mod:`controller.web.pages.network`) lists the port actions and shows a
button per allowed transition; each button is a small form posting here. Every route needs
:attr:`Permission.PORTS_MANAGE` (operators and administrators) and the CSRF token, acts only
on a device of the caller's units (any other action id is a 404, like an unknown one), then
redirects (303) back with a flash code. A refusal the caller can fix (an action that is no
longer pending, an uplink port) is a 400 with the reason.

Routes (all ``POST``, form-encoded; ``ACTION_ID`` is :attr:`PortAction.id`)::

    /network/ports/ACTION_ID/approve   pending (or failed: retry)  -> approved
    /network/ports/ACTION_ID/reject    pending or approved         -> rejected
                                       field ``reason`` (optional, at most 500 characters)
    /network/ports/ACTION_ID/undo      an applied shutdown         -> a new approved "up" action
    /network/ports/request             a manual shutdown request   -> pending
                                       fields ``device_id``, ``if_index``, ``reason`` (optional);
                                       an uplink is refused here (only the CLI may force it)

Fields every form carries:

- ``csrf_token``: ``{{ caller.csrf_token }}`` (checked by :func:`controller.web.security.actor`);
- ``next`` (optional): where to return, a local path starting with ``/network`` or ``/hosts/``;
  anything else (or none) returns to ``/network``.

Flash codes added to the redirect (``?done=CODE``, texts in :mod:`controller.web.view`):
``port_approved``, ``port_rejected``, ``port_undone``, ``port_requested``.

For the Network page: :func:`controller.store.port_actions.list_views` (``s, scope, states=,
device_id=, limit=``) gives the actions of the caller's units newest first as
:class:`~controller.store.port_actions.ActionView` (the row, device and port names, uplink flag,
live undo); :func:`controller.discovery.enforcement.buttons` ``(view.action, view.undo)`` gives
the buttons to show (``approve``, ``reject``, ``undo``), each the last word of its route above.
Show them only when ``caller.principal.can(Permission.PORTS_MANAGE)``. States: ``pending``,
``approved``, ``applying``, ``applied``, ``failed`` (``error`` says why), ``rejected``; actions:
``down`` (shutdown) and ``up`` (an undo, ``undo_of`` the shutdown's id).

The web process never sends the SNMP SET: it only writes the decision; ``govguard worker``
applies approved actions (:func:`controller.discovery.enforcement.apply_approved`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from controller.auth import Permission
from controller.discovery import enforcement
from controller.web.security import Caller, InputError, NotFound, actor, now, transaction
from controller.web.view import done

router = APIRouter()
MANAGE = Permission.PORTS_MANAGE
#: An action id in a path: the database's integer range (a larger one is a 400, not a 500).
ActionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: Where a form may send the caller back: a page of the dashboard, never another site.
_NEXT = re.compile(r"/(network(?:[/?][^\s\\]*)?|hosts/[^\s\\]+)")
DEFAULT_NEXT = "/network"


def back_to(next_path: str) -> str:
    """The page to return to: ``next_path`` when it is a Network or host page, else /network."""
    return next_path if _NEXT.fullmatch(next_path) and "//" not in next_path else DEFAULT_NEXT


def refused(caller: Caller, exc: enforcement.EnforcementError) -> InputError:
    """A refusal of the enforcement module as the page shows it (the reason is English)."""
    return InputError(caller.t.gettext("The port action was refused: %(reason)s", reason=str(exc)))


def decide(request: Request, caller: Caller, decision: Callable[[Session], object]) -> None:
    """Run one decision in a transaction; unknown or out-of-scope actions are a 404."""
    try:
        with transaction(request) as s:
            decision(s)
    except enforcement.NotFoundError:
        raise NotFound from None
    except enforcement.EnforcementError as exc:
        raise refused(caller, exc) from None


@router.post("/network/ports/{action_id}/approve")
def approve_action(
    request: Request,
    caller: Annotated[Caller, Depends(actor(MANAGE))],
    action_id: ActionId,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Approve a pending shutdown (or retry a failed action): the worker applies it next."""
    scope = caller.principal.scope
    decide(
        request,
        caller,
        lambda s: enforcement.approve(
            s, action_id, caller.actor, now(), source=caller.address, scope=scope
        ),
    )
    return done(back_to(next), "port_approved")


@router.post("/network/ports/{action_id}/reject")
def reject_action(
    request: Request,
    caller: Annotated[Caller, Depends(actor(MANAGE))],
    action_id: ActionId,
    reason: Annotated[str, Form(max_length=enforcement.MAX_REASON)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Reject a pending shutdown, or withdraw an approved one not yet applied."""
    scope = caller.principal.scope
    decide(
        request,
        caller,
        lambda s: enforcement.reject(
            s, action_id, caller.actor, now(), reason or None, source=caller.address, scope=scope
        ),
    )
    return done(back_to(next), "port_rejected")


@router.post("/network/ports/{action_id}/undo")
def undo_action(
    request: Request,
    caller: Annotated[Caller, Depends(actor(MANAGE))],
    action_id: ActionId,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Bring an applied shutdown's port back up (one click: the undo is approved at once)."""
    scope = caller.principal.scope
    decide(
        request,
        caller,
        lambda s: enforcement.undo(
            s, action_id, caller.actor, now(), source=caller.address, scope=scope
        ),
    )
    return done(back_to(next), "port_undone")


@router.post("/network/ports/request")
def request_action(
    request: Request,
    caller: Annotated[Caller, Depends(actor(MANAGE))],
    device_id: Annotated[str, Form(min_length=1, max_length=200)],
    if_index: Annotated[int, Form(ge=1, le=2**31 - 1)],
    reason: Annotated[str, Form(max_length=enforcement.MAX_REASON)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Ask for a port to be shut down; it waits for an approval like a proposal does.

    An uplink is refused (only the CLI may force one); a device outside the caller's units is
    answered like an unknown one.
    """
    scope = caller.principal.scope
    decide(
        request,
        caller,
        lambda s: enforcement.request_shutdown(
            s,
            device_id=device_id,
            if_index=if_index,
            actor=caller.actor,
            at=now(),
            reason=reason or None,
            source=caller.address,
            scope=scope,
        ),
    )
    return done(back_to(next), "port_requested")
