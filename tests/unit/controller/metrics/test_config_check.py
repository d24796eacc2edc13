"""``govguard config check`` says where /metrics is served and finds an unusable token file."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.cli import main


def check(data_dir: Path) -> int:
    return main(["config", "check", "--data-dir", str(data_dir)])


def add_metrics(data_dir: Path, block: str) -> None:
    with (data_dir / "config.yaml").open("a", encoding="utf-8") as config:
        config.write(f"\nmetrics:\n{block}")


def test_open_metrics_are_reported(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(data_dir) == 0
    assert "metrics:         /metrics, no token (metrics.token_file)" in capsys.readouterr().out


def test_a_token_file(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_metrics(data_dir, "  token_file: metrics-token\n")
    assert check(data_dir) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith("govguard: error: ")
    assert "metrics.token_file: cannot read" in line and "metrics-token" in line
    (data_dir / "metrics-token").write_text("f" * 64 + "\n", encoding="utf-8")
    assert check(data_dir) == 0
    assert "metrics:         /metrics, bearer token required" in capsys.readouterr().out


def test_metrics_off(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_metrics(data_dir, "  enabled: false\n  token_file: nowhere\n")
    assert check(data_dir) == 0
    assert "metrics:         off" in capsys.readouterr().out
