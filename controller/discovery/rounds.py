"""One SNMP round: targets → poll → store → findings → notifications, and the worker's schedule.

:func:`run_round` is the whole round, the same for ``govguard worker`` and ``govguard snmp
poll``: the organisation file's devices are polled (outside any transaction: a slow switch
holds no database lock), then the results, the findings they cause and the notices of the
findings opened commit in one transaction. Critical notices (a classified PC seen on a switch
port) are sent right after the commit rather than at the notifier's next pass.

:class:`SnmpRounds` runs rounds in ``govguard worker`` every ``snmp.interval_s`` and when the
dashboard asks (:func:`request_round`); a job lease (``snmp.round``) lets exactly one process
of the controller poll at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from controller.discovery import enforcement
from controller.discovery.credentials import Credential, CredentialError, load_credentials
from controller.discovery.poller import Progress, poll_round, targets_from_store
from controller.discovery.profiles import ProfileSet
from controller.discovery.results import DeviceResult
from controller.findings.alerts import FindingAlerts
from controller.findings.network import NetworkFindings, evaluate_round
from controller.findings.policies import PolicyCache
from controller.notify.worker import deliver_due
from controller.periodic import LEASE, PeriodicThread
from controller.periodic import run_leased as run_under_lease
from controller.settings import Settings
from controller.store import jobs
from controller.store.db import write_session
from controller.store.discovery import RoundSummary, store_round
from controller.store.models import Job

log = logging.getLogger(__name__)

JOB = "snmp.round"
#: How often the worker looks for a due or requested round (and approved port actions).
POLL_S = 10.0
#: ``snmp.interval_s`` 0: rounds only when asked for.
_NEVER = timedelta(days=36500)


class RoundBusyError(Exception):
    """Another process holds the round's lease."""


@dataclass(frozen=True)
class RoundResult:
    """What one round did."""

    at: datetime
    results: tuple[DeviceResult, ...]
    summary: RoundSummary
    findings: NetworkFindings
    #: Seconds from the first request to the last answer.
    poll_s: float

    def counts(self) -> dict[str, int]:
        """The round's figures, as the job's ``last_result`` keeps them."""
        s, f = self.summary, self.findings
        return {
            "devices_ok": s.devices_ok,
            "devices_failed": s.devices_failed,
            "values": s.values,
            "sightings": s.sightings,
            "new_sightings": s.new_sightings,
            "opened": len(f.opened),
            "resolved": f.resolved,
            "classified": f.classified,
        }

    def line(self) -> str:
        """The one-line summary the worker logs and ``snmp poll`` prints."""
        s, f = self.summary, self.findings
        return (
            f"{s.devices_ok + s.devices_failed} devices ({s.devices_ok} ok, "
            f"{s.devices_failed} failed), {s.values} values, {s.sightings} MAC sightings "
            f"({s.new_sightings} new), {s.arp_entries} ARP entries, {s.printers} printers; "
            f"findings {len(f.opened)} opened, {f.resolved} resolved"
            + (f", classified PCs seen: {f.classified}" if f.classified else "")
            + f"; poll {self.poll_s:.1f} s, store {s.elapsed_s:.1f} s"
        )


def request_round(s: Session, at: datetime) -> None:
    """Ask the worker for a round as soon as it can (the dashboard's "poll now")."""
    jobs.request(s, JOB, at)


def run_round(
    sessions: sessionmaker[Session],
    settings: Settings,
    credentials: dict[str, Credential],
    profiles: ProfileSet,
    *,
    device_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
    policies: PolicyCache | None = None,
    at: datetime | None = None,
) -> RoundResult:
    """Poll the live devices (all, or ``device_ids``), store what they said and raise the
    findings it causes, in one transaction; then send the critical notices now due."""
    at = at or datetime.now(UTC)
    config = settings.snmp
    with sessions() as s:
        targets, unusable = targets_from_store(s, credentials, device_ids)
    if progress is not None:
        for result in unusable:
            progress(result)
    started = time.perf_counter()
    polled = poll_round(targets, config=config, profiles=profiles, progress=progress)
    poll_s = time.perf_counter() - started
    results = [*unusable, *polled]
    alerts = FindingAlerts(settings.notify, policies or PolicyCache(settings.data_dir))
    with sessions() as s, s.begin():
        write_session(s)
        summary = store_round(s, results, at, uplink_mac_threshold=config.uplink_mac_threshold)
        findings = evaluate_round(s, results, at, config)
        # Proposals only (enforce_units); nothing is sent before an operator approves.
        enforcement.propose_for_sightings(s, settings, findings.sightings, at)
        if findings.opened:
            alerts(s, findings.opened, at)
    if any(o.severity == "critical" for o in findings.opened) and settings.notify.routes:
        # The alarm must not wait for the notifier's next pass (or for `serve` to run at all).
        try:
            deliver_due(sessions, settings.notify, settings.data_dir)
        except Exception:
            # Queued and committed: the notifier sends it at its next pass.
            log.exception("sending the round's critical notices failed; they stay queued")
    return RoundResult(at, tuple(results), summary, findings, poll_s)


def holder_name(kind: str) -> str:
    """A lease holder's name: what runs it, on which host, in which process."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def run_leased(
    sessions: sessionmaker[Session],
    holder: str,
    at: datetime,
    work: Callable[[], RoundResult],
    *,
    full: bool,
    lease: timedelta = LEASE,
) -> RoundResult:
    """Run ``work`` under the ``snmp.round`` lease taken now, whatever the schedule says
    (``govguard snmp poll``). A ``full`` round counts as the scheduled one; a round of a few
    devices leaves the schedule as it was. :class:`RoundBusyError` when another process holds
    the lease."""
    with sessions() as s, s.begin():
        write_session(s)
        taken = jobs.claim(s, JOB, holder, at, every=timedelta(0), lease=lease)
        job = jobs.get(s, JOB)
        busy = job.holder if job is not None else None
    if not taken:
        raise RoundBusyError(f"a round is running in {busy} (the worker); try again shortly")
    return _guarded(sessions, holder, work, started=at, lease=lease, finish=full)


def _guarded(
    sessions: sessionmaker[Session],
    holder: str,
    work: Callable[[], RoundResult],
    *,
    started: datetime,
    lease: timedelta,
    finish: bool,
) -> RoundResult:
    return run_under_lease(
        sessions,
        JOB,
        holder,
        started,
        work,
        result=lambda result: result.counts(),
        lease=lease,
        # The round's time, as its observations carry it, is when the job last ran.
        at=started,
        scheduled=finish,
    )


def _may_run(job: Job | None, now: datetime, every: timedelta) -> bool:
    """Whether :func:`jobs.claim` could succeed now (the claim itself decides)."""
    if job is None:
        return every != _NEVER
    if job.lease_until is not None and job.lease_until > now:
        return False
    requested = job.requested_at is not None and (
        job.finished_at is None or job.requested_at > job.finished_at
    )
    if requested:
        return True
    if every == _NEVER:
        return False
    return job.finished_at is None or job.finished_at <= now - every


class SnmpRounds(PeriodicThread):
    """Runs a round when due or asked for, in a daemon thread of ``govguard worker``.

    After every look, whether a round ran or not, approved port actions are applied, so an
    operator's approval does not wait for the next round.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        profiles: ProfileSet,
        *,
        poll_s: float | None = None,
        clock: Callable[[], datetime] | None = None,
        policies: PolicyCache | None = None,
    ) -> None:
        poll_s = poll_s or settings.periodic.poll_s or POLL_S
        super().__init__(name="snmp-rounds", what="SNMP round", poll_s=poll_s)
        self._sessions = sessions
        self._settings = settings
        self._profiles = profiles
        self._clock = clock or (lambda: datetime.now(UTC))
        self._policies = policies or PolicyCache(settings.data_dir)
        interval = settings.snmp.interval_s
        self._every = timedelta(seconds=interval) if interval else _NEVER
        #: The last round this process ran (for the worker's tests and its status line).
        self.last: RoundResult | None = None
        self._credential_error: str | None = None

    @property
    def holder(self) -> str:
        """This process's name on the lease."""
        return self._holder

    def run_once(self) -> RoundResult | None:
        """Run a round if one is due (or asked for) and this process gets the lease."""
        try:
            return self._round()
        finally:
            self._apply_port_actions()

    def _apply_port_actions(self) -> None:
        """Send the SNMP SET of the port shutdowns (and undos) operators approved."""
        # The worker is the process that holds the SNMP secrets, so it applies them; with
        # nothing approved this costs one SELECT.
        try:
            credentials = load_credentials(self._settings.data_dir)
        except CredentialError:
            credentials = {}  # each approved action then fails with "no credential", audited
        enforcement.apply_approved(self._sessions, self._settings, credentials)

    def _round(self) -> RoundResult | None:
        now = self._clock()
        with self._sessions() as s:
            # Most looks find the job done or held: a read, not SQLite's write lock, says so.
            if not _may_run(jobs.get(s, JOB), now, self._every):
                return None
        try:
            # Read each round: a secret changed in secrets/snmp.yaml needs no restart.
            credentials = load_credentials(self._settings.data_dir)
        except CredentialError as exc:
            if str(exc) != self._credential_error:  # once per new problem, not every look
                log.error("SNMP round skipped: %s", exc)
            self._credential_error = str(exc)
            return None
        self._credential_error = None
        with self._sessions() as s, s.begin():
            write_session(s)
            lease = self._settings.periodic.lease
            if not jobs.claim(s, JOB, self._holder, now, every=self._every, lease=lease):
                return None

        def work() -> RoundResult:
            return run_round(
                self._sessions,
                self._settings,
                credentials,
                self._profiles,
                policies=self._policies,
                at=now,
            )

        self.last = result = _guarded(
            self._sessions, self._holder, work, started=now, lease=lease, finish=True
        )
        log.info("snmp round: %s", result.line())
        return result

    def release(self) -> None:
        """Give the lease up if this process still holds it (a stop in the middle of a round:
        its transaction never commits, and the next worker need not wait for the lease)."""
        with self._sessions() as s, s.begin():
            jobs.release(s, JOB, self._holder)
