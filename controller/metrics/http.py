"""``GET /metrics``: the exposition, behind an optional bearer token (``metrics.token_file``)."""

from __future__ import annotations

import asyncio
import hmac
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import Response

from controller.api import error_response
from controller.metrics import CONTENT_TYPE, Metrics
from controller.settings import Settings

PATH: Final = "/metrics"
#: A shorter token is guessable; ``openssl rand -hex 32`` makes a good one.
MIN_TOKEN_CHARS: Final = 16


class MetricsTokenError(Exception):
    """The metrics token file cannot be used; the message is one line for the operator."""


def read_token(settings: Settings) -> bytes | None:
    """The bearer token scrapes must present, or None when ``metrics.token_file`` is unset.

    A relative path is inside the data directory. Raises :class:`MetricsTokenError` when the
    file is missing, unreadable, empty or too short: a controller that was told to protect its
    metrics must not start without the protection.
    """
    configured = settings.metrics.token_file
    if configured is None:
        return None
    path = configured if configured.is_absolute() else settings.data_dir / configured
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise MetricsTokenError(
            f"{path}: cannot read metrics.token_file: {exc.strerror or exc}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise MetricsTokenError(f"{path}: metrics.token_file is not UTF-8 text") from exc
    if len(text) < MIN_TOKEN_CHARS or any(ch.isspace() for ch in text):
        raise MetricsTokenError(
            f"{path}: metrics.token_file must hold one token of at least {MIN_TOKEN_CHARS} "
            "characters without spaces (e.g. `openssl rand -hex 32`)"
        )
    return text.encode("utf-8")


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
