"""The background re-evaluation of a controller process.

Every controller process runs one :class:`Reevaluator` thread; a job lease in the database
(:mod:`controller.store.jobs`) makes exactly one of them re-evaluate the fleet at a time:

- when the policy files changed (their digest differs from the last run's), and when something
  asked for it (an organisation import calls :func:`request_reevaluation`);
- otherwise every ``every`` (an hour by default), which is what turns a computer that stopped
  reporting into a finding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from controller.findings.full import OnOpened, Totals, reevaluate
from controller.findings.hosts import UnitPaths
from controller.findings.policies import PolicyCache
from controller.periodic import LEASE, PeriodicThread, run_leased
from controller.store import jobs
from controller.store.dashboard import local_day, snapshot_compliance, snapshot_rules
from controller.store.db import write_session

log = logging.getLogger(__name__)

JOB = "findings.reevaluate"
EVERY = timedelta(hours=1)
POLL_S = 30.0


def request_reevaluation(s: Session, at: datetime) -> None:
    """Ask the controller to re-evaluate every host soon (after an organisation change)."""
    jobs.request(s, JOB, at)


class Reevaluator(PeriodicThread):
    """Runs :func:`reevaluate` when due, in a daemon thread of this process."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        policies: PolicyCache,
        *,
        every: timedelta = EVERY,
        lease: timedelta = LEASE,
        poll_s: float = POLL_S,
        clock: Callable[[], datetime] | None = None,
        on_opened: OnOpened | None = None,
        units: UnitPaths | None = None,
    ) -> None:
        super().__init__(name="findings-reevaluator", what="re-evaluation", poll_s=poll_s)
        self._sessions = sessions
        self._policies = policies
        self._every = every
        self._lease = lease
        self._clock = clock or (lambda: datetime.now(UTC))
        self._on_opened = on_opened
        self._units = units or UnitPaths()

    def run_once(self) -> Totals | None:
        """Re-evaluate if due and this process gets the lease; the totals, or None."""
        evaluator = self._policies.current()
        if evaluator is None:
            return None
        now = self._clock()
        with self._sessions() as s, s.begin():
            write_session(s)
            job = jobs.get(s, JOB)
            last = job.last_result if job is not None else None
            ran_with = last.get("policies") if isinstance(last, dict) else None
            if ran_with != self._policies.digest:
                jobs.request(s, JOB, now)
            claimed = jobs.claim(s, JOB, self._holder, now, every=self._every, lease=self._lease)
        if not claimed:
            return None

        def snapshot(s: Session, _totals: Totals) -> None:
            # The day's compliance for the overview's trend and the per-rule figures for the
            # security report's: the last run of a day stands.
            snapshot_compliance(s, local_day(now))
            snapshot_rules(s, local_day(now))

        totals = run_leased(
            self._sessions,
            JOB,
            self._holder,
            now,
            lambda: reevaluate(
                self._sessions, evaluator, now, units=self._units, on_opened=self._on_opened
            ),
            result=lambda totals: {"policies": self._policies.digest, **asdict(totals)},
            lease=self._lease,
            clock=self._clock,
            before_finish=snapshot,
        )
        log.info(
            "re-evaluated %d hosts in %.1f s: %d changes, %d findings opened, %d resolved",
            totals.hosts,
            totals.seconds,
            totals.changes,
            totals.opened,
            totals.resolved,
        )
        return totals
