"""Declared figures: what the readiness report cannot observe, entered per unit and period.

Documents signed over the interconnection axis, QLVB accounts, online dossiers, ISO, training
(RULES.md readiness metrics 16-23) come from other systems' reports or from the HR office; 13
(specialised data network) and 14 (organisational certificate) may be declared where no agent or
register entry shows them. The report labels these figures *declared*, never *measured*.

A figure is the unit's own: the report adds the units of a subtree together, so declare a total
at a parent only when its children have none. Every change writes an audit entry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from controller.reports.period import PeriodError, parse
from controller.store import audit
from controller.store.dashboard._common import unit_filter
from controller.store.models import DeclaredFigure, Unit
from controller.store.scope import UnitScope

#: Readiness metrics that take declared figures, and whether each is a rate (needs a
#: denominator). ``egov.20`` is the full-process share of procedures, ``egov.20.partial`` the
#: partial one.
DECLARABLE: dict[str, bool] = {
    "egov.13": True,
    "egov.14": True,
    "egov.16": True,
    "egov.17": True,
    "egov.18": True,
    "egov.19": True,
    "egov.20": True,
    "egov.20.partial": True,
    "egov.21": True,
    "egov.22": True,
    "egov.23": True,
}
_NUMBER = r"\d+(?:\.\d+)?"
_VALUE = re.compile(rf"\s*({_NUMBER})\s*(?:/\s*({_NUMBER})\s*)?")
#: Longest ``source`` text kept (a document reference, not the document).
MAX_SOURCE = 500


class DeclaredError(ValueError):
    """A figure that cannot be stored: the message is one line saying why."""


class DeclaredFileError(DeclaredError):
    """A figures file with mistakes; ``errors`` are ``FILE:LINE: what`` lines, all of them."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors[0] if len(errors) == 1 else f"{len(errors)} errors")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class NewFigure:
    """A figure to store (``line``: where a file gave it, 0 from the command line)."""

    unit_id: str
    period: str
    metric: str
    numerator: float
    denominator: float | None
    source: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored figure as the listing shows it."""

    unit_id: str
    period: str
    metric: str
    numerator: float
    denominator: float | None
    source: str | None
    entered_by: str
    entered_at: datetime


def metric_key(text: str) -> str:
    """``17``, ``egov.17`` or ``20.partial`` as a declarable key; :class:`DeclaredError` if the
    metric does not take declared figures."""
    value = text.strip().lower()
    key = value if value.startswith("egov.") else f"egov.{value}"
    if key not in DECLARABLE:
        raise DeclaredError(
            f"metric {text!r} does not take declared figures; metrics: " + ", ".join(DECLARABLE)
        )
    return key


def period_label(text: str) -> str:
    """The canonical label of a period (``2026-q4`` → ``2026-Q4``)."""
    try:
        return parse(str(text)).label
    except PeriodError as exc:
        raise DeclaredError(str(exc)) from None


def parse_value(text: str) -> tuple[float, float | None]:
    """``45/50`` → (45, 50); ``45`` → (45, None)."""
    match = _VALUE.fullmatch(text)
    if match is None:
        raise DeclaredError(f"value {text!r} is not NUMERATOR or NUMERATOR/DENOMINATOR (45/50)")
    return float(match[1]), float(match[2]) if match[2] is not None else None


def check_value(metric: str, numerator: float, denominator: float | None) -> None:
    """Refuse a value that cannot stand for ``metric`` (negative, a share above 1, ...)."""
    for name, number in (("numerator", numerator), ("denominator", denominator)):
        if number is not None and (not math.isfinite(number) or number < 0):
            raise DeclaredError(f"{metric}: the {name} must be a number ≥ 0, not {number}")
    if DECLARABLE[metric]:
        if denominator is None:
            raise DeclaredError(
                f"{metric} is a rate: give NUMERATOR/DENOMINATOR (for example 45/50)"
            )
        if denominator == 0:
            raise DeclaredError(f"{metric}: the denominator must be greater than 0")
        if numerator > denominator:
            raise DeclaredError(
                f"{metric}: the numerator {numerator:g} is larger than the denominator "
                f"{denominator:g}"
            )
    elif denominator is not None:
        raise DeclaredError(f"{metric} is a count: give one number, without /")


def _check_source(source: str | None) -> str | None:
    if source is None:
        return None
    text = source.strip()
    if len(text) > MAX_SOURCE:
        raise DeclaredError(f"source is longer than {MAX_SOURCE} characters")
    return text or None


def _unit_ok(s: Session, unit_id: str) -> str | None:
    """Why ``unit_id`` cannot take figures, or None."""
    unit = s.get(Unit, unit_id)
    if unit is None:
        return f"unknown unit {unit_id!r} (see `govguard units list`)"
    if unit.retired_at is not None:
        return f"unit {unit_id!r} is retired"
    return None


def _figure(s: Session, unit_id: str, period: str, metric: str) -> DeclaredFigure | None:
    return s.scalar(
        select(DeclaredFigure).where(
            DeclaredFigure.unit_id == unit_id,
            DeclaredFigure.period == period,
            DeclaredFigure.metric == metric,
        )
    )


def _write(
    s: Session, figure: NewFigure, actor: str, at: datetime, origin: str | None, via: str
) -> bool:
    """Store one checked figure and its audit entry; True when it replaced another."""
    row = _figure(s, figure.unit_id, figure.period, figure.metric)
    before = None
    if row is None:
        row = DeclaredFigure(unit_id=figure.unit_id, period=figure.period, metric=figure.metric)
        s.add(row)
    else:
        before = {"numerator": row.numerator, "denominator": row.denominator, "source": row.source}
    row.numerator, row.denominator = figure.numerator, figure.denominator
    row.source, row.entered_by, row.entered_at = figure.source, actor, at
    details: dict[str, Any] = {
        "unit": figure.unit_id,
        "period": figure.period,
        "metric": figure.metric,
        "numerator": figure.numerator,
        "denominator": figure.denominator,
        "source": figure.source,
    }
    if before is not None:
        details["before"] = before
    if origin is not None:
        details["file"] = origin
    target = f"figure:{figure.unit_id}/{figure.period}/{figure.metric}"
    audit.record(s, actor, "figure.set", target, details, at=at, source=via)
    s.flush()
    return before is not None


def checked(
    s: Session,
    unit_id: str,
    period: str,
    metric: str,
    numerator: float,
    denominator: float | None,
    source: str | None = None,
) -> NewFigure:
    """A figure with its unit, period, metric and value checked and its keys made canonical."""
    key = metric_key(metric)
    label = period_label(period)
    check_value(key, numerator, denominator)
    problem = _unit_ok(s, unit_id)
    if problem is not None:
        raise DeclaredError(problem)
    return NewFigure(unit_id, label, key, numerator, denominator, _check_source(source))


def set_figure(
    s: Session, figure: NewFigure, *, actor: str, at: datetime, via: str = "cli"
) -> bool:
    """Store (or replace) a figure made by :func:`checked`; True when it replaced one.

    ``via`` is where the change came from, for the audit log (``cli``, a client address).
    """
    return _write(s, figure, actor, at, None, via)


def delete_figure(
    s: Session,
    unit_id: str,
    period: str,
    metric: str,
    *,
    actor: str,
    at: datetime,
    via: str = "cli",
) -> bool:
    """Remove a figure; False when there was none (nothing written)."""
    key, label = metric_key(metric), period_label(period)
    gone = s.execute(
        delete(DeclaredFigure).where(
            DeclaredFigure.unit_id == unit_id,
            DeclaredFigure.period == label,
            DeclaredFigure.metric == key,
        )
    )
    if not gone.rowcount:  # type: ignore[attr-defined]
        return False
    target = f"figure:{unit_id}/{label}/{key}"
    audit.record(s, actor, "figure.deleted", target, {"unit": unit_id, "period": label,
                 "metric": key}, at=at, source=via)  # fmt: skip
    return True


def list_figures(s: Session, scope: UnitScope = None, period: str | None = None) -> list[Stored]:
    """Stored figures of the units in ``scope`` (of one period label if given), by unit,
    period and metric."""
    query = select(DeclaredFigure).where(unit_filter(DeclaredFigure.unit_id, scope))
    if period is not None:
        query = query.where(DeclaredFigure.period == period_label(period))
    rows = s.scalars(query)
    found = [_stored(r) for r in rows]
    found.sort(key=lambda f: (f.unit_id, f.period, _metric_order(f.metric)))
    return found


def _stored(r: DeclaredFigure) -> Stored:
    return Stored(
        r.unit_id, r.period, r.metric, r.numerator, r.denominator, r.source, r.entered_by,
        r.entered_at,
    )  # fmt: skip


def _metric_order(key: str) -> tuple[int, str]:
    number = key.removeprefix("egov.").partition(".")
    return (int(number[0]) if number[0].isdigit() else 999, number[2])


def figures_for(s: Session, scope: UnitScope, labels: Sequence[str]) -> list[Stored]:
    """Figures of the units in ``scope`` declared for any of the period ``labels``."""
    if not labels:
        return []
    rows = s.scalars(
        select(DeclaredFigure).where(
            unit_filter(DeclaredFigure.unit_id, scope), DeclaredFigure.period.in_(list(labels))
        )
    )
    return [_stored(r) for r in rows]


# --- Figures files -------------------------------------------------------------------------

_FILE_KEYS = {"period", "source", "figures"}
_ENTRY_KEYS = {"unit", "metric", "value", "numerator", "denominator", "period", "source"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _entry(doc: Any, index: int, item: Any, defaults: dict[str, Any]) -> NewFigure:
    """One file entry as a figure (units are checked against the database later)."""
    from controller.policy.yamlsrc import LineDict

    if not isinstance(item, LineDict):
        raise DeclaredError("an entry must be a mapping with unit, metric, value")
    unknown = sorted(str(k) for k in item if k not in _ENTRY_KEYS)
    if unknown:
        raise DeclaredError(
            f"unknown key {unknown[0]!r} (keys: unit, metric, value or numerator/denominator, "
            "period, source)"
        )
    for key in ("unit", "metric"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise DeclaredError(f"{key} is missing or not text")
    period = item.get("period", defaults.get("period"))
    if period is None:
        raise DeclaredError("no period: give period here or at the top of the file")
    key = metric_key(item["metric"])
    if "value" in item:
        if "numerator" in item or "denominator" in item:
            raise DeclaredError("give value, or numerator and denominator, not both")
        raw = item["value"]
        if _number(raw) is not None:
            numerator, denominator = float(raw), None
        elif isinstance(raw, str):
            numerator, denominator = parse_value(raw)
        else:
            raise DeclaredError(f"value {raw!r} is not NUMERATOR or NUMERATOR/DENOMINATOR")
    else:
        numerator_or_none = _number(item.get("numerator"))
        if numerator_or_none is None:
            raise DeclaredError("numerator is missing or not a number (or give value: 45/50)")
        numerator = numerator_or_none
        denominator = None
        if item.get("denominator") is not None:
            denominator = _number(item["denominator"])
            if denominator is None:
                raise DeclaredError(f"denominator {item['denominator']!r} is not a number")
    check_value(key, numerator, denominator)
    source = item.get("source", defaults.get("source"))
    if source is not None and not isinstance(source, str):
        source = str(source)
    return NewFigure(
        item["unit"].strip(),
        period_label(period),
        key,
        numerator,
        denominator,
        _check_source(source),
        line=doc.line_of(index),
    )


def load_file(path: Path) -> list[NewFigure]:
    """Read a figures file (docs/reports.md); :class:`DeclaredFileError` lists every mistake."""
    from controller.policy.yamlsrc import LineDict, LineList, YamlError, load_yaml

    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise DeclaredFileError([str(exc)]) from None
    if not isinstance(doc, LineDict) or not isinstance(doc.get("figures"), LineList):
        line = doc.line if isinstance(doc, LineDict) else 1
        raise DeclaredFileError([f"{path}:{line}: the file must be a mapping with a figures list"])
    errors: list[str] = []
    unknown = sorted(str(k) for k in doc if k not in _FILE_KEYS)
    for key in unknown:
        errors.append(f"{path}:{doc.line_of(key)}: unknown key {key!r} (period, source, figures)")
    defaults: dict[str, Any] = {}
    if "period" in doc:
        try:
            defaults["period"] = period_label(doc["period"])
        except DeclaredError as exc:
            errors.append(f"{path}:{doc.line_of('period')}: {exc}")
    if "source" in doc:
        defaults["source"] = doc["source"]
    figures: LineList = doc["figures"]
    found: list[NewFigure] = []
    first: dict[tuple[str, str, str], int] = {}
    for index, item in enumerate(figures):
        line = figures.line_of(index)
        try:
            figure = _entry(figures, index, item, defaults)
        except DeclaredError as exc:
            errors.append(f"{path}:{line}: figures[{index}]: {exc}")
            continue
        slot = (figure.unit_id, figure.period, figure.metric)
        if slot in first:
            errors.append(
                f"{path}:{line}: figures[{index}]: {figure.unit_id} {figure.period} "
                f"{figure.metric} given twice (first at line {first[slot]})"
            )
            continue
        first[slot] = line
        found.append(figure)
    if errors:
        raise DeclaredFileError(errors)
    return found


def import_figures(
    s: Session, path: Path, *, actor: str, at: datetime, via: str = "cli"
) -> tuple[int, int]:
    """Check the file, then store every figure in it, or none when any is wrong.

    Returns ``(added, replaced)``; :class:`DeclaredFileError` lists every mistake.
    """
    figures = load_file(path)
    errors: list[str] = []
    for figure in figures:
        problem = _unit_ok(s, figure.unit_id)
        if problem is not None:
            errors.append(f"{path}:{figure.line}: {problem}")
    if errors:
        raise DeclaredFileError(errors)
    replaced = sum(_write(s, figure, actor, at, path.name, via) for figure in figures)
    return len(figures) - replaced, replaced
