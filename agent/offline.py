"""Offline enrollment: a classified computer joins the controller by carried files.

Law 29/2018 Art. 5 forbids connecting a computer that holds state secrets to any network, so
it cannot enroll with a token over HTTPS. Instead (docs/bundles.md):

1. ``govguard-agent enroll --offline --out REQUEST`` stages an Ed25519 key in the state
   directory (``agent.key.new``, mode 0600, like online enrollment) and writes REQUEST: the
   public key and the hardware identity. It prints the key's fingerprint in groups.
2. An officer carries REQUEST to the controller; ``govguard agents accept-offline`` shows the
   same fingerprint, which the two officers compare aloud, registers the agent and writes a
   RESPONSE file.
3. ``govguard-agent enroll --offline --accept RESPONSE`` checks that the response names the
   staged key and stores the agent id: the computer is enrolled, offline.

The request and response structures live here so that both sides read the same format.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

import msgspec

from agent import __version__
from agent.envelope import utc_stamp
from agent.errors import AgentError
from agent.state import (
    AgentState,
    backup_state,
    ensure_state_dir,
    load_state,
    save_key,
    save_state,
    state_paths,
    write_atomic,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agent.report import Identity

REQUEST_FORMAT = "govguard-offline-request-v1"
RESPONSE_FORMAT = "govguard-offline-response-v1"
#: The staged key's marker: which key the request file carried (key id).
OFFLINE_MARKER = "enroll-offline.new"
#: Request and response files are a few hundred bytes; anything much larger is not one.
MAX_FILE_BYTES = 64 * 1024

_HEX16 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")]
_HEX64 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
_TEXT = Annotated[str, msgspec.Meta(max_length=255)]


class OfflineError(AgentError):
    """An offline enrollment step failed; the message says why in one line."""


class OfflineRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What the computer tells the controller: its public key and who it is."""

    format: str
    public_key: str  # standard base64 of the raw 32-byte Ed25519 public key
    key_id: _HEX16
    hostname: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    machine_id: _TEXT | None = None
    system_uuid: _TEXT | None = None
    system_serial: _TEXT | None = None
    macs: Annotated[list[_TEXT], msgspec.Meta(max_length=64)] = []
    os: _TEXT = ""
    agent_version: _TEXT = ""
    created_at: str


class OfflineResponse(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What the controller answers: the agent id it registered for the key."""

    format: str
    agent_id: _HEX16
    key_id: _HEX16
    #: SHA-256 of the controller CA certificate's DER, lower hex (as in enrollment tokens).
    ca_fingerprint: _HEX64
    unit: _TEXT
    created_at: str


class Staged(NamedTuple):
    """What ``enroll --offline --out`` did."""

    request: OfflineRequest
    fingerprint: str
    #: True when a key staged by an earlier ``--out`` was used again (same request).
    reused: bool


def fingerprint(public: bytes) -> str:
    """The key fingerprint officers compare aloud: 8 groups of 4 hex digits of its SHA-256."""
    digest = hashlib.sha256(public).hexdigest()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


def normal_fingerprint(text: str) -> str:
    """``text`` as a fingerprint compares: lower case, without spaces, dashes or colons."""
    return re.sub(r"[\s:-]", "", text).lower()


def read_json(path: Path, kind: type[msgspec.Struct], what: str) -> msgspec.Struct:
    """A request or response file, decoded; :class:`OfflineError` with one line otherwise."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise OfflineError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise OfflineError(f"{path}: not an offline {what} (larger than {MAX_FILE_BYTES} bytes)")
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.DecodeError as exc:
        raise OfflineError(f"{path}: not a valid offline {what}: {exc}") from exc


def stage_request(
    state_dir: Path, out: Path, *, identity: Identity | None = None, force: bool = False
) -> Staged:
    """Stage a key (or reuse the one staged before) and write the request file ``out``."""
    from agent import keys
    from agent.enrollment import collect_identity, os_name

    paths = state_paths(state_dir)
    if paths.identity.exists() and not force:
        raise OfflineError(
            f"this computer is already enrolled ({paths.identity} exists); "
            "use --force to enroll again (the old files are kept as *.bak-<time>)"
        )
    if identity is None:
        identity = collect_identity()
    ensure_state_dir(state_dir)
    staged = _staged_key_path(state_dir)
    marker = state_dir / OFFLINE_MARKER
    key = _reusable_key(staged, marker)
    reused = key is not None
    if key is None:
        key = keys.generate()
        save_key(staged, key)
        # After the key: the marker never names a key that is not on disk.
        write_atomic(marker, keys.key_id(keys.public_raw(key)).encode() + b"\n", mode=0o600)
    public = keys.public_raw(key)
    request = OfflineRequest(
        format=REQUEST_FORMAT,
        public_key=base64.b64encode(public).decode("ascii"),
        key_id=keys.key_id(public),
        hostname=identity.hostname,
        machine_id=identity.machine_id,
        system_uuid=identity.system_uuid,
        system_serial=identity.system_serial,
        macs=list(identity.macs),
        os=os_name(),
        agent_version=__version__,
        created_at=utc_stamp(datetime.now(UTC)),
    )
    data = msgspec.json.format(msgspec.json.encode(request), indent=2) + b"\n"
    try:
        write_atomic(out, data, mode=0o644)
    except AgentError as exc:
        raise OfflineError(f"cannot write the request: {exc}") from exc
    return Staged(request, fingerprint(public), reused)


def accept_response(state_dir: Path, response_path: Path, *, force: bool = False) -> AgentState:
    """Check the officer's response against the staged key and enroll this computer offline."""
    from agent import keys

    response = read_json(response_path, OfflineResponse, "response")
    assert isinstance(response, OfflineResponse)  # noqa: S101 - narrows for mypy
    if response.format != RESPONSE_FORMAT:
        raise OfflineError(f"{response_path}: unsupported response format {response.format!r}")
    paths = state_paths(state_dir)
    staged = _staged_key_path(state_dir)
    try:
        key = keys.load_private(staged)
    except AgentError as exc:
        raise OfflineError(
            "no key is waiting for a response on this computer "
            "(run `govguard-agent enroll --offline --out REQUEST` first)"
        ) from exc
    staged_id = keys.key_id(keys.public_raw(key))
    if response.key_id != staged_id:
        raise OfflineError(
            f"the response is for key {response.key_id}, this computer's staged key is "
            f"{staged_id}: it answers another computer's request (or an older one)"
        )
    current = load_state(state_dir)
    if current is not None and not force:
        raise OfflineError(f"this computer is already enrolled ({paths.identity} exists)")
    if current is not None or paths.key.exists():
        backup_state(state_dir)
    staged.replace(paths.key)
    state = AgentState(
        agent_id=response.agent_id,
        key_id=response.key_id,
        status="active",
        enrolled_at=utc_stamp(datetime.now(UTC)),
        offline=True,
        ca_fingerprint=response.ca_fingerprint,
    )
    save_state(state_dir, state)
    with contextlib.suppress(OSError):
        (state_dir / OFFLINE_MARKER).unlink()
    return state


def _staged_key_path(state_dir: Path) -> Path:
    key = state_paths(state_dir).key
    return key.with_name(key.name + ".new")


def _reusable_key(staged: Path, marker: Path) -> Ed25519PrivateKey | None:
    """The key an earlier ``--out`` staged, so a lost request file can be written again."""
    from agent import keys

    try:
        named = marker.read_text(encoding="ascii").strip()
        key = keys.load_private(staged)
    except (OSError, UnicodeDecodeError, AgentError):
        return None
    return key if keys.key_id(keys.public_raw(key)) == named else None
