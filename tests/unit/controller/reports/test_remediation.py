"""The remediation hook: registered, honest about being empty until issue 8."""

from __future__ import annotations

from sqlalchemy.orm import Session

from controller.reports import period, registry
from controller.reports.base import ReportContext
from controller.reports.document import Paragraph
from controller.store import units
from tests.unit.controller.store.district import NOW


def test_an_empty_job_list_that_says_why(session: Session) -> None:
    with session.begin():
        units.ensure_unit(session, "huyen", "Huyện Thử", kind="district")
    names = registry.names()
    order = [n for n in names if n in ("security", "classified", "hardware", "remediation")]
    assert order == ["security", "classified", "hardware", "remediation"]
    definition = registry.get("remediation")
    ctx = ReportContext(unit_id="huyen", scope=None, period=period.parse("2026-11"), now=NOW)
    result = definition.compute(session, ctx)
    assert result.jobs == () and not result.enabled
    document = definition.layout(result, ctx)
    assert document.header.unit_path == ("Huyện Thử",)
    (block,) = document.sections[0].blocks
    assert isinstance(block, Paragraph)
    assert block.text.en == "Remediation jobs appear here once remediation is enabled (issue 8)."
    assert block.text.vi.startswith("Các lệnh khắc phục sẽ hiện ở đây")
