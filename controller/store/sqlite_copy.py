"""A consistent copy of a live SQLite database, and the checks a copy must pass.

The copy goes through SQLite's online backup API, not a file copy: the controller keeps writing
(WAL mode, reports committed every few milliseconds), and copying ``govguard.db`` while its
``-wal`` file holds recent commits would give a database that misses them or is torn.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from controller.store.db import SQLITE_BUSY_TIMEOUT_MS

#: Files SQLite keeps beside a database while it is open (WAL mode) or in a transaction.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


class SqliteCopyError(Exception):
    """The database cannot be copied or the copy fails its checks; the message is one line."""


def copy_database(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` into the new file ``target``, while others write.

    The whole database is copied in one backup step (``pages=-1``), that is inside one read
    transaction: in WAL mode that snapshot does not stop the controller's writers, and it cannot
    be restarted by them, which a copy in several steps is each time another connection writes
    (under continuous ingest it might never finish). The copy is then switched to a rollback
    journal, so it is one self-contained file, and checked (:func:`problems`).
    """
    if not source.is_file():
        raise SqliteCopyError(f"{source}: the SQLite database does not exist")
    if target.exists():
        raise SqliteCopyError(f"{target}: already exists")
    try:
        with (
            contextlib.closing(
                sqlite3.connect(source, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
            ) as src,
            contextlib.closing(sqlite3.connect(target)) as dst,
        ):
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise SqliteCopyError(f"{source}: cannot copy the database: {exc}") from exc
    found = problems(target)
    if found:
        raise SqliteCopyError(f"{source}: the copy fails its integrity check: {found[0]}")


def problems(path: Path, *, limit: int = 20) -> list[str]:
    """What is wrong with the SQLite file ``path``: ``PRAGMA integrity_check`` and
    ``foreign_key_check`` findings, at most ``limit``; empty when it is sound."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            found = [
                str(row[0])
                for row in db.execute(f"PRAGMA integrity_check({int(limit)})")
                if row[0] != "ok"
            ]
            for table, rowid, parent, _fk in db.execute("PRAGMA foreign_key_check"):
                found.append(f"{table} row {rowid} refers to a missing {parent} row")
                if len(found) >= limit:
                    break
    except sqlite3.Error as exc:
        return [f"not a readable SQLite database: {exc}"]
    return found[:limit]
