"""Read a bundle file's members into memory, refusing anything but small regular files.

Nothing is extracted to disk: a hostile tar cannot write outside a directory, replace a file
through a link or fill the disk. The names allowed are the manifest, its signature and the
report files a bundle can hold (:mod:`agent.bundle`); whether each report file is listed in the
manifest is checked after the signature (:mod:`controller.bundles.verify`).
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agent.bundle import MANIFEST, SIGNATURE

#: A bundle holds one report of about 10-100 KB; 20 MB leaves room for years of growth.
DEFAULT_MAX_FILE_BYTES: Final = 20 * 1024 * 1024
#: manifest.json and manifest.sig are a few hundred bytes.
MAX_MANIFEST_BYTES: Final = 64 * 1024
MAX_MEMBERS: Final = 64
_REPORT_MEMBER = re.compile(r"reports/[1-9][0-9]{0,18}\.(?:env|json\.gz)")


class BundleRefused(Exception):  # noqa: N818 - "refused" is what the officer is told
    """The bundle is not imported; ``str()`` is the one-line reason shown and quarantined."""


@dataclass(frozen=True)
class BundleLimits:
    """What a bundle may cost: the file, each report body and its decompressed JSON."""

    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_body_bytes: int = 1024 * 1024
    max_decompressed_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class Members:
    """The bundle's members by name, and the file's own bytes (for its digest)."""

    files: dict[str, bytes]
    raw: bytes


def allowed_name(name: str) -> bool:
    """True for the only member names a bundle may have (no directory, link or path trick)."""
    return name in (MANIFEST, SIGNATURE) or _REPORT_MEMBER.fullmatch(name) is not None


def read_bundle(path: Path, limits: BundleLimits) -> Members:
    """The members of the bundle at ``path``; :class:`BundleRefused` with the reason otherwise."""
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise BundleRefused(
                f"the file is {size} bytes, more than the {limits.max_file_bytes} a bundle may be"
            )
        with path.open("rb") as handle:
            raw = handle.read(limits.max_file_bytes + 1)
    except OSError as exc:
        raise BundleRefused(f"cannot read the file: {exc.strerror or exc}") from exc
    if len(raw) > limits.max_file_bytes:  # it grew while being read
        raise BundleRefused(f"the file is more than the {limits.max_file_bytes} bytes allowed")
    # Parsed from the bytes read, not the file again: what is checked is what is digested.
    return Members(_members(raw, limits), raw)


def _members(raw: bytes, limits: BundleLimits) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    try:
        # "r:" reads plain tar only: a compressed archive would be a decompression bomb.
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise BundleRefused(f"more than {MAX_MEMBERS} members")
                name = member.name
                shown = name[:80]
                # Plain files only: isreg() would also let GNU sparse files through.
                if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
                    raise BundleRefused(f"member {shown!r} is not a regular file")
                if not allowed_name(name):
                    raise BundleRefused(f"member name {shown!r} is not allowed in a bundle")
                if name in files:
                    raise BundleRefused(f"member {shown!r} appears twice")
                cap = MAX_MANIFEST_BYTES if name in (MANIFEST, SIGNATURE) else _member_cap(limits)
                if member.size > cap:
                    raise BundleRefused(f"member {shown!r} is larger than {cap} bytes")
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - isreg() members always have data
                    raise BundleRefused(f"member {shown!r} has no data")
                data = handle.read(member.size + 1)
                if len(data) != member.size:
                    raise BundleRefused(f"member {shown!r} is truncated")
                files[name] = data
    except tarfile.TarError as exc:
        raise BundleRefused(f"not a bundle (not a plain tar archive: {exc})") from exc
    except (OSError, EOFError) as exc:
        raise BundleRefused(f"not a bundle (unreadable archive: {exc})") from exc
    for required in (MANIFEST, SIGNATURE):
        if required not in files:
            raise BundleRefused(f"not a bundle: {required} is missing")
    return files


def _member_cap(limits: BundleLimits) -> int:
    # A report's envelope line is ~220 bytes; its body is bounded like an online report's.
    return max(limits.max_body_bytes, MAX_MANIFEST_BYTES)
