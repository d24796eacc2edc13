"""`govguard figures set|list|delete|import` on SQLite and PostgreSQL: good and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from controller.cli import main
from controller.settings import load_settings
from controller.store.db import make_engine, session_factory
from controller.store.models import AuditEntry, DeclaredFigure


def _run(data_dir: Path, *argv: str) -> int:
    return main(["figures", *argv, "--data-dir", str(data_dir)])


def _stored(data_dir: Path) -> tuple[list[tuple[str, str, str, float, float | None]], list[str]]:
    engine = make_engine(load_settings(data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            figures = [
                (f.unit_id, f.period, f.metric, f.numerator, f.denominator)
                for f in s.scalars(select(DeclaredFigure).order_by(DeclaredFigure.id))
            ]
            actions = list(
                s.scalars(
                    select(AuditEntry.action)
                    .where(AuditEntry.action.like("figure.%"))
                    .order_by(AuditEntry.id)
                )
            )
    finally:
        engine.dispose()
    return figures, actions


@pytest.fixture
def communes(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    for unit in ("xa-a", "xa-b"):
        argv = ["units", "add", unit, "--name", f"Xã {unit[-1].upper()}", "--parent", "root"]
        assert main([*argv, "--kind", "commune", "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    return data_dir


def test_set_list_import_delete(
    communes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok = ["--period", "2026-q4", "--source", "Báo cáo QLVB quý 4"]
    assert _run(communes, "set", "xa-a", "17", "45/50", *ok) == 0
    assert capsys.readouterr().out == "set egov.17 = 45/50 for xa-a, period 2026-Q4\n"
    assert _run(communes, "set", "xa-a", "egov.17", "46 / 50", "--period", "2026-Q4") == 0
    assert "replaced egov.17 = 46/50" in capsys.readouterr().out
    file = tmp_path / "figures.yaml"
    file.write_text(
        "period: 2026\n"
        "source: Sở Nội vụ\n"
        "figures:\n"
        "  - {unit: xa-b, metric: egov.23, value: 12/15}\n"
        "  - unit: xa-a\n"
        "    metric: '17'\n"
        "    numerator: 47\n"
        "    denominator: 50\n"
        "    period: 2026-Q4\n"
        "    source: QLVB\n",
        encoding="utf-8",
    )
    assert _run(communes, "import", str(file)) == 0
    assert "imported 2 figure(s) (1 added, 1 replaced)" in capsys.readouterr().out
    assert _run(communes, "list", "--unit", "xa-b") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == [
        "UNIT", "PERIOD", "METRIC", "NUMERATOR", "DENOMINATOR", "SOURCE", "BY", "AT",
    ]  # fmt: skip
    assert listing[1].split()[:5] == ["xa-b", "2026", "egov.23", "12", "15"]
    assert "Sở Nội vụ" in listing[1] and len(listing) == 2
    assert _run(communes, "list", "--period", "2026-Q4") == 0
    assert [line.split()[:5] for line in capsys.readouterr().out.splitlines()[1:]] == [
        ["xa-a", "2026-Q4", "egov.17", "47", "50"]
    ]
    assert _run(communes, "delete", "xa-b", "23", "--period", "2026") == 0
    assert capsys.readouterr().out == "deleted 23 for xa-b, period 2026\n"
    figures, actions = _stored(communes)
    assert figures == [("xa-a", "2026-Q4", "egov.17", 47.0, 50.0)]
    assert actions == ["figure.set"] * 4 + ["figure.deleted"]


#: Bad command lines and the one error line each gives (one data directory for all: an init
#: per case would cost a second each).
BAD: list[tuple[list[str], str]] = [
    (
        ["set", "xa-a", "egov.11", "3/4", "--period", "2026"],
        "metric 'egov.11' does not take declared figures; metrics: egov.13, egov.14, ",
    ),
    (
        ["set", "xa-a", "17", "45", "--period", "2026"],
        "egov.17 is a rate: give NUMERATOR/DENOMINATOR (for example 45/50)",
    ),
    (
        ["set", "xa-a", "17", "51/50", "--period", "2026"],
        "egov.17: the numerator 51 is larger than the denominator 50",
    ),
    (
        ["set", "xa-a", "17", "4/0", "--period", "2026"],
        "egov.17: the denominator must be greater than 0",
    ),
    (
        ["set", "xa-a", "17", "abc", "--period", "2026"],
        "value 'abc' is not NUMERATOR or NUMERATOR/DENOMINATOR (45/50)",
    ),
    (
        ["set", "xa-z", "17", "1/2", "--period", "2026"],
        "unknown unit 'xa-z' (see `govguard units list`)",
    ),
    (
        ["set", "xa-a", "17", "1/2", "--period", "2026-13"],
        "period '2026-13': month must be in 1..12",
    ),
    (
        ["delete", "xa-a", "17", "--period", "2026"],
        "no figure 17 for xa-a, period 2026 (see `govguard figures list`)",
    ),
    (["list", "--unit", "xa-z"], "unknown unit 'xa-z' (see `govguard units list`)"),
]


def test_bad_input_is_one_line(communes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in BAD:
        assert _run(communes, *argv) == 1, argv
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"govguard: error: {message}"), lines
        assert captured.out == ""
    assert _stored(communes) == ([], [])


def test_a_bad_file_imports_nothing(
    communes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "figures.yaml"
    file.write_text(
        "period: 2026\n"
        "figures:\n"
        "  - {unit: xa-a, metric: egov.17, value: 45/50}\n"
        "  - {unit: xa-a, metric: egov.2, value: 3}\n"
        "  - {unit: xa-a, metric: egov.17, value: 44/50}\n"
        "  - {unit: xa-z, metric: egov.23, value: 1/2}\n"
        "  - {unit: xa-b, metric: egov.21, numerator: 9, denominator: 3}\n"
        "  - {unit: xa-b, metric: egov.22, value: 1/1, colour: red}\n",
        encoding="utf-8",
    )
    assert _run(communes, "import", str(file)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == [
        f"{file}:4: figures[1]: metric 'egov.2' does not take declared figures; metrics: "
        "egov.13, egov.14, egov.16, egov.17, egov.18, egov.19, egov.20, egov.20.partial, "
        "egov.21, egov.22, egov.23",
        f"{file}:5: figures[2]: xa-a 2026 egov.17 given twice (first at line 3)",
        f"{file}:7: figures[4]: egov.21: the numerator 9 is larger than the denominator 3",
        f"{file}:8: figures[5]: unknown key 'colour' (keys: unit, metric, value or "
        "numerator/denominator, period, source)",
    ]
    assert err[-1] == f"govguard: error: 4 error(s) in {file}; nothing imported"
    # Units are checked once the file itself is right: still nothing written.
    file.write_text(
        "figures:\n"
        "  - {unit: xa-a, metric: egov.17, value: 45/50, period: 2026}\n"
        "  - {unit: xa-z, metric: egov.23, value: 1/2, period: 2026}\n",
        encoding="utf-8",
    )
    assert _run(communes, "import", str(file)) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{file}:3: unknown unit 'xa-z' (see `govguard units list`)",
        f"govguard: error: 1 error(s) in {file}; nothing imported",
    ]
    for text, line in (
        ("figures: [\n", f"{file}:2: invalid YAML"),
        ("- 1\n", f"{file}:1: the file must be a mapping with a figures list"),
        ("figures:\n  - {unit: xa-a, metric: egov.17, value: 1/2}\n",
         f"{file}:2: figures[0]: no period: give period here or at the top of the file"),
    ):  # fmt: skip
        file.write_text(text, encoding="utf-8")
        assert _run(communes, "import", str(file)) == 1
        assert capsys.readouterr().err.splitlines()[0].startswith(line)
    assert _run(communes, "import", str(tmp_path / "missing.yaml")) == 1
    assert "cannot read" in capsys.readouterr().err
    assert _stored(communes) == ([], [])
