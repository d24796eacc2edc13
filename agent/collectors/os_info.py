"""OperatingSystem collector (being built; see issue 2)."""

from agent.collectors.base import Collector, Facts
from agent.report import OperatingSystem


class OsCollector(Collector[OperatingSystem]):
    """Fills the ``os`` section."""

    name = "os"
    section = OperatingSystem

    def collect(self) -> OperatingSystem:
        """Collect the section."""
        facts = Facts()
        return OperatingSystem(unknown=facts.unknown)
