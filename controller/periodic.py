"""A daemon thread that runs a controller process's share of a periodic job.

The re-evaluation (:mod:`controller.findings.scheduler`) and the report jobs
(:mod:`controller.reports.runner`) each run one such thread per process; which process does the
work each round is decided in the database by a job lease (:mod:`controller.store.jobs`), so the
thread only wakes up, tries, and never dies of a failed round.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from controller.store.db import is_unavailable

log = logging.getLogger(__name__)


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
