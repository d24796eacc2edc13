"""HTTPS probes: status, latency, TLS version and certificate validity of a target."""

from __future__ import annotations

import socket
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


def probe_https(spec: HttpsSpec, servers: Sequence[str]) -> HttpsResult:
    """GET the URL: status, latency, TLS version and the certificate, verified."""
    # Imported here: ssl and http.client cost ~30 ms of CPU, paid only when a target exists.
    import ssl
    from http.client import HTTPException, HTTPSConnection

    start = time.perf_counter()
    base: dict[str, Any] = {"name": spec.name, "url": spec.url, "role": spec.role}
    try:
        host, port, path = _split_url(spec.url)
    except ValueError:
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
    left = max(0.05, spec.timeout - (time.perf_counter() - start))
    conn = HTTPSConnection(host, port, timeout=left, context=ctx)

    def open_resolved(_addr: Any, timeout: float = left, source: Any = None) -> socket.socket:
        # Connect to the addresses we resolved ourselves; TLS still checks the URL's host name.
        sock, base["address"] = connect_any(addresses, port, timeout)
        return sock

    conn._create_connection = open_resolved  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    try:
        conn.connect()
        # Read the TLS facts now: http.client drops conn.sock once a "close" response arrives.
        sock: Any = conn.sock
        cert = sock.getpeercert()
        tls_version = sock.version()
        conn.request("GET", path, headers={"User-Agent": "govguard-agent", "Connection": "close"})
        response = conn.getresponse()
        latency = _ms(t0)
        status = response.status
        response.close()
    except ssl.SSLCertVerificationError as exc:
        return HttpsResult(
            **base,
            ok=False,
            cert_verified=False,
            verify_error=exc.verify_message or _reason(exc),
            error="certificate verification failed",
        )
    except (OSError, HTTPException, ValueError) as exc:
        return HttpsResult(**base, ok=False, error=_reason(exc))
    finally:
        conn.close()
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
