"""The ``notify:`` section of ``config.yaml``: SMTP, webhooks, routes, digest and retries.

Secrets never sit in the file: the SMTP password and each webhook's HMAC key come from a file
(relative paths are inside the data directory, mode 0600) or from an environment variable, and
are read at send time, so a rotated secret needs no restart.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta

log = logging.getLogger(__name__)

Language = Literal["vi", "en"]
Severity = Literal["critical", "high", "medium", "low", "info"]
#: Most severe first; a route's ``min_severity`` takes its own level and everything above it.
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
SMTP_PASSWORD_ENV = "GOVGUARD_SMTP_PASSWORD"  # noqa: S105 - a variable name, not a password

# Deliberately plain: one @, no spaces, no angle brackets or line breaks (header injection).
_ADDRESS = re.compile(r"[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+")
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


class SecretError(Exception):
    """A configured secret cannot be read; the message is one line without the secret."""


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Unknown keys are errors (``password:`` inline is refused this way)."""


def severity_rank(severity: str) -> int:
    """0 for critical, 4 for info; unknown severities rank below info."""
    for rank, name in enumerate(SEVERITIES):
        if name == severity:
            return rank
    return len(SEVERITIES)


def check_address(address: str, what: str) -> str:
    """``address`` when it looks like a single e-mail address, else ValueError naming ``what``."""
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"{what}: not a plain e-mail address: {address!r}")
    return address


class SmtpConfig(_Strict):
    """The mail server the controller submits through."""

    #: The mail server's host name or address.
    host: Annotated[str, Meta(min_length=1, max_length=253)]
    #: The sender of every message.
    from_address: str
    #: The submission port (587 with STARTTLS).
    port: Annotated[int, Meta(ge=1, le=65535)] = 587
    #: Upgrade with STARTTLS before anything else is sent; false only for a relay on loopback.
    starttls: bool = True
    #: CA certificates (PEM) of a private mail server; null = the system's trust store.
    ca_file: str | None = None
    #: The login on the mail server; null sends without logging in.
    username: str | None = None
    #: File holding the password (first line); relative to the data directory.
    password_file: str | None = None
    #: Environment variable holding the password when there is no password_file.
    password_env: Annotated[str, Meta(pattern=f"^{_ENV_NAME.pattern}$")] = SMTP_PASSWORD_ENV
    #: Seconds for the connection and each SMTP exchange.
    timeout_s: Annotated[float, Meta(gt=0, le=300)] = 30

    def __post_init__(self) -> None:
        check_address(self.from_address, "from_address")
        if not self.starttls and self.username is not None:
            # A password must never cross the network in clear text.
            raise ValueError("username needs starttls: true (credentials are never sent in clear)")


class WebhookConfig(_Strict):
    """A JSON endpoint that receives signed notices."""

    #: The name routes use for this webhook.
    name: Annotated[str, Meta(pattern=f"^{_NAME.pattern}$")]
    #: Where notices are posted (https://).
    url: Annotated[str, Meta(min_length=1, max_length=2048)]
    #: File holding the HMAC key (first line); relative to the data directory.
    secret_file: str | None = None
    #: Environment variable holding the HMAC key when there is no secret_file.
    secret_env: Annotated[str, Meta(pattern=f"^{_ENV_NAME.pattern}$")] | None = None
    #: CA certificates (PEM) of a receiver with a private CA; null = the system's trust store.
    ca_file: str | None = None
    #: Seconds to wait for the receiver's answer.
    timeout_s: Annotated[float, Meta(gt=0, le=300)] = 10

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"webhook {self.name}: url must be https://host/... ({self.url!r})")
        if (self.secret_file is None) == (self.secret_env is None):
            raise ValueError(f"webhook {self.name}: give exactly one of secret_file, secret_env")


class RouteConfig(_Strict):
    """Who hears about which unit's notices, from which severity on, in which language."""

    #: A unit id: notices of this unit and every unit below it. null = the whole district.
    unit: str | None = None
    #: Notices of this severity and every more severe one.
    min_severity: Severity = "high"
    #: Addresses that receive the notices (needs ``smtp``).
    email: list[str] = msgspec.field(default_factory=list)
    #: Names of webhooks (of ``notify.webhooks``) that receive the notices.
    webhooks: list[str] = msgspec.field(default_factory=list)
    #: The language of the messages.
    language: Language = "vi"

    def __post_init__(self) -> None:
        for i, address in enumerate(self.email):
            check_address(address, f"email[{i}]")
        if not self.email and not self.webhooks:
            raise ValueError("a route needs at least one email address or webhook")


class NotifyConfig(_Strict):
    """Everything under ``notify:``; with no routes, nothing is queued or sent."""

    smtp: SmtpConfig | None = None
    webhooks: list[WebhookConfig] = msgspec.field(default_factory=list)
    routes: list[RouteConfig] = msgspec.field(default_factory=list)
    #: Local hour (0-23) at which the daily digest of non-critical notices is sent.
    digest_hour: Annotated[int, Meta(ge=0, le=23)] = 7
    #: The time zone of ``digest_hour`` (an IANA name).
    timezone: str = "Asia/Ho_Chi_Minh"
    #: Attempts per delivery before it is marked failed.
    max_attempts: Annotated[int, Meta(ge=1, le=50)] = 8
    #: Wait after the first failure; doubled after each further one (capped at 6 hours).
    retry_base_s: Annotated[int, Meta(ge=1, le=3600)] = 60
    #: How often `govguard serve` looks for due deliveries.
    interval_s: Annotated[int, Meta(ge=5, le=3600)] = 30

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        names = [hook.name for hook in self.webhooks]
        if len(set(names)) != len(names):
            raise ValueError("webhooks: two webhooks have the same name")
        for i, route in enumerate(self.routes):
            for name in route.webhooks:
                if name not in names:
                    raise ValueError(f"routes[{i}]: no webhook named {name!r}")
            if route.email and self.smtp is None:
                raise ValueError(f"routes[{i}]: email recipients need an smtp section")

    @property
    def zone(self) -> ZoneInfo:
        """The time zone of ``digest_hour``."""
        return ZoneInfo(self.timezone)

    def webhook(self, name: str) -> WebhookConfig | None:
        """The webhook called ``name``, or None."""
        return next((hook for hook in self.webhooks if hook.name == name), None)


def read_secret(data_dir: Path, file: str | None, env: str | None, what: str) -> str:
    """The secret from ``file`` (first line; relative to ``data_dir``) or else ``$env``.

    Raises :class:`SecretError` naming where it looked, never the value.
    """
    if file is not None:
        path = Path(file) if Path(file).is_absolute() else data_dir / file
        try:
            text = path.read_text(encoding="utf-8")
            mode = path.stat().st_mode
        except OSError as exc:
            raise SecretError(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
        if os.name == "posix" and mode & 0o077:
            log.warning("%s: %s is readable by other users; chmod 600 it", what, path)
        secret = text.splitlines()[0].strip() if text.strip() else ""
        if not secret:
            raise SecretError(f"{what}: {path} is empty")
        return secret
    if env is not None:
        secret = os.environ.get(env, "").strip()
        if not secret:
            raise SecretError(f"{what}: environment variable {env} is not set")
        return secret
    raise SecretError(f"{what}: no secret_file or secret_env configured")
