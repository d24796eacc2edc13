"""Shipped catalogues of products the agent recognises, merged with the operator's additions.

Anti-malware products and remote-control tools are matched by name patterns against installed
software, services and processes, never by one process name alone (RULES.md). The shipped lists
live in ``agent/data/*.yaml``; the agent config adds to them.
"""

from __future__ import annotations

import re

import msgspec

from agent import data


class ProductSignature(msgspec.Struct, kw_only=True, frozen=True):
    """How to recognise one product."""

    name: str
    #: Case-insensitive regular expressions matched against installed-software names
    #: (DisplayName / package name), service names and display names.
    patterns: tuple[str, ...]
    #: Executable or process names (case-insensitive, without path).
    processes: tuple[str, ...] = ()
    #: Names of the product's central-management agent (anti-malware only).
    management: tuple[str, ...] = ()

    def matches(self, text: str | None) -> bool:
        """Whether ``text`` (a package, service or product name) is this product."""
        # The re module caches compiled patterns, so this stays cheap in loops.
        joined = "|".join(f"(?:{p})" for p in self.patterns)
        return bool(text) and re.search(joined, text or "", re.IGNORECASE) is not None

    def runs_as(self, process_name: str | None) -> bool:
        """Whether a process name is one of this product's executables."""
        if not process_name:
            return False
        return process_name.lower() in {p.lower() for p in self.processes}


def _signatures(name: str, extra: list[str]) -> list[ProductSignature]:
    shipped = msgspec.convert(data.load(name), type=list[ProductSignature])
    added = [ProductSignature(name=e, patterns=(re.escape(e),), processes=(e,)) for e in extra]
    return shipped + added


def antimalware(extra: list[str]) -> list[ProductSignature]:
    """Known anti-malware products plus the operator's extra names."""
    return _signatures("antimalware", extra)


def remote_tools(extra: list[str]) -> list[ProductSignature]:
    """Known remote-control tools plus the operator's extra names."""
    return _signatures("remote_tools", extra)
