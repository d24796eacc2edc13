"""Prometheus metrics of the controller (docs/metrics.md).

One :class:`Metrics` per controller process, shared by its listeners: the agents' listener
counts reports into it and the admin listener (or the only one) serves it at ``/metrics``
(:mod:`controller.metrics.http`). Each has its own registry, never prometheus_client's global
one, so several applications in one test process do not collide.

Two kinds of figures:

- the district's state (:mod:`controller.metrics.fleet`), read from the database at each
  scrape, the same whichever controller process answers;
- what this process did (:mod:`controller.metrics.live`): reports received and refused,
  latency, notification deliveries; plus the process's CPU and memory.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from sqlalchemy.orm import Session, sessionmaker

from agent import __version__
from controller.metrics.fleet import FleetCollector
from controller.metrics.live import LiveMetrics

__all__ = ["CONTENT_TYPE", "LiveMetrics", "Metrics"]

#: The classic text exposition format, what :func:`generate_latest` writes for our names (plain
#: ASCII): every Prometheus 2.x reads it. Newer prometheus_client releases announce 1.0.0 by
#: default, which older servers do not know.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# ``*_created`` samples (one per counter series) only repeat the process start time: bytes on
# every scrape and nothing an alert uses.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """The registry of one controller process: state read from ``sessions`` plus live counters."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.live = LiveMetrics(self.registry)
        self.registry.register(FleetCollector(sessions, clock=clock))
        Info("govguard_build", "The controller's version.", registry=self.registry).info(
            {"version": __version__}
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def exposition(self) -> bytes:
        """The text exposition of every metric (reads the database; call it off the loop)."""
        return generate_latest(self.registry)
