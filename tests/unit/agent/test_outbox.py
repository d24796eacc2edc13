"""The outbox: durable FIFO of signed reports, sequence numbers, size cap and drop counting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.outbox import Outbox, OutboxError
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
