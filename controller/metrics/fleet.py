"""The scrape-time collector: the district's state read from the database at each scrape.

Nothing here is kept between scrapes, so several controller processes on one database expose
the same figures whichever of them Prometheus reaches. A database that cannot be read gives
``govguard_up 0`` and no state families, never an error page: the scrape itself succeeds, so the
"controller down" and "database down" alerts stay apart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from controller.store.dashboard import HOST_STATES
from controller.store.db import is_unavailable
from controller.store.metrics import (
    CLASSIFIED_STATUSES,
    NOTIFICATION_STATUSES,
    FleetState,
    fleet_state,
)
from controller.store.models import REMEDIATION_JOB_STATUSES

log = logging.getLogger(__name__)

#: Longest a scrape's statement may run on PostgreSQL, under the example's 10 s scrape timeout.
READ_TIMEOUT_S = 5.0

#: The SNMP round's job (controller.discovery.rounds.JOB; not imported: that module pulls in
#: the SNMP stack, which the web process never needs).
SNMP_ROUND_JOB = "snmp.round"
#: Device outcomes of the last SNMP round, as its ``last_result`` counts them.
SNMP_OUTCOMES = {"ok": "devices_ok", "failed": "devices_failed"}


class FleetCollector(Collector):
    """Reads :func:`controller.store.metrics.fleet_state` and turns it into metric families."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], datetime] | None = None,
        timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self._sessions = sessions
        self._clock = clock or (lambda: datetime.now(UTC))
        self._timeout_s = timeout_s

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One read of the database per scrape; ``govguard_up`` says whether it worked."""
        started = time.perf_counter()
        now = self._clock()
        state: FleetState | None = None
        try:
            with self._sessions() as s:
                state = fleet_state(s, now, timeout_s=self._timeout_s)
        except Exception as exc:
            if _timed_out(exc):
                log.warning("metrics: reading the database took longer than %g s", self._timeout_s)
            elif is_unavailable(exc):
                log.warning("metrics: the database is unavailable: %s", _first_line(exc))
            else:
                log.exception("metrics: reading the database failed")
        yield _gauge(
            "govguard_up",
            "1 when this scrape could read the controller's database, 0 when it could not.",
            value=0.0 if state is None else 1.0,
        )
        yield _gauge(
            "govguard_state_read_seconds",
            "Seconds this scrape spent reading the database.",
            value=time.perf_counter() - started,
        )
        if state is not None:
            yield from _families(state, now)


def _families(state: FleetState, now: datetime) -> Iterator[GaugeMetricFamily]:
    units = _units(state)
    yield _family(
        "govguard_hosts",
        "Active agents by unit and connection state (online: reported within the last hour; "
        "stale: not since; never: no report yet).",
        ["unit", "state"],
        (([u, st], state.hosts.get((u, st), 0)) for u in units for st in HOST_STATES),
    )
    yield _family(
        "govguard_newest_report_age_seconds",
        "Seconds since the most recently heard agent of the unit reported (units with no "
        "report yet have no series).",
        ["unit"],
        (
            ([u], max(0.0, (now - at).total_seconds()))
            for u, at in sorted(state.newest_report.items())
        ),
    )
    yield _family(
        "govguard_findings_open",
        "Findings not resolved nor exempted, by rule, severity and status (open, acknowledged).",
        ["rule", "severity", "status"],
        ((list(key), n) for key, n in sorted(state.findings.items())),
    )
    yield _family(
        "govguard_classified_computers",
        "Registered classified computers by unit and status (sighted: seen on the network; "
        "overdue: last offline bundle older than 30 days or none; never: no offline agent "
        "enrolled; attested: a bundle within 30 days).",
        ["unit", "status"],
        (([u, st], state.classified.get((u, st), 0)) for u in units for st in CLASSIFIED_STATUSES),
    )
    yield _by_status(
        "govguard_remediation_jobs",
        "Remediation jobs by workflow status.",
        REMEDIATION_JOB_STATUSES,
        state.remediation_jobs,
    )
    yield _by_status(
        "govguard_notifications",
        "Notification deliveries (e-mail, webhook) by status; failed ones gave up for good.",
        NOTIFICATION_STATUSES,
        state.notifications,
    )
    yield from _job_families(state, now)


def _family(
    name: str,
    documentation: str,
    labels: list[str],
    samples: Iterable[tuple[list[str], float]],
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


def _by_status(
    name: str, documentation: str, known: tuple[str, ...], counts: Mapping[str, int]
) -> GaugeMetricFamily:
    """``known`` statuses (zeros included), then any other status the database holds."""
    statuses = [*known, *sorted(set(counts) - set(known))]
    return _family(name, documentation, ["status"], (([st], counts.get(st, 0)) for st in statuses))


def _job_families(state: FleetState, now: datetime) -> Iterator[GaugeMetricFamily]:
    started = GaugeMetricFamily(
        "govguard_job_last_started_timestamp_seconds",
        "Unix time the last run of a periodic job (snmp.round, findings.reevaluate, ...) began.",
        labels=["job"],
    )
    finished = GaugeMetricFamily(
        "govguard_job_last_finished_timestamp_seconds",
        "Unix time the last successful run of a periodic job finished.",
        labels=["job"],
    )
    running = GaugeMetricFamily(
        "govguard_job_running",
        "1 while a controller process holds the job's lease (a run is in progress).",
        labels=["job"],
    )
    duration = GaugeMetricFamily(
        "govguard_snmp_round_duration_seconds",
        "Seconds the last finished SNMP round took (no sample while a round runs).",
    )
    devices = GaugeMetricFamily(
        "govguard_snmp_round_devices",
        "Network devices of the last finished SNMP round by outcome (ok, failed: no answer).",
        labels=["outcome"],
    )
    for job in state.jobs:
        if job.started_at is not None:
            started.add_metric([job.name], job.started_at.timestamp())
        if job.finished_at is not None:
            finished.add_metric([job.name], job.finished_at.timestamp())
        running.add_metric([job.name], 1.0 if job.running else 0.0)
        if job.name != SNMP_ROUND_JOB:
            continue
        if (seconds := job.last_duration_s) is not None:
            duration.add_metric([], seconds)
        result = job.last_result or {}
        for outcome, key in SNMP_OUTCOMES.items():
            value = result.get(key)
            if isinstance(value, int):
                devices.add_metric([outcome], value)
    yield from (started, finished, running, duration, devices)


def _units(state: FleetState) -> list[str]:
    """Live units, plus any unit (a retired one) that still has agents."""
    return sorted(set(state.units) | {unit for unit, _ in state.hosts})


def _gauge(name: str, documentation: str, *, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _timed_out(exc: BaseException) -> bool:
    """PostgreSQL cancelled a statement for ``statement_timeout`` (SQLSTATE 57014)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "57014"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
