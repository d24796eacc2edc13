"""Peripherals collector (being built; see issue 2)."""

from agent.collectors.base import Collector, Facts
from agent.report import Peripherals


class PeripheralsCollector(Collector[Peripherals]):
    """Fills the ``peripherals`` section."""

    name = "peripherals"
    section = Peripherals

    def collect(self) -> Peripherals:
        """Collect the section."""
        facts = Facts()
        return Peripherals(unknown=facts.unknown)
