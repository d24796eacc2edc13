"""``govguard backup``: one ``tar.gz`` (mode 0600) with the database, the data directory's files
and a manifest of checksums, safe to take while the controller runs.

The database and every file are first copied into a private staging folder beside the output
(hashed while copied), and the archive is made from those copies: a file that changes while the
archive is written cannot disagree with its checksum. The archive is written under a temporary
name and renamed when complete, so an interrupted backup never leaves a file that looks whole.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from agent import __version__
from controller.backup import contents
from controller.backup.manifest import (
    DATA_PREFIX,
    DATABASE_PREFIX,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    DatabaseEntry,
    FileEntry,
    Manifest,
    copy_hashed,
    encode,
)
from controller.settings import Settings
from controller.store import db, pg_dump, sqlite_copy

ARCHIVE_MODE = 0o600
SQLITE_MEMBER = DATABASE_PREFIX + "govguard.db"
PG_MEMBER = DATABASE_PREFIX + "govguard.pgdump"

Progress = Callable[[str], None]


class BackupError(Exception):
    """The backup cannot be made; the message is one line."""


@dataclass(frozen=True)
class BackupDone:
    """What :func:`create_backup` wrote."""

    path: Path
    size: int
    manifest: Manifest
    #: Files config.yaml names outside the data directory: not in the backup.
    outside: list[Path] = field(default_factory=list)


def default_name(at: datetime) -> str:
    """``govguard-backup-20261129T183000Z.tar.gz``."""
    return f"govguard-backup-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar.gz"


def create_backup(
    settings: Settings,
    out: Path,
    *,
    with_reports: bool = False,
    pg_bindir: Path | None = None,
    progress: Progress = lambda _line: None,
) -> BackupDone:
    """Write a backup of ``settings``' data directory and database to the new file ``out``."""
    out = out.absolute()
    if out.exists():
        raise BackupError(f"{out}: already exists (backups are never overwritten)")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent}: no such directory")
    data_dir = settings.data_dir.resolve()
    if out.parent.resolve() == data_dir or data_dir in out.parent.resolve().parents:
        raise BackupError(
            f"{out}: inside the data directory; write backups elsewhere (each one would be "
            "copied into the next, and lost with the directory)"
        )
    created_at = datetime.now(UTC)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".govguard-backup-", dir=out.parent))
    except OSError as exc:
        raise BackupError(f"{out.parent}: cannot write: {exc.strerror or exc}") from exc
    try:
        database, entries = _stage_database(settings, staging, pg_bindir, progress)
        sqlite_file = _sqlite_path(settings.database_url)
        chosen = contents.select(settings, sqlite_file=sqlite_file, with_reports=with_reports)
        progress(f"copying {len(chosen.files)} files of {settings.data_dir}")
        for relative, path in chosen.files.items():
            entries.append(_stage_file(path, staging, DATA_PREFIX + relative.as_posix()))
        manifest = Manifest(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            govguard_version=__version__,
            created_at=created_at,
            source_dir=str(settings.data_dir),
            database=database,
            files=entries,
            skipped=chosen.skipped,
        )
        progress(f"writing {out}")
        _write_archive(out, staging, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupDone(out, out.stat().st_size, manifest, chosen.outside)


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError(f"database_url {url!r} is not a SQLite file")
    return Path(parsed.database)


def _stage_database(
    settings: Settings, staging: Path, pg_bindir: Path | None, progress: Progress
) -> tuple[DatabaseEntry, list[FileEntry]]:
    url = settings.database_url
    sqlite_file = _sqlite_path(url)
    if sqlite_file is not None:
        progress(f"copying the SQLite database {sqlite_file} (online backup)")
        target = staging / SQLITE_MEMBER
        target.parent.mkdir()
        try:
            sqlite_copy.copy_database(sqlite_file, target)
        except sqlite_copy.SqliteCopyError as exc:
            raise BackupError(str(exc)) from exc
        revision = _revision(db.sqlite_url(target))
        entry = DatabaseEntry(backend="sqlite", member=SQLITE_MEMBER, revision=revision)
        return entry, [_entry(target, SQLITE_MEMBER, 0o600)]
    with pg_dump.passfile(settings.data_dir):
        try:
            major = pg_dump.server_major(url)
            tool = pg_dump.find_tool("pg_dump", major, pg_bindir)
            revision = _revision(url)
            progress(f"dumping the PostgreSQL {major} database with {tool.path}")
            target = staging / PG_MEMBER
            target.parent.mkdir()
            pg_dump.dump(tool, url, target)
        except pg_dump.PgToolError as exc:
            raise BackupError(str(exc)) from exc
        if _revision(url) != revision:
            # A newer govguard migrated the database while pg_dump read it.
            raise BackupError("the database schema changed during the backup; run it again")
    entry = DatabaseEntry(
        backend="postgresql",
        member=PG_MEMBER,
        revision=revision,
        server_major=major,
        dump_major=tool.major,
    )
    return entry, [_entry(target, PG_MEMBER, 0o600)]


def _revision(url: str) -> str:
    engine = db.make_engine(url)
    try:
        revision = db.current_revision(engine)
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read the schema revision: {db.error_line(exc)}") from exc
    finally:
        engine.dispose()
    if revision is None:
        raise BackupError("the database has no govguard schema (was `govguard init` run?)")
    return revision


def _entry(path: Path, name: str, mode: int) -> FileEntry:
    with path.open("rb") as handle:
        digest, size = copy_hashed(handle, None)
    return FileEntry(name=name, sha256=digest, size=size, mode=mode)


def _stage_file(source: Path, staging: Path, name: str) -> FileEntry:
    target = staging / name
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        mode = source.stat().st_mode & 0o777
        with source.open("rb") as src, target.open("xb") as dst:
            digest, size = copy_hashed(src, dst)
    except OSError as exc:
        raise BackupError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    return FileEntry(name=name, sha256=digest, size=size, mode=mode)


def _write_archive(out: Path, staging: Path, manifest: Manifest) -> None:
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, ARCHIVE_MODE)
    except OSError as exc:
        raise BackupError(f"{out}: cannot write: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            with tarfile.open(fileobj=handle, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
                _add_bytes(tar, MANIFEST_NAME, encode(manifest), manifest.created_at)
                for item in manifest.files:
                    info = tar.gettarinfo(str(staging / item.name), arcname=item.name)
                    info.mode = item.mode
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with (staging / item.name).open("rb") as member:
                        tar.addfile(info, member)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(out)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise BackupError(f"{out}: cannot write: {exc.strerror or exc}") from exc
        raise


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, at: datetime) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(at.timestamp())
    tar.addfile(info, io.BytesIO(data))
