"""The signed envelope every report travels in, online (HTTP header) and offline (bundles).

The signature covers who sent the report (agent id and key id), its place in the agent's
sequence, its id, the time the agent queued it, its kind and the SHA-256 of the compressed body
exactly as sent. The controller can therefore check the signature before it decompresses or
parses a single byte of the body, and a retry of the same queued report is byte-for-byte the
same envelope, which is what makes ``(agent, seq)`` idempotent.

Online the envelope is one compact header (commune links are slow; every byte of a 5-minute
heartbeat counts)::

    GG-Envelope: v1;<agent_id>;<key_id>;<seq>;<report_id>;<time>;<kind>;<digest>;<signature>
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from datetime import UTC, datetime

import msgspec

HEADER = "GG-Envelope"
VERSION = "v1"
KINDS = ("full", "heartbeat")

# Domain separation: a signature over an envelope can never be mistaken for one over anything
# else the same key might sign later (bundles, enrollment proofs).
_SIGNING_PREFIX = b"govguard-envelope-v1\n"

_AGENT_ID = re.compile(r"[0-9a-f]{16}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
# Agents make 22 base64url characters (128 random bits, :func:`new_report_id`); up to 32 are
# accepted so that ids made as 32 hex digits (a UUID, as in tests and older queues) still pass.
_REPORT_ID = re.compile(r"[A-Za-z0-9_-]{16,32}")
_SEQ = re.compile(r"[1-9][0-9]{0,18}")
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_DIGEST_LEN = 43  # base64url of 32 bytes without padding
_SIGNATURE_LEN = 86  # base64url of 64 bytes without padding
_MAX_SEQ = 2**63 - 1  # stored in a signed 64-bit column


class EnvelopeError(ValueError):
    """The envelope header is missing, malformed or carries an impossible value."""


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """Who sent a report, which one it is, and the signature binding both to the body."""

    agent_id: str
    key_id: str
    seq: int
    report_id: str
    time: str
    kind: str
    digest: str
    signature: str = ""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 4648 section 5), as used in the envelope."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url`; raises :class:`EnvelopeError` on bad input."""
    if not _B64URL.fullmatch(text):
        raise EnvelopeError("not base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise EnvelopeError("not base64url text") from exc


def new_report_id() -> str:
    """A fresh random report id: 128 bits as 22 base64url characters.

    Ten characters shorter than a hex UUID, on every report's envelope (2.9 KB a day at one
    heartbeat every 5 minutes).
    """
    return b64url(os.urandom(16))


def body_digest(body: bytes) -> str:
    """The envelope's digest of a (compressed) body: base64url SHA-256."""
    return b64url(hashlib.sha256(body).digest())


def utc_stamp(moment: datetime) -> str:
    """RFC 3339 UTC with whole seconds, the only time format the envelope accepts."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC time")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime:
    """Parse a :func:`utc_stamp` string; raises :class:`EnvelopeError`."""
    if not _STAMP.fullmatch(text):
        raise EnvelopeError(f"time {text[:40]!r} is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)")
    try:
        # fromisoformat after the regex: about 1 µs where strptime takes 20 (the controller
        # parses every report's time). Python 3.11 reads the trailing "Z" as UTC.
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise EnvelopeError(f"time {text!r} is not a real date") from exc


def signing_bytes(env: Envelope) -> bytes:
    """The exact bytes the agent signs and the controller verifies."""
    fields = (VERSION, env.agent_id, env.key_id, str(env.seq), env.report_id, env.time)
    text = "\n".join((*fields, env.kind, env.digest))
    return _SIGNING_PREFIX + text.encode("ascii")


def to_header(env: Envelope) -> str:
    """The value of the ``GG-Envelope`` header."""
    if not env.signature:
        raise ValueError("envelope is not signed")
    return ";".join(
        (
            VERSION,
            env.agent_id,
            env.key_id,
            str(env.seq),
            env.report_id,
            env.time,
            env.kind,
            env.digest,
            env.signature,
        )
    )


def from_header(text: str) -> Envelope:
    """Parse and check the shape of a ``GG-Envelope`` header value.

    Only the form is checked here; whether the signature is right is the verifier's job.
    """
    if len(text) > 512:
        raise EnvelopeError("envelope header is too long")
    parts = text.strip().split(";")
    if len(parts) != 9:
        raise EnvelopeError(f"envelope must have 9 fields separated by ';', got {len(parts)}")
    version, agent_id, key_id, seq_text, report_id, stamp, kind, digest, signature = parts
    if version != VERSION:
        raise EnvelopeError(f"unsupported envelope version {version[:10]!r} (expected {VERSION})")
    _expect(_AGENT_ID, agent_id, "agent id", "16 lower-case hex digits")
    _expect(_KEY_ID, key_id, "key id", "16 lower-case hex digits")
    # ASCII digits only: str.isdigit() also accepts "²" and other Unicode digits, which int()
    # then refuses with a plain ValueError.
    if not _SEQ.fullmatch(seq_text) or int(seq_text) > _MAX_SEQ:
        raise EnvelopeError(f"sequence number {seq_text[:24]!r} is not a positive integer")
    _expect(_REPORT_ID, report_id, "report id", "16 to 32 base64url characters")
    parse_stamp(stamp)
    if kind not in KINDS:
        raise EnvelopeError(f"kind {kind[:20]!r} is not one of {', '.join(KINDS)}")
    if len(digest) != _DIGEST_LEN or not _B64URL.fullmatch(digest):
        raise EnvelopeError("digest is not a base64url SHA-256")
    if len(signature) != _SIGNATURE_LEN or not _B64URL.fullmatch(signature):
        raise EnvelopeError("signature is not a base64url Ed25519 signature")
    return Envelope(
        agent_id=agent_id,
        key_id=key_id,
        seq=int(seq_text),
        report_id=report_id,
        time=stamp,
        kind=kind,
        digest=digest,
        signature=signature,
    )


def _expect(pattern: re.Pattern[str], value: str, name: str, shape: str) -> None:
    if not pattern.fullmatch(value):
        raise EnvelopeError(f"{name} {value[:40]!r} is not {shape}")
