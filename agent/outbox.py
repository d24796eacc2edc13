"""The agent's outbox: signed reports that wait in SQLite until the controller acknowledges them.

One file (``outbox.sqlite`` in the state directory), two tables:

* ``items``: one row per queued report: its sequence number, kind, report id, the signed
  ``GG-Envelope`` header text and the gzip body exactly as they will be sent, so that a retry is
  byte-for-byte the same request and the controller's ``(agent, seq)`` idempotency holds. Also
  the sections a heartbeat carries (re-sent when the heartbeat is dropped) and the drop
  counters the report tells (settled when it is acknowledged), attempts and the retry time.
* ``meta``: small key/value pairs: the next sequence number, drop counters, last success, last
  error, and what the daemon must remember across restarts (digests of what it last queued).

Durability: WAL journal and ``synchronous=FULL``; a report is queued once per interval (five
minutes), so an fsync per transaction costs nothing that matters. The sequence number is taken
from ``meta`` and the item stored **in the same transaction**, so a crash can lose an
uncommitted report but never hand out a sequence number twice.

Size cap and drop policy (defaults 20 MiB and 5,000 reports: 17 days of 5-minute heartbeats, or
hundreds of inventories). When a new report pushes the outbox over either limit:

1. the oldest queued heartbeats are dropped first: a newer heartbeat supersedes them;
2. only when no heartbeat but the newest report is left, the oldest full inventory is dropped.
   A full inventory is never dropped silently: it is counted, like every dropped heartbeat;
3. the report just queued is never dropped (it is the freshest state of the computer).

Reports the controller refuses as invalid (400, 413, 422) can never succeed and are dropped too
(:meth:`Outbox.reject`), counted as ``rejected``. The counts go into the ``delivery`` section of
the next report (:meth:`Outbox.delivery`) until a report carrying them is acknowledged, and are
shown by ``govguard-agent status`` (cumulative).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from agent.errors import AgentError
from agent.report.delivery import Delivery

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ITEMS = 5000
#: No retry is ever scheduled further ahead than this (backoff cap and the 401/403 pause, with
#: jitter). A retry time beyond it means the wall clock was moved back: the report is due now.
MAX_RETRY_WAIT_S = 3600.0 * 1.1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    report_id TEXT NOT NULL,
    header TEXT NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL,
    sections TEXT NOT NULL DEFAULT '',
    marks TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Cumulative counters (never reset: status shows them) and the values of those counters that
# the last acknowledged report carried (the delivery section reports the difference).
_COUNTERS = ("dropped_heartbeats", "dropped_full", "rejected")


class OutboxError(AgentError):
    """The outbox database cannot be opened or written."""


class Item(NamedTuple):
    """One queued report, as stored."""

    seq: int
    kind: str
    report_id: str
    header: str
    body: bytes
    created_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    sections: tuple[str, ...]


class Dropped(NamedTuple):
    """A report the outbox dropped to make room (or because the controller refused it)."""

    seq: int
    kind: str
    sections: tuple[str, ...]


class Stats(NamedTuple):
    """What ``govguard-agent status`` shows about the outbox."""

    queued: int
    queued_bytes: int
    queued_full: int
    dropped_heartbeats: int
    dropped_full: int
    rejected: int
    next_seq: int
    last_success_at: float | None
    last_error: str | None
    last_error_at: float | None
    next_attempt_at: float | None


#: Called inside the storing transaction with the sequence number just assigned; returns the
#: report id and the signed envelope header text.
Sealer = Callable[[int], tuple[str, str]]


class Outbox:
    """A durable FIFO of signed reports with a size cap (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> None:
        """Open (creating if needed) the outbox at ``path``."""
        self.path = path
        self.max_bytes = max_bytes
        self.max_items = max_items
        if not path.exists():
            # The queued reports are this computer's inventory: owner-only from the first byte
            # (SQLite gives its -wal and -shm files the database file's permissions).
            try:
                os.close(
                    os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
                )
            except OSError as exc:
                raise OutboxError(
                    f"{path}: cannot create the outbox: {exc.strerror or exc}"
                ) from exc
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below), so the
            # sequence counter and the item are written under one write lock.
            self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise OutboxError(f"{path}: cannot open the outbox: {exc}") from exc

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise OutboxError(f"{self.path}: cannot write the outbox: {exc}") from exc

    # -- meta -----------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        """A value of the meta table (``None`` when unset)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str | None) -> None:
        """Set (or with ``None`` delete) a value of the meta table, durably."""
        with self._write() as db:
            _set(db, key, value)

    def _int(self, key: str) -> int:
        value = self.get(key)
        return int(value) if value is not None else 0

    # -- queue ----------------------------------------------------------------------------

    def put(
        self,
        kind: str,
        body: bytes,
        seal: Sealer,
        *,
        now: float,
        sections: Sequence[str] = (),
        meta: Mapping[str, str | None] | None = None,
    ) -> tuple[int, list[Dropped]]:
        """Queue a report; returns its sequence number and the reports dropped to make room.

        ``seal(seq)`` signs the report with the sequence number assigned here (in the same
        transaction). ``sections`` names the sections the report carries (a heartbeat's changed
        sections). The report is assumed to carry the :meth:`delivery` section computed just
        before: the drop counters as they stand are stored with it, and its acknowledgement
        tells the outbox that the controller has learnt them. ``meta`` values are written in the
        same transaction (what the daemon remembers about the report it just queued).
        """
        with self._write() as db:
            mark_text = json.dumps({name: _meta_int(db, name) for name in _COUNTERS})
            seq = _meta_int(db, "next_seq") or 1
            _set(db, "next_seq", str(seq + 1))
            report_id, header = seal(seq)
            db.execute(
                "INSERT INTO items (seq, kind, report_id, header, body, size, sections, marks,"
                " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    kind,
                    report_id,
                    header,
                    body,
                    len(body) + len(header),
                    ",".join(sections),
                    mark_text,
                    now,
                    now,
                ),
            )
            for key, value in (meta or {}).items():
                _set(db, key, value)
            dropped = self._enforce_cap(db, seq)
        return seq, dropped

    def _enforce_cap(self, db: sqlite3.Connection, newest: int) -> list[Dropped]:
        dropped: list[Dropped] = []
        while True:
            count, size = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM items"
            ).fetchone()
            if count <= self.max_items and size <= self.max_bytes:
                return dropped
            victim = db.execute(
                "SELECT seq, kind, sections FROM items WHERE kind = 'heartbeat' AND seq != ?"
                " ORDER BY seq LIMIT 1",
                (newest,),
            ).fetchone()
            if victim is None:
                victim = db.execute(
                    "SELECT seq, kind, sections FROM items WHERE seq != ? ORDER BY seq LIMIT 1",
                    (newest,),
                ).fetchone()
            if victim is None:  # only the new report is left: it stays, however big
                return dropped
            seq, kind, sections = victim
            db.execute("DELETE FROM items WHERE seq = ?", (seq,))
            counter = "dropped_heartbeats" if kind == "heartbeat" else "dropped_full"
            _set(db, counter, str(_meta_int(db, counter) + 1))
            dropped.append(Dropped(seq, kind, _split(sections)))

    def next_due(self, now: float) -> Item | None:
        """The oldest queued report if it may be sent at ``now``; ``None`` otherwise.

        Strictly oldest first: when the oldest report waits for its retry time, so does
        everything queued after it (the failure was the controller's or the link's, not the
        report's).
        """
        row = self._db.execute(
            "SELECT seq, kind, report_id, header, body, created_at, attempts, next_attempt_at,"
            " last_error, sections FROM items ORDER BY seq LIMIT 1"
        ).fetchone()
        if row is None or now < row[7] <= now + MAX_RETRY_WAIT_S:
            return None
        return _item(row)

    def ack(self, seq: int, *, now: float) -> bool:
        """The controller has the report (stored or duplicate): delete it. False if not queued."""
        with self._write() as db:
            row = db.execute("SELECT marks FROM items WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM items WHERE seq = ?", (seq,))
            if row[0]:
                # The controller now knows the drop counts this report carried.
                carried = json.loads(row[0])
                for name in _COUNTERS:
                    key = f"acked_{name}"
                    _set(db, key, str(max(_meta_int(db, key), int(carried.get(name, 0)))))
            _set(db, "last_success_at", repr(now))
        return True

    def fail(self, seq: int, error: str, retry_at: float, *, now: float) -> int:
        """Record a failed attempt; the report waits until ``retry_at``. Returns the attempts."""
        with self._write() as db:
            db.execute(
                "UPDATE items SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
                " WHERE seq = ?",
                (retry_at, error, seq),
            )
            row = db.execute("SELECT attempts FROM items WHERE seq = ?", (seq,)).fetchone()
            _set(db, "last_error", error)
            _set(db, "last_error_at", repr(now))
        return int(row[0]) if row is not None else 0

    def reject(self, seq: int, error: str, *, now: float) -> Dropped | None:
        """The controller refused the report as invalid: drop it and count it."""
        with self._write() as db:
            row = db.execute("SELECT kind, sections FROM items WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM items WHERE seq = ?", (seq,))
            _set(db, "rejected", str(_meta_int(db, "rejected") + 1))
            _set(db, "last_error", error)
            _set(db, "last_error_at", repr(now))
        return Dropped(seq, str(row[0]), _split(row[1]))

    def note_error(self, error: str | None, *, now: float) -> None:
        """Record an error that is not about one report (cannot collect, cannot connect)."""
        with self._write() as db:
            _set(db, "last_error", error)
            _set(db, "last_error_at", None if error is None else repr(now))

    def delivery(self) -> Delivery | None:
        """The ``delivery`` section for the next report, or ``None`` when there is nothing to say.

        Counts are what was dropped since the drop counts carried by the last acknowledged
        report; ``queued`` is the backlog the new report will wait behind.
        """
        counts = {name: self._int(name) - self._int(f"acked_{name}") for name in _COUNTERS}
        queued = int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        if not any(counts.values()) and not queued:
            return None
        return Delivery(queued=queued, **counts)

    def items(self) -> list[Item]:
        """Every queued report, oldest first (tests and diagnostics)."""
        rows = self._db.execute(
            "SELECT seq, kind, report_id, header, body, created_at, attempts, next_attempt_at,"
            " last_error, sections FROM items ORDER BY seq"
        ).fetchall()
        return [_item(r) for r in rows]

    def stats(self) -> Stats:
        """Queue length and size, drop counters, last success and last error."""
        count, size, full = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(kind = 'full'), 0) FROM items"
        ).fetchone()
        # Strict FIFO: the oldest report's retry time is when anything can be sent next.
        head = self._db.execute("SELECT next_attempt_at FROM items ORDER BY seq LIMIT 1").fetchone()
        first_due = head[0] if head is not None else None
        success = self.get("last_success_at")
        error_at = self.get("last_error_at")
        return Stats(
            queued=int(count),
            queued_bytes=int(size),
            queued_full=int(full),
            dropped_heartbeats=self._int("dropped_heartbeats"),
            dropped_full=self._int("dropped_full"),
            rejected=self._int("rejected"),
            next_seq=self._int("next_seq") or 1,
            last_success_at=float(success) if success is not None else None,
            last_error=self.get("last_error"),
            last_error_at=float(error_at) if error_at is not None else None,
            next_attempt_at=float(first_due) if first_due is not None else None,
        )


def _item(row: tuple[Any, ...]) -> Item:
    seq, kind, report_id, header, body, created_at, attempts, next_at, error, sections = row
    return Item(
        seq=int(seq),
        kind=str(kind),
        report_id=str(report_id),
        header=str(header),
        body=bytes(body),
        created_at=float(created_at),
        attempts=int(attempts),
        next_attempt_at=float(next_at),
        last_error=None if error is None else str(error),
        sections=_split(sections),
    )


def _meta_int(db: sqlite3.Connection, key: str) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row is not None else 0


def _set(db: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        db.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def _split(text: str) -> tuple[str, ...]:
    return tuple(s for s in text.split(",") if s)
