"""A daemon thread that runs a controller process's share of a periodic job.

The re-evaluation (:mod:`controller.findings.scheduler`) and the report jobs
(:mod:`controller.reports.runner`) each run one such thread per process; which process does the
work each round is decided in the database by a job lease (:mod:`controller.store.jobs`), so the
thread only wakes up, tries, and never dies of a failed round.

:func:`run_leased` runs the work of a claimed job: a :class:`LeaseKeeper` renews the lease
while it goes (so a run may outlive the lease without a second process starting the same job),
and the end, ok or failed, is recorded in the job's history (``job_runs``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from controller.store import jobs
from controller.store.db import is_unavailable, write_session

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]

#: How long a claimed job stays a process's without a renewal. Short, so that a process that
#: died mid-run blocks its job only briefly: a running one renews it every third of it.
LEASE = timedelta(minutes=5)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LeaseKeeper:
    """Renews ``holder``'s lease on job ``name`` every third of ``lease`` while the ``with``
    block runs, in a daemon thread.

    A renewal that finds the lease taken over (the process could not renew for a whole lease:
    the database was away, or the process was frozen) sets :attr:`lost` and stops renewing; the
    run's end is then recorded ``lost`` and changes nothing of the job. A renewal the database
    refuses (SQLite busy, PostgreSQL restarting) is tried again at the next beat.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        name: str,
        holder: str,
        lease: timedelta,
        *,
        clock: Clock = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._name = name
        self._holder = holder
        self._lease = lease
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: True once a renewal found the lease another process's.
        self.lost = False
        #: Renewals done (for tests and logs).
        self.renewals = 0

    def __enter__(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._loop, name=f"lease-{self._name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        beat = self._lease.total_seconds() / 3
        while not self._stop.wait(beat):
            try:
                with self._sessions() as s, s.begin():
                    write_session(s)
                    ours = jobs.renew(s, self._name, self._holder, self._clock() + self._lease)
            except Exception as exc:
                log.warning("lease of %s not renewed yet: %s", self._name, exc)
                continue
            if not ours:
                self.lost = True
                log.warning("lease of %s was taken over while its run went on", self._name)
                return
            self.renewals += 1


def run_leased(
    sessions: sessionmaker[Session],
    name: str,
    holder: str,
    started: datetime,
    work: Callable[[], T],
    *,
    result: Callable[[T], dict[str, Any]],
    lease: timedelta = LEASE,
    clock: Clock = _utcnow,
    at: datetime | None = None,
    scheduled: bool = True,
    before_finish: Callable[[Session, T], None] | None = None,
) -> T:
    """Run ``work`` under the lease of ``name`` that ``holder`` claimed at ``started``.

    The lease is renewed while ``work`` runs. When it raises, the lease is freed at once (the
    next look, here or elsewhere, tries again) and the failure recorded; otherwise
    ``before_finish`` and the end (:func:`controller.store.jobs.finish`: ``at``, default the
    clock, is the job's ``finished_at``; ``result`` its figures) commit in one transaction.
    """
    with LeaseKeeper(sessions, name, holder, lease, clock=clock):
        try:
            value = work()
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            with sessions() as s, s.begin():
                jobs.fail(s, name, holder, started=started, ended=clock(), error=error)
            raise
    with sessions() as s, s.begin():
        write_session(s)  # before_finish may read before it writes
        if before_finish is not None:
            before_finish(s, value)
        ended = clock()
        ours = jobs.finish(
            s,
            name,
            holder,
            at or ended,
            result(value),
            started=started,
            ended=ended,
            scheduled=scheduled,
        )
    if not ours:
        log.warning("%s ended after another process had taken its lease over", name)
    return value


class PeriodicThread:
    """Calls :meth:`run_once` every ``poll_s`` seconds in a daemon thread until stopped.

    The first round waits one poll: start-up (workers spawning, agents reconnecting after a
    restart) is the worst moment to hold SQLite's write lock. ``what`` names the work in logs.
    """

    def __init__(self, *, name: str, what: str, poll_s: float) -> None:
        self._name = name
        self._what = what
        self._poll_s = poll_s
        #: Identifies this process's claim on a job lease.
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Any:
        """One round of the work (subclasses)."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread; a round in progress finishes its transaction first."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._poll_s):
            try:
                self.run_once()
            except Exception as exc:  # never let the thread die; try again next round
                if is_unavailable(exc):
                    log.warning("%s postponed, the database is unavailable: %s", self._what, exc)
                else:
                    log.exception("%s failed", self._what)
