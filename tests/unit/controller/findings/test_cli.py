"""`govguard findings list|ack|exempt|evaluate` on a data directory made by `govguard init`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from controller.cli import main
from controller.settings import load_settings
from controller.store import db
from controller.store.reports import store_batch
from tests.unit.controller.findings.test_findings import FIREWALL, LINUX
from tests.unit.controller.policy.conftest import REFERENCES, pack
from tests.unit.controller.store.factories import T0, full, make_agent


def run(folder: Path, *argv: str) -> int:
    return main(["findings", *argv[:1], "--data-dir", str(folder), *argv[1:]])


@pytest.fixture
def with_policies(data_dir: Path) -> Path:
    """The data directory with a local pack added through its overrides file."""
    local = data_dir / "policies" / "local"
    local.mkdir(parents=True)
    (local / "pack.yaml").write_text(yaml.safe_dump(pack(FIREWALL, LINUX)), encoding="utf-8")
    shutil.copy(REFERENCES, data_dir / "policies" / "references.yaml")
    (data_dir / "policies" / "overrides.yaml").write_text(
        "packs: [local]\nreferences: [references.yaml]\n", encoding="utf-8"
    )
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as s, s.begin():
            make_agent(s, "a1")
            make_agent(s, "a2")
            store_batch(
                s,
                [
                    full(
                        "a1",
                        1,
                        security={"firewall": {"enabled": False}},
                        os={"version": {"family": "linux"}},
                    ),
                    full(
                        "a2",
                        1,
                        security={"firewall": {"enabled": True}},
                        os={"version": {"family": "linux"}},
                    ),
                ],
                T0,
            )
    finally:
        engine.dispose()
    return data_dir


def test_evaluate_list_ack_exempt(with_policies: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(with_policies, "list") == 0
    assert "no findings" in capsys.readouterr().out
    assert run(with_policies, "evaluate") == 0
    out = capsys.readouterr().out
    assert "2 hosts × " in out and "findings opened" in out
    assert run(with_policies, "list", "--severity", "high") == 0
    listing = capsys.readouterr().out
    assert "FW-01" in listing and "agent:a1" in listing and "agent:a2" not in listing
    finding_id = listing.splitlines()[1].split()[0]
    assert run(with_policies, "ack", finding_id) == 0
    assert run(with_policies, "exempt", finding_id, "--reason", "chờ thay máy", "--for", "30d") == 0
    capsys.readouterr()
    assert run(with_policies, "list", "--status", "exempted") == 0
    assert finding_id in capsys.readouterr().out
    # Evaluating again changes nothing.
    assert run(with_policies, "evaluate") == 0
    assert "0 outcomes changed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("ack", "abc"), "finding id must be a number"),
        (("ack", "999"), "no finding 999"),
        (("exempt", "1", "--reason", "x"), "--until YYYY-MM-DD or --for DURATION"),
        (("exempt", "1", "--reason", "x", "--until", "31/12/2026"), "is not a date"),
        (("exempt", "1", "--reason", "x", "--for", "soon"), "--for:"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    with_policies: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    assert run(with_policies, *argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_evaluate_refuses_broken_policies(
    with_policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (with_policies / "policies" / "local" / "pack.yaml").write_text("rules: 3\n", encoding="utf-8")
    assert run(with_policies, "evaluate") == 1
    err = capsys.readouterr().err
    assert "nothing evaluated" in err and "pack.yaml" in err and "Traceback" not in err
