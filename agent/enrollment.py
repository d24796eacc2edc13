"""Enrollment: join this computer to a controller with a one-time token.

1. Parse the token (``gg1.<id>.<secret>.<CA fingerprint>``).
2. Download the controller's CA over an unverified connection and accept it only if its
   SHA-256 equals the token's fingerprint (kubeadm's discovery hash). A mismatch stops here:
   nothing, not even the token, has been sent.
3. Generate an Ed25519 key and write it (0600) and the CA to the state directory under
   temporary names (``agent.key.new``, ``ca.pem.new``), *before* the request, so a key the
   controller accepts is never lost. ``enroll.new`` records which controller and token the
   staged key is for (the token's SHA-256, never the token).
4. POST the token, the public key and the hardware identity over a connection verified against
   the pinned CA and the host name.
5. On 201/202 keep what is left of a previous identity as ``<name>.bak-<UTC time>`` (the
   outbox checkpointed first, :func:`agent.outbox.prepare_backup`), move the staged files into
   place and write ``identity.json`` last (its presence is what "enrolled" means).

When the answer is lost (no answer, a 5xx, a 2xx that cannot be read) the controller may have
registered the key. The staged files are then **kept**, and the next ``enroll`` with the same
controller URL and token sends the same key again: the controller answers such a repeat with
the same agent (docs/protocol.md). A new key instead would look like "this computer again, with
another key" and wait for an administrator's approval. Only a definite refusal (4xx) removes
the staged files.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import msgspec

from agent import __version__
from agent.envelope import utc_stamp
from agent.errors import AgentError, FactUnavailable
from agent.outbox import prepare_backup
from agent.state import (
    AgentState,
    backup_state,
    ensure_state_dir,
    save_key,
    save_state,
    state_paths,
    write_atomic,
)
from agent.token import TokenFormatError, parse_token
from agent.transport import Reply, Transport, fetch_ca_unverified, parse_controller_url
from agent.wire import ENROLL_PATH, AgentSettings, EnrollReply, EnrollRequest

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agent.report import Identity

log = logging.getLogger(__name__)

_STAGED = ".new"
#: Which controller URL and token the staged key was sent to (see the module docstring).
STAGED_FOR_FILE = "enroll.new"

#: One line for each refusal the controller may answer (wire protocol, section 1).
REFUSALS: dict[str, str] = {
    "token_unknown": "the controller does not know this enrollment token (wrong controller, "
    "or the token was mistyped); ask for a new token",
    "token_expired": "the enrollment token has expired; ask for a new token "
    "(`govguard tokens create`)",
    "token_used": "the enrollment token has already been used as many times as it allows; "
    "ask for a new token",
    "token_revoked": "the enrollment token was revoked by an administrator; ask for a new token",
    "token_invalid": "the controller could not read the enrollment token; copy it again "
    "from `govguard tokens create`",
    "key_exists": "the controller already has this agent's public key registered",
}


class EnrollmentError(AgentError):
    """Enrollment did not happen; the message says why in one line."""


class Enrollment(NamedTuple):
    """What :func:`enroll_computer` did."""

    state: AgentState
    #: The previous identity's files, renamed ``<name>.bak-<UTC time>``.
    backups: list[Path]
    #: The previous outbox's backup, if there was an outbox.
    old_outbox: Path | None
    #: Reports that were still queued in it (``None``: it could not be read).
    unsent: int | None
    #: True when the key staged by an earlier attempt whose answer was lost was sent again.
    reused_key: bool


class _StagedFor(msgspec.Struct):
    controller_url: str
    token_sha256: str
    key_id: str


def enroll(
    controller_url: str,
    token_text: str,
    state_dir: Path,
    *,
    identity: Identity | None = None,
    timeout_s: float = 30.0,
    force: bool = False,
) -> AgentState:
    """Enroll this computer with the controller at ``controller_url``; returns the saved state.

    :func:`enroll_computer` without the details of what was kept.
    """
    return enroll_computer(
        controller_url, token_text, state_dir, identity=identity, timeout_s=timeout_s, force=force
    ).state


def enroll_computer(
    controller_url: str,
    token_text: str,
    state_dir: Path,
    *,
    identity: Identity | None = None,
    timeout_s: float = 30.0,
    force: bool = False,
) -> Enrollment:
    """Enroll this computer with the controller at ``controller_url``.

    ``identity`` is collected with the identity collector when ``None``. An existing identity
    is kept unless ``force``; then, once the controller has accepted the new key, the old
    files (outbox included: its reports are signed as the old agent and are not sent) are
    renamed ``<name>.bak-<UTC time>``. Raises :class:`EnrollmentError` (or another
    :class:`agent.errors.AgentError`) with a one-line message; the identity is then unchanged.
    """
    try:
        token = parse_token(token_text)
    except TokenFormatError as exc:
        raise EnrollmentError(str(exc)) from exc
    token_text = token_text.strip()
    address = parse_controller_url(controller_url)
    paths = state_paths(state_dir)
    existing = [p for p in (paths.identity, paths.key) if p.exists()]
    if existing and not force:
        raise EnrollmentError(
            f"this computer is already enrolled ({existing[0]} exists); "
            "use --force to enroll again (the old files are kept as *.bak-<time>)"
        )
    if identity is None:
        identity = collect_identity()

    ca_pem = _fetch_pinned_ca(address.url, token.ca_fingerprint, timeout_s)

    from agent import keys  # cryptography only for the commands that sign

    staged_ca = _staged(paths.ca)
    staged_key = _staged(paths.key)
    staged_for = state_dir / STAGED_FOR_FILE
    ensure_state_dir(state_dir)
    key = _staged_key(staged_key, staged_for, address.url, token_text)
    reused = key is not None
    if key is None:
        key = keys.generate()
        save_key(staged_key, key)
        # After the key: a marker never names a key that is not on disk.
        marker = _StagedFor(address.url, _sha256(token_text), keys.key_id(keys.public_raw(key)))
        write_atomic(staged_for, msgspec.json.encode(marker) + b"\n", mode=0o600)
    else:
        log.info("sending again the key staged by an enrollment whose answer was lost")
    public = keys.public_raw(key)
    write_atomic(staged_ca, ca_pem, mode=0o644)
    request = EnrollRequest(
        token=token_text,
        public_key=base64.b64encode(public).decode("ascii"),
        hostname=identity.hostname,
        machine_id=identity.machine_id,
        system_uuid=identity.system_uuid,
        system_serial=identity.system_serial,
        macs=list(identity.macs),
        os=os_name(),
        agent_version=__version__,
    )
    # Any failure from here on but a refusal keeps the staged files: the request may have
    # reached the controller, which then knows this key (see the module docstring).
    with Transport(
        address.url, staged_ca, timeout_s=timeout_s, server_hostname=address.host
    ) as transport:
        reply = transport.post_json(ENROLL_PATH, msgspec.json.encode(request))
    try:
        accepted = _accepted(reply, expected_key_id=keys.key_id(public))
    except EnrollmentError:
        if 400 <= reply.status < 500:  # refused: the controller did not register this key
            _discard(staged_key, staged_ca, staged_for)
        raise
    old_outbox: Path | None = None
    unsent = prepare_backup(paths.outbox)
    backups = backup_state(state_dir)
    for backup in backups:
        if backup.name.startswith(paths.outbox.name + ".bak-") and not backup.name.endswith(
            ("-wal", "-shm")
        ):
            old_outbox = backup
    if backups:
        log.info("kept the previous identity as %s", ", ".join(map(str, backups)))
    staged_key.replace(paths.key)
    staged_ca.replace(paths.ca)
    state = AgentState(
        controller_url=address.url,
        server_hostname=address.host,
        agent_id=accepted.agent_id,
        key_id=accepted.key_id,
        status=accepted.status,
        enrolled_at=utc_stamp(datetime.now(UTC)),
    )
    save_state(state_dir, state)
    with contextlib.suppress(OSError):
        staged_for.unlink()
    if accepted.settings is not None:
        _save_settings(paths.settings, accepted.settings)
    log.info("enrolled as agent %s (%s) with %s", state.agent_id, state.status, address.url)
    return Enrollment(state, backups, old_outbox, unsent if old_outbox else None, reused)


def collect_identity() -> Identity:
    """This computer's identity section, from the same collector ``govguard-agent once`` uses."""
    from agent.collectors.identity import IdentityCollector
    from agent.config import AgentConfig

    try:
        return IdentityCollector(AgentConfig()).collect()
    except (OSError, FactUnavailable) as exc:
        raise EnrollmentError(f"cannot determine this computer's identity: {exc}") from exc


def ca_fingerprint(cert_der: bytes) -> str:
    """The token's form of a CA fingerprint: SHA-256 of the certificate's DER, lower hex."""
    return hashlib.sha256(cert_der).hexdigest()


def _fetch_pinned_ca(controller_url: str, fingerprint: str, timeout_s: float) -> bytes:
    """Download the CA and return it as PEM only if it is the one the token names."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    data = fetch_ca_unverified(controller_url, timeout_s=timeout_s)
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise EnrollmentError(
            f"{controller_url} did not send a CA certificate; nothing was sent to it"
        ) from exc
    der = cert.public_bytes(Encoding.DER)
    if not hashlib.sha256(der).hexdigest() == fingerprint:
        raise EnrollmentError(
            "the controller's CA does not match the token (wrong controller URL, or someone is "
            "intercepting the connection); nothing was sent"
        )
    # Re-encode the one certificate that was checked: anything else in the download (a second
    # certificate appended by an interceptor) must not end up trusted.
    return cert.public_bytes(Encoding.PEM)


def _accepted(reply: Reply, *, expected_key_id: str) -> EnrollReply:
    """The controller's acceptance, or :class:`EnrollmentError` with its refusal in one line."""
    if reply.status in (201, 202):
        try:
            accepted = msgspec.convert(reply.data, EnrollReply)
        except msgspec.ValidationError as exc:
            raise EnrollmentError(f"the controller's answer was not understood: {exc}") from exc
        if accepted.key_id != expected_key_id:
            raise EnrollmentError(
                "the controller registered a different key id than this agent's key; "
                "report this to the administrator"
            )
        if accepted.status != ("active" if reply.status == 201 else "pending"):
            raise EnrollmentError(
                f"the controller answered HTTP {reply.status} with status {accepted.status!r}"
            )
        return accepted
    code = reply.data.get("error")
    message = reply.data.get("message")
    detail = message if isinstance(message, str) and message else f"HTTP {reply.status}"
    if isinstance(code, str) and code in REFUSALS:
        raise EnrollmentError(f"enrollment refused: {REFUSALS[code]}")
    if reply.status == 422:
        raise EnrollmentError(f"the controller rejected the enrollment request: {detail}")
    if reply.status == 409:
        raise EnrollmentError(f"enrollment refused: {REFUSALS['key_exists']} ({detail})")
    if reply.status == 401:
        raise EnrollmentError(f"enrollment refused: {detail}")
    raise EnrollmentError(f"the controller could not enroll this computer: {detail}")


def _save_settings(path: Path, settings: AgentSettings) -> None:
    """Keep the controller's first settings; the daemon would fetch them again anyway."""
    try:
        write_atomic(path, msgspec.json.encode(settings), mode=0o600)
    except AgentError as exc:
        log.warning("could not save the controller's settings: %s", exc)


def _staged(path: Path) -> Path:
    return path.with_name(path.name + _STAGED)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _staged_key(
    key_path: Path, marker_path: Path, controller_url: str, token_text: str
) -> Ed25519PrivateKey | None:
    """The key an earlier attempt staged for this controller and token, if there is one."""
    from agent import keys

    try:
        marker = msgspec.json.decode(marker_path.read_bytes(), type=_StagedFor)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError) as exc:
        log.warning("%s: ignoring an unreadable enrollment marker: %s", marker_path, exc)
        return None
    if marker.controller_url != controller_url or marker.token_sha256 != _sha256(token_text):
        # Another controller or token: the earlier key may be registered there, but this
        # enrollment is a different one.
        log.info("a key staged for another controller or token is replaced")
        return None
    try:
        key = keys.load_private(key_path)
    except AgentError as exc:
        log.warning("cannot reuse the staged key: %s", exc)
        return None
    if keys.key_id(keys.public_raw(key)) != marker.key_id:
        log.warning("%s is not the key %s names; a new key is made", key_path, marker_path)
        return None
    return key


def _discard(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def os_name() -> str:
    """The OS family this agent runs on, as the controller records it (``linux``, ``windows``)."""
    from agent import platform

    return platform.NAME
