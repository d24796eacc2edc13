"""Users: the accounts of the caller's scope; create, disable, enable, set a new password.

Every change goes through :mod:`controller.auth.accounts` with ``by=caller.principal``, the same
checks as ``govguard users``: a scoped administrator manages only the accounts of its units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from controller.auth import Permission
from controller.auth.accounts import (
    AccountError,
    add_user,
    list_users,
    set_disabled,
    set_password,
)
from controller.store.models import USER_ROLES, Unit, User
from controller.store.units import list_units
from controller.web.i18n import LOCALES
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
MANAGE = Permission.USERS_MANAGE


@dataclass(frozen=True)
class UsersView:
    """The accounts in scope and the units new accounts may belong to."""

    users: list[User]
    units: list[Unit]
    unit_names: dict[str, str]
    #: Whether the caller may create district-wide accounts (it is one itself).
    district: bool


def users_view(request: Request, caller: Caller) -> UsersView:
    """The accounts the caller manages."""
    with reading(request) as s:
        found = list_users(s, caller.principal.scope)
        all_units = list_units(s)
        s.expunge_all()
    visible = [u for u in all_units if caller.principal.sees(u.id)]
    return UsersView(
        users=found,
        units=[u for u in visible if u.retired_at is None],
        unit_names={u.id: u.name for u in visible},
        district=caller.principal.scope is None,
    )


def account_error(caller: Caller, exc: AccountError) -> InputError:
    """The refusal as the page shows it: a translated headline and the English reason."""
    return InputError(caller.t.gettext("Refused: %(reason)s", reason=str(exc)))


def change(
    request: Request, caller: Caller, username: str, apply: Callable[[Session], object]
) -> None:
    """Run one account function; an unknown or out-of-scope account is NotFound (404)."""
    try:
        with transaction(request) as s:
            apply(s)
    except AccountError as exc:
        if str(exc).startswith("unknown user"):
            raise NotFound from None
        raise account_error(caller, exc) from None


def create(
    request: Request,
    caller: Caller,
    *,
    username: str,
    full_name: str,
    role: str,
    unit: str,
    locale: str,
    password: str,
) -> None:
    """Create an account (``unit`` "" for the whole district)."""
    try:
        with transaction(request) as s:
            add_user(
                s,
                actor=caller.actor,
                source=caller.address,
                username=username,
                password=password,
                role=role,
                unit_id=unit or None,
                now=now(),
                locale=locale,
                full_name=full_name or None,
                by=caller.principal,
            )
    except AccountError as exc:
        raise account_error(caller, exc) from None


def _page(
    request: Request,
    caller: Caller,
    *,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    blank = {"username": "", "full_name": "", "role": "operator", "unit": "", "locale": "vi"}
    return page(
        request,
        caller,
        "users.html",
        {"view": users_view(request, caller), "error": error, "form": form or blank,
         "roles": USER_ROLES, "user_locales": LOCALES},
        active="/users",
        status=status,
    )  # fmt: skip


@router.get("/users")
def users_page(request: Request, caller: Annotated[Caller, Depends(reader(MANAGE))]) -> Response:
    """The accounts of the caller's scope and the form to add one."""
    return _page(request, caller)


@router.post("/users")
def add_user_form(
    request: Request,
    caller: Annotated[Caller, Depends(actor(MANAGE))],
    username: Annotated[str, Form(max_length=64)] = "",
    full_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    unit: Annotated[str, Form(max_length=64)] = "",
    locale: Annotated[str, Form(max_length=10)] = "vi",
    password: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Create an account; a refusal shows the form again with the reason (400)."""
    form = {"username": username, "full_name": full_name, "role": role, "unit": unit,
            "locale": locale}  # fmt: skip
    try:
        create(request, caller, username=username, full_name=full_name, role=role, unit=unit,
               locale=locale, password=password)  # fmt: skip
    except InputError as exc:
        return _page(request, caller, error=str(exc), status=400, form=form)
    return done("/users", "user_added")


def toggle(request: Request, caller: Caller, username: str, disabled: bool) -> None:
    """Disable or enable an account of the caller's scope."""
    change(request, caller, username, lambda s: set_disabled(
        s, actor=caller.actor, source=caller.address, username=username, disabled=disabled,
        now=now(), by=caller.principal))  # fmt: skip


@router.post("/users/{username}/disable")
def disable_form(
    request: Request, caller: Annotated[Caller, Depends(actor(MANAGE))], username: str
) -> Response:
    """Disable an account (its sessions end at once)."""
    try:
        toggle(request, caller, username, True)
    except InputError as exc:
        return _page(request, caller, error=str(exc), status=400)
    return done("/users", "user_disabled")


@router.post("/users/{username}/enable")
def enable_form(
    request: Request, caller: Annotated[Caller, Depends(actor(MANAGE))], username: str
) -> Response:
    """Enable an account again."""
    try:
        toggle(request, caller, username, False)
    except InputError as exc:
        return _page(request, caller, error=str(exc), status=400)
    return done("/users", "user_enabled")


def reset_password(request: Request, caller: Caller, username: str, password: str) -> None:
    """An administrator sets another account's password (its sessions end)."""
    change(request, caller, username, lambda s: set_password(
        s, actor=caller.actor, source=caller.address, username=username, password=password,
        now=now(), by=caller.principal))  # fmt: skip


@router.post("/users/{username}/password")
def password_form(
    request: Request,
    caller: Annotated[Caller, Depends(actor(MANAGE))],
    username: str,
    password: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Set a new password for an account (an administrator's reset)."""
    try:
        reset_password(request, caller, username, password)
    except InputError as exc:
        return _page(request, caller, error=str(exc), status=400)
    return done("/users", "password_changed")
