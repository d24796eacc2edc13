"""Real servers on loopback for the notification tests: SMTP with STARTTLS, an HTTP receiver.

``smtp_server``: aiosmtpd requiring STARTTLS (certificate from a trustme CA) and a login;
``webhook_server``: http.server in a thread recording every POST. Both record what they
received; tests set ``reject_rcpt`` / ``status`` to make them refuse.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer  # noqa: N811 - a class, not a constant
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from controller.notify import Notice, enqueue
from controller.notify.config import NotifyConfig, RouteConfig, SmtpConfig, WebhookConfig
from controller.store.units import ensure_unit

SMTP_USER = "govguard"
SMTP_PASSWORD = "mật-khẩu-thư"  # noqa: S105 - a test server's password
WEBHOOK_SECRET = "khoá-bí-mật-webhook"  # noqa: S105
DISTRICT = "huyen-phu-do"
COMMUNE = "xa-an-binh"
OTHER_COMMUNE = "xa-tan-lap"
#: 2026-11-29 10:00 in Hà Nội; the default digest hour (07:00) comes next day at 00:00 UTC.
T0 = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Received:
    """One accepted message."""

    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool


@dataclass
class SmtpHandler:
    """Records messages; ``reject_rcpt`` (e.g. ``"550 5.1.1 no such user"``) refuses them."""

    received: list[Received] = field(default_factory=list)
    reject_rcpt: str | None = None
    rcpt_calls: int = 0

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SmtpServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        self.rcpt_calls += 1
        if self.reject_rcpt is not None:
            return self.reject_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SmtpServer, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, _class=EmailMessage, policy=policy.default)
        self.received.append(Received(list(envelope.rcpt_tos), message, session.ssl is not None))
        return "250 Message accepted"


def _authenticate(
    server: SmtpServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok)


@dataclass
class SmtpServerInfo:
    """A running test mail server and how to reach it."""

    port: int
    ca_file: Path
    handler: SmtpHandler


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    """The CA of the test mail server's certificate."""
    return trustme.CA()


def start_smtp(ca: trustme.CA, ca_file: Path, port: int) -> tuple[Controller, SmtpHandler]:
    """Start aiosmtpd on 127.0.0.1:``port`` requiring STARTTLS and a login."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca.cert_pem.write_to_path(str(ca_file))
    handler = SmtpHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
    )
    controller.start()
    return controller, handler


@pytest.fixture
def smtp_server(test_ca: trustme.CA, tmp_path: Path) -> Iterator[SmtpServerInfo]:
    """aiosmtpd on loopback with STARTTLS and login required."""
    port = free_port()
    controller, handler = start_smtp(test_ca, tmp_path / "mail-ca.pem", port)
    try:
        yield SmtpServerInfo(port, tmp_path / "mail-ca.pem", handler)
    finally:
        controller.stop()


@dataclass
class Hook:
    """One request the webhook receiver got."""

    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookServerInfo:
    """A running webhook receiver: what it got, and the status it answers with."""

    url: str
    received: list[Hook] = field(default_factory=list)
    status: int = 204
    #: Set when the first request has been answered.
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def webhook_server() -> Iterator[WebhookServerInfo]:
    """An HTTP receiver on loopback that records POSTs and answers ``status``."""
    yield from _webhook_server(None)


@pytest.fixture
def https_webhook_server(test_ca: trustme.CA, tmp_path: Path) -> Iterator[WebhookServerInfo]:
    """The same receiver over HTTPS with a certificate of ``test_ca`` (PEM in ``ca_file``)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1").configure_cert(context)
    test_ca.cert_pem.write_to_path(str(tmp_path / "hook-ca.pem"))
    yield from _webhook_server(context)


def _webhook_server(tls: ssl.SSLContext | None) -> Iterator[WebhookServerInfo]:
    info = WebhookServerInfo(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            info.received.append(Hook(dict(self.headers.items()), body))
            self.send_response(info.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            info.arrived.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "http" if tls is None else "https"
    info.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/hooks/govguard"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield info
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def make_units(s: DbSession) -> None:
    """A district with two communes."""
    ensure_unit(s, DISTRICT, "UBND huyện Phù Đô", kind="district")
    ensure_unit(s, COMMUNE, "UBND xã An Bình", parent_id=DISTRICT, kind="commune")
    ensure_unit(s, OTHER_COMMUNE, "UBND xã Tân Lập", parent_id=DISTRICT, kind="commune")


def queue_sighting(sessions: sessionmaker[DbSession], notify: NotifyConfig) -> None:
    """The district's units and one critical notice queued for delivery (committed)."""
    with sessions() as s:
        make_units(s)
        text = {"vi": "Máy mật xuất hiện trên mạng", "en": "Classified PC seen on the network"}
        enqueue(s, Notice(key="finding:8:opened", unit_id=COMMUNE, severity="critical",
                          kind="finding.opened", subject=text, body=text), notify)  # fmt: skip
        s.commit()


def notify_config(
    data_dir: Path,
    *,
    smtp_port: int | None = None,
    ca_file: Path | None = None,
    webhook_url: str | None = None,
    routes: list[RouteConfig] | None = None,
    **options: Any,
) -> NotifyConfig:
    """A notify section for the test servers; secrets are written into ``data_dir``."""
    secrets = data_dir / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "smtp-password").write_text(SMTP_PASSWORD + "\n", encoding="utf-8")
    (secrets / "smtp-password").chmod(0o600)
    (secrets / "hook").write_text(WEBHOOK_SECRET + "\n", encoding="utf-8")
    (secrets / "hook").chmod(0o600)
    smtp = None
    if smtp_port is not None:
        smtp = SmtpConfig(
            host="127.0.0.1",
            port=smtp_port,
            from_address="govguard@phudo.gov.vn",
            username=SMTP_USER,
            password_file="secrets/smtp-password",  # noqa: S106 - a path
            ca_file=str(ca_file) if ca_file else None,
            timeout_s=10,
        )
    hooks = []
    if webhook_url is not None:
        hooks.append(WebhookConfig(name="chat", url=webhook_url, secret_file="secrets/hook"))  # noqa: S106
    if routes is None:
        routes = [
            RouteConfig(
                unit=DISTRICT,
                min_severity="low",
                email=["cntt@phudo.gov.vn"] if smtp else [],
                webhooks=["chat"] if hooks else [],
            )
        ]
    return NotifyConfig(smtp=smtp, webhooks=hooks, routes=routes, **options)
