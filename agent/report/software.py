"""Installed packages, services and autostart entries."""

from agent.report._base import Section


class Software(Section, kw_only=True):
    """Installed packages, services and autostart entries."""
