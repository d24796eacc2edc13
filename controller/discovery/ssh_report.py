"""Turn the outputs of :data:`controller.discovery.ssh_commands.COMMANDS` into a report.

The report has the agent's shape (:mod:`agent.report`), so the same policies, host facts and
dashboard apply to a host collected over SSH. Where the agent reads a file or a command and this
module gets the same text over SSH, the agent's own parsers are reused (os-release, dpkg and rpm
lists, nftables and iptables rulesets, sshd_config, the end-of-life table). Facts the commands
cannot give (monitors, radios, saved networks, anti-malware...) stay ``None`` with the reason in
the section's ``unknown`` map, so that no rule takes them for a pass.

Everything here is hostile input: a parse that fails makes one fact unknown (or, at worst, one
section missing with an error entry), never the collection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from agent import __version__
from agent.errors import FactUnavailable
from agent.report import SCHEMA_VERSION, CollectorError, CollectorRun, Report
from agent.report._base import Section
from controller.discovery.ssh_host import hardware, identity, operating_system, software
from controller.discovery.ssh_network import network, security
from controller.discovery.ssh_outputs import NOT_COLLECTED, Collected, Outputs, grep_files

#: Section name -> builder, in the report's order. Connectivity (probes from the host itself)
#: and peripherals are left out: no SSH command gives them.
SECTIONS: tuple[tuple[str, Callable[[Collected], Section]], ...] = (
    ("identity", identity),
    ("hardware", hardware),
    ("os", operating_system),
    ("software", software),
    ("network", network),
    ("security", security),
)


def build_report(outputs: Outputs, collected_at: datetime) -> Report:
    """The report of one collection. A section whose builder fails is left out with an error
    entry, like a failed collector of the agent; the others are kept."""
    c = Collected(outputs, collected_at)
    report = Report(
        schema_version=SCHEMA_VERSION,
        kind="full",
        agent_version=__version__,
        collected_at=collected_at.replace(microsecond=0),
    )
    for name, build in SECTIONS:
        start = time.perf_counter()
        error: CollectorError | None = None
        try:
            setattr(report, name, build(c))
        except FactUnavailable as exc:
            error = CollectorError(collector=name, error="FactUnavailable", message=exc.reason)
        except Exception as exc:  # hostile output must never stop the collection
            error = CollectorError(collector=name, error=type(exc).__name__, message=str(exc))
        elapsed = round((time.perf_counter() - start) * 1000, 1)
        report.collectors.append(CollectorRun(name=name, duration_ms=elapsed, ok=error is None))
        if error is not None:
            report.errors.append(error)
    return report


__all__ = ["NOT_COLLECTED", "SECTIONS", "Collected", "build_report", "grep_files"]
