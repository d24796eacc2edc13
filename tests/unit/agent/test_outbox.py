"""The outbox: durable FIFO of signed reports, sequence numbers (renumbering, the ceiling kept
outside the outbox), size cap, drop counting, and what happens to a corrupt file."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from agent import outbox as outbox_module
from agent.outbox import (
    SEQ_RESERVE,
    Item,
    Outbox,
    OutboxError,
    prepare_backup,
    quarantined_files,
)
from agent.report.delivery import Delivery


def _seal(seq: int) -> tuple[str, str]:
    # The outbox does not care what the header is; the daemon tests use real signatures.
    return f"{seq:032x}", f"header-{seq}"


def _put(box: Outbox, kind: str, body: bytes = b"x" * 10, now: float = 1000.0) -> int:
    seq, _dropped = box.put(kind, body, _seal, now=now)
    return seq


def test_put_assigns_increasing_sequence_numbers_and_sends_oldest_first(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite") as box:
        seqs = [_put(box, kind) for kind in ("full", "heartbeat", "heartbeat")]
        assert seqs == [1, 2, 3]
        first = box.next_due(1000.0)
        assert first is not None and first.seq == 1 and first.kind == "full"
        assert first.header == "header-1" and first.report_id == f"{1:032x}"
        assert box.ack(1, now=1001.0)
        second = box.next_due(1001.0)
        assert second is not None and second.seq == 2
        assert box.stats().queued == 2
        assert box.stats().last_success_at == 1001.0


def test_sequence_numbers_are_never_reused_after_the_queue_empties(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path) as box:
        for _ in range(3):
            box.ack(_put(box, "heartbeat"), now=1000.0)
        assert box.stats().queued == 0
    with Outbox(path) as box:
        assert _put(box, "heartbeat") == 4


def test_a_failed_report_and_everything_after_it_wait_for_the_retry_time(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite") as box:
        _put(box, "full")
        _put(box, "heartbeat")
        assert box.fail(1, "HTTP 503 unavailable", 1100.0, now=1000.0) == 1
        assert box.next_due(1050.0) is None  # strictly oldest first: seq 2 waits too
        due = box.next_due(1100.0)
        assert due is not None and due.seq == 1 and due.attempts == 1
        assert due.last_error == "HTTP 503 unavailable"
        assert box.fail(1, "HTTP 503 unavailable", 1200.0, now=1100.0) == 2
        stats = box.stats()
        assert stats.last_error == "HTTP 503 unavailable" and stats.next_attempt_at == 1200.0


def test_a_retry_time_beyond_any_backoff_is_due_after_the_clock_went_back(
    tmp_path: Path,
) -> None:
    with Outbox(tmp_path / "o.sqlite") as box:
        _put(box, "full")
        box.fail(1, "HTTP 503 unavailable", 1100.0, now=1000.0)
        assert box.next_due(1050.0) is None  # an ordinary retry still waits
        due = box.next_due(1000.0 - 5 * 3600)  # the wall clock was moved back five hours
        assert due is not None and due.seq == 1


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from agent.outbox import Outbox

    box = Outbox(Path(sys.argv[1]))
    n = 0
    while True:
        n += 1
        seq, _ = box.put("heartbeat", b"body-%d" % n, lambda s: ("%032x" % s, "h-%d" % s),
                         now=float(n))
        print(seq, flush=True)
        if n >= 50:
            time.sleep(60)  # wait to be killed, the queue unacknowledged
    """
)


def test_queued_reports_survive_a_kill_and_no_sequence_number_is_reused(
    tmp_path: Path, repo_root: Path
) -> None:
    path = tmp_path / "o.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo_root,
    )
    assert proc.stdout is not None
    printed = [int(proc.stdout.readline()) for _ in range(20)]
    os.kill(proc.pid, signal.SIGKILL)  # mid-stream: between puts, before any ack
    proc.wait(timeout=30)
    with Outbox(path) as box:
        stored = [item.seq for item in box.items()]
        # Every seq the writer saw committed is there, in order, with its own body.
        assert stored[: len(printed)] == printed == list(range(1, 21))
        assert stored == list(range(1, len(stored) + 1))
        assert all(item.body == b"body-%d" % item.seq for item in box.items())
        next_seq = _put(box, "full")
        assert next_seq == len(stored) + 1


def test_a_full_outbox_drops_the_oldest_heartbeats_first(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_items=3) as box:
        _put(box, "full")
        _put(box, "heartbeat")
        _put(box, "heartbeat")
        seq, dropped = box.put("heartbeat", b"new", _seal, now=1000.0, sections=["security"])
        assert [(d.seq, d.kind) for d in dropped] == [(2, "heartbeat")]
        assert [i.seq for i in box.items()] == [1, 3, seq]
        assert box.items()[-1].sections == ("security",)
        stats = box.stats()
        assert (stats.dropped_heartbeats, stats.dropped_full) == (1, 0)


def test_a_full_inventory_is_dropped_only_when_nothing_else_is_left_and_counted(
    tmp_path: Path,
) -> None:
    with Outbox(tmp_path / "o.sqlite", max_items=2) as box:
        _put(box, "full")
        _put(box, "full")
        seq, dropped = box.put("heartbeat", b"hb", _seal, now=1000.0)
        # The new heartbeat is the only heartbeat: it stays, the oldest inventory goes.
        assert [(d.seq, d.kind) for d in dropped] == [(1, "full")]
        assert [i.seq for i in box.items()] == [2, seq]
        assert box.stats().dropped_full == 1


def test_the_byte_cap_counts_header_and_body(tmp_path: Path) -> None:
    # Each item is 10 body bytes + 8 header bytes ("header-N").
    with Outbox(tmp_path / "o.sqlite", max_bytes=40) as box:
        _put(box, "heartbeat")
        _put(box, "heartbeat")
        assert box.stats().queued_bytes == 36
        _seq, dropped = box.put("heartbeat", b"y" * 10, _seal, now=1000.0)
        assert [d.seq for d in dropped] == [1]
        assert box.stats().queued_bytes == 36


def test_the_report_just_queued_is_kept_even_when_it_alone_exceeds_the_cap(
    tmp_path: Path,
) -> None:
    with Outbox(tmp_path / "o.sqlite", max_bytes=100) as box:
        _put(box, "heartbeat")
        seq, dropped = box.put("full", b"z" * 500, _seal, now=1000.0)
        assert [d.seq for d in dropped] == [1]
        assert [i.seq for i in box.items()] == [seq]


def test_delivery_counts_drops_until_a_report_carrying_them_is_acknowledged(
    tmp_path: Path,
) -> None:
    with Outbox(tmp_path / "o.sqlite", max_items=2) as box:
        assert box.delivery() is None  # nothing to tell: the section is left out
        for _ in range(4):
            _put(box, "heartbeat")
        assert box.delivery() == Delivery(dropped_heartbeats=2, queued=2)
        # The next report carries these counts; drops after it are not in it.
        carrier = _put(box, "heartbeat")
        assert box.delivery() == Delivery(dropped_heartbeats=3, queued=2)
        for item in box.items():
            if item.seq != carrier:
                box.ack(item.seq, now=1000.0)
        # An acknowledged report that carried older counts settles only those.
        box.ack(carrier, now=1000.0)
        assert box.delivery() == Delivery(dropped_heartbeats=1)
        _put(box, "heartbeat")  # carries dropped_heartbeats=1
        box.ack(box.items()[0].seq, now=1000.0)
        assert box.delivery() is None
        assert box.stats().dropped_heartbeats == 3  # status keeps the cumulative count


def test_a_refused_report_is_dropped_and_counted(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite") as box:
        _put(box, "full")
        dropped = box.reject(1, "HTTP 422 schema: bad field", now=1000.0)
        assert dropped is not None and dropped.kind == "full"
        stats = box.stats()
        assert (stats.queued, stats.rejected) == (0, 1)
        assert stats.last_error == "HTTP 422 schema: bad field"
        assert box.delivery() == Delivery(rejected=1)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("daemon.full_digest", "abc", id="set a value"),
        pytest.param("daemon.full_digest", None, id="delete a value"),
    ],
)
def test_meta_values_persist_across_reopening(tmp_path: Path, key: str, value: str | None) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path) as box:
        box.set(key, "old")
        box.set(key, value)
    with Outbox(path) as box:
        assert box.get(key) == value


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_the_outbox_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path) as box:
        _put(box, "full")
        modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes["o.sqlite"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes  # -wal and -shm too


def test_an_outbox_that_cannot_be_created_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutboxError, match="cannot create the outbox"):
        Outbox(tmp_path / "missing-dir" / "o.sqlite")


# -- renumbering after the controller's seq_conflict ------------------------------------------


def _reseal(item: Item, seq: int) -> str:
    return f"resealed-{seq}-{item.report_id[-4:]}"


def _marks(path: Path) -> dict[int, str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {int(seq): str(marks) for seq, marks in db.execute("SELECT seq, marks FROM items")}


def test_renumbering_moves_every_queued_report_after_the_controllers_last_seq(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, max_items=2) as box:
        for _ in range(3):
            _put(box, "heartbeat")  # the third drops #1: the drop count travels with #3
        box.put("full", b"f" * 20, _seal, now=1300.0, sections=["security", "connectivity"])
        assert [i.seq for i in box.items()] == [3, 4]  # #2 dropped too
        box.fail(3, "HTTP 503 unavailable", 1200.0, now=1100.0)
        before, marks = box.items(), _marks(path)
        moves = box.renumber(11, _reseal)
        assert moves == [(3, 11), (4, 12)]
        after = box.items()
        assert [i.seq for i in after] == [11, 12]
        resealed = [_reseal(item, new) for item, (_old, new) in zip(before, moves, strict=True)]
        assert [i.header for i in after] == resealed
        # Everything but the number and the signature stays.
        for old, new in zip(before, after, strict=True):
            assert old._replace(seq=new.seq, header=new.header) == new
        assert after[0].attempts == 1 and after[0].last_error == "HTTP 503 unavailable"
        assert after[1].sections == ("security", "connectivity")
        assert _marks(path) == {11: marks[3], 12: marks[4]}
        assert box.stats().queued_bytes == sum(len(i.body) + len(i.header) for i in after)
        assert box.stats().next_seq == 13
        # The drop counts carried by the renumbered reports are settled by their acks: #12
        # (was #4) carried the drop of #1; the drop of #2 came after it.
        assert box.ack(11, now=2000.0) and box.ack(12, now=2000.0)
        assert box.delivery() == Delivery(dropped_heartbeats=1)
        assert _put(box, "heartbeat") == 13


@pytest.mark.parametrize(
    ("queued", "first", "expected"),
    [
        pytest.param([1, 2, 3, 4, 5], 3, [3, 4, 5, 6, 7], id="old and new ranges overlap"),
        pytest.param([1, 3, 5], 2, [2, 3, 4], id="gaps left by drops close up"),
        pytest.param([4, 5], 2, [4, 5], id="last_seq below the queue: nothing to change"),
    ],
)
def test_renumbering_is_safe_whatever_the_ranges(
    tmp_path: Path, queued: list[int], first: int, expected: list[int]
) -> None:
    with Outbox(tmp_path / "o.sqlite") as box:
        for _ in range(max(queued)):
            _put(box, "heartbeat")
        for item in box.items():
            if item.seq not in queued:
                box.ack(item.seq, now=1000.0)
        ids = [i.report_id for i in box.items()]
        moves = box.renumber(first, _reseal)
        assert [i.seq for i in box.items()] == expected
        assert [i.report_id for i in box.items()] == ids  # same reports, same order
        assert moves == ([] if queued == expected else list(zip(queued, expected, strict=True)))
        # Never lowered: a number handed out once (#5 above) is not handed out again.
        assert box.stats().next_seq == max(*queued, *expected) + 1


def test_a_failed_resealing_leaves_the_old_numbering(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite") as box:
        _put(box, "heartbeat")
        _put(box, "heartbeat")

        def broken(item: Item, seq: int) -> str:
            if seq == 6:
                raise RuntimeError("key unavailable")
            return _reseal(item, seq)

        with pytest.raises(RuntimeError):
            box.renumber(5, broken)
        assert [(i.seq, i.header) for i in box.items()] == [(1, "header-1"), (2, "header-2")]
        assert box.stats().next_seq == 3


def test_an_empty_queue_has_nothing_to_renumber(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite") as box:
        assert box.renumber(50, _reseal) == []
        assert _put(box, "full") == 1


# -- the sequence ceiling outside the outbox ---------------------------------------------------


def _outbox_files(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm")]


def test_the_ceiling_is_written_once_per_thousand_reports(tmp_path: Path) -> None:
    ceiling = tmp_path / "seq-ceiling"
    with Outbox(tmp_path / "o.sqlite", seq_ceiling=ceiling, max_items=10) as box:
        assert not ceiling.exists()
        assert _put(box, "heartbeat") == 1
        assert ceiling.read_text() == f"{1 + SEQ_RESERVE}\n"
        inode = ceiling.stat().st_ino
        for _ in range(SEQ_RESERVE):  # 2 .. 1001: all within the reserve
            _put(box, "heartbeat")
        assert ceiling.stat().st_ino == inode  # not written again (write_atomic renames)
        assert _put(box, "heartbeat") == SEQ_RESERVE + 2
        assert ceiling.read_text() == f"{2 * SEQ_RESERVE + 2}\n"


def test_a_deleted_outbox_continues_above_every_number_it_handed_out(tmp_path: Path) -> None:
    path, ceiling = tmp_path / "o.sqlite", tmp_path / "seq-ceiling"
    with Outbox(path, seq_ceiling=ceiling) as box:
        for _ in range(3):
            _put(box, "heartbeat")
    for file in _outbox_files(path):
        file.unlink(missing_ok=True)
    with Outbox(path, seq_ceiling=ceiling) as box:
        assert box.stats().next_seq == SEQ_RESERVE + 2
        assert _put(box, "heartbeat") == SEQ_RESERVE + 2
    # Without the ceiling (a bare outbox, as in the tests above) numbering starts over.
    for file in _outbox_files(path):
        file.unlink(missing_ok=True)
    with Outbox(path) as box:
        assert _put(box, "heartbeat") == 1


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        pytest.param(5000, 5001, id="outbox restored from an old backup: continue above"),
        pytest.param(1003, 4, id="within the reserve: the outbox's own counter"),
    ],
)
def test_an_outbox_older_than_the_ceiling_continues_above_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, stored: int, expected: int
) -> None:
    path, ceiling = tmp_path / "o.sqlite", tmp_path / "seq-ceiling"
    with Outbox(path) as box:  # numbered 1..3 (a backup taken long ago, say)
        for _ in range(3):
            _put(box, "heartbeat")
    ceiling.write_text(f"{stored}\n")
    with Outbox(path, seq_ceiling=ceiling) as box:
        assert _put(box, "heartbeat") == expected
        assert _put(box, "heartbeat") == expected + 1
    restored = [r for r in caplog.records if "restored from a backup" in r.getMessage()]
    assert len(restored) == (1 if expected > 4 else 0)


def test_an_invalid_ceiling_is_ignored_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ceiling = tmp_path / "seq-ceiling"
    ceiling.write_text("garbage\n")
    with Outbox(tmp_path / "o.sqlite", seq_ceiling=ceiling) as box:
        assert _put(box, "heartbeat") == 1
    assert ceiling.read_text() == f"{1 + SEQ_RESERVE}\n"
    assert any("invalid sequence ceiling" in r.getMessage() for r in caplog.records)


def test_a_report_is_not_queued_when_its_number_cannot_be_reserved(tmp_path: Path) -> None:
    ceiling = tmp_path / "gone" / "seq-ceiling"  # its directory is missing: cannot be written
    with Outbox(tmp_path / "o.sqlite", seq_ceiling=ceiling) as box:
        with pytest.raises(OutboxError, match="cannot reserve sequence numbers"):
            _put(box, "heartbeat")
        assert box.items() == [] and box.stats().next_seq == 1
        ceiling.parent.mkdir()
        assert _put(box, "heartbeat") == 1  # the number was not used up
        assert ceiling.read_text() == f"{1 + SEQ_RESERVE}\n"


def test_renumbering_raises_the_ceiling(tmp_path: Path) -> None:
    path, ceiling = tmp_path / "o.sqlite", tmp_path / "seq-ceiling"
    with Outbox(path, seq_ceiling=ceiling) as box:
        _put(box, "heartbeat")
        _put(box, "heartbeat")
        box.renumber(7000, _reseal)
        assert ceiling.read_text() == f"{7001 + SEQ_RESERVE}\n"
    for file in _outbox_files(path):
        file.unlink(missing_ok=True)
    with Outbox(path, seq_ceiling=ceiling) as box:
        assert _put(box, "heartbeat") == 7002 + SEQ_RESERVE


# -- a corrupt outbox ----------------------------------------------------------------------


def _damage_a_page(path: Path, page: int = 4) -> None:
    """Overwrite the b-tree page header of one page of a checkpointed outbox."""
    data = bytearray(path.read_bytes())
    data[page * 4096 : page * 4096 + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))


def _filled(path: Path, count: int = 200) -> None:
    with Outbox(path) as box:
        for _ in range(count):
            box.put("heartbeat", b"x" * 300, _seal, now=1000.0)
    # Closing the last connection checkpoints: everything is in the main file now.
    assert not path.with_name(path.name + "-wal").exists()


def _filled_then_damaged(path: Path) -> None:
    _filled(path)
    _damage_a_page(path)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(
            lambda p: p.write_bytes(b"this is not a database" * 100),
            "file is not a database",
            id="not a database",
        ),
        pytest.param(_filled_then_damaged, "malformed", id="a damaged page"),
    ],
)
def test_a_corrupt_outbox_is_moved_aside_and_a_new_one_started(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], object],
    reason: str,
) -> None:
    path, ceiling = tmp_path / "outbox.sqlite", tmp_path / "seq-ceiling"
    damage(path)
    ceiling.write_text("1200\n")  # what the old outbox had reserved
    original = path.read_bytes()
    with Outbox(path, seq_ceiling=ceiling) as box:
        moved = box.quarantined
        assert moved is not None
        assert re.fullmatch(r"outbox\.sqlite\.corrupt-\d{8}T\d{6}Z", moved.name)
        assert moved.read_bytes() == original  # kept byte for byte, never deleted
        assert box.items() == []
        assert _put(box, "heartbeat") == 1201  # numbers continue above the old ones
    assert quarantined_files(path) == [moved]
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = record.getMessage()
    assert reason in message and str(moved) in message
    assert f"moved {len(original)} bytes aside" in message
    with Outbox(path) as box:  # the new outbox is healthy: nothing moved again
        assert box.quarantined is None and [i.seq for i in box.items()] == [1201]


def test_the_wal_of_a_corrupt_outbox_moves_with_it_untouched(tmp_path: Path) -> None:
    """A writer that died left reports in the WAL; then a page of the main file went bad."""
    source, path = tmp_path / "source.sqlite", tmp_path / "outbox.sqlite"
    _filled(source, 200)
    writer = Outbox(source)
    for _ in range(30):
        _put(writer, "heartbeat")
    for suffix in ("", "-wal", "-shm"):  # the files as a crash leaves them
        shutil.copyfile(f"{source}{suffix}", f"{path}{suffix}")
    writer.close()
    _damage_a_page(path)
    main, wal = path.read_bytes(), path.with_name("outbox.sqlite-wal").read_bytes()
    assert len(wal) > 30 * 300
    with Outbox(path) as box:
        moved = box.quarantined
    assert moved is not None
    # Neither folded into the damaged file nor deleted: what was found is what is kept.
    assert moved.read_bytes() == main
    assert moved.with_name(moved.name + "-wal").read_bytes() == wal
    assert moved.with_name(moved.name + "-shm").exists()
    assert quarantined_files(path) == [moved]  # companions are not listed on their own


def test_without_quarantine_a_corrupt_outbox_is_an_error_and_stays(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(OutboxError, match="the outbox is corrupt: file is not a database"):
        Outbox(path, quarantine=False)
    assert path.read_bytes() == b"this is not a database" * 100
    assert quarantined_files(path) == []


def test_a_busy_outbox_is_not_mistaken_for_a_corrupt_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "outbox.sqlite"
    _filled(path, 3)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("PRAGMA locking_mode=EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")  # another process holds the file
        with pytest.raises(OutboxError, match="cannot open the outbox: database is locked"):
            Outbox(path)
        other.execute("ROLLBACK")
    assert quarantined_files(path) == []
    with Outbox(path) as box:
        assert len(box.items()) == 3


@pytest.mark.parametrize(
    ("call", "table"),
    [
        pytest.param(lambda box: box.next_due(1000.0), "items", id="next_due"),
        pytest.param(lambda box: box.items(), "items", id="items"),
        pytest.param(lambda box: box.stats(), "items", id="stats"),
        pytest.param(lambda box: box.delivery(), "meta", id="delivery"),
        pytest.param(lambda box: box.get("last_error"), "meta", id="get"),
    ],
)
def test_read_failures_are_outbox_errors(
    tmp_path: Path, call: Callable[[Outbox], object], table: str
) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as box:
        _put(box, "heartbeat")
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute(f"DROP TABLE {table}")  # the file changed under the agent
        with pytest.raises(OutboxError, match=f"cannot read the outbox: no such table: {table}"):
            call(box)


def test_prepare_backup_counts_the_queue_and_folds_the_wal_in(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    _put(box, "heartbeat")
    _put(box, "full")
    wal = path.with_name("outbox.sqlite-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the reports are still in the WAL
    assert prepare_backup(path) == 2
    assert not wal.exists() or wal.stat().st_size == 0
    box.close()
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(path.read_bytes())  # the main file alone holds both reports
    with Outbox(copy) as again:
        assert [i.seq for i in again.items()] == [1, 2]
    assert prepare_backup(tmp_path / "missing.sqlite") is None
    (tmp_path / "junk.sqlite").write_bytes(b"not a database" * 100)
    assert prepare_backup(tmp_path / "junk.sqlite") is None
