"""What the security, classified, hardware and remediation reports share: a definition made of
two functions, the header, severity and outcome words, a reason and its evidence as readable text
in both languages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from controller.policy import messages
from controller.policy.model import Reason
from controller.reports.base import ReportContext
from controller.reports.document import Column, Document, Emphasis, Figure, Header, Ratio, T
from controller.store.reporting.audit_common import HeaderFacts

R = TypeVar("R")

#: Columns most tables of these reports have.
UNIT = Column("unit", T("Đơn vị", "Unit"))
RULE = Column("rule", T("Quy tắc", "Rule"))
HOST = Column("host", T("Máy", "Host"))


class Definition(Generic[R]):
    """A report definition made of a compute and a layout function (what the registry takes)."""

    def __init__(
        self,
        name: str,
        title: T,
        description: T,
        compute: Callable[[Session, ReportContext], R],
        layout: Callable[[R, ReportContext], Document],
    ) -> None:
        self.name = name
        self.title = title
        self.description = description
        self._compute = compute
        self._layout = layout

    def compute(self, s: Session, ctx: ReportContext) -> R:
        """The report's typed result."""
        return self._compute(s, ctx)

    def layout(self, result: R, ctx: ReportContext) -> Document:
        """The result laid out for the renderers."""
        return self._layout(result, ctx)


def header(facts: HeaderFacts, ctx: ReportContext) -> Header:
    """The document header of an audit report."""
    return Header(
        unit_id=ctx.unit_id,
        unit_name=facts.unit_name,
        unit_path=facts.unit_path,
        period_label=ctx.period.label,
        period_first=ctx.period.first,
        period_last=ctx.period.last,
        generated_at=ctx.now,
        generated_by=ctx.generated_by,
        fresh_24h=Ratio(facts.fresh_24h, facts.agents),
        fresh_7d=Ratio(facts.fresh_7d, facts.agents),
        extra=(Figure(T("Số đơn vị", "Units"), facts.units, "int"),),
    )


def severity(code: str) -> T:
    """A severity code as words."""
    text = messages.SEVERITY_TEXT.get(code)
    return T(text.vi, text.en) if text is not None else T(code, code)


def outcome(code: str | None) -> T | None:
    """A rule outcome as words (None: no outcome known)."""
    if code is None:
        return None
    text = messages.OUTCOME_TEXT.get(code)
    return T(text.vi, text.en) if text is not None else T(code, code)


def reason(stored: Any) -> T | None:
    """A stored reason (``{"code", "values"}``) as a sentence in both languages."""
    if not isinstance(stored, dict) or "code" not in stored:
        return None
    values = stored.get("values")
    parsed = Reason(code=str(stored["code"]), values=values if isinstance(values, dict) else {})
    return T(messages.render(parsed, "vi"), messages.render(parsed, "en"))


def _one_evidence(item: Any, lang: messages.Lang) -> str:
    if not isinstance(item, dict) or "fact" not in item:
        return messages.format_value(item, lang)
    actual = messages.format_value(item.get("actual"), lang)
    expected = messages.format_expected(item.get("expected"), lang)
    word = "yêu cầu" if lang == "vi" else "expected"
    return f"{item['fact']} = {actual} ({word} {expected})"


def evidence(stored: Any) -> T | None:
    """Stored evidence (a list of checks with what was found and expected) as text: one clause
    per failed check, ``fact = actual (expected ...)``."""
    if not stored:
        return None
    items = stored if isinstance(stored, list) else [stored]
    return T(
        "; ".join(_one_evidence(i, "vi") for i in items),
        "; ".join(_one_evidence(i, "en") for i in items),
    )


def rate_emphasis(passing: int, failing: int) -> Emphasis | None:
    """``ok`` when nothing fails, ``warn`` when something does, None when nothing was counted."""
    if passing + failing == 0:
        return None
    return "ok" if failing == 0 else "warn"
