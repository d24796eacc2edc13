"""Hardware inventory: system, firmware, board, CPU, memory, disks, monitors, battery."""

from agent.report._base import Section


class Hardware(Section, kw_only=True):
    """Hardware inventory: system, firmware, board, CPU, memory, disks, monitors, battery."""
