"""`govguard ports list|request|approve|reject|undo` on SQLite and PostgreSQL: the decisions
of the dashboard from the command line, an uplink only with ``--force``, one error line for
anything refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.cli import main
from controller.discovery import enforcement
from controller.settings import load_settings
from controller.store import db, port_actions
from controller.store.models import AuditEntry, PortAction
from tests.support.port_network import T0, seed


@pytest.fixture
def store(data_dir: Path) -> Iterator[Session]:
    """The data directory's database with the test network in it."""
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as session:
            seed(session)
            session.commit()
            yield session
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "thanh")


def _ports(data_dir: Path, *argv: str) -> int:
    action, *rest = argv
    return main(["ports", action, "--data-dir", str(data_dir), *rest])


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _rows(store: Session) -> list[PortAction]:
    store.rollback()  # see what the commands committed since
    return list(store.scalars(select(PortAction).order_by(PortAction.id)))


def test_request_approve_reject(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ports(data_dir, "list") == 0
    assert "no port actions" in capsys.readouterr().out
    assert _ports(data_dir, "request", "sw-a", "Gi1/0/2", "--reason", "thử nghiệm") == 0
    assert "govguard ports approve 1" in capsys.readouterr().out
    (row,) = _rows(store)
    assert (row.device_id, row.if_index, row.state, row.requested_by, row.reason) == (
        "sw-a",
        2,
        "pending",
        "cli:thanh",
        "thử nghiệm",
    )
    assert _ports(data_dir, "approve", str(row.id)) == 0
    assert _rows(store)[0].state == "approved"
    assert _ports(data_dir, "reject", str(row.id), "--reason", "nhầm cổng") == 0
    (row,) = _rows(store)
    assert (row.state, row.decided_by, row.reason) == ("rejected", "cli:thanh", "nhầm cổng")
    entries = store.scalars(
        select(AuditEntry).where(AuditEntry.target == f"port_action:{row.id}")
    ).all()
    assert [(e.action, e.actor, e.source) for e in entries] == [
        ("port.requested", "cli:thanh", "cli"),
        ("port.approved", "cli:thanh", "cli"),
        ("port.rejected", "cli:thanh", "cli"),
    ]


def test_an_uplink_needs_force(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ports(data_dir, "request", "sw-a", "24") == 1
    assert "uplink" in _one_error_line(capsys.readouterr().err)
    assert _rows(store) == []
    assert _ports(data_dir, "request", "sw-a", "24", "--force") == 0
    (row,) = _rows(store)
    entry = store.scalars(select(AuditEntry).where(AuditEntry.action == "port.requested")).one()
    assert entry.details["forced"] is True
    assert row.state == "pending"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(("approve", "abc"), "must be a number", id="id not a number"),
        pytest.param(("approve", "99"), "no port action 99", id="unknown id"),
        pytest.param(("reject", "0"), "no port action 0", id="zero"),
        pytest.param(("undo", "1"), "only an applied shutdown", id="undo of a pending action"),
        pytest.param(("request", "sw-z", "1"), "unknown network device", id="unknown device"),
        pytest.param(("request", "sw-a", "Gi9/9"), "no port named", id="unknown port name"),
        pytest.param(("request", "sw-a", "7"), "no poll has seen it", id="unseen port"),
    ],
)
def test_refusals_are_one_line(
    data_dir: Path,
    store: Session,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    message: str,
) -> None:
    assert _ports(data_dir, "request", "sw-a", "1") == 0
    capsys.readouterr()
    assert _ports(data_dir, *argv) == 1
    assert message in _one_error_line(capsys.readouterr().err)


def test_list_shows_what_can_be_done_next(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ports(data_dir, "request", "sw-a", "1") == 0
    assert _ports(data_dir, "request", "sw-b", "1") == 0
    (first, second) = _rows(store)
    assert _ports(data_dir, "approve", str(first.id)) == 0
    # The worker applied the first one (the SET itself: tests/integration).
    at = T0 + timedelta(minutes=1)
    store.rollback()  # a SQLite reader cannot become the writer once others committed
    assert port_actions.claim(store, first.id, at, at - enforcement.CLAIM_LIFETIME)
    assert port_actions.finish(store, first.id, at, {"state": "applied"})
    store.commit()
    capsys.readouterr()
    assert _ports(data_dir, "list", "--json") == 0
    listed = {item["id"]: item for item in json.loads(capsys.readouterr().out)}
    assert listed[first.id]["next"] == ["undo"]
    assert listed[second.id]["next"] == ["approve", "reject"]
    assert listed[first.id]["port"] == "Gi1/0/1"
    assert _ports(data_dir, "undo", str(first.id)) == 0
    assert f"undo of {first.id}" in capsys.readouterr().out
    assert _ports(data_dir, "list", "--state", "approved") == 0
    table = capsys.readouterr().out
    assert " up " in table and "cli:thanh" in table and "sw-b" not in table
