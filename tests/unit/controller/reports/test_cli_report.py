"""`govguard report NAME` on a real database (SQLite and PostgreSQL): files in every format,
atomic writes, the summary line, and one clear error line for every bad input."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.cli import main
from controller.commands.report import Progress
from controller.reports import registry
from controller.reports.base import ReportContext
from controller.reports.document import (
    Column,
    Document,
    Ratio,
    Row,
    Section,
    T,
    Table,
)
from controller.store.db import make_engine
from controller.store.models import AuditEntry, Unit
from tests.unit.controller.reports import documents

NAME = "test-units"


class UnitsReport:
    """A small definition: the units the report covers, read from the database."""

    name = NAME
    title = T("Danh sách đơn vị", "Units")
    description = T("Các đơn vị trong phạm vi báo cáo.", "The units the report covers.")

    def compute(self, s: Session, ctx: ReportContext) -> list[tuple[str, str]]:
        ctx.progress(0, 1, "units")
        scope = ctx.scope if ctx.scope is not None else frozenset()
        rows = s.execute(select(Unit.id, Unit.name).where(Unit.id.in_(scope)).order_by(Unit.id))
        ctx.progress(1, 1, "units")
        return [(uid, name) for uid, name in rows]

    def layout(self, result: list[tuple[str, str]], ctx: ReportContext) -> Document:
        header = replace(
            documents.header(),
            unit_id=ctx.unit_id,
            period_label=ctx.period.label,
            period_first=ctx.period.first,
            period_last=ctx.period.last,
            generated_at=ctx.now,
            generated_by=ctx.generated_by,
        )
        table = Table(
            "units",
            T("Đơn vị", "Units"),
            (Column("id", T("Mã", "Id")), Column("share", T("Tỷ lệ", "Share"), "ratio")),
            tuple(Row((uid, Ratio(1, 2))) for uid, _ in result),
        )
        section = Section("units", T("Đơn vị trực thuộc", "Units"), (table,))
        return Document(self.name, documents.TITLE, header, (section,))


@pytest.fixture
def registered() -> Iterator[str]:
    registry.names()  # the real definitions first, so the test one is removed cleanly
    registry.register(UnitsReport())
    try:
        yield NAME
    finally:
        registry._DEFINITIONS.pop(NAME, None)


@pytest.fixture
def units(data_dir: Path, registered: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """A commune under the root `govguard init` made."""
    code = main(["units", "add", "xa-thieu-hop", "--name", "Xã Thiệu Hợp", "--parent", "root",
                 "--data-dir", str(data_dir)])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    return data_dir


def _report(data_dir: Path, *argv: str) -> int:
    return main(["report", NAME, "--data-dir", str(data_dir), "--quiet", *argv])


def test_csv_for_a_unit_and_period(
    units: Path, tmp_path: Path, migrated: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.csv"
    code = _report(units, "--unit", "xa-thieu-hop", "--period", "2026-11", "--format", "csv",
                   "--out", str(out))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    content = out.read_bytes()
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[3] == ["Kỳ báo cáo", "2026-11", "2026-11-01", "2026-11-30"]
    assert ["Mã", "Tỷ lệ (tử số)", "Tỷ lệ (mẫu số)", "Tỷ lệ (tỷ lệ)"] in rows
    assert ["xa-thieu-hop", "1", "2", "0.5"] in rows
    assert not any(row[:1] == ["root"] for row in rows)  # only the unit's subtree
    captured = capsys.readouterr()
    assert captured.err == ""
    path, size, digest = captured.out.strip().split("\t")
    assert path == str(out)
    assert size == f"{len(content)} bytes"
    assert digest == f"sha256 {hashlib.sha256(content).hexdigest()}"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".r.csv")] == []
    engine = make_engine(migrated)
    try:
        with Session(engine) as s:
            entry = s.scalars(
                select(AuditEntry).where(AuditEntry.action == "report.generated")
            ).one()
    finally:
        engine.dispose()
    assert (entry.target, entry.source) == ("unit:xa-thieu-hop", "cli")
    assert entry.details["sha256"] == hashlib.sha256(content).hexdigest()
    assert (entry.details["report"], entry.details["period"]) == (NAME, "2026-11")


def test_defaults_whole_organisation_current_quarter_pdf_in_the_current_directory(
    units: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert _report(units, "--lang", "en") == 0, capsys.readouterr().err
    (made,) = tmp_path.glob(f"{NAME}_root_*.pdf")
    assert made.name.endswith(("-Q1.pdf", "-Q2.pdf", "-Q3.pdf", "-Q4.pdf"))
    assert made.read_bytes().startswith(b"%PDF-")


def test_xlsx_and_progress_lines_when_stderr_is_not_a_terminal(
    units: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.xlsx"
    code = main(["report", NAME, "--data-dir", str(units), "--period", "2026", "--format",
                 "XLSX", "--out", str(out)])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "report: 0/1 units",
        "report: 1/1 units",
        "report: 0/1 rendering XLSX",
        "report: 1/1 rendered XLSX",
    ]
    sheet = load_workbook(out)["Đơn vị"]
    assert [c.value for c in sheet[3]] == ["root", 1, 2, 0.5]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--period", "2026-Q5"], "govguard: error: --period: period '2026-Q5' is not one of"),
        (["--format", "docx"], "govguard: error: --format: unknown format 'docx'; formats: pdf"),
        (["--lang", "fr"], "govguard: error: --lang: unknown language 'fr'"),
    ],
)
def test_bad_options_are_one_error_line(
    registered: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
    message: str,
) -> None:  # fmt: skip
    # Checked before the data directory is even read.
    assert _report(tmp_path / "no-data-dir", "--out", str(tmp_path / "x.pdf"), *argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err
    assert not (tmp_path / "x.pdf").exists()


def test_unknown_unit_is_one_error_line(
    units: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _report(units, "--unit", "xa-khong-co", "--out", str(tmp_path / "x.pdf")) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == "govguard: error: unknown unit 'xa-khong-co'"
    assert not (tmp_path / "x.pdf").exists()


def test_unknown_report_exits_1(
    registered: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "khong-co", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "invalid choice: 'khong-co'" in err and NAME in err


def test_an_unwritable_output_is_a_clear_error(
    units: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert _report(units, "--format", "html", "--out", str(tmp_path / "nowhere" / "r.html")) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(
        f"govguard: error: --out: {tmp_path / 'nowhere' / 'r.html'}: cannot write"
    )


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal (stderr on an operator's console)."""

    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal() -> None:
    stream = _Terminal()
    progress = Progress(stream)
    progress(1, 4, "units")
    progress(4, 4, "rendering PDF")
    progress.close()
    text = stream.getvalue()
    assert text.startswith("\r[######------------------] 1/4 units")
    assert "\r[########################] 4/4 rendering PDF" in text
    assert text.endswith("\n") and text.count("\n") == 1
    quiet = _Terminal()
    Progress(quiet, quiet=True)(1, 4, "units")
    assert quiet.getvalue() == ""
