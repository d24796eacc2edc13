"""Settings: the caller's own language and password, and what this controller is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from controller.auth.accounts import AccountError, set_locale, set_password
from controller.passwords import verify_password
from controller.store.users import get_user
from controller.web.i18n import LOCALES
from controller.web.pages.login import safe_next
from controller.web.security import Caller, actor_any, now, reader, transaction
from controller.web.view import done, page

router = APIRouter()


def _settings_page(
    request: Request, caller: Caller, *, error: str | None = None, status: int = 200
) -> Response:
    ctx = request.app.state.govguard
    settings = ctx.settings
    admin = settings.listen.admin
    info = {
        "server_names": ", ".join(settings.server_names),
        "agents_port": settings.listen.agents.port,
        "admin_port": admin.port if admin is not None else None,
        "database": settings.database_url.split(":", 1)[0],
        "interval_s": settings.agents.interval_s,
        "full_every_s": settings.agents.full_every_s,
        "retention_days": settings.retention.reports_days,
        "idle_minutes": settings.dashboard.session_idle_minutes,
        "absolute_hours": settings.dashboard.session_absolute_hours,
    }
    return page(
        request,
        caller,
        "settings.html",
        {"info": info, "error": error},
        status=status,
    )


@router.get("/settings")
def settings_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The caller's language and password forms, and the controller's main settings."""
    return _settings_page(request, caller)


@router.post("/settings/language")
def change_language(
    request: Request,
    caller: Annotated[Caller, Depends(actor_any)],
    locale: Annotated[str, Form(max_length=10)],
    next: Annotated[str, Form(max_length=2000)] = "/settings",
) -> Response:
    """Switch the caller's dashboard language (kept on the account, so it follows them)."""
    if locale not in LOCALES:
        return _settings_page(
            request, caller, error=caller.t.gettext("Unknown language."), status=400
        )
    with transaction(request) as s:
        set_locale(
            s,
            actor=caller.actor,
            source=caller.address,
            username=caller.principal.username,
            locale=locale,
            now=now(),
        )
    return done(safe_next(next), "language_changed")


@router.post("/settings/password")
def change_password(
    request: Request,
    caller: Annotated[Caller, Depends(actor_any)],
    current: Annotated[str, Form(max_length=2048)] = "",
    new: Annotated[str, Form(max_length=2048)] = "",
    confirm: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Change the caller's own password (the current one first); other sessions end."""
    t = caller.t
    if new != confirm:
        return _settings_page(
            request, caller, error=t.gettext("The two new passwords differ."), status=400
        )
    with transaction(request) as s:
        user = get_user(s, caller.principal.username)
        if user is None or not verify_password(user.password_hash, current):
            return _settings_page(
                request, caller, error=t.gettext("The current password is wrong."), status=400
            )
        try:
            set_password(
                s,
                actor=caller.actor,
                source=caller.address,
                username=user.username,
                password=new,
                now=now(),
                keep=caller.session,
            )
        except AccountError:
            s.rollback()
            return _settings_page(
                request,
                caller,
                error=t.gettext(
                    "The new password is refused: use at least %(n)s characters.", n=10
                ),
                status=400,
            )
    return done("/settings", "password_changed")
