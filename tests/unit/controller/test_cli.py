"""`govguard validate`: report files checked against the same models the agent writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.cli import main

VALID = (
    b'{"schema_version": 1, "kind": "full", "agent_version": "0.1.0",'
    b' "collected_at": "2026-11-28T01:02:03Z",'
    b' "identity": {"hostname": "ubnd-xa-pc01"}}'
)


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        pytest.param(VALID, 0, "valid report v1 from ubnd-xa-pc01", id="valid"),
        pytest.param(b"{", 1, "not a valid report", id="truncated JSON"),
        pytest.param(
            b'{"schema_version": 1, "kind": "full", "agent_version": "0.1.0",'
            b' "collected_at": "yesterday"}',
            1,
            "collected_at",
            id="bad timestamp names the field",
        ),
        pytest.param(
            b'{"schema_version": 1, "kind": "full", "agent_version": 1,'
            b' "collected_at": "2026-11-28T01:02:03Z"}',
            1,
            "agent_version",
            id="wrong type names the field",
        ),
    ],
)
def test_validate(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    code: int,
    message: str,
) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content)
    assert main(["validate", str(path)]) == code
    out, err = capsys.readouterr()
    assert message in (out + err)
    assert "Traceback" not in err


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.json")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "validate" in capsys.readouterr().err
