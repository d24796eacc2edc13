"""Enrollment: join this computer to a controller with a one-time token.

1. Parse the token (``gg1.<id>.<secret>.<CA fingerprint>``).
2. Download the controller's CA over an unverified connection and accept it only if its
   SHA-256 equals the token's fingerprint (kubeadm's discovery hash). A mismatch stops here:
   nothing, not even the token, has been sent.
3. Generate an Ed25519 key and write it (0600) and the CA to the state directory under
   temporary names, *before* the request, so a key the controller accepts is never lost.
4. POST the token, the public key and the hardware identity over a connection verified against
   the pinned CA and the host name.
5. On 201/202 move the files into place and write ``identity.json`` last (its presence is what
   "enrolled" means); on any refusal remove the temporary files.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from agent import __version__
from agent.envelope import utc_stamp
from agent.errors import AgentError, FactUnavailable
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
    from agent.report import Identity

log = logging.getLogger(__name__)

_STAGED = ".new"

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

    ``identity`` is collected with the identity collector when ``None``. An existing identity
    is kept unless ``force`` (then the old files are renamed ``*.bak`` once the controller has
    accepted the new key). Raises :class:`EnrollmentError` (or another
    :class:`agent.errors.AgentError`) with a one-line message; the state is then unchanged.
    """
    try:
        token = parse_token(token_text)
    except TokenFormatError as exc:
        raise EnrollmentError(str(exc)) from exc
    address = parse_controller_url(controller_url)
    paths = state_paths(state_dir)
    existing = [p for p in (paths.identity, paths.key) if p.exists()]
    if existing and not force:
        raise EnrollmentError(
            f"this computer is already enrolled ({existing[0]} exists); "
            "use --force to enroll again (the old files are kept as *.bak)"
        )
    if identity is None:
        identity = collect_identity()

    ca_pem = _fetch_pinned_ca(address.url, token.ca_fingerprint, timeout_s)

    from agent import keys  # cryptography only for the commands that sign

    key = keys.generate()
    public = keys.public_raw(key)
    staged_ca = _staged(paths.ca)
    staged_key = _staged(paths.key)
    ensure_state_dir(state_dir)
    try:
        write_atomic(staged_ca, ca_pem, mode=0o644)
        save_key(staged_key, key)
        request = EnrollRequest(
            token=token_text.strip(),
            public_key=base64.b64encode(public).decode("ascii"),
            hostname=identity.hostname,
            machine_id=identity.machine_id,
            system_uuid=identity.system_uuid,
            system_serial=identity.system_serial,
            macs=list(identity.macs),
            os=_os_name(),
            agent_version=__version__,
        )
        with Transport(
            address.url, staged_ca, timeout_s=timeout_s, server_hostname=address.host
        ) as transport:
            reply = transport.post_json(ENROLL_PATH, msgspec.json.encode(request))
        accepted = _accepted(reply, expected_key_id=keys.key_id(public))
        if force:
            backups = backup_state(state_dir)
            if backups:
                log.info("kept the previous identity as %s", ", ".join(map(str, backups)))
        staged_key.replace(paths.key)
        staged_ca.replace(paths.ca)
    except BaseException:
        for path in (staged_key, staged_ca):
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    state = AgentState(
        controller_url=address.url,
        server_hostname=address.host,
        agent_id=accepted.agent_id,
        key_id=accepted.key_id,
        status=accepted.status,
        enrolled_at=utc_stamp(datetime.now(UTC)),
    )
    save_state(state_dir, state)
    if accepted.settings is not None:
        _save_settings(paths.settings, accepted.settings)
    log.info("enrolled as agent %s (%s) with %s", state.agent_id, state.status, address.url)
    return state


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


def _os_name() -> str:
    from agent import platform

    return platform.NAME
