"""Ed25519 keys of an agent: generate, store, sign and verify envelopes.

The only module that imports ``cryptography`` on the agent side, and only the commands that
sign (enroll, run, export) import it, so ``govguard-agent once`` does not pay its start-up.
The controller verifies with the same functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agent.envelope import Envelope, EnvelopeError, b64url, b64url_decode, signing_bytes
from agent.errors import AgentError

PUBLIC_KEY_BYTES = 32


class KeyFileError(AgentError):
    """The agent's private key file is missing, unreadable or not an Ed25519 key."""


def generate() -> Ed25519PrivateKey:
    """A new Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def public_raw(key: Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of the public half of ``key``."""
    return key.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )


def key_id(public: bytes) -> str:
    """Short stable name of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, env: Envelope) -> Envelope:
    """Return ``env`` with its signature filled in."""
    unsigned = Envelope(
        agent_id=env.agent_id,
        key_id=env.key_id,
        seq=env.seq,
        report_id=env.report_id,
        time=env.time,
        kind=env.kind,
        digest=env.digest,
    )
    signature = key.sign(signing_bytes(unsigned))
    return Envelope(
        agent_id=env.agent_id,
        key_id=env.key_id,
        seq=env.seq,
        report_id=env.report_id,
        time=env.time,
        kind=env.kind,
        digest=env.digest,
        signature=b64url(signature),
    )


def verify(public: bytes, env: Envelope) -> bool:
    """True when ``env.signature`` is a valid signature of ``env`` by ``public``."""
    if len(public) != PUBLIC_KEY_BYTES:
        return False
    try:
        signature = b64url_decode(env.signature)
        Ed25519PublicKey.from_public_bytes(public).verify(signature, signing_bytes(env))
    except (InvalidSignature, EnvelopeError, ValueError):
        return False
    return True


def save_private(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` as PKCS#8 PEM, readable by the owner only, replacing ``path`` atomically.

    The file is created with mode 0600 before any key byte is written, so there is no moment
    when another local user could read it. (On Windows the mode bits mean little; the state
    directory's ACL is what protects the key there.)
    """
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def load_private(path: Path) -> Ed25519PrivateKey:
    """Read the agent's private key; raises :class:`KeyFileError` with a clear message."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: the agent's private key is missing; enroll again") from exc
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the private key: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return key
