"""Enrollment tokens: ``gg1.<token id>.<secret>.<CA fingerprint>``.

One string an operator copies into a file on the PC. It carries what the agent needs to trust
the controller on first contact (the SHA-256 of the controller CA's certificate, like kubeadm's
discovery hash) and what the controller needs to trust the agent (a one-time secret, of which
the controller keeps only a hash).
"""

from __future__ import annotations

import hashlib
import re
import secrets

import msgspec

PREFIX = "gg1"
_TOKEN = re.compile(r"gg1\.([0-9a-f]{8})\.([0-9a-f]{32})\.([0-9a-f]{64})")


class TokenFormatError(ValueError):
    """The text is not an enrollment token."""


class EnrollmentToken(msgspec.Struct, frozen=True, kw_only=True):
    """The three parts of an enrollment token."""

    token_id: str
    secret: str
    ca_fingerprint: str

    def __repr__(self) -> str:
        # Keep the secret out of logs and tracebacks.
        return f"EnrollmentToken(token_id={self.token_id!r}, secret=***)"


def parse_token(text: str) -> EnrollmentToken:
    """Parse a token as an operator pasted it (surrounding whitespace is ignored)."""
    match = _TOKEN.fullmatch(text.strip().lower())
    if match is None:
        raise TokenFormatError(
            "not a govguard enrollment token (expected gg1.<8 hex>.<32 hex>.<64 hex>; "
            "create one with `govguard tokens create`)"
        )
    return EnrollmentToken(
        token_id=match.group(1), secret=match.group(2), ca_fingerprint=match.group(3)
    )


def new_token(ca_fingerprint: str) -> EnrollmentToken:
    """A fresh token for the controller whose CA has ``ca_fingerprint`` (64 lower hex)."""
    if not re.fullmatch(r"[0-9a-f]{64}", ca_fingerprint):
        raise ValueError("ca_fingerprint must be 64 lower-case hex digits (SHA-256)")
    return EnrollmentToken(
        token_id=secrets.token_hex(4), secret=secrets.token_hex(16), ca_fingerprint=ca_fingerprint
    )


def format_token(token: EnrollmentToken) -> str:
    """The token's text form."""
    return f"{PREFIX}.{token.token_id}.{token.secret}.{token.ca_fingerprint}"


def secret_hash(secret: str) -> str:
    """What the controller stores instead of the secret.

    The secret is 128 random bits, so a fast hash resists guessing as well as a slow one would;
    argon2 is for the low-entropy passwords people choose.
    """
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secrets_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two secret hashes."""
    return secrets.compare_digest(a.encode("ascii"), b.encode("ascii"))
