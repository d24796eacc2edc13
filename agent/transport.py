"""HTTPS to the controller: the pinned CA, the host name check, and nothing else.

Every connection but one trusts exactly one CA, the controller's, pinned at enrollment in
``ca.pem``, and checks that the certificate names the controller's host. The system's trust
store is never consulted, so neither a compromised public CA nor a proxy that intercepts TLS
(common in office networks) can read or forge reports. The exception is
:func:`fetch_ca_unverified`, the bootstrap download of the CA itself, whose result is accepted
only when it hashes to the fingerprint carried in the enrollment token.

The transport does not retry: the daemon owns retry and backoff (it knows the outbox and the
schedule), so a failure here is reported at once as :class:`TransportError`.

A new connection resumes the TLS session of the last one (:class:`_ResumingContext`): on a
commune link the full handshake (certificate chain, key exchange) costs about 2 KB, four times an
unchanged heartbeat, and a resumed one about half of that. The controller keeps an agent's
connection open across a heartbeat interval, so a new connection is the exception (a restart, a
NAT box that forgot the connection), and resumption makes the exception cheap too.
"""

from __future__ import annotations

import logging
import socket
import ssl
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, TypeVar
from urllib.parse import urlsplit

import msgspec
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InsecureRequestWarning,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util import SKIP_HEADER

from agent import __version__
from agent.envelope import HEADER as ENVELOPE_HEADER
from agent.errors import AgentError
from agent.wire import CA_PATH, REPORTS_PATH

log = logging.getLogger(__name__)

USER_AGENT = f"govguard-agent/{__version__}"
#: A CA certificate is a couple of kilobytes; anything much larger is not one.
MAX_CA_BYTES = 64 * 1024
#: Replies are small JSON documents (settings at most); a bigger one is refused, not buffered.
MAX_REPLY_BYTES = 1024 * 1024

# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH (x509_vfy.h).
_NAME_MISMATCH_CODES = frozenset({62, 64})


class TransportError(AgentError):
    """No HTTP answer at all: refused, timed out, TLS verification failed (the message says)."""


class Reply(NamedTuple):
    """The controller's answer: status, JSON object (empty if none) and bytes on the wire.

    ``sent_bytes`` and ``received_bytes`` count the HTTP message (request line or status line,
    headers and body) without TLS and TCP framing: the figure behind the bytes-per-day goal.
    """

    status: int
    data: dict[str, object]
    sent_bytes: int
    received_bytes: int


class ControllerAddress(NamedTuple):
    """The parts of a controller URL the transport uses."""

    host: str
    port: int
    base_path: str  # "" or "/prefix" without a trailing slash

    @property
    def netloc(self) -> str:
        """``host[:port]`` as it goes into a URL and the Host header (port 443 implied)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 443 else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The normalized controller URL."""
        return f"https://{self.netloc}{self.base_path}"


def parse_controller_url(url: str) -> ControllerAddress:
    """Check and split a controller URL (``https://host[:port][/prefix]``).

    Raises :class:`agent.errors.AgentError` with a one-line message for anything else.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise AgentError(f"controller URL {url!r} is not valid: {exc}") from exc
    if parts.scheme != "https":
        raise AgentError(
            f"controller URL {url!r} must start with https:// (the agent only talks TLS)"
        )
    if not parts.hostname:
        raise AgentError(f"controller URL {url!r} has no host name")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise AgentError(
            f"controller URL {url!r} must be https://host[:port][/path] "
            "(no user, query or fragment)"
        )
    return ControllerAddress(parts.hostname, port or 443, parts.path.rstrip("/"))


def pinned_context(ca_file: Path) -> ssl.SSLContext:
    """A client TLS context that trusts only ``ca_file`` and checks host names, TLS 1.2+."""
    return _pin(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), ca_file)


_Context = TypeVar("_Context", bound=ssl.SSLContext)


def _pin(ctx: _Context, ca_file: Path) -> _Context:
    """Make ``ctx`` (a new client context: CERT_REQUIRED and check_hostname by default) trust
    only ``ca_file`` and check host names, TLS 1.2+."""
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    try:
        # Only this file: load_default_certs() is deliberately never called.
        ctx.load_verify_locations(cafile=str(ca_file))
    except FileNotFoundError as exc:
        raise AgentError(f"{ca_file}: the controller CA file is missing; enroll again") from exc
    except (OSError, ssl.SSLError) as exc:
        raise AgentError(f"{ca_file}: not a usable CA certificate file: {exc}") from exc
    return ctx


class _ResumingContext(ssl.SSLContext):
    """A client context whose new connections offer to resume the last TLS session.

    urllib3 opens connections with ``wrap_socket(sock, server_hostname=...)`` and has no way to
    pass a session, so the context supplies it. The session is still verified: a resumed TLS
    session is bound to the certificate checked when it was first established, and a server
    that no longer knows the ticket (restarted controller) simply makes a full handshake.
    """

    #: The session to offer next; set by :class:`Transport` after each reply (TLS 1.3 tickets
    #: arrive after the handshake, so the session is only resumable once data was read).
    resume: ssl.SSLSession | None = None

    def wrap_socket(  # same parameters, session defaulted
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        """Wrap ``sock`` like :meth:`ssl.SSLContext.wrap_socket`, offering :attr:`resume`."""
        return super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session if session is not None else self.resume,
        )


class Transport:
    """A keep-alive HTTPS connection to one controller, verified against the pinned CA."""

    def __init__(
        self,
        controller_url: str,
        ca_file: Path,
        *,
        timeout_s: float = 30.0,
        server_hostname: str | None = None,
    ) -> None:
        """Prepare the connection pool; nothing is sent before the first request.

        ``server_hostname`` is the name the certificate must carry when it differs from the
        URL's host (the URL names an address, the certificate a name).
        """
        self.address = parse_controller_url(controller_url)
        self.server_hostname = server_hostname or self.address.host
        self.timeout_s = timeout_s
        self._context = _pin(_ResumingContext(ssl.PROTOCOL_TLS_CLIENT), ca_file)
        self._pool = self._new_pool()
        self._last_socket: ssl.SSLSocket | None = None
        #: TLS connections made so far, and how many of them resumed an earlier session.
        self.connections = 0
        self.resumed = 0

    def _new_pool(self) -> urllib3.HTTPSConnectionPool:
        return urllib3.HTTPSConnectionPool(
            self.address.host,
            self.address.port,
            ssl_context=self._context,
            server_hostname=self.server_hostname,
            maxsize=1,  # one controller, one connection kept alive between reports
            block=False,
            retries=False,  # the daemon owns retries and backoff
            timeout=urllib3.Timeout(connect=self.timeout_s, read=self.timeout_s),
        )

    def post_report(
        self,
        envelope_header: str,
        body: bytes,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """POST a signed, gzip-compressed report with its ``GG-Envelope`` header.

        No Content-Type, Content-Encoding or User-Agent: a report body is always gzip JSON (the
        protocol fixes it) and carries the agent version, and at one heartbeat every 5 minutes
        those three lines would cost a commune link ~26 KB a day (docs/protocol.md).
        """
        headers = {"User-Agent": SKIP_HEADER, ENVELOPE_HEADER: envelope_header}
        headers.update(extra_headers or {})
        return self._request("POST", REPORTS_PATH, body, headers)

    def post_json(self, path: str, payload: bytes) -> Reply:
        """POST a JSON document to ``path`` (``/api/v1/...``) under the controller URL."""
        return self._request("POST", path, payload, {"Content-Type": "application/json"})

    def close(self) -> None:
        """Close the kept-alive connection."""
        self._pool.close()

    def disconnect(self) -> None:
        """Close the kept-alive connection but stay usable: the next request connects anew,
        resuming the TLS session."""
        self._pool.close()
        self._pool = self._new_pool()

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        target = self.address.base_path + path
        # Every header is set here so that what is counted is exactly what is sent: urllib3
        # then adds none of its own (SKIP_HEADER drops the Accept-Encoding line, which replies
        # of a few hundred bytes do not need).
        sent = {
            "Host": self.address.netloc,
            "User-Agent": USER_AGENT,
            "Accept-Encoding": SKIP_HEADER,
            **headers,
            "Content-Length": str(len(body)),
        }
        sent_bytes = len(f"{method} {target} HTTP/1.1\r\n") + 2 + len(body)
        sent_bytes += sum(len(f"{k}: {v}\r\n") for k, v in sent.items() if v != SKIP_HEADER)
        url = f"https://{self.address.netloc}{target}"
        try:
            response = self._pool.urlopen(
                method,
                target,
                body=body,
                headers=sent,
                redirect=False,
                preload_content=False,
                decode_content=False,
            )
            complete = False
            # Taken now: urllib3 lets go of the connection once the body has been read.
            connection = response.connection
            try:
                raw = response.read(MAX_REPLY_BYTES + 1, decode_content=False)
                complete = len(raw) <= MAX_REPLY_BYTES
                self._remember_session(connection)
            finally:
                if not complete:
                    # Unread bytes would corrupt the next request on this kept-alive connection.
                    response.close()
                response.release_conn()
            if not complete:
                raise TransportError(f"{url}: the controller's reply is larger than 1 MiB")
        except HTTPError as exc:
            raise _transport_error(exc, url, self.server_hostname, self.timeout_s) from exc
        received = len(f"HTTP/1.1 {response.status} {response.reason or ''}\r\n") + 2 + len(raw)
        received += sum(len(f"{k}: {v}\r\n") for k, v in response.headers.items())
        log.debug(
            "%s %s -> %s (%d bytes out, %d in)", method, url, response.status, sent_bytes, received
        )
        return Reply(response.status, _json_object(raw), sent_bytes, received)

    def _remember_session(self, connection: object) -> None:
        """Keep the connection's TLS session for the next connection to resume."""
        sock = getattr(connection, "sock", None)
        if isinstance(sock, ssl.SSLSocket):
            if sock is not self._last_socket:
                self._last_socket = sock
                self.connections += 1
                resumed = bool(sock.session_reused)
                self.resumed += resumed
                log.debug("new TLS connection (%s)", "resumed" if resumed else "full handshake")
            session = sock.session
            # A TLS 1.3 session without a ticket cannot be resumed; keep the previous one then.
            if session is not None and (session.has_ticket or sock.version() != "TLSv1.3"):
                self._context.resume = session


def fetch_ca_unverified(controller_url: str, *, timeout_s: float = 15.0) -> bytes:
    """Download the controller CA's PEM over TLS *without* verifying the server (bootstrap).

    The caller must accept the result only when its SHA-256 equals the fingerprint in the
    enrollment token (see agent.enrollment); until then it is untrusted bytes. Nothing secret is
    sent on this connection: a GET without a body or credentials.
    """
    address = parse_controller_url(controller_url)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # The only unverified connection of the product, and safe: it downloads the CA certificate,
    # sends nothing secret, and the CA is accepted only if its sha256 matches the fingerprint in
    # the enrollment token (the token, not the TLS chain, authenticates the controller).
    ctx.check_hostname = False  # safe: CA accepted only if its sha256 matches the token's
    ctx.verify_mode = ssl.CERT_NONE  # safe: CA accepted only if its sha256 matches the token's
    url = f"https://{address.netloc}{address.base_path}{CA_PATH}"
    pool = urllib3.HTTPSConnectionPool(
        address.host,
        address.port,
        ssl_context=ctx,
        maxsize=1,
        retries=False,
        timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
    )
    try:
        with warnings.catch_warnings():
            # urllib3 warns about every unverified request; this one is unverified on purpose.
            warnings.simplefilter("ignore", InsecureRequestWarning)
            response = pool.urlopen(
                "GET",
                address.base_path + CA_PATH,
                headers={"Host": address.netloc, "User-Agent": USER_AGENT},
                redirect=False,
                preload_content=False,
            )
        try:
            data = response.read(MAX_CA_BYTES + 1)
        finally:
            response.release_conn()
    except HTTPError as exc:
        raise _transport_error(exc, url, address.host, timeout_s) from exc
    finally:
        pool.close()
    if response.status != 200:
        raise AgentError(
            f"{url}: the controller answered HTTP {response.status} instead of its CA "
            "certificate; is this the URL of a govguard controller?"
        )
    if len(data) > MAX_CA_BYTES:
        raise AgentError(f"{url}: the answer is too large to be a CA certificate")
    return bytes(data)


def _json_object(raw: bytes) -> dict[str, object]:
    """The reply as a JSON object; ``{}`` for an empty or non-JSON body (a proxy's HTML page)."""
    if not raw:
        return {}
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _transport_error(exc: HTTPError, url: str, hostname: str, timeout_s: float) -> TransportError:
    """Turn urllib3's exception into one sentence a district IT officer can act on."""
    if isinstance(exc, Urllib3SSLError):
        verify = _cert_verification_error(exc)
        if verify is not None:
            if verify.verify_code in _NAME_MISMATCH_CODES:
                return TransportError(
                    f"{url}: TLS refused: the controller's certificate does not match the host "
                    f"name {hostname!r} ({verify.verify_message}); nothing was sent"
                )
            return TransportError(
                f"{url}: TLS refused: the controller's certificate is not signed by the pinned "
                f"controller CA ({verify.verify_message}); nothing was sent"
            )
        return TransportError(f"{url}: TLS handshake failed: {_reason(exc)}")
    if isinstance(exc, NameResolutionError):
        return TransportError(f"{url}: cannot resolve the controller's host name")
    if isinstance(exc, NewConnectionError):
        # Checked before ConnectTimeoutError: urllib3 2 derives one from the other.
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError):
            return TransportError(f"{url}: connection refused (is the controller running?)")
        if isinstance(cause, TimeoutError):
            return TransportError(f"{url}: timed out connecting after {timeout_s:g} s")
        return TransportError(f"{url}: cannot connect: {_reason(exc)}")
    if isinstance(exc, ConnectTimeoutError):
        return TransportError(f"{url}: timed out connecting after {timeout_s:g} s")
    if isinstance(exc, ReadTimeoutError):
        return TransportError(f"{url}: the controller did not answer within {timeout_s:g} s")
    if isinstance(exc, ProtocolError):
        return TransportError(f"{url}: the connection was lost: {_reason(exc)}")
    return TransportError(f"{url}: {_reason(exc)}")


def _cert_verification_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure inside urllib3's wrapper, if that is what it is."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        for arg in current.args:
            if isinstance(arg, ssl.SSLCertVerificationError):
                return arg
        current = current.__cause__ or current.__context__
    return None


def _reason(exc: BaseException) -> str:
    """The innermost message, without urllib3's object reprs."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        inner = exc.__cause__ or exc.__context__
        assert inner is not None  # noqa: S101 - narrows for mypy
        exc = inner
    return str(exc) or type(exc).__name__
