"""Network interfaces, addresses, routes, DNS, radios and saved network profiles."""

from agent.report._base import Section


class Network(Section, kw_only=True):
    """Network interfaces, addresses, routes, DNS, radios and saved network profiles."""
