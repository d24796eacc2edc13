"""Security collector (being built; see issue 2)."""

from agent.collectors.base import Collector, Facts
from agent.report import Security


class SecurityCollector(Collector[Security]):
    """Fills the ``security`` section."""

    name = "security"
    section = Security

    def collect(self) -> Security:
        """Collect the section."""
        facts = Facts()
        return Security(unknown=facts.unknown)
