"""HTTPS probes: status, latency, TLS version and certificate validity of a target."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from agent.probes._base import (
    _ms,
    _reason,
)
from agent.probes.dns import resolve
from agent.probes.tcp import connect_any
from agent.report.connectivity import HttpsResult


class HttpsSpec(NamedTuple):
    """What :func:`probe_https` needs from a configured target."""

    # A NamedTuple, not a dataclass: importing dataclasses (and inspect with it) costs ~13 ms
    # of the agent's start-up CPU.
    name: str
    url: str
    role: str
    ca_file: str | None
    timeout: float
    ok_statuses: Sequence[int] = ()


def _split_url(url: str) -> tuple[str, int, str]:
    rest = url.removeprefix("https://")
    hostport, slash, path = rest.partition("/")
    path = "/" + path if slash else "/"
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port = int(tail[1:]) if tail.startswith(":") else 443
    elif ":" in hostport:
        host, _, p = hostport.rpartition(":")
        port = int(p)
    else:
        host, port = hostport, 443
    return host, port, path


def _name(rdns: Any) -> str:
    """``((('commonName', 'x'),), ...)`` from getpeercert() -> ``CN=x, O=y``."""
    short = {"commonName": "CN", "organizationName": "O", "countryName": "C"}
    parts = [f"{short.get(k, k)}={v}" for rdn in rdns or () for k, v in rdn]
    return ", ".join(parts)


_contexts: dict[str | None, Any] = {}
_contexts_lock = threading.Lock()


def _tls_context(ca_file: str | None) -> Any:
    """One verifying context per CA file, shared: loading the system store costs ~10 ms CPU."""
    import ssl

    with _contexts_lock:
        if ca_file not in _contexts:
            _contexts[ca_file] = ssl.create_default_context(cafile=ca_file)
        return _contexts[ca_file]


def reset_tls_contexts() -> None:
    """Forget cached TLS contexts, so a changed CA file is read again on the next round."""
    with _contexts_lock:
        _contexts.clear()


#: The status line is all the probe reads; a server sending more than this before it is broken.
_MAX_STATUS_LINE = 8192


def _request(host: str, port: int, path: str) -> bytes:
    """The GET request: HTTP/1.1 with Host (RFC 9112 3.2), closed after the response."""
    name = host.encode("idna").decode("ascii")
    if ":" in name:
        name = f"[{name}]"  # an IPv6 literal
    if port != 443:
        name = f"{name}:{port}"
    head = (
        f"GET {path} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: govguard-agent\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii")  # a non-ASCII path raises UnicodeEncodeError: invalid URL


def _left(end: float) -> float:
    """Seconds to ``end`` (a time.monotonic() value); TimeoutError once it has passed."""
    left = end - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def _read_status(sock: Any, end: float = float("inf")) -> int:
    """The status code of the response's status line (``HTTP/1.1 200 OK``).

    Each recv gets only the time left until ``end``: a server trickling one byte at a time
    would otherwise restart a per-recv timeout again and again.
    """
    buf = b""
    while b"\r\n" not in buf:
        if end != float("inf"):
            sock.settimeout(_left(end))
        chunk = sock.recv(1024)
        if not chunk:
            raise ConnectionError("connection closed before an HTTP status line")
        buf += chunk
        if len(buf) > _MAX_STATUS_LINE:
            raise ValueError("no HTTP status line in the first 8 KiB")
    parts = buf.split(b"\r\n", 1)[0].split(b" ", 2)
    # status-code = 3DIGIT (RFC 9112 section 4)
    code = parts[1] if len(parts) >= 2 else b""
    if not parts[0].startswith(b"HTTP/") or len(code) != 3 or not code.isdigit():
        raise ValueError("the server did not answer with an HTTP status line")
    return int(parts[1])


def probe_https(spec: HttpsSpec, servers: Sequence[str]) -> HttpsResult:
    """GET the URL: status, latency, TLS version and the certificate, verified.

    The request is written by hand rather than with http.client: the probe needs only the status
    line, and http.client imports the email package (~10 ms of the agent's CPU budget).
    """
    # Imported here: ssl costs ~13 ms of CPU, paid only when a target exists.
    import ssl

    end = time.monotonic() + spec.timeout  # one budget for resolve, connect, TLS and reading
    base: dict[str, Any] = {"name": spec.name, "url": spec.url, "role": spec.role}
    try:
        host, port, path = _split_url(spec.url)
        request = _request(host, port, path)
    except (ValueError, UnicodeError):
        return HttpsResult(**base, ok=False, error="invalid URL")
    try:
        addresses = resolve(host, servers, spec.timeout)
    except OSError as exc:
        return HttpsResult(**base, ok=False, error=_reason(exc))
    base["address"] = addresses[0]
    try:
        ctx = _tls_context(spec.ca_file)
    except (OSError, ssl.SSLError) as exc:
        return HttpsResult(**base, ok=False, error=f"cannot load ca_file: {_reason(exc)}")
    t0 = time.perf_counter()
    raw = None
    try:
        # Connect to the addresses we resolved ourselves; TLS still checks the URL's host name.
        raw, base["address"] = connect_any(addresses, port, _left(end))
        raw.settimeout(_left(end))  # the handshake: do_handshake() runs inside wrap_socket
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            cert = tls.getpeercert()
            tls_version = tls.version()
            tls.settimeout(_left(end))
            tls.sendall(request)
            status = _read_status(tls, end)
        latency = _ms(t0)
    except ssl.SSLCertVerificationError as exc:
        return HttpsResult(
            **base,
            ok=False,
            cert_verified=False,
            verify_error=exc.verify_message or _reason(exc),
            error="certificate verification failed",
        )
    except (OSError, ValueError, OverflowError) as exc:
        return HttpsResult(**base, ok=False, error=_reason(exc))
    finally:
        if raw is not None:
            raw.close()  # wrap_socket detaches it on success; on a failed handshake it is ours
    not_after: datetime | None = None
    days_left: float | None = None
    if cert and cert.get("notAfter"):
        expiry = ssl.cert_time_to_seconds(cert["notAfter"])
        not_after = datetime.fromtimestamp(expiry, tz=UTC)
        days_left = round((expiry - time.time()) / 86400, 2)
    expected = status in spec.ok_statuses if spec.ok_statuses else 200 <= status < 400
    return HttpsResult(
        **base,
        ok=expected,
        status=status,
        latency_ms=latency,
        tls_version=tls_version,
        cert_verified=True,
        cert_subject=_name(cert.get("subject")) if cert else None,
        cert_issuer=_name(cert.get("issuer")) if cert else None,
        cert_not_after=not_after,
        cert_days_left=days_left,
        error=None if expected else f"unexpected HTTP status {status}",
    )
