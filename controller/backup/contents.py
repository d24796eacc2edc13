"""Which files of a data directory a backup holds, and which configured paths it cannot.

Everything in the data directory is kept (config.yaml, tls/ with the CA key, secrets/, ssh/,
policies/, the metrics token, files an operator put there and names in config.yaml), except:

- the SQLite database and its ``-wal``/``-shm`` files: copied through the online backup API;
- ``remediation/runs``: Ansible's private run folders, rebuilt for every run (their events are
  in the database);
- ``bundles/uploads``: bundles being uploaded through the dashboard, moments old;
- ``reports``: the archive of generated reports, which can be large; kept with
  ``--with-reports`` (without it, the archive's rows stay in the database and downloading an
  old report says the file is missing);
- sockets, pipes and symbolic links (reported as skipped).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from controller.settings import Settings
from controller.store.sqlite_copy import SIDE_SUFFIXES

#: Folders of the data directory a backup leaves out (relative, POSIX).
RUN_FOLDERS = ("remediation/runs", "bundles/uploads")
REPORTS_FOLDER = "reports"


@dataclass
class Selection:
    """The files to copy (relative path → absolute path) and what was left out, and why."""

    files: dict[PurePosixPath, Path] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    #: Files config.yaml names outside the data directory (not in the backup: say so).
    outside: list[Path] = field(default_factory=list)


def select(settings: Settings, *, sqlite_file: Path | None, with_reports: bool) -> Selection:
    """The data directory's files for a backup; ``sqlite_file`` is the database when it is
    SQLite (wherever it lies: its file and side files are never copied as files)."""
    root = settings.data_dir.resolve()
    skip_dirs = {PurePosixPath(name) for name in RUN_FOLDERS}
    if not with_reports:
        skip_dirs.add(PurePosixPath(REPORTS_FOLDER))
    excluded: set[Path] = set()
    if sqlite_file is not None:
        database = sqlite_file.resolve()
        excluded |= {database, *(database.with_name(database.name + s) for s in SIDE_SUFFIXES)}
    chosen = Selection()
    for relative, path in _walk(root):
        if any(relative == folder or folder in relative.parents for folder in skip_dirs):
            top = next(
                folder for folder in skip_dirs if relative == folder or folder in relative.parents
            )
            if str(top) not in chosen.skipped:
                chosen.skipped.append(str(top))
            continue
        if path in excluded:
            continue
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            chosen.skipped.append(f"{relative} (not a regular file)")
            continue
        chosen.files[relative] = path
    chosen.outside = [path for path in configured_files(settings) if not _inside(path, root)]
    return chosen


def _walk(root: Path) -> Iterator[tuple[PurePosixPath, Path]]:
    """Every entry under ``root`` (directories too), sorted, without following links."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        base = Path(folder)
        for name in sorted([*dirs, *files]):
            path = base / name
            yield PurePosixPath(path.relative_to(root).as_posix()), path


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def configured_files(settings: Settings) -> list[Path]:
    """Files and folders config.yaml points at by absolute path (relative ones are inside)."""
    found: list[Path | None] = [
        settings.ssh.key_file,
        settings.ssh.known_hosts,
        settings.remediation.key_file,
        settings.remediation.known_hosts,
        settings.remediation.playbooks_dir,
        settings.snmp.profiles_dir,
        settings.metrics.token_file,
    ]
    named: list[str | None] = []
    if settings.notify.smtp is not None:
        named += [settings.notify.smtp.password_file, settings.notify.smtp.ca_file]
    for hook in settings.notify.webhooks:
        named += [hook.secret_file, hook.ca_file]
    found += [Path(name) for name in named if name]
    return [path for path in found if path is not None and path.is_absolute()]
