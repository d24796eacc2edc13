"""The verifier and writer threads: reports verified, stored in batches, answered after commit."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from controller.ingest.checks import IngestError
from controller.store.db import is_unavailable
from controller.store.remediation import take_report_now
from controller.store.reports import (
    Accepted,
    NewReport,
    Outcome,
    SeqConflict,
    outcomes,
    store_batch,
)

log = logging.getLogger(__name__)

#: Verifier threads per process. Two: signature checks, hashing and gunzip release the GIL, so
#: a second thread keeps the second core busy while the first decodes (controller.ingest).
VERIFIERS: Final = 2


class WriterClosedError(RuntimeError):
    """The writer is shutting down and takes no more reports."""


class WriterBusyError(RuntimeError):
    """Too many reports are waiting to be stored; the agent should retry later."""


class DatabaseUnavailableError(RuntimeError):
    """The batch this report was in failed because the database could not be reached."""


@dataclass(frozen=True, slots=True)
class ReportNow:
    """An accepted report whose agent a remediation asked for a fresh report: the reply says
    ``report_now`` (the request was cleared in the transaction that stored the report)."""

    outcome: Accepted


#: What a report's future resolves to.
Answer = Outcome | ReportNow
_Result = Answer | BaseException
#: Stores a batch in an open transaction; returns the (agent_id, seq) pairs inserted.
StoreBatch = Callable[[Session, Sequence[NewReport], datetime], set[tuple[str, int]]]
#: What the event loop hands over: the verified report, or the verification still to do.
Work = NewReport | Callable[[], NewReport]
_Item = tuple[Work, "asyncio.Future[Answer]"]
_Ready = tuple[NewReport, "asyncio.Future[Answer]"]


def _settle(pairs: list[tuple[asyncio.Future[Answer], _Result]]) -> None:
    """Resolve futures in their event loop (a request that timed out has cancelled its own)."""
    for future, result in pairs:
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


class BatchWriter:
    """Two threads that verify, then store reports in batches, answering each after the commit.

    The *verifier* thread runs the verification of each report handed over as a callable and
    answers a refusal at once. The *writer* thread takes the first verified report, then
    whatever else arrives within ``batch_wait_ms`` up to ``batch_max`` reports, stores them with
    :func:`store_batch` in one transaction and reads each one's outcome with :func:`outcomes`.
    Two stages rather than one thread doing both: the next reports are verified while a batch
    commits (an fsync on SQLite, a round trip on PostgreSQL), so a burst is not verified and
    committed by turns. When the
    database is unreachable every report of that batch fails with
    :class:`DatabaseUnavailableError` (the agents retry); the thread carries on, and the engine's
    pre-ping reconnects once the database is back. Any other failure of a batch is retried report
    by report, so one bad report cannot take the others down with it.

    Requests wait on asyncio futures that the thread resolves with *one* thread-safe call per
    batch and event loop. (A ``concurrent.futures.Future`` per request, awaited through
    ``asyncio.wrap_future``, wakes the loop once per report: measured at 0.15 ms of CPU per
    report, more than verifying its signature.)
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        batch_max: int,
        batch_wait_ms: int,
        queue_max: int | None = None,
        verifiers: int = VERIFIERS,
        clock: Callable[[], datetime] | None = None,
        store: StoreBatch | None = None,
    ) -> None:
        self._sessions = sessions
        self._batch_max = max(1, batch_max)
        self._wait_s = max(0, batch_wait_ms) / 1000
        # Both bounded, so that a stalled database turns into quick 503s instead of a growing
        # backlog: the writer's queue fills, the verifier waits, then the inbox fills.
        limit = queue_max or 16 * self._batch_max
        self._inbox: queue.Queue[_Item] = queue.Queue(maxsize=limit)
        self._queue: queue.Queue[_Ready] = queue.Queue(maxsize=limit)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._store = store or store_batch
        self._stopping = threading.Event()
        self._verifiers: list[threading.Thread] = []
        self._verifier_count = max(1, verifiers)
        self._thread: threading.Thread | None = None
        self._down_since: float | None = None

    def start(self) -> None:
        """Start the verifier and writer threads (idempotent)."""
        if self._thread is None:
            self._stopping.clear()
            self._verifiers = [
                threading.Thread(target=self._verify_run, name=f"ingest-verifier-{n}", daemon=True)
                for n in range(self._verifier_count)
            ]
            self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
            for thread in self._verifiers:
                thread.start()
            self._thread.start()

    def submit(self, item: Work) -> asyncio.Future[Answer]:
        """Queue ``item``; the future resolves to its outcome after the commit.

        ``item`` is a verified report, or a callable that verifies one (it runs on the writer
        thread; an exception it raises, such as :class:`IngestError`, becomes the answer).

        Call it from a running event loop. Raises :class:`WriterClosedError` after
        :meth:`close` and :class:`WriterBusyError` when the queue is full (the database cannot
        keep up or is down).
        """
        if self._stopping.is_set() or self._thread is None:
            raise WriterClosedError("the report writer is not running")
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        try:
            self._inbox.put_nowait((item, future))
        except queue.Full:
            raise WriterBusyError("too many reports waiting to be stored") from None
        return future

    def close(self, timeout_s: float = 30.0) -> None:
        """Store what is queued, then stop the threads (graceful shutdown; blocking)."""
        self._stopping.set()
        deadline = time.monotonic() + timeout_s
        for thread in [*self._verifiers, self._thread]:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    log.error("the report %s did not finish within %.0f s", thread.name, timeout_s)
        self._verifiers = []
        self._thread = None
        # Anything still queued (a join timed out) is answered, never left hanging.
        leftover: list[_Item | _Ready] = []
        for waiting in (self._inbox, self._queue):
            while True:
                try:
                    leftover.append(waiting.get_nowait())
                except queue.Empty:
                    break
        self._answer(
            leftover, [WriterClosedError("the controller is shutting down")] * len(leftover)
        )

    def _verify_run(self) -> None:
        """The verifier thread: verify what arrives, hand it to the writer, answer refusals."""
        while True:
            try:
                first = self._inbox.get(timeout=0.2)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                continue
            batch = [first]
            while len(batch) < self._batch_max:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            for item in self._prepare(batch):
                self._queue.put(item)  # blocks while the writer is full: back-pressure

    def _run(self) -> None:
        while True:
            ready = self._take_batch()
            if ready is None:
                return
            try:
                results = self._write(ready)
            except Exception as exc:  # never let the thread die; answer everyone
                log.exception("report writer failed")
                results = [exc] * len(ready)
            self._answer(ready, results)

    def _prepare(self, batch: list[_Item]) -> list[_Ready]:
        """Verify what still needs it; answer refusals now, return the reports to store."""
        ready: list[_Ready] = []
        refused: list[_Item] = []
        errors: list[_Result] = []
        for work, future in batch:
            if isinstance(work, NewReport):
                ready.append((work, future))
                continue
            try:
                ready.append((work(), future))
            except Exception as exc:  # IngestError, or a bug: answered, never lost
                if not isinstance(exc, IngestError):
                    log.exception("verifying a report failed")
                refused.append((work, future))
                errors.append(exc)
        if refused:
            self._answer(refused, errors)
        return ready

    def _take_batch(self) -> list[_Ready] | None:
        while True:
            try:
                first = self._queue.get(timeout=0.2)
                break
            except queue.Empty:
                if self._stopping.is_set() and not any(t.is_alive() for t in self._verifiers):
                    return None
        # Sleep instead of waiting on the queue for each further report: a wait would wake this
        # thread (and hand the GIL over) once per report. One wake-up per batch; reports that
        # arrive meanwhile are simply collected.
        if self._wait_s > 0 and self._queue.qsize() < self._batch_max - 1:
            time.sleep(self._wait_s)
        batch = [first]
        while len(batch) < self._batch_max:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[_Ready]) -> list[_Result]:
        items = [item for item, _ in batch]
        try:
            results = self._commit(items)
        except Exception as exc:
            if is_unavailable(exc):
                self._note_down(exc)
                return [DatabaseUnavailableError("the database is unavailable")] * len(items)
            if len(items) == 1:
                log.exception("could not store report %s/%s", items[0].agent_id, items[0].seq)
                return [exc]
            log.warning("a batch of %d reports failed (%s); storing one by one", len(items), exc)
            return [self._write_one(item) for item in items]
        self._note_up()
        return list(results)

    def _write_one(self, item: NewReport) -> _Result:
        try:
            results = self._commit([item])
        except Exception as exc:
            if is_unavailable(exc):
                self._note_down(exc)
                return DatabaseUnavailableError("the database is unavailable")
            log.exception("could not store report %s/%s", item.agent_id, item.seq)
            return exc
        return results[0]

    def _commit(self, items: list[NewReport]) -> list[Answer]:
        """Store ``items`` in one transaction; their outcomes in order.

        The agents of the accepted reports that a remediation asked for a fresh report are
        found and cleared by one more statement for the whole batch (not one per report).
        """
        with self._sessions() as session, session.begin():
            inserted = self._store(session, items, self._clock())
            results = outcomes(session, items, inserted)
            accepted = {
                item.agent_id
                for item, result in zip(items, results, strict=True)
                if not isinstance(result, SeqConflict)
            }
            asked = take_report_now(session, accepted)
        if not asked:
            return list(results)
        answers: list[Answer] = []
        for item, result in zip(items, results, strict=True):
            if isinstance(result, SeqConflict) or item.agent_id not in asked:
                answers.append(result)
            else:
                answers.append(ReportNow(result))
                # One report of the batch carries the request; the agent collects once.
                asked.discard(item.agent_id)
        return answers

    @staticmethod
    def _answer(batch: Sequence[_Item | _Ready], results: list[_Result]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Answer], _Result]]]
        by_loop = {}
        for (_, future), result in zip(batch, results, strict=True):
            by_loop.setdefault(future.get_loop(), []).append((future, result))
        for loop, pairs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, pairs)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                log.debug("dropping %d answers for a closed event loop", len(pairs))

    def _note_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("database unavailable, reports are refused with 503: %s", exc)

    def _note_up(self) -> None:
        if self._down_since is not None:
            log.warning(
                "database available again after %.0f s", time.monotonic() - self._down_since
            )
            self._down_since = None
