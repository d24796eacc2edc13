"""`govguard policy check|test`: exit codes and what authors read."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.cli import main
from tests.unit.controller.policy.conftest import EXAMPLE, REFERENCES, REPORT

REFS = ["--references", str(REFERENCES)]


def test_check_valid_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(EXAMPLE), *REFS]) == 0
    assert f"{EXAMPLE}: pack example v1, 10 rules, valid" in capsys.readouterr().out


def test_check_lists_every_error_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        .replace("expect: {eq: linux}", "expect: {equals: linux}")
        .replace("severity: high\n    references: [test-law-1, test-decree-2]",
                 "severity: severe\n    references: [test-law-1, test-decree-2]"),
        encoding="utf-8",
    )  # fmt: skip
    assert main(["policy", "check", str(bad), *REFS]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{bad}:")
    assert "rule EX-01: checks[0].expect: unknown operator 'equals'" in err[0]
    assert "rule EX-02: severity: 'severe' is not one of" in err[1]
    assert err[-1] == "govguard: 2 error(s) in the policy files"


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(tmp_path / "nope.yaml")]) == 1
    assert (
        capsys.readouterr().err
        == f"govguard: error: {tmp_path / 'nope.yaml'}: no such file or directory\n"
    )


def test_check_without_files_uses_the_data_dir_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "overrides.yaml").write_text("disable: [NOPE-01]\n", encoding="utf-8")
    assert main(["policy", "check", "--data-dir", str(tmp_path)]) == 1
    assert "disable: unknown rule 'NOPE-01'" in capsys.readouterr().err


def test_test_prints_a_vietnamese_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", str(EXAMPLE), "--report", str(REPORT), *REFS]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["QUY", "TẮC", "MỨC", "ĐỘ", "KẾT", "QUẢ", "LÝ", "DO"]
    rows = {line.split()[0]: line for line in out[1:11]}
    assert "KHÔNG ĐẠT" in rows["EX-02"]
    assert "security.usb_storage.policy là allowed" in rows["EX-02"]
    assert "không áp dụng" in rows["EX-06"]
    assert (
        "lỗi" in rows["EX-05"] and "không xác định được security.firewall.enabled" in rows["EX-05"]
    )
    assert out[-1] == "10 quy tắc: 5 đạt, 3 không đạt, 1 không áp dụng, 1 lỗi"


def test_test_in_english_for_a_classified_computer(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["policy", "test", str(EXAMPLE), "--report", str(REPORT), *REFS]
    assert main([*args, "--lang", "en", "--classification", "classified"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in out[1:11]}
    assert "FAIL" in rows["EX-06"]
    assert "network.interfaces is 1 item(s) (eth0), expected count = 0" in rows["EX-06"]
    assert out[-1] == "10 rules: 5 pass, 4 fail, 0 not applicable, 1 error"


def test_test_with_another_os(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["policy", "test", str(EXAMPLE), "--report", str(REPORT), *REFS]
    assert main([*args, "--os", "windows", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "EX-01  info      not applicable  the rule is for linux, not windows" in out
    assert "EX-05  high      error" in out  # for both families


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{", "not a valid report", id="truncated JSON"),
        pytest.param(b'{"schema_version": 1}', "not a valid report", id="not a report"),
    ],
)
def test_test_refuses_a_bad_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    report = tmp_path / "r.json"
    report.write_bytes(content)
    assert main(["policy", "test", str(EXAMPLE), "--report", str(report), *REFS]) == 1
    err = capsys.readouterr().err
    assert err.startswith("govguard: error: ") and message in err
    assert len(err.splitlines()) == 1


def test_test_refuses_an_invalid_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy: {}\n", encoding="utf-8")
    assert main(["policy", "test", str(bad), "--report", str(REPORT)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{bad}:1: policy.id")
    assert err[-1].startswith("govguard: error: ") and "error(s) in the policy files" in err[-1]
