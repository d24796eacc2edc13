"""Counters and histograms the controller process updates as it works (ingest, notifications).

They count what this process saw since it started (Prometheus' ``rate()`` copes with restarts).
Labels come from fixed lists: an error code not listed here is counted as ``other``, so an
unexpected code can never grow a series per value.
"""

from __future__ import annotations

from typing import Final, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

#: What became of a ``POST /api/v1/reports``.
INGEST_OUTCOMES: Final = (
    "stored",  # committed (a report_now reply included)
    "duplicate",  # a sequence number already stored: acknowledged again, nothing written
    "rejected",  # refused for good (4xx): see govguard_ingest_rejected_total
    "unavailable",  # 503: the database is down or the writer is busy; the agent retries
    "error",  # 500: a bug, logged with its traceback
    "disconnected",  # the agent went away before its body arrived
)
#: Why a report was refused (the ``error`` code of the JSON answer).
REJECT_REASONS: Final = (
    "bad_envelope",
    "bad_request",
    "unknown_agent",
    "pending_approval",
    "revoked",
    "wrong_key",
    "bad_digest",
    "bad_signature",
    "bad_gzip",
    "bad_json",
    "schema",
    "too_large",
    "seq_conflict",
    "other",
)
#: What a notification delivery attempt came to (rows: a digest of three counts three).
NOTIFICATION_OUTCOMES: Final = ("sent", "retried", "failed")
#: From a local commit (a few ms) to the commit timeout (60 s).
LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


class PassCounts(Protocol):
    """What a notification delivery pass did (:class:`controller.notify.worker.PassResult`)."""

    sent: int
    retried: int
    failed: int


class LiveMetrics:
    """The process's own counters, registered in ``registry``.

    Every label value is created up front (zeros), so alert expressions such as
    ``rate(govguard_ingest_rejected_total[5m])`` have a series before the first refusal.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter(
            "govguard_ingest_requests",
            "Reports received by this controller process, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self._rejected = Counter(
            "govguard_ingest_rejected",
            "Reports refused for good by this controller process, by reason (the error code).",
            ["reason"],
            registry=registry,
        )
        self._latency = Histogram(
            "govguard_ingest_duration_seconds",
            "Seconds from a report's arrival to its answer (after the commit), this process.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._notifications = Counter(
            "govguard_notification_deliveries",
            "Notification deliveries attempted by this controller process, by outcome "
            "(retried and failed are failures).",
            ["outcome"],
            registry=registry,
        )
        self._notify_passes_failed = Counter(
            "govguard_notification_pass_errors",
            "Delivery passes of this process that stopped on an error (the database, a bug).",
            registry=registry,
        )
        # Children bound once: the report path does one dict-free increment per request.
        self._by_outcome = {name: self._requests.labels(name) for name in INGEST_OUTCOMES}
        self._by_reason = {name: self._rejected.labels(name) for name in REJECT_REASONS}
        self._deliveries = {
            name: self._notifications.labels(name) for name in NOTIFICATION_OUTCOMES
        }

    def report_answered(self, outcome: str, seconds: float) -> None:
        """A report was answered ``stored``, ``duplicate`` or ``disconnected`` after ``seconds``."""
        self._by_outcome[outcome if outcome in self._by_outcome else "error"].inc()
        self._latency.observe(seconds)

    def report_refused(self, status: int, code: str | None, seconds: float) -> None:
        """A report was answered with HTTP ``status`` and error ``code`` after ``seconds``."""
        if status == 503:
            outcome = "unavailable"
        elif status >= 500:
            outcome = "error"
        else:
            outcome = "rejected"
            self._by_reason[code if code in self._by_reason else "other"].inc()
        self._by_outcome[outcome].inc()
        self._latency.observe(seconds)

    def notification_pass(self, result: PassCounts | None) -> None:
        """One delivery pass finished with ``result``; None: it raised (rows are retried later)."""
        if result is None:
            self._notify_passes_failed.inc()
            return
        for outcome, n in (
            ("sent", result.sent),
            ("retried", result.retried),
            ("failed", result.failed),
        ):
            if n:
                self._deliveries[outcome].inc(n)
