"""Connectivity collector (being built; see issue 2)."""

from agent.collectors.base import Collector, Facts
from agent.report import Connectivity


class ConnectivityCollector(Collector[Connectivity]):
    """Fills the ``connectivity`` section."""

    name = "connectivity"
    section = Connectivity

    def collect(self) -> Connectivity:
        """Collect the section."""
        facts = Facts()
        return Connectivity(unknown=facts.unknown)
