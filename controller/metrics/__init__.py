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

With ``GOVGUARD_WORKERS=N`` the N worker processes of one ``govguard serve`` share its port, so
a scrape reaches any one of them: their counters then live in files of one directory
(prometheus_client's multiprocess mode, :func:`share_counters`) and every scrape sums them all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from agent import __version__
from controller.metrics.fleet import FleetCollector
from controller.metrics.live import LiveMetrics

__all__ = ["CONTENT_TYPE", "SHARED_DIR_ENV", "LiveMetrics", "Metrics", "share_counters"]

#: The classic text exposition format, what :func:`generate_latest` writes for our names (plain
#: ASCII): every Prometheus 2.x reads it. Newer prometheus_client releases announce 1.0.0 by
#: default, which older servers do not know.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Where prometheus_client's multiprocess mode keeps each process's counters.
SHARED_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# ``*_created`` samples (one per counter series) only repeat the process start time: bytes on
# every scrape and nothing an alert uses.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]


def share_counters(directory: Path) -> None:
    """Keep the counters created from now on in ``directory``, summed with other processes'.

    For the worker processes of one ``govguard serve`` (the directory is made, and removed, by
    the supervisor). prometheus_client picks its value class from the environment when it is
    first imported, long before ``serve`` knows how many workers it starts, so it is set here
    explicitly, in each worker, before its :class:`Metrics` is built.
    """
    os.environ[SHARED_DIR_ENV] = str(directory)
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


class _BuildInfo(Collector):
    """``govguard_build_info{version}`` (prometheus_client's Info has no multiprocess mode)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "govguard_build_info", "The controller's version (always 1).", labels=["version"]
        )
        family.add_metric([__version__], 1.0)
        yield family


class Metrics:
    """The registry of one controller process: state read from ``sessions`` plus live counters.

    ``shared_dir``: the counters of every worker process of this ``govguard serve`` are summed
    from that directory (:func:`share_counters` must have been called); the per-process CPU and
    memory figures are then left out, as they would describe whichever worker answered.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], datetime] | None = None,
        shared_dir: Path | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        if shared_dir is None:
            self.live = LiveMetrics(self.registry)
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        else:
            # Registered nowhere that is exposed: their values are read back from the files.
            self.live = LiveMetrics(CollectorRegistry())
            MultiProcessCollector(self.registry, path=str(shared_dir))  # type: ignore[no-untyped-call]
        self.registry.register(FleetCollector(sessions, clock=clock))
        self.registry.register(_BuildInfo())

    def exposition(self) -> bytes:
        """The text exposition of every metric (reads the database; call it off the loop)."""
        return generate_latest(self.registry)
