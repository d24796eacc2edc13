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
from collections.abc import Callable, Sequence, Sized
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from agent.errors import FactUnavailable, collecting_fact
from agent.i18n import Translate, english
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

    def summary(self, section: S, t: Translate = english) -> list[tuple[str, str]]:
        """Short (label, value) lines for ``govguard-agent once --summary``, in ``t``'s language.

        Every fixed text goes through ``t`` (labels, words, ``str.format`` templates); values taken
        from the report (names, reasons) are shown as they are.
        """
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


# --- summary formatting, shared by every collector's summary() ------------------------------

#: How the summary shows a fact that could not be determined (an English text for ``t``).
UNKNOWN = "unknown"


def flag(value: bool | None, yes: str = "yes", no: str = "NO", t: Translate = english) -> str:
    """A yes/no fact for the summary; a bad answer in capitals so it stands out."""
    if value is None:
        return t(UNKNOWN)
    return t(yes if value else no)


def listing(
    items: Sequence[T] | None,
    text: Callable[[T], str],
    empty: str = "none",
    t: Translate = english,
) -> str:
    """A list fact for the summary: unknown, the items joined, or what "looked, found none" is."""
    if items is None:
        return t(UNKNOWN)
    return ", ".join(text(item) for item in items) or t(empty)


def count(items: Sized | None, t: Translate = english) -> str:
    """How many items a list fact holds, or unknown."""
    return t(UNKNOWN) if items is None else str(len(items))
