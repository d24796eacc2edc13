"""Signed report bundles: how an offline (classified) computer's report leaves the room.

``govguard-agent export --to DIR`` collects a full report without any network probe, signs it
exactly as the online path does (:mod:`agent.envelope`) and writes one file
``govguard-<agent>-<seq>.ggb`` into DIR (a USB stick). The file is an uncompressed POSIX (ustar)
tar holding, in this order::

    manifest.json           {"format", "agent_id", "key_id", "seq", "prev_digest",
                             "created_at", "files": [{"name", "size", "sha256"}]}
    manifest.sig            "govguard-bundle-v1\\n<key_id>\\n<base64url Ed25519 signature>\\n"
    reports/<seq>.env       the GG-Envelope header value of the report
    reports/<seq>.json.gz   the report body, gzip as sent online

``manifest.sig`` names the key, so the controller can check the signature over the exact bytes
of ``manifest.json`` before it parses them (docs/bundles.md). Bundle numbers start at 1; the
number taken is saved in the state directory *before* the file is written, so a crash never
makes two different bundles with one number. ``prev_digest`` (the SHA-256 of the previous bundle
file) chains the bundles, so a missing one shows.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec

from agent.envelope import Envelope, b64url, body_digest, new_report_id, to_header, utc_stamp
from agent.errors import AgentError
from agent.state import BUNDLES_FILE, load_key, load_state, write_atomic

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from agent.report import Report
    from agent.state import AgentState

FORMAT = "govguard-bundle-v1"
SUFFIX = ".ggb"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
# Domain separation: a manifest signature can never pass for an envelope signature.
SIGNING_PREFIX = b"govguard-bundle-manifest-v1\n"


class BundleError(AgentError):
    """The bundle could not be made; the message says why in one line."""


class FileEntry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One member of the bundle besides the manifest and its signature."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    size: Annotated[int, msgspec.Meta(ge=0)]
    sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]


class Manifest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a bundle holds, signed by the agent."""

    format: str
    agent_id: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")]
    key_id: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")]
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
    #: SHA-256 (hex) of the previous bundle file; empty for the first one.
    prev_digest: Annotated[str, msgspec.Meta(pattern="^([0-9a-f]{64})?$")]
    created_at: str
    files: Annotated[list[FileEntry], msgspec.Meta(max_length=64)]


class BundleState(msgspec.Struct, kw_only=True):
    """``bundles.json``: the last bundle number taken, and the last bundle written."""

    last_seq: int = 0
    prev_seq: int = 0
    prev_digest: str = ""


@dataclass(frozen=True)
class Exported:
    """What :func:`export_bundle` wrote."""

    path: Path
    seq: int
    size: int
    digest: str
    hostname: str
    sections: list[str]
    report_bytes: int
    #: False when bundles were taken since the last one written (a crash, a lost file).
    chained: bool


def bundle_name(agent_id: str, seq: int) -> str:
    """The file name of a bundle."""
    return f"govguard-{agent_id}-{seq}{SUFFIX}"


def report_names(seq: int) -> tuple[str, str]:
    """The members of one report: envelope header text and gzip body."""
    return f"reports/{seq}.env", f"reports/{seq}.json.gz"


def signature_text(key_id: str, signature: bytes) -> bytes:
    """The content of ``manifest.sig``."""
    return f"{FORMAT}\n{key_id}\n{b64url(signature)}\n".encode("ascii")


def offline_config(config: AgentConfig) -> AgentConfig:
    """``config`` with every connectivity probe off: the export never touches a network."""
    from agent.config import DnsProbe, ProbeConfig

    probes = ProbeConfig(gateway=False, dns=DnsProbe(), https=[], tcp=[])
    return msgspec.structs.replace(config, probes=probes)


def load_bundle_state(state_dir: Path) -> BundleState:
    """``bundles.json`` of the state directory (all zero before the first export)."""
    path = state_dir / BUNDLES_FILE
    try:
        return msgspec.json.decode(path.read_bytes(), type=BundleState)
    except FileNotFoundError:
        return BundleState()
    except (OSError, msgspec.DecodeError) as exc:
        # Never start again at 1: the controller would take new bundles for replays.
        raise BundleError(
            f"{path}: cannot read the bundle counter ({exc}); fix or restore it"
        ) from exc


def _save_bundle_state(state_dir: Path, state: BundleState) -> None:
    write_atomic(state_dir / BUNDLES_FILE, msgspec.json.encode(state) + b"\n", mode=0o600)


def export_bundle(
    state_dir: Path,
    out_dir: Path,
    config: AgentConfig,
    *,
    report: Report | None = None,
    now: datetime | None = None,
) -> Exported:
    """Collect (unless ``report`` is given), sign and write the next bundle into ``out_dir``."""
    from agent import keys
    from agent.daemon import collect_fresh, gzip_body

    state = _offline_state(state_dir)
    key = load_key(state_dir)
    if not out_dir.is_dir():
        raise BundleError(f"{out_dir}: no such directory (is the USB stick mounted?)")
    counter = load_bundle_state(state_dir)
    if report is None:
        report = collect_fresh(offline_config(config))
    moment = now or datetime.now(UTC)
    seq = counter.last_seq + 1
    # Saved before anything is written: a crash after this line skips a number (the controller
    # flags a gap), it never hands out the same number twice.
    _save_bundle_state(
        state_dir,
        BundleState(last_seq=seq, prev_seq=counter.prev_seq, prev_digest=counter.prev_digest),
    )
    body = gzip_body(report)
    env = Envelope(
        agent_id=state.agent_id,
        key_id=state.key_id,
        seq=seq,
        report_id=new_report_id(),
        time=utc_stamp(moment),
        kind="full",
        digest=body_digest(body),
    )
    header = (to_header(keys.sign(key, env)) + "\n").encode("ascii")
    env_name, body_name = report_names(seq)
    members = [(env_name, header), (body_name, body)]
    manifest = Manifest(
        format=FORMAT,
        agent_id=state.agent_id,
        key_id=state.key_id,
        seq=seq,
        prev_digest=counter.prev_digest,
        created_at=utc_stamp(moment),
        files=[
            FileEntry(name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest())
            for name, data in members
        ],
    )
    manifest_bytes = msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n"
    signature = key.sign(SIGNING_PREFIX + manifest_bytes)
    data = pack([(MANIFEST, manifest_bytes), (SIGNATURE, signature_text(state.key_id, signature)),
                 *members], moment)  # fmt: skip
    path = out_dir / bundle_name(state.agent_id, seq)
    if path.exists():
        # A bundle with this number is already there: the state directory was restored from a
        # backup. Never overwrite it (it may not be imported yet); the number stays skipped.
        raise BundleError(
            f"{path} already exists (was the agent's state restored from a backup?); "
            f"number {seq} is skipped: run export again"
        )
    try:
        write_atomic(path, data, mode=0o644)
    except AgentError as exc:
        raise BundleError(f"cannot write the bundle: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    _save_bundle_state(state_dir, BundleState(last_seq=seq, prev_seq=seq, prev_digest=digest))
    sections = [c.name for c in report.collectors if getattr(report, c.name, None) is not None]
    hostname = report.identity.hostname if report.identity else "?"
    return Exported(
        path, seq, len(data), digest, hostname, sections, len(body), counter.prev_seq == seq - 1
    )


def pack(members: list[tuple[str, bytes]], moment: datetime) -> bytes:
    """An uncompressed ustar archive of regular files, owned by nobody in particular."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(moment.timestamp())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _offline_state(state_dir: Path) -> AgentState:
    from agent.daemon import NotEnrolledError

    state = load_state(state_dir)
    if state is None:
        raise NotEnrolledError(state_dir)
    if not state.offline:
        raise BundleError(
            "this computer is enrolled online; it delivers its reports itself "
            "(bundles are for computers enrolled with `enroll --offline`)"
        )
    return state
