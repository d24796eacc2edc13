"""The shared base of collectors: failures isolated, unknown facts recorded with their reason.

A collector is a small class per report section. It declares the section it fills (whose fields,
types and descriptions are the declaration) and implements one ``collect()`` that calls
``agent.platform``. It never sends, sleeps or reads config files: options come in through the
constructor.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from agent.errors import FactUnavailable, collecting_fact
from agent.report import CollectorError, CollectorRun
from agent.report._base import Section

if TYPE_CHECKING:
    from agent.config import AgentConfig

log = logging.getLogger(__name__)

T = TypeVar("T")
S = TypeVar("S", bound=Section)


class Facts:
    """Gathers facts for one section; a fact that raises FactUnavailable becomes ``None``.

    The reason goes into :attr:`unknown`, which the collector passes to the section so that a
    missing fact is never mistaken for a healthy one. Platform code may also mark single fields
    of a returned record unknown with :func:`agent.errors.note_unknown` (``updates.pending``).
    """

    def __init__(self) -> None:
        self.unknown: dict[str, str] = {}

    def get(self, name: str, func: Callable[[], T]) -> T | None:
        """Return ``func()``, or ``None`` after recording why it could not be determined."""
        try:
            with collecting_fact(self.unknown, name):
                return func()
        except FactUnavailable as exc:
            self.unknown[name] = exc.reason
            return None


class Collector(ABC, Generic[S]):
    """One report section. Subclasses set ``name`` and ``section`` and implement ``collect``."""

    #: Section name in the report (``hardware``, ``os`` ...).
    name: ClassVar[str]
    #: The report model this collector fills; its fields are the collector's declaration.
    section: ClassVar[type[Section]]

    def __init__(self, config: AgentConfig) -> None:
        self.config = config

    @abstractmethod
    def collect(self) -> S:
        """Collect the section. Raise only for a failure of the whole collector."""

    def summary(self, section: S) -> list[tuple[str, str]]:
        """Short (label, value) lines for ``govguard-agent once --summary``."""
        return []


def run_collector(
    collector: Collector[Any],
) -> tuple[Section | None, CollectorRun, CollectorError | None]:
    """Run one collector, turning any exception into an error entry instead of stopping the loop."""
    start = time.perf_counter()
    section: Section | None = None
    error: CollectorError | None = None
    try:
        section = collector.collect()
    except Exception as exc:
        log.warning("collector %s failed: %s", collector.name, exc, exc_info=True)
        error = CollectorError(collector=collector.name, error=type(exc).__name__, message=str(exc))
    elapsed_ms = round((time.perf_counter() - start) * 1000, 1)
    run = CollectorRun(name=collector.name, duration_ms=elapsed_ms, ok=error is None)
    return section, run, error
