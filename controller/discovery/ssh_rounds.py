"""Scheduled agentless collection: ``govguard worker`` collects every known SSH host again.

The hosts are those ``govguard ssh collect`` added (``ssh_targets``). A job lease
(``ssh.round``) lets exactly one of several worker processes collect each round; a round runs
every ``ssh.interval_s`` seconds, or never when that is 0.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from controller.discovery import ssh_collect
from controller.discovery.ssh import SshError
from controller.periodic import PeriodicThread, run_leased
from controller.settings import Settings
from controller.store import jobs
from controller.store.db import write_session

log = logging.getLogger(__name__)

JOB = "ssh.round"
ACTOR = "controller:worker"
#: How often the worker looks whether a round is due (``periodic.poll_s`` overrides it).
POLL_S = 60.0


class SshRounds(PeriodicThread):
    """Collects every known SSH host when the round is due, in a thread of ``govguard worker``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        writer: ssh_collect.Writer,
        *,
        poll_s: float | None = None,
    ) -> None:
        poll_s = poll_s or settings.periodic.poll_s or POLL_S
        super().__init__(name="ssh-rounds", what="SSH collection round", poll_s=poll_s)
        self._sessions = sessions
        self._settings = settings
        self._writer = writer

    def run_once(self) -> dict[str, ssh_collect.Stored | SshError] | None:
        """Collect every known host if the round is due and this process gets the lease;
        what became of each host, or None when nothing ran."""
        interval = self._settings.ssh.interval_s
        if not interval:
            return None
        now = datetime.now(UTC)
        lease = self._settings.periodic.lease
        with self._sessions() as s, s.begin():
            write_session(s)
            every = timedelta(seconds=interval)
            if not jobs.claim(s, JOB, self._holder, now, every=every, lease=lease):
                return None
        done = run_leased(
            self._sessions,
            JOB,
            self._holder,
            now,
            lambda: ssh_collect.collect_known(
                self._sessions, self._settings, self._writer, actor=ACTOR
            ),
            result=_counts,
            lease=lease,
        )
        counts = _counts(done)
        if done:
            log.info("ssh round: %(hosts)d hosts, %(stored)d stored, %(failed)d failed", counts)
        return done


def _counts(done: dict[str, ssh_collect.Stored | SshError]) -> dict[str, int]:
    failed = sum(isinstance(outcome, SshError) for outcome in done.values())
    return {"hosts": len(done), "stored": len(done) - failed, "failed": failed}
