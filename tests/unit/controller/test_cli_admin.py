"""`govguard units|tokens|agents|config`: day-to-day administration on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import ssl
import stat
import threading
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

HANG_GUARD_S = 30


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


def _add_agent(
    session: Session,
    agent_id: str,
    status: str,
    replaces: str | None = None,
    machine_id: str = "m-1",
) -> None:
    agents.add_agent(
        session,
        id=agent_id,
        key_id=agent_id[::-1],
        public_key=bytes(32),
        status=status,
        unit_id="root",
        replaces=replaces,
        hostname=f"pc-{agent_id[:4]}",
        machine_id=machine_id,
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
    assert capsys.readouterr().out.splitlines() == [
        f"approved agent {NEW}",
        f"revoked agent {OLD} (the old key): same computer (pc-{OLD[:4]})",
    ]
    store.rollback()  # a new transaction: SQLite WAL readers keep their snapshot until then
    statuses = {a.id: a.status for a in agents.list_agents(store)}
    assert statuses == {OLD: "revoked", NEW: "active"}
    [entry] = audit.list_entries(store, action="agent.approved")
    assert (entry.target, entry.details) == (f"agent:{NEW}", {"replaces": OLD, "revoked": [OLD]})
    assert entry.actor.startswith("cli:")
    assert [e.target for e in audit.list_entries(store, action="agent.revoked")] == [f"agent:{OLD}"]

    assert _run(data_dir, "agents", "approve", NEW) == 1
    assert "is active; only pending agents" in _one_error_line(capsys.readouterr().err)

    assert _run(data_dir, "agents", "revoke", NEW) == 0
    store.rollback()  # a new transaction: SQLite WAL readers keep their snapshot until then
    agent = agents.get_agent(store, NEW)
    assert agent is not None
    assert agent.status == "revoked"
    assert agent.revoked_at is not None
    assert [e.target for e in audit.list_entries(store, action="agent.revoked")] == [
        f"agent:{NEW}",
        f"agent:{OLD}",
    ]
    assert _run(data_dir, "agents", "revoke", NEW) == 1
    assert "already revoked" in capsys.readouterr().err

    assert _run(data_dir, "agents", "list") == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]] == [
        "revoked",
        "revoked",
    ]


def test_approving_one_of_two_pending_agents_leaves_one_active_agent(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    """The PC enrolled twice more (e.g. two reinstalls) before an administrator looked."""
    first, second = "c" * 16, "d" * 16
    _add_agent(store, OLD, "active")
    _add_agent(store, first, "pending", replaces=OLD)
    _add_agent(store, second, "pending", replaces=OLD)
    _add_agent(store, "e" * 16, "active", machine_id="m-other")  # another computer

    assert _run(data_dir, "agents", "approve", second) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"approved agent {second}",
        f"revoked agent {OLD} (the old key): same computer (pc-{OLD[:4]})",
        f"revoked agent {first}: same computer (pc-{first[:4]})",
    ]
    store.rollback()
    statuses = {a.id: a.status for a in agents.list_agents(store)}
    assert statuses == {OLD: "revoked", first: "revoked", second: "active", "e" * 16: "active"}
    revoked = audit.list_entries(store, action="agent.revoked")
    assert sorted(e.target for e in revoked) == [f"agent:{OLD}", f"agent:{first}"]
    assert all(e.details and e.details["reason"] == f"replaced by agent {second}" for e in revoked)
    # The other pending request cannot come back: it is revoked, not pending.
    assert _run(data_dir, "agents", "approve", first) == 1
    assert "is revoked; only pending agents" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("action", ["approve", "revoke"])
def test_agents_unknown_id(data_dir: Path, capsys: pytest.CaptureFixture[str], action: str) -> None:
    assert _run(data_dir, "agents", action, "0123456789abcdef") == 1
    assert "no agent with id '0123456789abcdef'" in _one_error_line(capsys.readouterr().err)


def test_config_check(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(data_dir, "config", "check") == 0
    captured = capsys.readouterr()
    assert "config.yaml: ok" in captured.out
    assert "https://govguard.test:8443" in captured.out
    assert f"(schema {db.head_revision()}, current)" in captured.out
    assert "certificate:     valid until" in captured.out
    assert captured.err == ""
    # A server name the certificate does not cover is found before agents trip over it.
    _set_server_names(data_dir, '["other.test", govguard.test]')
    assert _run(data_dir, "config", "check") == 1
    assert "not valid for other.test" in _one_error_line(capsys.readouterr().err)


def _set_server_names(data_dir: Path, names: str) -> None:
    config = data_dir / "config.yaml"
    text_ = config.read_text(encoding="utf-8")
    start = text_.index("server_names: [")
    end = text_.index("]", start) + 1
    config.write_text(text_[:start] + f"server_names: {names}" + text_[end:], encoding="utf-8")


def _replace_server_cert(data_dir: Path, how: str) -> None:
    tls = data_dir / "tls"
    ca = ((tls / "ca.crt").read_bytes(), (tls / "ca.key").read_bytes())
    if how == "another CA":
        cert, key = pki.issue_server_cert(*pki.create_ca("intruder"), ["govguard.test"])
    elif how == "expired":
        cert, key = pki.issue_server_cert(*ca, ["govguard.test"], validity=timedelta(minutes=-5))
    elif how == "expires in 10 days":
        cert, key = pki.issue_server_cert(*ca, ["govguard.test"], validity=timedelta(days=10))
    else:  # the key of another certificate
        cert = (tls / "server.crt").read_bytes()
        key = pki.issue_server_cert(*ca, ["govguard.test"])[1]
    (tls / "server.crt").write_bytes(cert)
    pki.write_private(tls / "server.key", key)


@pytest.mark.parametrize(
    ("how", "message"),
    [
        pytest.param("another CA", "server.crt: not signed by ca.crt", id="other CA"),
        pytest.param(
            "wrong key", "server.crt: the key does not belong to the certificate", id="wrong key"
        ),
        pytest.param("expired", "server.crt: expired on", id="expired"),
    ],
)
def test_config_check_finds_certificate_errors(
    data_dir: Path, capsys: pytest.CaptureFixture[str], how: str, message: str
) -> None:
    _replace_server_cert(data_dir, how)
    assert _run(data_dir, "config", "check") == 1
    captured = capsys.readouterr()
    assert message in _one_error_line(captured.err)
    assert captured.out == ""


def test_config_check_warns_before_the_certificate_expires(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _replace_server_cert(data_dir, "expires in 10 days")
    assert _run(data_dir, "config", "check") == 0
    captured = capsys.readouterr()
    [warning] = captured.err.strip().splitlines()
    assert warning.startswith("govguard: warning: ")
    assert "server.crt: expires on" in warning
    assert "(in 9 days)" in warning
    assert "govguard tls renew" in warning
    assert "config.yaml: ok" in captured.out


def _use_database(data_dir: Path, url: str) -> None:
    config = data_dir / "config.yaml"
    text_ = config.read_text(encoding="utf-8")
    start = text_.index("database_url: ")
    end = text_.index("\n", start)
    config.write_text(text_[:start] + f"database_url: {url}" + text_[end:], encoding="utf-8")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(
            "postgresql://postgres:hunter2@127.0.0.1:1/x",
            "cannot reach the database postgresql://postgres:***@127.0.0.1:1/x",
            id="unreachable",
        ),
        pytest.param(
            "sqlite:///{dir}/nowhere.db", "nowhere.db: the file does not exist", id="no file"
        ),
    ],
)
def test_config_check_finds_database_errors(
    data_dir: Path, capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    _use_database(data_dir, url.format(dir=data_dir))
    assert _run(data_dir, "config", "check") == 1
    line = _one_error_line(capsys.readouterr().err)
    assert message in line
    assert "hunter2" not in line
    assert not (data_dir / "nowhere.db").exists()  # checking must not create a database


def test_config_check_finds_a_schema_it_does_not_know(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    store.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    store.commit()
    assert _run(data_dir, "config", "check") == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "has schema 9999_future, unknown to this govguard" in line


def _handshake(tls: Path, hostname: str) -> str:
    """A real TLS handshake: the server with tls/server.*, the client pinning tls/ca.crt."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls / "server.crt", tls / "server.key")
    client_ctx = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    left, right = socket.socketpair()
    with left, right:
        left.settimeout(HANG_GUARD_S)
        right.settimeout(HANG_GUARD_S)

        def serve() -> None:
            with contextlib.suppress(OSError), server_ctx.wrap_socket(right, server_side=True):
                pass

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with client_ctx.wrap_socket(left, server_hostname=hostname) as client:
                return str(client.version())
        finally:
            thread.join(HANG_GUARD_S)


def test_tls_renew_issues_a_certificate_for_the_current_names(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tls = data_dir / "tls"
    old_cert, old_key = (tls / "server.crt").read_bytes(), (tls / "server.key").read_bytes()
    ca_before = (tls / "ca.crt").read_bytes()
    _set_server_names(data_dir, "[govguard.test, 192.0.2.10]")
    assert _run(data_dir, "config", "check") == 1
    assert "not valid for 192.0.2.10" in _one_error_line(capsys.readouterr().err)

    assert _run(data_dir, "tls", "renew") == 0
    out = capsys.readouterr().out
    assert "new server certificate for govguard.test, 192.0.2.10" in out
    assert "Restart the controller" in out
    assert "Agents keep working" in out

    [cert_backup] = tls.glob("server.crt.*.bak")
    [key_backup] = tls.glob("server.key.*.bak")
    assert (cert_backup.read_bytes(), key_backup.read_bytes()) == (old_cert, old_key)
    assert f"old files kept as: {cert_backup.name}, {key_backup.name}" in out
    for key in (tls / "server.key", key_backup):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (tls / "ca.crt").read_bytes() == ca_before  # tokens and agents pin this one
    assert (tls / "server.crt").read_bytes() != old_cert
    assert pki.certificate_names((tls / "server.crt").read_bytes()) == [
        "govguard.test",
        "192.0.2.10",
    ]
    assert _run(data_dir, "config", "check") == 0
    assert capsys.readouterr().err == ""
    # What an agent does: verify the server against the pinned CA and the name it connects to.
    assert _handshake(tls, "192.0.2.10").startswith("TLS")
    assert _handshake(tls, "govguard.test").startswith("TLS")


def test_tls_renew_without_the_ca_key(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data_dir / "tls" / "ca.key").unlink()
    before = (data_dir / "tls" / "server.crt").read_bytes()
    assert _run(data_dir, "tls", "renew") == 1
    assert "ca.key: missing" in _one_error_line(capsys.readouterr().err)
    assert (data_dir / "tls" / "server.crt").read_bytes() == before
    assert list((data_dir / "tls").glob("*.bak")) == []


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
        pytest.param("agents: {interval_s: 1}\n", "agents.interval_s: Expected `int` >= 60",
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
