"""Security posture: firewall, anti-malware, updates, encryption, accounts, policies."""

from agent.report._base import Section


class Security(Section, kw_only=True):
    """Security posture: firewall, anti-malware, updates, encryption, accounts, policies."""
