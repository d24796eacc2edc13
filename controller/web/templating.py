"""Jinja2 environments (one per language) and the one function that renders a page.

Autoescaping is always on, for every template, whatever its name: everything an agent sends
(hostnames, software names, user names) is hostile input and may only reach a page escaped.
Undefined variables raise instead of rendering empty, so a typo fails the page tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from agent import __version__
from controller.policy.messages import render as render_reason
from controller.policy.model import Reason
from controller.web.i18n import LANGUAGE_NAMES, LOCALES, translations, translator

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

#: Sent with every page: no inline script or style can run, nothing is framed, no referrer leaks
#: a host's name to another site, and pages (which show private data) are never cached.
#: "same-origin", not "no-referrer": with no-referrer browsers send ``Origin: null`` on the
#: dashboard's own form posts (Fetch, "serializing a request origin"), which the Origin check
#: refuses; the e2e suite found every form refused in chromium.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def environment(locale: str) -> Environment:
    """The Jinja2 environment of ``locale``, with its catalogue and format filters installed."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    t = translator(locale)
    env.install_gettext_translations(translations(t.locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        datetime=t.datetime,
        date=t.date,
        number=t.number,
        percent=t.percent,
        reason=lambda value: reason_text(value, t.locale),
    )
    env.globals.update(
        static=static_url,
        has_static=has_static,
        locales=LOCALES,
        language_names=LANGUAGE_NAMES,
        t=t,
        version=__version__,
    )
    return env


def reason_text(value: object, locale: str) -> str:
    """A stored reason (``{"code", "values"}``) as a sentence in ``locale``."""
    if not isinstance(value, dict) or not isinstance(value.get("code"), str):
        return ""
    values = value.get("values")
    reason = Reason(code=value["code"], values=values if isinstance(values, dict) else {})
    return render_reason(reason, "en" if locale == "en" else "vi")


@cache
def has_static(name: str) -> bool:
    """Whether a static file is installed (htmx is fetched by setup and may be missing)."""
    return (STATIC_DIR / name).is_file()


@cache
def static_url(name: str) -> str:
    """``/static/<name>?v=<hash>``: browsers may cache static files, and a new release busts it."""
    path = STATIC_DIR / name
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    except OSError:
        return f"/static/{name}"
    return f"/static/{name}?v={digest}"


def render(
    template: str,
    locale: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` in ``locale`` into a response with the security headers."""
    env = environment(translator(locale).locale)
    values = {"now": datetime.now(UTC), "caller": None, "flashes": [], **context}
    html = env.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    if headers:
        response.headers.update(headers)
    return response
