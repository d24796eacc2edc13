"""A cap on the size of dashboard and API request bodies, enforced while they stream in.

Form parsing happens before any route code runs, so a limit checked in a route would come too
late: without this, a logged-in account could make the controller spool gigabytes to disk.
Uploads of offline bundles get the bundle file limit plus room for the form around it.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controller.api import error_response
from controller.bundles.read import DEFAULT_MAX_FILE_BYTES

#: Every body not listed in ``UPLOADS``: forms and JSON are small.
DEFAULT_LIMIT = 1024 * 1024
#: Paths that take files, and their limits.
UPLOADS: Mapping[str, int] = {
    "/bundles": DEFAULT_MAX_FILE_BYTES + 64 * 1024,
    "/api/v1/bundles": DEFAULT_MAX_FILE_BYTES + 64 * 1024,
}


class BodyLimit:
    """ASGI middleware answering 413 to a body larger than its path's limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = UPLOADS.get(scope["path"], DEFAULT_LIMIT)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(scope, receive, send, limit)
            return
        seen = 0
        started = False
        too_large = False

        async def counting_receive() -> Message:
            # Past the limit the application is told the client went away: its body reader
            # stops there (ClientDisconnect), whichever layer is reading, and nothing is stored.
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            # Whatever the application answers to a cut-off body (a parse error, mostly) is
            # replaced by the one clear 413 below.
            nonlocal started
            if too_large and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, tracking_send)
        if too_large and not started:
            await _refuse(scope, receive, send, limit)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = error_response(413, "too_large", f"The request body is larger than {limit} bytes.")
    await response(scope, receive, send)
