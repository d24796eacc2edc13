"""The real ``govguard-agent once`` on this Linux machine, end to end.

Runs the venv's console script as a subprocess with a loopback-only config whose probe targets
are servers this test starts on 127.0.0.1 (HTTPS with a throw-away CA, DNS, TCP), validates the
JSON against the committed ``docs/report-schema.json`` (Draft 2020-12), and checks every output
mode and the failure paths an operator meets: missing or broken config, unwritable output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from agent.report import SCHEMA_VERSION, SECTION_NAMES
from tests.support.servers import dns_server, https_server, tcp_listener

pytestmark = pytest.mark.integration

AGENT = Path(sys.executable).with_name("govguard-agent")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    """One finished agent run."""

    returncode: int
    stdout: str
    stderr: str


def run_agent(*args: str | Path, timeout: float = 120) -> Run:
    """Run ``govguard-agent ARGS`` and return what it did."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp", "LANG": "C.UTF-8"}
    proc = subprocess.run(
        [str(AGENT), *map(str, args)],
        capture_output=True,
        timeout=timeout,
        check=False,
        env=env,
        cwd="/",
    )
    return Run(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads((REPO / "docs" / "report-schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(validator: Draft202012Validator, report: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(report)
    ]


@dataclass
class Loopback:
    """The config file and the servers its probes point at."""

    config: Path
    web_requests: list[str]
    dns_queries: list[tuple[str, int]]
    tcp: Any


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    """Probe targets on 127.0.0.1 only, and a config that uses them (gateway probe off)."""
    folder = tmp_path_factory.mktemp("agent-once")
    records = {"dichvucong.gov.vn": ["127.0.0.1"], "thainguyen.gov.vn": ["127.0.0.1"]}
    with (
        https_server("127.0.0.1", 0) as web,
        dns_server("127.0.0.1", 0, records) as dns,
        tcp_listener("127.0.0.1", 0) as tcp,
    ):
        base = web.url.rstrip("/")
        config = folder / "agent.yaml"
        config.write_text(
            f"""\
# Chỉ loopback: kiểm thử không gửi gì ra ngoài máy này.
probes:
  gateway: false
  timeout_seconds: 2
  dns:
    names: [dichvucong.gov.vn, thainguyen.gov.vn]
    servers: ["{dns.address}"]
  https:
    - {{name: dichvucong, url: "{base}/dvc", role: public_service, ca_file: "{web.ca_file}"}}
    - {{name: cong-tinh, url: "{base}/", role: internet, ca_file: "{web.ca_file}"}}
    - {{name: qlvb, url: "{base}/qlvb", role: document_system, ca_file: "{web.ca_file}"}}
  tcp:
    - {{name: tslcd, host: 127.0.0.1, port: {tcp.port}, role: tslcd}}
    - {{name: cong-dong, host: 127.0.0.1, port: 9, role: lan}}
""",
            encoding="utf-8",
        )
        yield Loopback(config, web.requests, dns.queries, tcp)


@pytest.fixture(scope="module")
def full_run(loopback: Loopback) -> Run:
    return run_agent("once", "--config", loopback.config)


@pytest.fixture(scope="module")
def full_report(full_run: Run) -> dict[str, Any]:
    assert full_run.returncode == 0, full_run.stderr
    report: dict[str, Any] = json.loads(full_run.stdout)
    return report


def test_full_run_exits_0_without_noise(full_run: Run) -> None:
    assert full_run.returncode == 0, full_run.stderr
    assert "Traceback" not in full_run.stderr
    assert full_run.stdout.count("\n") == 1, "compact JSON is one line"


def test_full_report_matches_the_committed_schema(
    full_report: dict[str, Any], validator: Draft202012Validator
) -> None:
    assert schema_errors(validator, full_report) == []
    # Always on the wire: a controller must know which schema a report follows.
    assert full_report["schema_version"] == SCHEMA_VERSION
    assert full_report["kind"] == "full"


def test_every_collector_ran_and_none_failed(full_report: dict[str, Any]) -> None:
    assert [c["name"] for c in full_report["collectors"]] == list(SECTION_NAMES)
    assert all(c["ok"] for c in full_report["collectors"])
    assert full_report.get("errors", []) == []
    for name in SECTION_NAMES:
        assert isinstance(full_report.get(name), dict), f"section {name} missing"
    assert full_report["identity"]["hostname"] == os.uname().nodename


def test_every_unknown_fact_has_a_reason(full_report: dict[str, Any]) -> None:
    for name in SECTION_NAMES:
        for fact, reason in full_report[name].get("unknown", {}).items():
            assert reason.strip(), f"{name}.{fact} unknown without a reason"


def test_probes_reached_the_loopback_targets(
    full_report: dict[str, Any], loopback: Loopback
) -> None:
    assert {"/dvc", "/", "/qlvb"} <= set(loopback.web_requests)
    assert {name for name, _ in loopback.dns_queries} >= {"dichvucong.gov.vn", "thainguyen.gov.vn"}
    assert loopback.tcp.accepted >= 1
    conn = full_report["connectivity"]
    assert {(d["name"], d["ok"], tuple(d["addresses"])) for d in conn["dns"]} == {
        ("dichvucong.gov.vn", True, ("127.0.0.1",)),
        ("thainguyen.gov.vn", True, ("127.0.0.1",)),
    }
    https = {h["name"]: h for h in conn["https"]}
    assert sorted(https) == ["cong-tinh", "dichvucong", "qlvb"]
    for name, result in https.items():
        assert (result["ok"], result["status"], result["cert_verified"]) == (True, 200, True), name
    tcp = {t["name"]: t for t in conn["tcp"]}
    assert tcp["tslcd"]["ok"] is True
    assert (tcp["cong-dong"]["ok"], tcp["cong-dong"]["error"]) == (False, "connection refused")


def test_derived_connectivity_facts(full_report: dict[str, Any]) -> None:
    conn = full_report["connectivity"]
    assert conn["internet"]["reachable"] is True  # DNS answered, the one internet target too
    assert conn["internet"]["dns_ok"] is True
    # The only LAN target is a closed port and the gateway probe is off: a finding, exit 0.
    assert conn["lan"]["reachable"] is False
    roles = conn["roles"]
    assert roles["public_service"]["reachable"] is True
    assert roles["document_system"]["reachable"] is True
    assert roles["tslcd"]["reachable"] is True
    assert "roles.email" in conn["unknown"]  # no email target configured: unknown, not a pass
    assert "gateways" in conn["unknown"]


@pytest.mark.parametrize(
    "sections",
    [
        pytest.param(["security"], id="security"),
        pytest.param(["os", "network"], id="os and network"),
        pytest.param(["identity"], id="identity alone"),
    ],
)
def test_section_limits_the_report(
    loopback: Loopback, validator: Draft202012Validator, sections: list[str]
) -> None:
    args = [a for s in sections for a in ("--section", s)]
    run = run_agent("once", "--config", loopback.config, *args)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert schema_errors(validator, report) == []
    wanted = {"identity", *sections}
    assert {c["name"] for c in report["collectors"]} == wanted
    assert {name for name in SECTION_NAMES if name in report} == wanted


@pytest.mark.parametrize(
    ("lang", "host", "closing"),
    [
        pytest.param(
            [],
            "Tên máy",
            r"Bộ thu thập\s+8 đã chạy, 0 lỗi, \d+ thông tin không rõ",
            id="Vietnamese by default",
        ),
        pytest.param(
            ["--lang", "en"],
            "Host",
            r"Collectors\s+8 run, 0 failed, \d+ facts unknown",
            id="English",
        ),
    ],
)
def test_summary_is_a_readable_table(
    loopback: Loopback, lang: list[str], host: str, closing: str
) -> None:
    run = run_agent("once", "--config", loopback.config, "--summary", *lang)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    with pytest.raises(json.JSONDecodeError):
        json.loads(run.stdout)
    assert re.fullmatch(rf"{host}\s+{re.escape(os.uname().nodename)}", lines[0]), lines[0]
    assert re.fullmatch(closing, lines[-1]), lines[-1]
    # One value column: every value starts at the same offset.
    starts = {re.match(r"\S.*?\s{2,}", line).end() for line in lines if line[:1] != " "}  # type: ignore[union-attr]
    assert len(starts) == 1, run.stdout


def test_pretty_is_indented_json_of_the_same_shape(
    loopback: Loopback, validator: Draft202012Validator, full_report: dict[str, Any]
) -> None:
    run = run_agent("once", "--config", loopback.config, "--pretty")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith('{\n  "')
    report = json.loads(run.stdout)
    assert schema_errors(validator, report) == []
    assert report.keys() == full_report.keys()


def test_out_writes_the_report_to_a_file(
    loopback: Loopback, validator: Draft202012Validator, tmp_path: Path
) -> None:
    out = tmp_path / "báo-cáo.json"
    run = run_agent("once", "--config", loopback.config, "--out", out)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    report = json.loads(out.read_text(encoding="utf-8"))
    assert schema_errors(validator, report) == []
    validate = run_validate(out)
    assert validate.returncode == 0, validate.stderr
    assert validate.stdout == f"{out}: valid report v1 from {os.uname().nodename}\n"


def run_validate(*files: Path) -> subprocess.CompletedProcess[str]:
    """``govguard validate FILES``: the controller reads what the agent wrote."""
    return subprocess.run(
        [str(AGENT.with_name("govguard")), "validate", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("config_text", "expected"),
    [
        pytest.param(None, r"{path}: config file not found", id="missing config file"),
        pytest.param(
            "probes:\n  https:\n    - {name: dvc, url: [\n",
            r"{path}:4:1: not valid YAML: .+",
            id="invalid YAML names line and column",
        ),
        pytest.param(
            "probes:\n  gatway: false\n",
            r"{path}: probes: Object contains unknown field `gatway`",
            id="unknown key",
        ),
        pytest.param(
            "probes:\n  tcp:\n    - {name: tslcd, host: 10.160.0.10, port: cổng}\n",
            r"{path}: probes\.tcp\[0\]\.port: Expected `int`, got `str`",
            id="wrong type",
        ),
        pytest.param(
            b"probes:\n  gateway: kh\xf4ng\n",
            r"{path}: not UTF-8 text \(byte \d+\): save the file as UTF-8",
            id="not UTF-8",
        ),
    ],
)
def test_config_mistakes_exit_1_with_one_line(
    tmp_path: Path, config_text: str | bytes | None, expected: str
) -> None:
    path = tmp_path / "agent.yaml"
    if isinstance(config_text, bytes):
        path.write_bytes(config_text)
    elif config_text is not None:
        path.write_text(config_text, encoding="utf-8")
    run = run_agent("once", "--config", path)
    assert run.returncode == 1
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    pattern = "govguard-agent: error: " + expected.format(path=re.escape(str(path))) + "\n"
    assert re.fullmatch(pattern, run.stderr), run.stderr


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        pytest.param("no-such-folder/report.json", "No such file or directory", id="no folder"),
        pytest.param(".", "Is a directory", id="a folder"),
        pytest.param("/dev/full", "No space left on device", id="disk full"),
    ],
)
def test_unwritable_out_exits_1(
    loopback: Loopback, tmp_path: Path, target: str, reason: str
) -> None:
    out = tmp_path / target
    run = run_agent("once", "--config", loopback.config, "--section", "identity", "--out", out)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr == f"govguard-agent: error: {out}: cannot write: {reason}\n"


def test_bad_arguments_exit_2() -> None:
    run = run_agent("once", "--section", "firewall")
    assert run.returncode == 2
    assert "invalid choice: 'firewall'" in run.stderr
    assert run.stdout == ""
