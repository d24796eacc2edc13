"""govguard-agent's argument handling and output modes, with collection replaced by a fake.

Nothing here reads this machine: ``collect_report`` and ``summary_lines`` are swapped for fakes
that return a fixed report, so these tests check only what the CLI does with it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent import __version__, cli
from agent import collectors as collectors_module
from agent.config import AgentConfig
from agent.i18n import Translate, english
from agent.report import SCHEMA_VERSION, CollectorError, CollectorRun, Identity, Report, decode

HOST = "MAY-TINH-PHONG-TAI-CHINH"


def _report(*, failed: bool = False) -> Report:
    report = Report(
        schema_version=SCHEMA_VERSION,
        kind="full",
        agent_version=__version__,
        collected_at=datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
        identity=Identity(
            hostname=HOST,
            macs=["52:54:00:12:34:56"],
            unknown={"system_serial": "Cần quyền root (run as root)"},
        ),
        collectors=[CollectorRun(name="identity", duration_ms=1.5, ok=True)],
    )
    if failed:
        report.collectors.append(CollectorRun(name="security", duration_ms=2.0, ok=False))
        report.errors.append(
            CollectorError(collector="security", error="RuntimeError", message="hỏng")
        )
    return report


class FakeAgent:
    """Records what the CLI asked for and returns a fixed report."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.calls: list[tuple[AgentConfig, frozenset[str] | None]] = []

    def collect_report(self, config: AgentConfig, sections: frozenset[str] | None) -> Report:
        self.calls.append((config, sections))
        return self.report

    def summary_lines(
        self, config: AgentConfig, report: Report, t: Translate = english
    ) -> list[tuple[str, str]]:
        return [(t("Host"), HOST), (t("Firewall"), t("unknown"))]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeAgent:
    fake_agent = FakeAgent(_report())
    monkeypatch.setattr(collectors_module, "collect_report", fake_agent.collect_report)
    monkeypatch.setattr(collectors_module, "summary_lines", fake_agent.summary_lines)
    return fake_agent


@pytest.mark.parametrize(
    ("argv", "sections"),
    [
        pytest.param(["once"], None, id="no --section: everything"),
        pytest.param(
            ["once", "--section", "security"],
            frozenset({"identity", "security"}),
            id="one section, identity added",
        ),
        pytest.param(
            ["once", "--section", "os", "--section", "network"],
            frozenset({"identity", "os", "network"}),
            id="repeated --section",
        ),
        pytest.param(
            ["once", "--section", "identity"], frozenset({"identity"}), id="identity alone"
        ),
    ],
)
def test_sections_asked_for(
    fake: FakeAgent, capsys: pytest.CaptureFixture[str], argv: list[str], sections: Any
) -> None:
    assert cli.main(argv) == cli.EXIT_OK
    assert [s for _, s in fake.calls] == [sections]
    assert decode(capsys.readouterr().out).identity.hostname == HOST  # type: ignore[union-attr]


def test_compact_json_is_one_line(fake: FakeAgent, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["once"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert out.endswith("}\n")
    assert out.count("\n") == 1
    assert json.loads(out)["identity"]["hostname"] == HOST


def test_pretty_json_is_indented_and_keeps_vietnamese(
    fake: FakeAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["once", "--pretty"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith('{\n  "')
    assert "Cần quyền root" in out  # not \u-escaped
    assert decode(out) == fake.report


def test_summary_is_an_aligned_table(fake: FakeAgent, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["once", "--summary", "--lang", "en"]) == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"Host        {HOST}",
        "Firewall    unknown",
        "Collectors  1 run, 0 failed, 1 facts unknown",
    ]


def test_summary_lists_failed_collectors(
    fake: FakeAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.report = _report(failed=True)
    # a failed collector is not a failure of the agent
    assert cli.main(["once", "--summary", "--lang", "en"]) == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2:] == [
        "Collectors  2 run, 1 failed, 1 facts unknown",
        "  failed    security: hỏng",
    ]


@pytest.mark.parametrize(
    "mode", [pytest.param([], id="json"), pytest.param(["--summary"], id="summary")]
)
def test_out_writes_the_file_not_stdout(
    fake: FakeAgent, capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: list[str]
) -> None:
    out = tmp_path / "bao-cao.json"
    assert cli.main(["once", "--out", str(out), *mode]) == cli.EXIT_OK
    assert capsys.readouterr().out == ""
    text = out.read_text(encoding="utf-8")
    assert HOST in text


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        pytest.param("missing/bao-cao.json", "No such file or directory", id="missing folder"),
        pytest.param(".", "Is a directory", id="a folder"),
    ],
)
def test_unwritable_out_fails_with_one_line(
    fake: FakeAgent,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    target: str,
    reason: str,
) -> None:
    path = tmp_path / target
    assert cli.main(["once", "--out", str(path)]) == cli.EXIT_FAILURE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"govguard-agent: error: {path}: cannot write: {reason}\n"


def test_config_error_stops_before_collecting(
    fake: FakeAgent, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("probes:\n  gatway: false\n", encoding="utf-8")
    assert cli.main(["once", "--config", str(config)]) == cli.EXIT_FAILURE
    assert fake.calls == []
    err = capsys.readouterr().err
    assert err.startswith(f"govguard-agent: error: {config}: probes: ")
    assert "`gatway`" in err


def test_config_is_passed_to_the_collectors(fake: FakeAgent, tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("probes: {gateway: false, timeout_seconds: 1.5}\n", encoding="utf-8")
    assert cli.main(["once", "--config", str(config), "--out", str(tmp_path / "r.json")]) == 0
    (given, _), *_ = fake.calls
    assert given.probes.gateway is False
    assert given.probes.timeout_seconds == 1.5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["once", "--section", "bogus"], "invalid choice: 'bogus'", id="bad section"),
        pytest.param(["once", "--bogus"], "unrecognized arguments: --bogus", id="bad option"),
        pytest.param(["launch"], "invalid choice: 'launch'", id="bad command"),
        pytest.param(["once", "--config"], "expected one argument", id="--config alone"),
    ],
)
def test_usage_errors_exit_2(
    fake: FakeAgent, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert fake.calls == []


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("usage: govguard-agent")
    assert "once" in err
    assert "schema" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"govguard-agent {__version__}\n"


def test_schema_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schema.json"
    assert cli.main(["schema", "--out", str(out)]) == cli.EXIT_OK
    assert capsys.readouterr().out == ""
    schema = json.loads(out.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "Report" in schema["$defs"]


def test_a_reader_that_leaves_is_not_a_traceback(
    fake: FakeAgent, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken_pipe(path: Path | None, text: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_write", broken_pipe)  # `once | head` closed the pipe
    assert cli.main(["once"]) == cli.EXIT_FAILURE
    assert capsys.readouterr().err == ""
