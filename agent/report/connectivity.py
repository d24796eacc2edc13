"""Results of the configured reachability probes (gateway, DNS, HTTPS, TCP)."""

from agent.report._base import Section


class Connectivity(Section, kw_only=True):
    """Results of the configured reachability probes (gateway, DNS, HTTPS, TCP)."""
