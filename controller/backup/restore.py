"""``govguard restore``: a backup archive back into a data directory and its database.

Nothing is written where the controller looks until everything checked out: the archive is
unpacked into a private folder beside the target (each member hashed against the manifest),
the database is put back and migrated, and only then is the folder renamed into place. A
target that was not empty is kept aside as ``<target>.before-restore-<time>``, never deleted.
On PostgreSQL, ``pg_restore`` runs in one transaction: it changes all or nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from controller.backup.manifest import (
    DATA_PREFIX,
    MANIFEST_NAME,
    Manifest,
    ManifestError,
    copy_hashed,
    decode,
    member_path,
)
from controller.settings import CONFIG_FILE, DB_FILE, SettingsError, load_settings
from controller.store import db, pg_dump, sqlite_copy

#: The manifest is small; anything bigger is not ours.
_MAX_MANIFEST_BYTES = 16 * 1024 * 1024
_DATABASE_LINE = re.compile(r"^database_url:.*$", re.MULTILINE)

Progress = Callable[[str], None]


class RestoreError(Exception):
    """The backup cannot be restored; nothing was changed. The message is one line."""


@dataclass(frozen=True)
class RestoreDone:
    """What :func:`restore_backup` did."""

    target: Path
    database_url: str
    manifest: Manifest
    #: The schema after restore (newer than the backup's when it was upgraded).
    revision: str
    #: Where the previous content of ``target`` was moved, if it had any.
    previous: Path | None
    #: Where a SQLite file outside ``target`` that the restore replaced was moved.
    previous_database: Path | None = None


def restore_backup(
    archive: Path,
    target: Path,
    *,
    replace: bool = False,
    database_url: str | None = None,
    pg_bindir: Path | None = None,
    progress: Progress = lambda _line: None,
) -> RestoreDone:
    """Restore ``archive`` into the data directory ``target``.

    ``replace`` allows a target (directory or database) that is not empty. ``database_url``
    restores the database there instead of where the backup's config.yaml points, and writes it
    into the restored config.yaml.
    """
    target = target.absolute()
    if not archive.is_file():
        raise RestoreError(f"{archive}: no such file")
    if target.exists() and not target.is_dir():
        raise RestoreError(f"{target}: exists and is not a directory")
    occupied = target.is_dir() and any(target.iterdir())
    if occupied and not replace:
        raise RestoreError(
            f"{target}: not empty; restore replaces it only with --yes (its content is then "
            f"kept as {target.name}.before-restore-<time>)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore-", dir=target.parent))
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore-db-", dir=target.parent))
    try:
        manifest = _unpack(archive, staging, work, progress)
        url = _database_target(manifest, staging, database_url)
        revision, previous_database = _restore_database(
            manifest, work, staging, url, replace=replace, pg_bindir=pg_bindir, progress=progress
        )
        previous = _swap(staging, target, occupied)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            where = f"{exc.filename}: " if exc.filename else ""
            raise RestoreError(f"{where}cannot restore: {exc.strerror or exc}") from exc
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    final_url = db.sqlite_url(target / DB_FILE) if url is None else url
    return RestoreDone(target, final_url, manifest, revision, previous, previous_database)


# -- the archive ---------------------------------------------------------------------------


@contextlib.contextmanager
def _open(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        tar = tarfile.open(archive, mode="r:gz")  # noqa: SIM115 - closed in the finally below
    except FileNotFoundError as exc:
        raise RestoreError(f"{archive}: no such file") from exc
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise RestoreError(f"{archive}: not a govguard backup (not a tar.gz archive)") from exc
    try:
        yield tar
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise RestoreError(f"{archive}: the archive is damaged ({exc})") from exc
    finally:
        tar.close()


def _first_manifest(archive: Path, tar: tarfile.TarFile) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST_NAME or not first.isfile():
        raise RestoreError(f"{archive}: not a govguard backup (no manifest.json first)")
    if first.size > _MAX_MANIFEST_BYTES:
        raise RestoreError(f"{archive}: manifest.json is too large to be a govguard manifest")
    handle = tar.extractfile(first)
    try:
        return decode(handle.read() if handle is not None else b"")
    except ManifestError as exc:
        raise RestoreError(f"{archive}: {exc}") from exc


def _unpack(archive: Path, staging: Path, work: Path, progress: Progress) -> Manifest:
    """Unpack data files into ``staging`` and the database copy into ``work``, checking every
    member against the manifest; returns the manifest."""
    progress(f"checking {archive}")
    with _open(archive) as tar:
        manifest = _first_manifest(archive, tar)
        seen: set[str] = set()
        # next(), not iteration: iterating starts again from the manifest.
        while (member := tar.next()) is not None:
            entry = manifest.entry(member.name)
            if entry is None or member.name in seen:
                raise RestoreError(
                    f"{archive}: member {member.name!r} is not in the manifest (altered archive)"
                )
            if not member.isfile():
                raise RestoreError(f"{archive}: member {member.name!r} is not a regular file")
            seen.add(member.name)
            relative = member_path(member.name)
            base = staging if member.name.startswith(DATA_PREFIX) else work
            dest = base.joinpath(*relative.parts)
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            source = tar.extractfile(member)
            if source is None:  # isfile() members always have a reader
                raise RestoreError(f"{archive}: member {member.name!r} cannot be read")
            digest, size = _write_new(dest, source, entry.mode & 0o777)
            if digest != entry.sha256 or size != entry.size:
                raise RestoreError(
                    f"{archive}: checksum mismatch for {member.name}: the backup is damaged "
                    "or was altered"
                )
        missing = sorted({item.name for item in manifest.files} - seen)
        if missing:
            raise RestoreError(f"{archive}: {missing[0]} is missing (truncated archive?)")
    progress(f"{len(manifest.files)} files match their checksums")
    return manifest


def _write_new(dest: Path, source: IO[bytes], mode: int) -> tuple[str, int]:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        result = copy_hashed(source, handle)
        handle.flush()
        os.fsync(handle.fileno())
    dest.chmod(mode)  # the umask may have narrowed it
    return result


# -- the database --------------------------------------------------------------------------


def _database_target(manifest: Manifest, staging: Path, given: str | None) -> str | None:
    """Where the database goes: None for the SQLite file inside the data directory, else a URL.

    A ``given`` URL replaces the one in the restored config.yaml.
    """
    config = staging / CONFIG_FILE
    if given is not None:
        _check_backend(manifest, given)
        text = config.read_text(encoding="utf-8")
        line = f"database_url: {_json_string(given)}"
        new, count = _DATABASE_LINE.subn(lambda _m: line, text, count=1)
        if count == 0:
            new = f"{text.rstrip()}\n{line}\n"
        config.write_text(new, encoding="utf-8")
    try:
        settings = load_settings(staging)
    except SettingsError as exc:
        raise RestoreError(f"the backup's config.yaml is not valid: {exc}") from exc
    url = settings.database_url
    if url == db.sqlite_url(staging / DB_FILE):
        return None
    _check_backend(manifest, url)
    return url


def _check_backend(manifest: Manifest, url: str) -> None:
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError as exc:
        raise RestoreError(f"database URL {url!r} is not valid: {exc}") from exc
    if backend != manifest.database.backend:
        raise RestoreError(
            f"the backup holds a {manifest.database.backend} database; it cannot be restored "
            f"into {backend} (use a {manifest.database.backend} database URL)"
        )


def _json_string(text: str) -> str:
    # JSON strings are YAML flow scalars: a quoted URL cannot break the document.
    return json.dumps(text, ensure_ascii=False)


def _restore_database(
    manifest: Manifest,
    work: Path,
    staging: Path,
    url: str | None,
    *,
    replace: bool,
    pg_bindir: Path | None,
    progress: Progress,
) -> tuple[str, Path | None]:
    """Put the database copy in place and migrate it; returns the schema revision reached and
    where a replaced SQLite file outside the data directory was moved."""
    _check_known(manifest.database.revision, manifest)
    copy = work.joinpath(*member_path(manifest.database.member).parts)
    if manifest.database.backend == "sqlite":
        destination = staging / DB_FILE if url is None else _sqlite_file(url)
        return _restore_sqlite(
            manifest, copy, destination, staging, replace=replace, progress=progress
        )
    if url is None:  # _database_target refuses a SQLite file for a PostgreSQL backup
        raise RestoreError("a PostgreSQL backup needs a PostgreSQL database_url")
    # The restored .pgpass, as the service account will use it (root's home has none).
    with pg_dump.passfile(staging):
        revision = _restore_postgres(
            manifest, copy, url, replace=replace, pg_bindir=pg_bindir, progress=progress
        )
    return revision, None


def _check_known(revision: str | None, manifest: Manifest) -> None:
    if revision is None:
        raise RestoreError("the backup's database has no govguard schema")
    if not db.is_known_revision(revision):
        raise RestoreError(
            f"the backup's database has schema {revision}, newer than this govguard knows "
            f"(newest: {db.head_revision()}); install govguard {manifest.govguard_version} or "
            "newer, then restore"
        )


def _sqlite_file(url: str) -> Path:
    name = make_url(url).database
    if not name or name == ":memory:":
        raise RestoreError(f"database URL {url!r} is not a SQLite file")
    return Path(name)


def _restore_sqlite(
    manifest: Manifest,
    copy: Path,
    destination: Path,
    staging: Path,
    *,
    replace: bool,
    progress: Progress,
) -> tuple[str, Path | None]:
    found = sqlite_copy.problems(copy)
    if found:
        raise RestoreError(f"the backup's database fails its integrity check: {found[0]}")
    revision = _upgrade(db.sqlite_url(copy), manifest, progress)
    inside = destination.parent == staging
    if not inside:
        if destination.exists() and not replace:
            raise RestoreError(
                f"{destination}: a database is there; restore replaces it only with --yes"
            )
        destination.parent.mkdir(parents=True, exist_ok=True)
        progress(f"writing the database {destination}")
        staged = destination.with_name(f".{destination.name}.restore")
        shutil.copyfile(copy, staged)
        staged.chmod(0o600)
        previous = _aside(destination) if destination.exists() else None
        for suffix in ("", *sqlite_copy.SIDE_SUFFIXES):
            # Its -wal file goes along: left beside the restored file, it would be replayed
            # into it.
            side = destination.with_name(destination.name + suffix)
            if previous is not None and side.exists():
                side.rename(previous.with_name(previous.name + suffix))
            side.unlink(missing_ok=True)
        staged.replace(destination)
        return revision, previous
    shutil.move(copy, destination)
    return revision, None


def _restore_postgres(
    manifest: Manifest,
    copy: Path,
    url: str,
    *,
    replace: bool,
    pg_bindir: Path | None,
    progress: Progress,
) -> str:
    try:
        if pg_dump.has_tables(url) and not replace:
            raise RestoreError(
                f"the database {_shown(url)} is not empty; restore replaces it only with --yes"
            )
        major = pg_dump.server_major(url)
        tool = pg_dump.find_tool("pg_restore", major, pg_bindir)
        pg_dump.check_major(
            "pg_restore", tool.major, manifest.database.dump_major or 0, "a dump of pg_dump"
        )
        progress(f"restoring the PostgreSQL database {_shown(url)} with {tool.path}")
        pg_dump.restore(tool, url, copy)
    except pg_dump.PgToolError as exc:
        raise RestoreError(str(exc)) from exc
    return _upgrade(url, manifest, progress)


def _upgrade(url: str, manifest: Manifest, progress: Progress) -> str:
    """Migrate an older schema to this govguard's, as ``govguard serve`` would."""
    engine = db.make_engine(url)
    try:
        before = db.current_revision(engine)
        # The copy itself, not only the manifest, must be at a schema this code knows.
        _check_known(before, manifest)
        if before != db.head_revision():
            progress(f"upgrading the database schema from {before} to {db.head_revision()}")
            db.upgrade(engine)
        revision = db.current_revision(engine)
    except SQLAlchemyError as exc:
        raise RestoreError(f"database error on {_shown(url)}: {db.error_line(exc)}") from exc
    finally:
        engine.dispose()
    if revision is None:
        raise RestoreError(f"the database {_shown(url)} has no schema after the restore")
    return revision


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# -- the directory -------------------------------------------------------------------------


def _swap(staging: Path, target: Path, occupied: bool) -> Path | None:
    """Rename ``staging`` to ``target``; a target with content is moved aside first."""
    staging.chmod(0o700)
    previous: Path | None = None
    owner = target.stat() if target.exists() else None
    if occupied:
        previous = _aside(target)
        target.rename(previous)
    elif target.exists():
        target.rmdir()
    try:
        staging.rename(target)
    except OSError:
        if previous is not None:
            previous.rename(target)
        raise
    if owner is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
        # Restored by root for a service account: give the files back to the directory's owner.
        _chown_tree(target, owner.st_uid, owner.st_gid)
    return previous


def _aside(path: Path) -> Path:
    """A free ``<path>.before-restore-<UTC time>`` name where ``path``'s old content goes."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.before-restore-{stamp}")
    number = 1
    while aside.exists():  # two restores within a second
        number += 1
        aside = path.with_name(f"{path.name}.before-restore-{stamp}-{number}")
    return aside


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.chown(Path(folder) / name, uid, gid, follow_symlinks=False)
