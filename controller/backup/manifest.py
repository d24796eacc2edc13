"""The manifest of a backup archive: what it holds, from which govguard, and every checksum.

An archive (``tar.gz``) holds ``manifest.json`` first, then ``database/<file>`` (a SQLite file or
a ``pg_dump`` custom-format archive) and ``data/<path>`` for each file of the data directory.
Every member but the manifest is listed in it with its SHA-256 and size; restore accepts no
member that is not listed and no listed file that differs.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO, Literal

import msgspec

MANIFEST_NAME = "manifest.json"
FORMAT = "govguard-backup"
#: Raised when the layout changes in a way an older restore could misread.
FORMAT_VERSION = 1
DATABASE_PREFIX = "database/"
DATA_PREFIX = "data/"
#: Read and hash files in pieces of this size (a database may be gigabytes).
CHUNK = 1024 * 1024


class ManifestError(Exception):
    """The manifest is missing, unreadable or inconsistent; the message is one line."""


class FileEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One member of the archive besides the manifest."""

    #: Member name: ``database/govguard.db`` or ``data/tls/ca.key``.
    name: str
    sha256: str
    size: int
    #: Permission bits of the original file (0o600 for keys and secrets).
    mode: int


class DatabaseEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The database copy and the schema it is at."""

    backend: Literal["sqlite", "postgresql"]
    #: Member name of the copy (a SQLite file, or a ``pg_dump --format=custom`` archive).
    member: str
    #: Alembic revision of the copy.
    revision: str
    #: PostgreSQL only: the server's and ``pg_dump``'s major versions.
    server_major: int | None = None
    dump_major: int | None = None


class Manifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``manifest.json``."""

    format: str
    format_version: int
    govguard_version: str
    created_at: datetime
    #: The data directory the backup was taken from (for the operator; restore may go elsewhere).
    source_dir: str
    database: DatabaseEntry
    files: list[FileEntry]
    #: Paths of the data directory left out (relative), e.g. ``reports`` without --with-reports.
    skipped: list[str] = msgspec.field(default_factory=list)

    def entry(self, name: str) -> FileEntry | None:
        """The entry of member ``name``, if listed."""
        for item in self.files:
            if item.name == name:
                return item
        return None


def encode(manifest: Manifest) -> bytes:
    """The manifest as indented JSON (operators read it with ``tar -xOf FILE manifest.json``)."""
    return msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n"


def decode(data: bytes) -> Manifest:
    """Parse and check ``manifest.json``; raises :class:`ManifestError`."""
    try:
        manifest = msgspec.json.decode(data, type=Manifest)
    except msgspec.DecodeError as exc:
        raise ManifestError(f"manifest.json is not a govguard backup manifest: {exc}") from exc
    if manifest.format != FORMAT:
        raise ManifestError(f"manifest.json: format {manifest.format!r} is not {FORMAT!r}")
    if manifest.format_version > FORMAT_VERSION:
        raise ManifestError(
            f"the backup's format version {manifest.format_version} is newer than this govguard "
            f"reads ({FORMAT_VERSION}): restore it with govguard {manifest.govguard_version} "
            "or newer"
        )
    names = [item.name for item in manifest.files]
    if len(set(names)) != len(names):
        raise ManifestError("manifest.json lists a member twice")
    for name in names:
        member_path(name)
    if manifest.entry(manifest.database.member) is None:
        raise ManifestError("manifest.json does not list the database copy among its files")
    return manifest


def member_path(name: str) -> PurePosixPath:
    """The relative path of member ``name`` under its prefix; refuses anything that could land
    outside the restore directory (absolute paths, ``..``, unknown prefixes)."""
    path = PurePosixPath(name)
    parts = path.parts
    if (
        path.is_absolute()
        or len(parts) < 2
        or parts[0] + "/" not in (DATABASE_PREFIX, DATA_PREFIX)
        or any(part in ("", ".", "..") for part in parts)
        or "\\" in name
    ):
        raise ManifestError(f"manifest.json: unsafe member name {name!r}")
    return PurePosixPath(*parts[1:])


def copy_hashed(source: IO[bytes], target: IO[bytes] | None) -> tuple[str, int]:
    """Copy ``source`` to ``target`` (None: only read); returns the SHA-256 (hex) and the size
    of what was copied."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        if target is not None:
            target.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
