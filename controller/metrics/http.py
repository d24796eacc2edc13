"""``GET /metrics``: the exposition, behind an optional bearer token (``metrics.token_file``)."""

from __future__ import annotations

import asyncio
import hmac
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import Response

from controller.api import error_response
from controller.metrics import CONTENT_TYPE, Metrics
from controller.metrics.token import MetricsTokenError, read_token

__all__ = ["PATH", "MetricsTokenError", "authorised", "install", "read_token"]

PATH: Final = "/metrics"


def authorised(header: str | None, token: bytes) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (constant-time compare)."""
    if header is None:
        return False
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), token)


def install(app: FastAPI, metrics: Metrics, token: bytes | None) -> None:
    """Serve ``metrics`` at ``/metrics`` on ``app``; with ``token``, only to its bearers."""

    async def get_metrics(request: Request) -> Response:
        if token is not None and not authorised(request.headers.get("authorization"), token):
            response = error_response(
                401, "unauthorized", "A bearer token is required for /metrics."
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="govguard metrics"'
            return response
        body = await asyncio.to_thread(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE)

    app.add_api_route(PATH, get_metrics, methods=["GET"], include_in_schema=False)
