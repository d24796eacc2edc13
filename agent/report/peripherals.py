"""Printers, USB devices, smart-card readers, signing certificates and middleware."""

from agent.report._base import Section


class Peripherals(Section, kw_only=True):
    """Printers, USB devices, smart-card readers, signing certificates and middleware."""
