"""Network collector (being built; see issue 2)."""

from agent.collectors.base import Collector, Facts
from agent.report import Network


class NetworkCollector(Collector[Network]):
    """Fills the ``network`` section."""

    name = "network"
    section = Network

    def collect(self) -> Network:
        """Collect the section."""
        facts = Facts()
        return Network(unknown=facts.unknown)
