"""E-mail over SMTP with STARTTLS (certificate and host name verified) and optional login."""

from __future__ import annotations

import base64
import smtplib
import ssl
from collections.abc import Sequence
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from controller.notify.config import SecretError, SmtpConfig, read_secret
from controller.notify.content import Attachment, DeliveryError


def build(
    config: SmtpConfig,
    to: str,
    subject: str,
    body: str,
    *,
    key: str,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """The message: plain UTF-8 text, with the delivery key in ``X-Govguard-Delivery``.

    ``attachments`` follow the text as files of their own media type; a non-ASCII file name is
    encoded as RFC 2231 asks, so mail programs show its Vietnamese letters.
    """
    message = EmailMessage()
    message["From"] = config.from_address
    message["To"] = to
    if subject.isascii():
        message["Subject"] = subject
    else:
        # Python 3.11's folding of a long non-ASCII header drops the space that falls between two
        # encoded words ("Số máytính"); encoded words made here keep every space inside them.
        message.set_raw("Subject", Header(subject, "utf-8", header_name="Subject").encode("\n"))
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid("govguard", domain=config.from_address.rpartition("@")[2])
    message["X-Govguard-Delivery"] = key
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message.set_content(body, charset="utf-8")
    for attachment in attachments:
        kind, _, params = attachment.media_type.partition(";")
        maintype, _, subtype = kind.strip().partition("/")
        extra = dict(
            (name.strip().lower(), value.strip().strip('"'))
            for name, _, value in (p.partition("=") for p in params.split(";") if "=" in p)
        )
        message.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
            params=extra,
        )
    return message


def tls_context(config: SmtpConfig, data_dir: Path) -> ssl.SSLContext:
    """A verifying context: the system's CAs, or ``ca_file`` for a private mail server."""
    if config.ca_file is None:
        return ssl.create_default_context()
    path = Path(config.ca_file)
    path = path if path.is_absolute() else data_dir / path
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"smtp.ca_file {path}: cannot load: {exc}") from exc


def send(config: SmtpConfig, data_dir: Path, message: EmailMessage) -> None:
    """Submit ``message``; :class:`DeliveryError` (``permanent`` for 5xx answers) on failure."""
    try:
        password = (
            read_secret(data_dir, config.password_file, config.password_env, "smtp password")
            if config.username is not None
            else None
        )
    except SecretError as exc:
        raise DeliveryError(str(exc)) from exc
    context = tls_context(config, data_dir) if config.starttls else None
    where = f"{config.host}:{config.port}"
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout_s) as smtp:
            smtp.ehlo()
            if context is not None:
                smtp.starttls(context=context)
                smtp.ehlo()
            if config.username is not None and password is not None:
                _login(smtp, config.username, password)
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(
            f"{where} refused the recipient: {_answer(exc.recipients)}",
            permanent=all(code >= 500 for code in codes),
        ) from exc
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise DeliveryError(
            f"{where} answered {exc.smtp_code} {text}".strip(), permanent=exc.smtp_code >= 500
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(f"{where}: certificate not trusted: {exc.verify_message}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"{where}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
        ) from exc
    if refused:  # some recipients refused; we only ever send to one
        raise DeliveryError(f"{where} refused the recipient: {_answer(refused)}", permanent=True)


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    if (username + password).isascii():
        smtp.login(username, password)
        return
    # smtplib encodes credentials as ASCII and fails on Vietnamese passwords; AUTH PLAIN carries
    # UTF-8 (RFC 4616), so send it ourselves.
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise DeliveryError("the mail server offers no AUTH PLAIN, needed for a non-ASCII password")
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, text = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, text)


def _answer(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{code} {text.decode('utf-8', 'replace')}" for code, text in recipients.values()
    )
