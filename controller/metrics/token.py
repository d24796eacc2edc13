"""The bearer token of ``/metrics`` (``metrics.token_file``); no web framework imported here,
so ``govguard config check`` can read it too."""

from __future__ import annotations

from typing import Final

from controller.settings import Settings

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
