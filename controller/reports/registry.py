"""Report names → definitions (what ``govguard report NAME`` and the Reports page offer)."""

from __future__ import annotations

from typing import Any

from controller.reports.base import ReportDefinition, ReportError

_DEFINITIONS: dict[str, ReportDefinition[Any]] = {}


def register(definition: ReportDefinition[Any]) -> ReportDefinition[Any]:
    """Add ``definition`` under its name (each report module registers itself on import)."""
    _DEFINITIONS[definition.name] = definition
    return definition


def _load() -> None:
    # Imported here, not at the top: each module registers itself and imports this one.
    import controller.reports.definitions  # noqa: F401


def names() -> tuple[str, ...]:
    """The report names, in the order they are offered."""
    _load()
    return tuple(_DEFINITIONS)


def get(name: str) -> ReportDefinition[Any]:
    """The definition called ``name``; :class:`ReportError` listing the names otherwise."""
    _load()
    try:
        return _DEFINITIONS[name]
    except KeyError:
        raise ReportError(f"unknown report {name!r}; reports: {', '.join(_DEFINITIONS)}") from None
