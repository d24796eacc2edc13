"""The bearer token of ``/metrics`` (``metrics.token_file``); no web framework imported here,
so ``govguard config check`` can read it too."""

from __future__ import annotations

from typing import Final

from controller.notify.config import SecretError, read_secret
from controller.settings import Settings

#: A shorter token is guessable; ``openssl rand -hex 32`` makes a good one.
MIN_TOKEN_CHARS: Final = 16


class MetricsTokenError(Exception):
    """The metrics token file cannot be used; the message is one line for the operator."""


def read_token(settings: Settings) -> bytes | None:
    """The bearer token scrapes must present, or None when ``metrics.token_file`` is unset.

    The file's first line; a relative path is inside the data directory. Raises
    :class:`MetricsTokenError` when the file is missing, unreadable, empty or the token too
    short: a controller that was told to protect its metrics must not start without it.
    """
    configured = settings.metrics.token_file
    if configured is None:
        return None
    what = "metrics.token_file"
    try:
        token = read_secret(settings.data_dir, str(configured), None, what)
    except SecretError as exc:
        raise MetricsTokenError(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise MetricsTokenError(f"{what}: {configured} is not UTF-8 text") from exc
    if len(token) < MIN_TOKEN_CHARS or any(ch.isspace() for ch in token):
        raise MetricsTokenError(
            f"{what}: {configured} must hold one token of at least {MIN_TOKEN_CHARS} "
            "characters without spaces (e.g. `openssl rand -hex 32`)"
        )
    return token.encode("utf-8")
