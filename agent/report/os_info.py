"""Operating system: name, version, kernel, dates, locale, users, vendor support."""

from agent.report._base import Section


class OperatingSystem(Section, kw_only=True):
    """Operating system: name, version, kernel, dates, locale, users, vendor support."""
