"""Software collector (being built; see issue 2)."""

from agent.collectors.base import Collector, Facts
from agent.report import Software


class SoftwareCollector(Collector[Software]):
    """Fills the ``software`` section."""

    name = "software"
    section = Software

    def collect(self) -> Software:
        """Collect the section."""
        facts = Facts()
        return Software(unknown=facts.unknown)
