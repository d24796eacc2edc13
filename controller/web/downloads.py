"""Files the dashboard hands out: download headers, and a standalone HTML report shown under
the dashboard's Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import quote

from starlette.responses import Response

from controller.web.templating import SECURITY_HEADERS

_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_ASCII_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def content_disposition(ascii_name: str, readable: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and the readable (Vietnamese)
    name as RFC 5987 ``filename*``."""
    fallback = _ASCII_NAME.sub("_", ascii_name).strip("._") or "report"
    wanted = _UNSAFE_NAME.sub("_", readable).strip(" .") or fallback
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(wanted, safe='')}"


def attachment(content: bytes, media_type: str, ascii_name: str, readable: str) -> Response:
    """``content`` as a download (never cached, never sniffed)."""
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(ascii_name, readable),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def html_view(content: bytes, media_type: str) -> Response:
    """A standalone HTML report in the browser, under the dashboard's security headers.

    The Content-Security-Policy stays the dashboard's; only the report's own ``<style>``
    elements are allowed, each by its SHA-256 (a hash source, not ``'unsafe-inline'``: any
    other inline style or script in the page is still refused).
    """
    html = content.decode("utf-8", errors="replace")
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"
        for css in _STYLE.findall(html)
    ]
    headers = dict(SECURITY_HEADERS)
    if hashes:
        policy = headers["Content-Security-Policy"]
        headers["Content-Security-Policy"] = policy.replace(
            "style-src 'self';", "style-src 'self' " + " ".join(hashes) + ";"
        )
    return Response(content, media_type=media_type, headers=headers)
