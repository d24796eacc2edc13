"""``govguard backup`` and ``govguard restore`` (docs/backup.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from controller.commands.common import CliError, data_dir, now, safe_url, settings


def _progress(line: str) -> None:
    print(f"govguard: {line}", file=sys.stderr, flush=True)


def _size(count: int) -> str:
    amount = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def backup(args: argparse.Namespace) -> int:
    """Write one archive with the database, the data directory's files and a manifest."""
    from controller.backup.create import BackupError, create_backup, default_name

    current = settings(args)
    out: Path = args.out or Path(default_name(now()))
    try:
        done = create_backup(
            current,
            out,
            with_reports=args.with_reports,
            pg_bindir=args.pg_bindir,
            progress=_progress,
        )
    except BackupError as exc:
        raise CliError(str(exc)) from exc
    manifest = done.manifest
    print(
        f"backup written: {done.path} ({_size(done.size)}, mode 0600)\n"
        f"  database: {manifest.database.backend}, schema {manifest.database.revision}\n"
        f"  files: {len(manifest.files) - 1} from {current.data_dir}"
    )
    for skipped in manifest.skipped:
        print(f"  not included: {skipped}")
    for path in done.outside:
        print(f"  not included (outside the data directory, back it up yourself): {path}")
    print(
        "It holds the CA private key and every secret of the data directory: keep it as "
        "safe as the controller itself (docs/backup.md)."
    )
    return 0


def restore(args: argparse.Namespace) -> int:
    """Check a backup archive and restore it into a data directory and its database."""
    from controller.backup.restore import RestoreError, restore_backup

    target = data_dir(args)
    try:
        done = restore_backup(
            args.file,
            target,
            replace=args.yes,
            database_url=args.database_url,
            pg_bindir=args.pg_bindir,
            progress=_progress,
        )
    except RestoreError as exc:
        raise CliError(str(exc)) from exc
    manifest = done.manifest
    print(
        f"restored {args.file} (govguard {manifest.govguard_version}, "
        f"{manifest.created_at:%Y-%m-%d %H:%M:%S} UTC) into {done.target}\n"
        f"  database: {safe_url(done.database_url)}, schema {done.revision}"
        + (
            f" (upgraded from {manifest.database.revision})"
            if done.revision != manifest.database.revision
            else ""
        )
    )
    for kept in (done.previous, done.previous_database):
        if kept is not None:
            print(f"  the previous content is kept in {kept}; delete it when satisfied")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and done.target.stat().st_uid == 0:
        # A new directory restored by root: the packaged service (user govguard) cannot read it.
        print(
            f"Note: the files belong to root. If the service runs as user govguard:\n"
            f"  chown -R govguard:govguard {done.target}"
        )
    print(
        f"Check it with `govguard config check --data-dir {done.target}`, then start the service."
    )
    return 0
