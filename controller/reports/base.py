"""What a report definition is given and what it provides.

A definition computes a typed result from the database for a unit subtree and a period
(:meth:`ReportDefinition.compute`), then lays the result out as a :class:`Document`
(:meth:`ReportDefinition.layout`). Computing never renders and laying out never queries, so the
same result feeds every format and the tests can assert figures without parsing a PDF.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from controller.reports.document import Document, T
from controller.reports.period import Period
from controller.settings import ReportsConfig
from controller.store.scope import UnitScope

#: ``progress(done, total, what)``: called as a long computation goes (the CLI draws a bar).
Progress = Callable[[int, int, str], None]


def no_progress(done: int, total: int, what: str) -> None:
    """A :data:`Progress` that shows nothing."""


class ReportError(ValueError):
    """A report cannot be made as asked (unknown unit or report, bad option): a clear message,
    exit 1 in the CLI, 400/404 in the dashboard."""


@dataclass(frozen=True, slots=True)
class ReportContext:
    """Everything a definition may depend on besides the database.

    ``unit_id`` is the root of the report; ``scope`` the units it covers (that subtree, already
    narrowed to what the caller may see). ``show_locations``: include offices and host names
    of classified computers (exported copies leave them out unless the operator asks).
    ``settings`` is the ``reports:`` block of config.yaml (active days, targets, weights...).
    """

    unit_id: str
    scope: UnitScope
    period: Period
    now: datetime
    generated_by: str = "govguard"
    show_locations: bool = False
    settings: ReportsConfig = field(default_factory=ReportsConfig)
    progress: Progress = no_progress


R = TypeVar("R")


class ReportDefinition(Protocol, Generic[R]):
    """A named report: ``name`` is what ``govguard report NAME`` takes."""

    name: str
    title: T
    description: T

    def compute(self, s: Session, ctx: ReportContext) -> R:
        """The report's typed result, read in one transaction."""
        ...

    def layout(self, result: R, ctx: ReportContext) -> Document:
        """The result laid out for the renderers."""
        ...
