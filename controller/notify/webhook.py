"""Webhooks: a JSON POST signed with HMAC-SHA256 over the timestamp and the body.

Headers ``X-Govguard-Timestamp: <unix seconds>`` and ``X-Govguard-Signature:
sha256=<hex HMAC of "<timestamp>." + body>``. A receiver recomputes the HMAC with the shared key
(:func:`verify` shows how) and refuses old timestamps, so a captured request cannot be replayed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ssl
import time

import httpx

from controller.notify.content import DeliveryError

TIMESTAMP_HEADER = "X-Govguard-Timestamp"
SIGNATURE_HEADER = "X-Govguard-Signature"
DELIVERY_HEADER = "X-Govguard-Delivery"
#: How old a timestamp :func:`verify` accepts by default, in seconds.
MAX_AGE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Govguard-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    signature: str,
    body: bytes,
    *,
    now: float | None = None,
    max_age_s: int = MAX_AGE_S,
) -> bool:
    """What a receiver does: True when the signature matches and the timestamp is recent."""
    if not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


@functools.lru_cache(maxsize=8)
def _client(ca_file: str | None) -> httpx.Client:
    # One client per CA file for the process: building one (its TLS context) cost ~60 ms per
    # webhook call, and it keeps connections to receivers open between calls. The system's
    # trust store, like the mail path, unless ca_file names a private CA.
    context = ssl.create_default_context(cafile=ca_file)
    return httpx.Client(verify=context, follow_redirects=False)


def post(
    url: str,
    secret: str,
    body: bytes,
    *,
    delivery: str,
    timeout_s: float,
    ca_file: str | None = None,
) -> None:
    """POST ``body`` to ``url``; :class:`DeliveryError` unless the answer is 2xx.

    3xx and 4xx answers other than 429 are permanent (the receiver refuses this request as it
    is); 429, 5xx, timeouts and connection failures are worth another try.
    """
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "govguard-notify",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        # Lets a receiver drop a retry of a request it did process (its answer was lost).
        DELIVERY_HEADER: delivery,
    }
    try:
        client = _client(ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"webhook ca_file {ca_file}: cannot load: {exc}") from exc
    try:
        response = client.post(url, content=body, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"webhook timed out after {timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook unreachable: {exc}") from exc
    code = response.status_code
    if 200 <= code < 300:
        return
    reason = f"webhook answered HTTP {code}"
    if 300 <= code < 400:
        # Redirects are not followed (the body is signed for this URL): fix the URL instead.
        where = response.headers.get("Location", "?")
        raise DeliveryError(f"{reason}, redirecting to {where}: configure that URL", permanent=True)
    permanent = 400 <= code < 500 and code != 429
    raise DeliveryError(reason, permanent=permanent)
