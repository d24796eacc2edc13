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

Sequence numbers outlive the outbox. The controller recognises a retry by ``(agent, seq)``, so
an outbox that starts again at 1 (deleted, restored from a backup, quarantined as corrupt)
would send new reports under numbers the controller already has. Two defences:

* **A reserved ceiling outside the outbox** (``seq-ceiling`` in the state directory, optional
  here so tests can use a bare file). Before the outbox hands out a number above the stored
  ceiling it writes ``ceiling = seq + SEQ_RESERVE`` (durably, before the report's transaction
  commits): one small file write per 1,000 reports, not one per report. Every number handed
  out is therefore at most the ceiling, and the last one is within ``SEQ_RESERVE`` of it. An
  outbox without ``next_seq`` (new, or replacing a quarantined one) starts at ceiling + 1; one
  whose ``next_seq`` lies more than ``SEQ_RESERVE`` below the ceiling is older than the
  numbers already used (restored from a backup) and continues at ceiling + 1 too. A gap in
  the numbers costs nothing; a reused number costs a report.
* **Renumbering on a conflict** (:meth:`Outbox.renumber`): when the controller answers
  ``409 seq_conflict`` with the highest number it holds (``last_seq``), every queued report is
  renumbered from ``last_seq + 1`` in one transaction and signed again by the daemon (same
  body, digest, time, kind and report id): the case the ceiling cannot cover, such as a whole
  state directory restored from a backup.

A corrupt outbox (SQLite: "file is not a database", "database disk image is malformed", or
``PRAGMA quick_check`` finding damage when the outbox is opened) is moved aside, never deleted,
as ``outbox.sqlite.corrupt-<UTC time>`` with its ``-wal`` and ``-shm``, an error is logged, and
a new outbox is started; its numbers continue from the ceiling. ``govguard-agent status`` lists
the files moved aside. ``quick_check`` reads the whole file: on a 5,000-report outbox (about
3 MB) it takes about 30 ms with a cold page cache and 2 ms with a warm one, once per start of
the service (or of ``run --once-cycle``), never per report.

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
import logging
import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from agent.errors import AgentError
from agent.report.delivery import Delivery
from agent.state import file_stamp, write_atomic

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ITEMS = 5000
#: No retry is ever scheduled further ahead than this (backoff cap and the 401/403 pause, with
#: jitter). A retry time beyond it means the wall clock was moved back: the report is due now.
MAX_RETRY_WAIT_S = 3600.0 * 1.1
#: How long to wait for another connection's lock (a ``status`` reading, a CLI command).
BUSY_TIMEOUT_S = 10.0
#: Sequence numbers reserved by one write of the ceiling file (see the module docstring).
SEQ_RESERVE = 1000
#: A corrupt outbox is moved aside as ``<name>.corrupt-<UTC time>``.
CORRUPT_SUFFIX = ".corrupt-"
# SQLite's primary result codes for a damaged file (the extended codes keep them in the low byte).
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26

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
    """The outbox database cannot be opened, read or written."""


class _CorruptError(Exception):
    """The outbox file is damaged (not a database, malformed, or failing quick_check)."""


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
#: Called inside the renumbering transaction with a queued report and its new sequence number;
#: returns the envelope header signed again for that number (same report id, time, digest).
Resealer = Callable[[Item, int], str]


class Outbox:
    """A durable FIFO of signed reports with a size cap (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_items: int = DEFAULT_MAX_ITEMS,
        seq_ceiling: Path | None = None,
        quarantine: bool = True,
    ) -> None:
        """Open (creating if needed) the outbox at ``path``.

        ``seq_ceiling`` is the file of the reserved sequence ceiling (the state directory's
        ``seq-ceiling``); without it the numbers live in the outbox alone. With ``quarantine``
        (the service) a damaged file is checked for at open and moved aside (see the module
        docstring; :attr:`quarantined` names it); without it (``status``, which only reads)
        nothing is checked or moved and damage is an :class:`OutboxError`.
        """
        self.path = path
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.seq_ceiling = seq_ceiling
        #: Where this open moved a corrupt outbox, if it did.
        self.quarantined: Path | None = None
        self._stale_logged = False
        _create(path)
        try:
            self._db = _connect(path, check=quarantine)
        except _CorruptError as exc:
            if not quarantine:
                raise OutboxError(f"{path}: the outbox is corrupt: {exc}") from exc
            self.quarantined = _quarantine(path, str(exc))
            _create(path)
            try:
                self._db = _connect(path, check=False)
            except _CorruptError as again:  # a brand-new file: the disk itself is failing
                raise OutboxError(f"{path}: cannot start a new outbox: {again}") from again

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._db
        except sqlite3.Error as exc:
            raise OutboxError(f"{self.path}: cannot read the outbox: {exc}") from exc

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
        with self._reading() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str | None) -> None:
        """Set (or with ``None`` delete) a value of the meta table, durably."""
        with self._write() as db:
            _set(db, key, value)

    def _int(self, key: str) -> int:
        value = self.get(key)
        return int(value) if value is not None else 0

    # -- sequence numbers -----------------------------------------------------------------

    def _ceiling(self) -> int:
        """The reserved ceiling from its file; 0 when there is none or it holds no number."""
        if self.seq_ceiling is None:
            return 0
        try:
            text = self.seq_ceiling.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as exc:
            raise OutboxError(
                f"{self.seq_ceiling}: cannot read the sequence ceiling: {exc}"
            ) from exc
        if not text.isdigit():
            # Rewritten with the next report; meanwhile the outbox's own counter and the
            # controller's conflict answer (renumber) still protect the numbers.
            log.warning("%s: ignoring an invalid sequence ceiling %r", self.seq_ceiling, text[:40])
            return 0
        return int(text)

    def _next_seq(self, db: sqlite3.Connection) -> int:
        """The next sequence number to hand out (see the module docstring)."""
        row = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        ceiling = self._ceiling()
        if row is None:
            return ceiling + 1
        stored = int(row[0])
        if stored <= ceiling - SEQ_RESERVE:
            if not self._stale_logged:
                self._stale_logged = True
                log.warning(
                    "%s: the outbox's next sequence number %d is older than numbers already "
                    "used (up to %d reserved; restored from a backup?): continuing at %d",
                    self.path,
                    stored,
                    ceiling,
                    ceiling + 1,
                )
            return ceiling + 1
        return stored

    def _reserve(self, seq: int) -> None:
        """Make sure the ceiling file covers ``seq`` before ``seq`` is committed anywhere."""
        if self.seq_ceiling is None or seq <= self._ceiling():
            return
        try:
            write_atomic(self.seq_ceiling, b"%d\n" % (seq + SEQ_RESERVE), mode=0o600)
        except AgentError as exc:
            raise OutboxError(f"cannot reserve sequence numbers: {exc}") from exc

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
            seq = self._next_seq(db)
            self._reserve(seq)
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
        with self._reading() as db:
            row = db.execute(_SELECT_HEAD).fetchone()
        if row is None or now < row[7] <= now + MAX_RETRY_WAIT_S:
            return None
        return _item(row)

    def renumber(self, first: int, reseal: Resealer) -> list[tuple[int, int]]:
        """Renumber every queued report from ``max(first, oldest seq)`` on, in queue order.

        For the controller's ``409 seq_conflict`` (it holds numbers up to ``first - 1`` that
        this outbox handed out again). ``reseal(item, seq)`` signs each report's envelope again
        for its new number. Everything else a report has (body, report id, kind, sections,
        drop counts carried, attempts, retry time) stays. ``next_seq`` and the ceiling move past
        the last new number. One transaction: a crash leaves the old numbering or the new one.
        Returns ``(old, new)`` pairs; empty when nothing changes (the queue is empty or already
        numbered so).
        """
        with self._write() as db:
            rows = db.execute(_SELECT_ITEMS).fetchall()
            items = [_item(r) for r in rows]
            if not items:
                return []
            start = max(first, items[0].seq)
            moves = [(item, start + i) for i, item in enumerate(items)]
            if all(item.seq == seq for item, seq in moves):
                return []
            last = moves[-1][1]
            self._reserve(last)
            signed = [(item, seq, reseal(item, seq)) for item, seq in moves]
            # seq is the primary key and old and new ranges may overlap: park every row on its
            # negative number first, so that no UPDATE below can hit a row not yet moved.
            db.execute("UPDATE items SET seq = -seq")
            for item, seq, header in signed:
                db.execute(
                    "UPDATE items SET seq = ?, header = ?, size = ? WHERE seq = ?",
                    (seq, header, len(item.body) + len(header), -item.seq),
                )
            _set(db, "next_seq", str(max(_meta_int(db, "next_seq"), last + 1)))
        return [(item.seq, seq) for item, seq, _header in signed]

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
        with self._reading() as db:
            queued = int(db.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        if not any(counts.values()) and not queued:
            return None
        return Delivery(queued=queued, **counts)

    def items(self) -> list[Item]:
        """Every queued report, oldest first (tests and diagnostics)."""
        with self._reading() as db:
            rows = db.execute(_SELECT_ITEMS).fetchall()
        return [_item(r) for r in rows]

    def stats(self) -> Stats:
        """Queue length and size, drop counters, last success and last error."""
        with self._reading() as db:
            count, size, full = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(kind = 'full'), 0)"
                " FROM items"
            ).fetchone()
            # Strict FIFO: the oldest report's retry time is when anything can be sent next.
            head = db.execute("SELECT next_attempt_at FROM items ORDER BY seq LIMIT 1").fetchone()
            next_seq = self._next_seq(db)
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
            next_seq=next_seq,
            last_success_at=float(success) if success is not None else None,
            last_error=self.get("last_error"),
            last_error_at=float(error_at) if error_at is not None else None,
            next_attempt_at=float(first_due) if first_due is not None else None,
        )


_SELECT_ITEMS = (
    "SELECT seq, kind, report_id, header, body, created_at, attempts, next_attempt_at,"
    " last_error, sections FROM items ORDER BY seq"
)
_SELECT_HEAD = (
    "SELECT seq, kind, report_id, header, body, created_at, attempts, next_attempt_at,"
    " last_error, sections FROM items ORDER BY seq LIMIT 1"
)


def _create(path: Path) -> None:
    """Create an empty outbox file, owner-only, if there is none."""
    if path.exists():
        return
    # The queued reports are this computer's inventory: owner-only from the first byte
    # (SQLite gives its -wal and -shm files the database file's permissions).
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600))
    except OSError as exc:
        raise OutboxError(f"{path}: cannot create the outbox: {exc.strerror or exc}") from exc


def _connect(path: Path, *, check: bool) -> sqlite3.Connection:
    """Open the database and set it up; with ``check``, look for damage first (:func:`_probe`).

    Raises :class:`_CorruptError` when the file is damaged, :class:`OutboxError` otherwise.
    """
    if check:
        _probe(path)
    db: sqlite3.Connection | None = None
    try:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below), so the
        # sequence counter and the item are written under one write lock.
        db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        return db
    except sqlite3.Error as exc:
        if db is not None:
            db.close()
        if _is_corruption(exc):
            raise _CorruptError(str(exc)) from exc
        raise OutboxError(f"{path}: cannot open the outbox: {exc}") from exc


def _probe(path: Path) -> None:
    """``PRAGMA quick_check`` on a read-only connection; :class:`_CorruptError` on damage.

    Damage deep in the file surfaces only when that page is read, maybe in the middle of a
    delivery; found here, it is dealt with before anything depends on it. Read-only, because
    closing a read-write connection folds the WAL into the (damaged) file and deletes it: the
    file moved aside must be what was found, WAL included.
    """
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    try:
        probe = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise OutboxError(f"{path}: cannot open the outbox: {exc}") from exc
    try:
        problems = [str(r[0]) for r in probe.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.Error as exc:
        if _is_corruption(exc):
            raise _CorruptError(str(exc)) from exc
        raise OutboxError(f"{path}: cannot open the outbox: {exc}") from exc
    finally:
        probe.close()
    if problems != ["ok"]:
        raise _CorruptError("; ".join(problems[:3]))


def _is_corruption(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc)
    return "file is not a database" in text or "malformed" in text


def _quarantine(path: Path, reason: str) -> Path:
    """Move a corrupt outbox and its ``-wal``/``-shm`` aside (never deleted); returns the new
    path of the database file."""
    stamp = file_stamp()
    target = path.with_name(f"{path.name}{CORRUPT_SUFFIX}{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{CORRUPT_SUFFIX}{stamp}-{n}")
    moved = 0
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        try:
            size = source.stat().st_size
            # Companions keep their pairing, so SQLite (or sqlite3 on a rescue PC) opening the
            # moved file still sees what its WAL holds.
            source.replace(target.with_name(target.name + suffix))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutboxError(
                f"{path}: the outbox is corrupt ({reason}) and cannot be moved aside: "
                f"{exc.strerror or exc}"
            ) from exc
        if suffix != "-shm":  # the reports; -shm is only SQLite's index of the WAL
            moved += size
    log.error(
        "%s is corrupt (%s): moved %d bytes aside to %s; starting a new outbox (the reports "
        "queued in the old one are not sent)",
        path,
        reason,
        moved,
        target,
    )
    return target


def quarantined_files(outbox: Path) -> list[Path]:
    """The corrupt outboxes moved aside next to ``outbox`` (database files only), oldest first."""
    prefix = outbox.name + CORRUPT_SUFFIX
    try:
        names = sorted(p.name for p in outbox.parent.iterdir())
    except OSError:
        return []
    return [
        outbox.with_name(name)
        for name in names
        if name.startswith(prefix) and not name.endswith(("-wal", "-shm"))
    ]


def prepare_backup(path: Path) -> int | None:
    """Before an outbox is renamed to a backup: fold its WAL into the file; returns how many
    reports it still holds (``None`` when it cannot be read: it is renamed as it is anyway)."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=2.0)
        try:
            queued = int(db.execute("SELECT COUNT(*) FROM items").fetchone()[0])
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
    except sqlite3.Error as exc:
        log.warning("%s: cannot read the old outbox before keeping it: %s", path, exc)
        return None
    return queued


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
