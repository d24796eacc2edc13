"""Hardware collector (being built; see issue 2)."""

from agent.collectors.base import Collector, Facts
from agent.report import Hardware


class HardwareCollector(Collector[Hardware]):
    """Fills the ``hardware`` section."""

    name = "hardware"
    section = Hardware

    def collect(self) -> Hardware:
        """Collect the section."""
        facts = Facts()
        return Hardware(unknown=facts.unknown)
