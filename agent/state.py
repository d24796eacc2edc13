"""The agent's state directory: who it is, its private key and the controller CA it trusts.

Layout (``/var/lib/govguard-agent``, ``%ProgramData%\\govguard-agent`` on Windows)::

    identity.json   controller URL, TLS host name, agent id, key id, status, enrolled at
    agent.key       Ed25519 private key, PKCS#8 PEM, mode 0600
    ca.pem          the controller CA, pinned at enrollment (the only CA the agent trusts)
    outbox.sqlite   signed reports waiting to be sent (agent.outbox)
    seq-ceiling     the reserved sequence number ceiling, kept outside the outbox (agent.outbox)
    settings.json   the last settings the controller sent
    bundles.json    offline agents: last bundle number taken, previous bundle's digest

and, left for an administrator and never deleted by the agent::

    outbox.sqlite.corrupt-<UTC time>    an outbox SQLite could not read, moved aside
    <file>.bak-<UTC time>               the previous identity's files after ``enroll --force``

``identity.json`` is written last during enrollment, so its presence is what "enrolled" means: a
crash half-way leaves an agent that is simply not enrolled yet.

Permissions: the directory is created 0700 and every file is created with its final mode before
a byte is written (``os.open`` with a mode, then an atomic rename), so there is no window in
which another local user could read the key. On Windows the mode bits mean little; protecting the
directory with an ACL (SYSTEM and Administrators only) is the installer's job and out of scope
here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

import msgspec

from agent.errors import AgentError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger(__name__)

IDENTITY_FILE = "identity.json"
KEY_FILE = "agent.key"
CA_FILE = "ca.pem"
OUTBOX_FILE = "outbox.sqlite"
SETTINGS_FILE = "settings.json"
SEQ_CEILING_FILE = "seq-ceiling"
#: Offline agents: the last bundle sequence number taken and the previous bundle's digest.
BUNDLES_FILE = "bundles.json"
#: Suffix of the previous identity's files after ``enroll --force``: ``<name>.bak-<stamp>``.
BACKUP_SUFFIX = ".bak-"

_HEX16 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")]


class StateError(AgentError):
    """The state directory or one of its files cannot be read or written."""


class AgentState(msgspec.Struct, kw_only=True):
    """What ``identity.json`` holds: which controller this agent belongs to and as whom."""

    #: Empty for an offline agent (it reports by bundles, ``govguard-agent export``).
    controller_url: str = ""
    #: The name the controller's certificate must carry (checked on every connection).
    server_hostname: str = ""
    agent_id: _HEX16
    key_id: _HEX16
    #: ``active`` or ``pending`` (an administrator must approve a re-enrolled computer).
    status: str
    #: RFC 3339 UTC, when the controller accepted the enrollment.
    enrolled_at: str
    #: Enrolled by file exchange: never on a network (Law 29/2018 Art. 5), reports by bundles.
    offline: bool = False
    #: Offline agents: the controller CA's SHA-256 named in the officer's response file.
    ca_fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.offline and not (self.controller_url and self.server_hostname):
            raise ValueError("an online agent needs controller_url and server_hostname")


class StatePaths(NamedTuple):
    """The files of a state directory."""

    identity: Path
    key: Path
    ca: Path
    outbox: Path
    settings: Path
    seq_ceiling: Path


def default_state_dir() -> Path:
    """``/var/lib/govguard-agent``; ``%ProgramData%\\govguard-agent`` on Windows."""
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA") or r"C:\ProgramData") / "govguard-agent"
    return Path("/var/lib/govguard-agent")


def state_paths(state_dir: Path) -> StatePaths:
    """The paths of the state files inside ``state_dir``."""
    return StatePaths(
        identity=state_dir / IDENTITY_FILE,
        key=state_dir / KEY_FILE,
        ca=state_dir / CA_FILE,
        outbox=state_dir / OUTBOX_FILE,
        settings=state_dir / SETTINGS_FILE,
        seq_ceiling=state_dir / SEQ_CEILING_FILE,
    )


def file_stamp(moment: datetime | None = None) -> str:
    """UTC time for file names (``20261128T100502Z``): sorts by time, no ``:`` for Windows."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def ensure_state_dir(state_dir: Path) -> None:
    """Create ``state_dir`` (mode 0700) if needed; tighten it to 0700 if it is ours and open.

    The directory holds the private key, so it must not be listable by other users even for a
    moment; ``mkdir`` with a mode is subject to the umask, which can only remove bits.
    """
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix":
            info = state_dir.stat()
            if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
                log.info("tightening permissions of %s to 0700", state_dir)
                state_dir.chmod(0o700)
    except OSError as exc:
        raise StateError(
            f"{state_dir}: cannot create the agent's state directory: {exc.strerror or exc}"
        ) from exc


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically; the new file has ``mode`` from its creation.

    Written to a unique temporary file in the same directory, flushed to disk, then renamed over
    ``path``: a reader sees the old or the new content, never half of it, even after a power cut.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, mode)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
    except OSError as exc:
        raise StateError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    _sync_dir(path.parent)


def _sync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); Windows has no directory handles to flush."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_state(state_dir: Path) -> AgentState | None:
    """The agent's identity, or ``None`` when this computer is not enrolled.

    Raises :class:`StateError` when the file exists but cannot be read or is not valid.
    """
    path = state_paths(state_dir).identity
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"{path}: cannot read the agent's identity: {exc.strerror}") from exc
    try:
        return msgspec.json.decode(data, type=AgentState)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        raise StateError(
            f"{path}: the agent's identity file is corrupt ({exc}); "
            "enroll again with `govguard-agent enroll --force`"
        ) from exc


def save_state(state_dir: Path, state: AgentState) -> None:
    """Write ``identity.json`` atomically (creating the state directory if needed)."""
    ensure_state_dir(state_dir)
    data = msgspec.json.format(msgspec.json.encode(state), indent=2) + b"\n"
    write_atomic(state_paths(state_dir).identity, data, mode=0o600)


def save_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write the private key to ``path`` (0600 from creation, atomic); see agent.keys."""
    from agent import keys  # cryptography is imported only by the commands that sign

    try:
        keys.save_private(path, key)
    except OSError as exc:
        raise StateError(f"{path}: cannot write the private key: {exc.strerror or exc}") from exc
    _sync_dir(path.parent)


def load_key(state_dir: Path) -> Ed25519PrivateKey:
    """The agent's private key; :class:`agent.errors.AgentError` if it is missing or bad."""
    from agent import keys

    return keys.load_private(state_paths(state_dir).key)


def state_files(state_dir: Path) -> list[Path]:
    """Every file of the state, including SQLite's companions of the outbox."""
    paths = state_paths(state_dir)
    outbox = paths.outbox
    return [
        paths.identity,
        paths.key,
        paths.ca,
        outbox,
        outbox.with_name(outbox.name + "-wal"),
        outbox.with_name(outbox.name + "-shm"),
        paths.settings,
        paths.seq_ceiling,
        state_dir / BUNDLES_FILE,
    ]


def backup_state(state_dir: Path, stamp: str | None = None) -> list[Path]:
    """Rename every existing state file to ``<name>.bak-<stamp>``; returns the backups.

    Used by ``enroll --force``: the old identity is kept for an administrator to inspect, and
    the outbox and its sequence ceiling go with it because its reports are signed as the old
    agent (the new agent starts at sequence number 1). Each backup has its own time stamp, so
    a second ``--force`` never overwrites the first one's files. SQLite's ``-wal`` and ``-shm``
    keep their pairing (``outbox.sqlite.bak-<stamp>-wal``), so opening the backup still sees
    every report committed to it; the caller checkpoints the outbox first when it can
    (:func:`agent.outbox.prepare_backup`).
    """
    stamp = stamp or file_stamp()
    files = state_files(state_dir)
    outbox = state_paths(state_dir).outbox

    def target(path: Path, tag: str) -> Path:
        if path.parent == outbox.parent and path.name.startswith(outbox.name + "-"):
            companion = path.name[len(outbox.name) :]  # "-wal" / "-shm"
            return path.with_name(f"{outbox.name}{BACKUP_SUFFIX}{tag}{companion}")
        return path.with_name(f"{path.name}{BACKUP_SUFFIX}{tag}")

    tag, n = stamp, 1
    while any(target(p, tag).exists() for p in files):  # two --force in one second
        n += 1
        tag = f"{stamp}-{n}"
    done: list[Path] = []
    for path in files:
        backup = target(path, tag)
        try:
            path.replace(backup)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StateError(f"{path}: cannot keep a backup: {exc.strerror or exc}") from exc
        done.append(backup)
    _sync_dir(state_dir)
    return done
