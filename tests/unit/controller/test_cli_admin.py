"""`govguard units|tokens|agents|config`: day-to-day administration on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from agent.token import parse_token, secret_hash
from controller import pki
from controller.cli import main
from controller.settings import load_settings
from controller.store import agents, audit, db, reports
from controller.store import tokens as token_store


@pytest.fixture
def data_dir(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """A data directory made by `govguard init` on the test's database."""
    password = tmp_path / "pw"
    password.write_text("mật khẩu quản trị\n", encoding="utf-8")
    folder = tmp_path / "gg"
    code = main(
        ["init", "--data-dir", str(folder), "--server-name", "govguard.test",
         "--password-file", str(password), "--database-url", db_url]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    yield folder


@pytest.fixture
def store(data_dir: Path) -> Iterator[Session]:
    """A session on the same database, to look at what the commands wrote."""
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _run(data_dir: Path, *argv: str) -> int:
    group, *rest = argv
    return main([group, *rest[:1], "--data-dir", str(data_dir), *rest[1:]])


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("govguard: error: ")
    return lines[0]


def test_units_add_and_list(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(data_dir, "units", "add", "xa-a", "--name", "Xã A", "--parent", "root",
                "--kind", "commune") == 0  # fmt: skip
    assert _run(data_dir, "units", "add", "vp", "--name", "Văn phòng", "--parent", "xa-a") == 0
    capsys.readouterr()
    assert _run(data_dir, "units", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "PARENT", "KIND", "NAME"]
    rows = [line.split(None, 3) for line in lines[1:]]
    assert rows == [
        ["root", "-", "organization", "Root unit"],
        ["vp", "xa-a", "unit", "Văn phòng"],
        ["xa-a", "root", "commune", "Xã A"],
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["root", "--name", "again"], "unit 'root' already exists", id="duplicate"),
        pytest.param(["xa-b", "--name", "B", "--parent", "nope"], "unknown parent unit 'nope'",
                     id="unknown parent"),
        pytest.param(["Xa B", "--name", "B"], "'Xa B' is not a valid unit id", id="bad id"),
        pytest.param(["xa-b", "--name", " "], "--name must not be empty", id="empty name"),
    ],
)  # fmt: skip
def test_units_add_refuses(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert _run(data_dir, "units", "add", *argv) == 1
    assert message in _one_error_line(capsys.readouterr().err)


def test_tokens_create_prints_the_token(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(data_dir, "tokens", "create", "--unit", "root", "--uses", "5", "--expires", "7d",
                "--note", "Một cửa")  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    # Only the token on stdout, so `TOKEN=$(govguard tokens create ...)` works.
    [line] = out.splitlines()
    token = parse_token(line)
    settings = load_settings(data_dir)
    assert token.ca_fingerprint == pki.ca_fingerprint(settings.ca_cert.read_bytes())
    assert f"token {token.token_id} for unit root: 5 use(s)" in err
    stored = token_store.get_token(store, token.token_id)
    assert stored is not None
    assert stored.secret_hash == secret_hash(token.secret)
    assert (stored.max_uses, stored.note) == (5, "Một cửa")
    assert 6.9 < (stored.expires_at - stored.created_at).total_seconds() / 86400 < 7.1
    assert stored.created_by.startswith("cli:")


def test_the_audit_names_the_administrator_behind_sudo(
    data_dir: Path, store: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUDO_USER", "nguyenvana")
    assert _run(data_dir, "units", "add", "xa-b", "--name", "Xã B") == 0
    [entry] = audit.list_entries(store, action="unit.created", limit=1)
    assert (entry.actor, entry.target) == ("cli:nguyenvana", "unit:xa-b")


def test_tokens_create_writes_a_private_file(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "token.txt"
    assert _run(data_dir, "tokens", "create", "--unit", "root", "--out", str(out_file)) == 0
    out, _ = capsys.readouterr()
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    token = parse_token(out_file.read_text(encoding="ascii"))
    assert token.secret not in out
    assert "govguard-agent enroll --controller https://govguard.test:8443 --token-file" in out
    # An existing file is never overwritten: it may be a token someone still needs.
    before = out_file.read_bytes()
    assert _run(data_dir, "tokens", "create", "--unit", "root", "--out", str(out_file)) == 1
    assert "already exists" in _one_error_line(capsys.readouterr().err)
    assert out_file.read_bytes() == before


def test_tokens_create_failure_leaves_no_file(
    data_dir: Path, tmp_path: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "token.txt"
    assert _run(data_dir, "tokens", "create", "--unit", "nope", "--out", str(out_file)) == 1
    assert "unknown unit 'nope'" in _one_error_line(capsys.readouterr().err)
    assert not out_file.exists()
    assert token_store.list_tokens(store) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--expires", "3 days"], "--expires: not a duration", id="bad duration"),
        pytest.param(["--uses", "0"], "number of uses must be from 1", id="no uses"),
        pytest.param(["--expires", "2000d"], "at most 365 days", id="too long"),
    ],
)
def test_tokens_create_refuses(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert _run(data_dir, "tokens", "create", "--unit", "root", *argv) == 1
    assert message in _one_error_line(capsys.readouterr().err)


def test_tokens_list_and_revoke(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(data_dir, "tokens", "list") == 0
    assert capsys.readouterr().out.strip() == "no enrollment tokens"
    assert _run(data_dir, "tokens", "create", "--unit", "root") == 0
    text = capsys.readouterr().out.strip()
    token = parse_token(text)
    assert _run(data_dir, "tokens", "list") == 0
    listing = capsys.readouterr().out
    assert token.secret not in listing
    assert secret_hash(token.secret) not in listing
    [row] = listing.splitlines()[1:]
    assert row.split()[:4] == [token.token_id, "root", "usable", "0/1"]

    assert _run(data_dir, "tokens", "revoke", token.token_id) == 0
    assert capsys.readouterr().out.strip() == f"revoked token {token.token_id}"
    assert _run(data_dir, "tokens", "list") == 0
    assert capsys.readouterr().out.splitlines()[1].split()[2] == "revoked"
    [entry] = audit.list_entries(store, action="token.revoked")
    assert entry.target == f"token:{token.token_id}"

    assert _run(data_dir, "tokens", "revoke", token.token_id) == 1
    assert "already revoked" in _one_error_line(capsys.readouterr().err)
    assert _run(data_dir, "tokens", "revoke", "0badc0de") == 1
    assert "no token with id '0badc0de'" in _one_error_line(capsys.readouterr().err)


def _add_agent(session: Session, agent_id: str, status: str, replaces: str | None = None) -> None:
    agents.add_agent(
        session,
        id=agent_id,
        key_id=agent_id[::-1],
        public_key=bytes(32),
        status=status,
        unit_id="root",
        replaces=replaces,
        hostname=f"pc-{agent_id[:4]}",
        machine_id="m-1",
        macs=["52:54:00:12:34:56"],
        os="linux",
        agent_version="0.1.0",
        created_at=datetime.now(UTC),
    )
    session.commit()


OLD, NEW = "a" * 16, "b" * 16


def test_agents_list_approve_revoke(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(data_dir, "agents", "list") == 0
    assert capsys.readouterr().out.strip() == "no agents"
    _add_agent(store, OLD, "active")
    _add_agent(store, NEW, "pending", replaces=OLD)

    assert _run(data_dir, "agents", "list", "--status", "pending") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["ID", "STATUS", "UNIT", "HOSTNAME"]
    assert [line.split()[:2] for line in lines[1:]] == [[NEW, "pending"]]

    assert _run(data_dir, "agents", "approve", NEW.upper()) == 0
    assert f"agent {OLD} (the old key) is revoked" in capsys.readouterr().out
    store.rollback()  # a new transaction: SQLite WAL readers keep their snapshot until then
    statuses = {a.id: a.status for a in agents.list_agents(store)}
    assert statuses == {OLD: "revoked", NEW: "active"}
    [entry] = audit.list_entries(store, action="agent.approved")
    assert (entry.target, entry.details) == (f"agent:{NEW}", {"replaces": OLD})
    assert entry.actor.startswith("cli:")

    assert _run(data_dir, "agents", "approve", NEW) == 1
    assert "is active; only pending agents" in _one_error_line(capsys.readouterr().err)

    assert _run(data_dir, "agents", "revoke", NEW) == 0
    store.rollback()  # a new transaction: SQLite WAL readers keep their snapshot until then
    agent = agents.get_agent(store, NEW)
    assert agent is not None
    assert agent.status == "revoked"
    assert agent.revoked_at is not None
    assert [e.target for e in audit.list_entries(store, action="agent.revoked")] == [f"agent:{NEW}"]
    assert _run(data_dir, "agents", "revoke", NEW) == 1
    assert "already revoked" in capsys.readouterr().err

    assert _run(data_dir, "agents", "list") == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]] == [
        "revoked",
        "revoked",
    ]


@pytest.mark.parametrize("action", ["approve", "revoke"])
def test_agents_unknown_id(data_dir: Path, capsys: pytest.CaptureFixture[str], action: str) -> None:
    assert _run(data_dir, "agents", action, "0123456789abcdef") == 1
    assert "no agent with id '0123456789abcdef'" in _one_error_line(capsys.readouterr().err)


def test_config_check(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(data_dir, "config", "check") == 0
    out = capsys.readouterr().out
    assert "config.yaml: ok" in out
    assert "https://govguard.test:8443" in out
    # A server name the certificate does not cover is found before agents trip over it.
    config = data_dir / "config.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "server_names: [", 'server_names: ["other.test", '
        ),
        encoding="utf-8",
    )
    assert _run(data_dir, "config", "check") == 1
    assert "not valid for other.test" in _one_error_line(capsys.readouterr().err)


def test_serve_without_tls_files(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data_dir / "tls" / "server.key").unlink()
    assert _run(data_dir, "serve") == 1
    assert "server.key: missing" in _one_error_line(capsys.readouterr().err)


# Failures that happen before any database work: no data dir fixture needed.


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["units", "list"], id="units list"),
        pytest.param(["tokens", "create", "--unit", "root"], id="tokens create"),
        pytest.param(["agents", "approve", "x"], id="agents approve"),
        pytest.param(["serve"], id="serve"),
    ],
)
def test_missing_data_dir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.setenv("GOVGUARD_DATA_DIR", str(tmp_path / "nowhere"))
    assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"{tmp_path / 'nowhere'}: data directory not found" in line


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param("agents: {interval_s: 1}\n", "agents.interval_s: Expected `int` >= 30",
                     id="bad config"),
        pytest.param("database_url: postgresql://postgres@127.0.0.1:1/x\n",
                     "cannot reach the database postgresql://postgres@127.0.0.1:1/x",
                     id="database unreachable"),
        pytest.param("database_url: postgresql://postgres:hunter2@127.0.0.1:1/x\n",
                     "postgresql://postgres:***@127.0.0.1:1/x", id="password hidden"),
        pytest.param("{}\n", "has no govguard tables; run `govguard init` first",
                     id="database never initialised"),
    ],
)  # fmt: skip
def test_broken_setups_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, message: str
) -> None:
    (tmp_path / "config.yaml").write_text(config, encoding="utf-8")
    assert main(["agents", "list", "--data-dir", str(tmp_path)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert message in line
    assert "hunter2" not in line


def test_schema_of_another_version(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    store.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    store.commit()
    assert _run(data_dir, "tokens", "list") == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "has schema 9999_future, this govguard expects" in line


def test_group_without_action_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tokens"]) == 2
    err = capsys.readouterr().err
    assert "create" in err
    assert "revoke" in err


def _store_report(session: Session, agent_id: str, seq: int, received: datetime) -> None:
    body = gzip.compress(json.dumps({"kind": "full", "identity": {"hostname": "pc-1"}}).encode())
    new = reports.NewReport(
        agent_id=agent_id, seq=seq, report_id=f"{seq:032x}", kind="full", sent_at=received,
        received_at=received, collected_at=received, clock_skew_s=-4.0, body=body,
    )  # fmt: skip
    assert reports.store_batch(session, [new], received) == {(agent_id, seq)}
    session.commit()


def test_agents_show_lists_reports_and_facts(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_agent(store, OLD, "active")
    assert _run(data_dir, "agents", "show", OLD) == 0
    out = capsys.readouterr().out
    assert "reports stored: 0" in out
    assert "no reports yet" in out
    assert _run(data_dir, "agents", "show", OLD, "--facts") == 1
    assert "has not sent a report yet" in _one_error_line(capsys.readouterr().err)

    _store_report(store, OLD, 1, datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    _store_report(store, OLD, 2, datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
    assert _run(data_dir, "agents", "show", OLD, "--limit", "1") == 0
    out = capsys.readouterr().out
    assert "reports stored: 2" in out
    table = out.split("\n\n", 1)[1].splitlines()
    assert table[0].split() == ["SEQ", "KIND", "RECEIVED", "BYTES", "CLOCK", "SKEW", "S"]
    assert table[1].split()[:2] == ["2", "full"]
    assert table[1].split()[-1] == "-4"
    assert len(table) == 2

    assert _run(data_dir, "agents", "show", OLD, "--facts") == 0
    assert json.loads(capsys.readouterr().out)["identity"] == {"hostname": "pc-1"}
    assert _run(data_dir, "agents", "show", NEW) == 1
    assert "no agent with id" in _one_error_line(capsys.readouterr().err)


def test_reports_purge_keeps_recent_reports_and_host_facts(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_agent(store, OLD, "active")
    today = datetime.now(UTC)
    _store_report(store, OLD, 1, today - timedelta(days=120))
    _store_report(store, OLD, 2, today - timedelta(days=10))
    assert _run(data_dir, "reports", "purge") == 0  # the default retention is 90 days
    assert capsys.readouterr().out.startswith("removed 1 raw reports received before ")
    assert _run(data_dir, "reports", "purge", "--older-than", "30d") == 0
    assert capsys.readouterr().out.startswith("removed 0 raw reports")
    assert _run(data_dir, "reports", "purge", "--older-than", "1d") == 0
    assert capsys.readouterr().out.startswith("removed 1 raw reports")
    store.rollback()
    assert reports.count_reports(store, OLD) == 0
    assert reports.latest_facts(store, OLD) is not None
    purged = audit.list_entries(store, action="reports.purged")
    assert sorted(e.details["removed"] for e in purged if e.details) == [0, 1, 1]
    assert _run(data_dir, "reports", "purge", "--older-than", "soon") == 1
    assert "--older-than" in _one_error_line(capsys.readouterr().err)
