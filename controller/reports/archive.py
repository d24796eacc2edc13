"""The report archive: generated report files kept under ``<data_dir>/reports/``.

Each file is written once, atomically, as ``<yyyy>/<mm>/<id>_<filename>`` (Vietnam calendar
month of its generation, mode 0640) and recorded in ``report_archive`` with its size and
SHA-256. Reading a file back always checks that digest: a file changed on disk is reported as
such, never served or mailed. Files are kept ``reports.archive_days`` days, then :func:`purge`
removes row and file.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from agent.state import StateError, write_atomic
from controller.reports.generate import MEDIA_TYPES, Generated
from controller.reports.period import local_day
from controller.store import report_archive as store
from controller.store.models import ReportArchive

log = logging.getLogger(__name__)

#: The archive's folder inside the data directory.
FOLDER = "reports"
FILE_MODE = 0o640
DIR_MODE = 0o750


class ArchiveError(Exception):
    """An archived file cannot be written or read back as recorded (one clear line)."""


class ArchiveMissingError(ArchiveError):
    """The file of an archive row is gone from the data directory."""


class ArchiveIntegrityError(ArchiveError):
    """The file's content no longer matches the SHA-256 recorded when it was archived."""


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    """An archived file read back and verified: what a download or an e-mail attaches."""

    archive_id: int
    filename: str
    media_type: str
    content: bytes
    sha256: str


@dataclass(frozen=True, slots=True)
class Purged:
    """What a purge removed: archive rows, and files found on disk for them."""

    rows: int
    files: int


def root(data_dir: Path) -> Path:
    """``<data_dir>/reports``: where archived files live."""
    return data_dir / FOLDER


def save(
    s: Session,
    data_dir: Path,
    generated: Generated,
    *,
    generated_by: str,
    schedule_id: int | None = None,
) -> ReportArchive:
    """Write ``generated`` into the archive and add its row in the caller's transaction.

    The file is complete on disk before this returns (written to a temporary name, synced, then
    renamed). Should the caller's transaction roll back, the file stays behind without a row;
    it is never served, since every read goes through a row.
    """
    row = store.add(
        s,
        ReportArchive(
            report=generated.report,
            unit_id=generated.unit_id,
            period=generated.period.label,
            format=generated.format,
            language=generated.language,
            generated_at=generated.generated_at,
            generated_by=generated_by,
            schedule_id=schedule_id,
            path="",
            size_bytes=len(generated.content),
            sha256=generated.sha256,
        ),
    )
    day = local_day(generated.generated_at)
    relative = f"{day:%Y}/{day:%m}/{row.id}_{generated.filename}"
    target = root(data_dir) / relative
    _write_atomically(target, generated.content)
    row.path = relative
    s.flush()
    return row


def _write_atomically(target: Path, content: bytes) -> None:
    try:
        _make_folders(target.parent)
        # A temporary file in the same folder, synced, then renamed (the rename synced too).
        write_atomic(target, content, FILE_MODE)
        # The umask must not narrow what the service account's group may read.
        target.chmod(FILE_MODE)
    except StateError as exc:
        raise ArchiveError(str(exc)) from exc
    except OSError as exc:
        raise ArchiveError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _make_folders(folder: Path) -> None:
    # Path.mkdir(parents=True) gives the folders above the last one the umask's mode; each
    # level is made here, readable by the service account's group only.
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it meanwhile
            continue
        path.chmod(DIR_MODE)


def file_path(data_dir: Path, row: ReportArchive) -> Path:
    """Where the file of ``row`` lies; :class:`ArchiveError` for a path leaving the archive."""
    base = root(data_dir).resolve()
    path = (base / row.path).resolve()
    if not row.path or not path.is_relative_to(base):
        raise ArchiveError(f"report archive {row.id}: stored path {row.path!r} is not valid")
    return path


def download_name(row: ReportArchive) -> str:
    """The file name a download or an attachment gets (without the ``<id>_`` prefix)."""
    name = row.path.rsplit("/", 1)[-1]
    prefix = f"{row.id}_"
    return name[len(prefix) :] if name.startswith(prefix) else name


def read_verified(data_dir: Path, row: ReportArchive) -> ArchivedFile:
    """The file of ``row``, checked against its recorded size and SHA-256.

    :class:`ArchiveMissingError` when the file is gone, :class:`ArchiveIntegrityError` when its
    content changed: a changed report is never handed out as if it were the archived one.
    """
    path = file_path(data_dir, row)
    try:
        content = path.read_bytes()
    except FileNotFoundError as exc:
        raise ArchiveMissingError(f"report archive {row.id}: file {row.path} is missing") from exc
    except OSError as exc:
        raise ArchiveError(
            f"report archive {row.id}: cannot read {row.path}: {exc.strerror or exc}"
        ) from exc
    digest = hashlib.sha256(content).hexdigest()
    if digest != row.sha256 or len(content) != row.size_bytes:
        log.error(
            "report archive %s: %s changed on disk (sha256 %s, recorded %s)",
            row.id,
            row.path,
            digest,
            row.sha256,
        )
        raise ArchiveIntegrityError(
            f"report archive {row.id}: file {row.path} changed since it was archived "
            f"(sha256 {digest[:16]}…, recorded {row.sha256[:16]}…); not served"
        )
    return ArchivedFile(
        archive_id=row.id,
        filename=download_name(row),
        media_type=MEDIA_TYPES.get(row.format, "application/octet-stream"),
        content=content,
        sha256=digest,
    )


def purge(s: Session, data_dir: Path, *, before: datetime) -> Purged:
    """Remove rows generated before ``before`` (``reports.archive_days`` ago), and their files.

    Rows go first (in the caller's transaction), then the files: a transaction that fails
    after the files are gone leaves rows the next purge removes, never a served file without
    its row.
    """
    rows = store.older_than(s, before)
    paths: list[Path] = []
    for row in rows:
        try:
            paths.append(file_path(data_dir, row))
        except ArchiveError as exc:
            log.warning("%s", exc)
    removed_rows = store.delete_rows(s, [row.id for row in rows])
    s.flush()
    removed_files = 0
    for path in paths:
        try:
            path.unlink()
            removed_files += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove archived report %s: %s", path, exc.strerror or exc)
        _remove_empty_parents(path.parent, root(data_dir))
    return Purged(rows=removed_rows, files=removed_files)


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    # Month and year folders emptied by a purge go too; rmdir refuses non-empty ones.
    base = stop.resolve()
    current = folder
    while current != base and current.is_relative_to(base):
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
