"""The dashboard for district IT: server-rendered pages (Jinja2), enhanced by htmx.

:func:`install` adds the pages, the static files and the dashboard's error pages to the admin
application. Routes stay thin (STYLE.md): parse, authorise (:mod:`controller.web.security`),
call one function of ``controller/store`` or another domain package, render.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from controller.api import admin as admin_api
from controller.api import dashboard as dashboard_api
from controller.api import error_response, render_error
from controller.api import findings as findings_api
from controller.api import session as session_api
from controller.findings.policies import PolicyCache
from controller.web.i18n import translator
from controller.web.limits import BodyLimit
from controller.web.pages import (
    audit,
    bundles,
    enrollment,
    findings,
    hosts,
    login,
    network,
    overview,
    ports,
    remediation,
    report_schedules,
    reports,
    settings,
    users,
)
from controller.web.pages import policies as policies_page
from controller.web.security import Forbidden, InputError, LoginRequired, NotFound, request_locale
from controller.web.templating import STATIC_DIR
from controller.web.view import error_page

#: Paths of the JSON API: their errors are JSON, everything else gets an HTML page.
API_PREFIX = "/api/"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


async def _login_required(request: Request, _exc: Exception) -> Response:
    if _is_api(request):
        return error_response(401, "login_required", "Log in first (POST /api/v1/session).")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    reason = exc.reason if isinstance(exc, Forbidden) else "forbidden"
    if _is_api(request):
        if reason in ("csrf", "origin"):
            return error_response(403, "csrf", "Missing or wrong CSRF token (X-CSRF-Token).")
        return error_response(403, "forbidden", "Your role does not allow this.")
    t = translator(request_locale(request))
    if reason in ("csrf", "origin"):
        message = t.gettext("The form expired or did not come from this site; please try again.")
    else:
        message = t.gettext("Your role does not allow this action.")
    return error_page(t.locale, 403, t.gettext("Not allowed"), message)


async def _not_found(request: Request, _exc: Exception) -> Response:
    if _is_api(request):
        return error_response(404, "not_found", "No such object.")
    t = translator(request_locale(request))
    return error_page(
        t.locale, 404, t.gettext("Not found"), t.gettext("There is no such page or object.")
    )


async def _bad_input(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return error_response(400, "bad_request", str(exc))
    t = translator(request_locale(request))
    return error_page(t.locale, 400, t.gettext("Invalid request"), str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    if _is_api(request) or not isinstance(exc, StarletteHTTPException):
        return render_error(exc)
    if exc.status_code == 404:
        return await _not_found(request, exc)
    t = translator(request_locale(request))
    return error_page(
        t.locale,
        exc.status_code,
        t.gettext("Invalid request"),
        t.gettext("The request was refused."),
    )


async def _invalid(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return render_error(exc)
    t = translator(request_locale(request))
    return error_page(
        t.locale,
        400,
        t.gettext("Invalid request"),
        t.gettext("Some fields of the form are missing or invalid."),
    )


def install(app: FastAPI) -> None:
    """Add the dashboard to ``app`` (call after :func:`controller.api.install_error_handlers`)."""
    app.state.policies = PolicyCache(app.state.govguard.settings.data_dir)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    app.include_router(login.router)
    app.include_router(session_api.router)
    app.include_router(settings.router)
    app.include_router(overview.router)
    app.include_router(hosts.router)
    app.include_router(findings.router)
    app.include_router(findings_api.router)
    app.include_router(dashboard_api.router)
    for module in (
        enrollment,
        bundles,
        reports,
        report_schedules,
        users,
        audit,
        policies_page,
        network,
        remediation,
    ):
        app.include_router(module.router)
    app.include_router(ports.router)
    app.include_router(admin_api.router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(InputError, _bad_input)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_middleware(BodyLimit)
