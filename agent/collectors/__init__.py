"""Every collector, and the function that runs them into one report.

To add a collector: write ``agent/collectors/<area>.py`` with a :class:`Collector` subclass and
add it to :data:`COLLECTORS` (CONTRIBUTING.md has the recipe).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.collectors.base import Collector, run_collector
from agent.collectors.connectivity import ConnectivityCollector
from agent.collectors.hardware import HardwareCollector
from agent.collectors.identity import IdentityCollector
from agent.collectors.network import NetworkCollector
from agent.collectors.os_info import OsCollector
from agent.collectors.peripherals import PeripheralsCollector
from agent.collectors.security import SecurityCollector
from agent.collectors.software import SoftwareCollector
from agent.i18n import Translate, english
from agent.report import SCHEMA_VERSION, Report

if TYPE_CHECKING:
    from agent.config import AgentConfig

COLLECTORS: tuple[type[Collector[Any]], ...] = (
    IdentityCollector,
    HardwareCollector,
    OsCollector,
    SoftwareCollector,
    NetworkCollector,
    ConnectivityCollector,
    SecurityCollector,
    PeripheralsCollector,
)


def collect_report(config: AgentConfig, sections: frozenset[str] | None = None) -> Report:
    """Run the collectors (all, or only ``sections``) and assemble one report.

    Collectors run in threads: most of the wall time is spent waiting on probes and commands,
    so the slow network probes overlap the local inventory instead of adding to it.
    """
    chosen = [c(config) for c in COLLECTORS if sections is None or c.name in sections]
    started = datetime.now(UTC).replace(microsecond=0)
    with ThreadPoolExecutor(max_workers=max(1, len(chosen))) as pool:
        results = list(pool.map(run_collector, chosen))
    report = Report(
        schema_version=SCHEMA_VERSION,
        kind="full",
        agent_version=__version__,
        collected_at=started,
    )
    for collector, (section, run, error) in zip(chosen, results, strict=True):
        report.collectors.append(run)
        if error is not None:
            report.errors.append(error)
        if section is not None:
            setattr(report, collector.name, section)
    return report


def summary_lines(
    config: AgentConfig, report: Report, t: Translate = english
) -> list[tuple[str, str]]:
    """(label, value) lines of every collector's summary, in order, in ``t``'s language."""
    lines: list[tuple[str, str]] = []
    for cls in COLLECTORS:
        section = getattr(report, cls.name, None)
        if section is not None:
            lines.extend(cls(config).summary(section, t))
    return lines
