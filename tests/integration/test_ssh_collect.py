"""Agentless collection against a real OpenSSH server on a loopback port, on SQLite and
PostgreSQL, through the real ``govguard ssh`` commands.

The host collected is this machine (sshd runs here), so the report is checked for its shape and
its way through the store (source ``ssh``, host facts, findings), not for particular values.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.cli import main
from controller.discovery import ssh
from controller.discovery.ssh_collect import Stored
from controller.discovery.ssh_commands import Command
from controller.discovery.ssh_rounds import SshRounds
from controller.findings import FindingsWriter, PolicyCache
from controller.settings import load_settings
from controller.store import db, reports
from controller.store.models import Agent, Asset, AuditEntry, Finding, HostFacts, SshTarget
from controller.store.models import Report as StoredReport
from tests.support.sshd import SilentListener, Sshd, free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UNIT = "root"  # the top unit `govguard init` makes


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """One sshd for the module's tests that do not change its host key."""
    reason = Sshd.available()
    if reason is not None:
        pytest.fail(reason, pytrace=False)
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def own_sshd(tmp_path: Path) -> Iterator[Sshd]:
    """An sshd of the test's own (its host key is changed)."""
    server = Sshd(tmp_path / "own-sshd").start()
    yield server
    server.stop()


@pytest.fixture
def store(data_dir: Path) -> Iterator[Session]:
    """A session on the data directory's database."""
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def gg(folder: Path, *argv: str | Path | int) -> int:
    return main([*map(str, argv), "--data-dir", str(folder)])


def collect(folder: Path, server: Sshd, *extra: str | Path | int) -> int:
    return gg(folder, "ssh", "collect", "127.0.0.1", "--port", server.port, "--user",
              server.user, *extra)  # fmt: skip


def trust(folder: Path, server: Sshd) -> None:
    assert gg(folder, "ssh", "trust", "127.0.0.1", "--port", server.port,
              "--fingerprint", server.fingerprint()) == 0  # fmt: skip


def audit_actions(s: Session) -> list[str]:
    s.rollback()
    return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_collect_trust_and_store_like_an_agent_report(
    data_dir: Path, store: Session, sshd: Sshd, capsys: pytest.CaptureFixture[str]
) -> None:
    key = ("--key", sshd.client_key, "--unit", UNIT)
    # Never trusted on first use: refused with the fingerprint and the command to run.
    assert collect(data_dir, sshd, *key) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown_host_key" in err
    command = f"govguard ssh trust 127.0.0.1 --port {sshd.port} --fingerprint {sshd.fingerprint()}"
    assert command in err
    assert "ssh.unknown_host_key" in audit_actions(store)
    assert store.scalar(select(func.count()).select_from(StoredReport)) == 0
    target = store.get(SshTarget, "127.0.0.1")
    assert target is not None and (target.last_error or "").startswith("unknown_host_key")

    trust(data_dir, sshd)
    assert f"pinned ssh-ed25519 {sshd.fingerprint()}" in capsys.readouterr().out
    known_hosts = data_dir / "ssh" / "known_hosts"
    assert stat.S_IMODE(known_hosts.stat().st_mode) == 0o600

    assert collect(data_dir, sshd, *key) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "stored report 1 of" in out and "(new host)" in out
    store.rollback()
    agent = store.scalar(select(Agent).where(Agent.key_id == f"ssh:127.0.0.1:{sshd.port}"))
    assert agent is not None and agent.source == "ssh" and agent.status == "active"
    assert agent.os == "linux" and agent.unit_id == UNIT and agent.last_seq == 1
    assert agent.machine_id == Path("/etc/machine-id").read_text().strip()
    assert len(agent.public_key) == 32 and agent.public_key != bytes(32)
    row = store.scalar(select(StoredReport).where(StoredReport.agent_id == agent.id))
    assert row is not None and row.source == "ssh" and row.kind == "full"
    # The body validates against the committed report schema, like an agent's.
    body = json.loads(gzip.decompress(row.body))
    schema = json.loads((REPO / "docs" / "report-schema.json").read_text(encoding="utf-8"))
    Draft202012Validator(schema).validate(body)
    assert {"identity", "hardware", "os", "software", "network", "security"} <= set(body)
    assert body["os"]["version"]["family"] == "linux" and body["software"]["packages"]
    # Host facts and the policies' findings, written in the same transaction.
    assert store.get(HostFacts, agent.id) is not None
    facts = reports.latest_facts(store, agent.id)
    assert facts is not None and facts["identity"]["hostname"] == os.uname().nodename  # type: ignore[index]
    findings = store.scalar(
        select(func.count()).select_from(Finding).where(Finding.agent_id == agent.id)
    )
    assert findings
    assert {"agent.ssh_added", "report.stored", "ssh.collected"} <= set(audit_actions(store))

    # The host is listed like the others.
    assert gg(data_dir, "agents", "list") == 0
    listed = capsys.readouterr().out
    assert agent.id in listed and "linux" in listed
    assert gg(data_dir, "ssh", "list") == 0
    listed = capsys.readouterr().out
    assert "127.0.0.1" in listed and agent.id in listed and sshd.fingerprint() in listed

    # Again: the same host, the next report.
    assert collect(data_dir, sshd, "--key", sshd.client_key) == 0
    assert "stored report 2 of" in capsys.readouterr().out
    store.rollback()
    assert store.scalar(select(func.count()).select_from(Agent)) == 1
    assert store.scalar(select(func.count()).select_from(StoredReport)) == 2

    # A scheduled round over the known hosts, with the configured key (ssh.key_file).
    config = data_dir / "config.yaml"
    config.write_text(config.read_text() + f"ssh:\n  key_file: {sshd.client_key}\n")
    current = load_settings(data_dir)
    engine = db.make_engine(current.database_url)
    try:
        rounds = SshRounds(
            db.session_factory(engine), current, FindingsWriter(PolicyCache(data_dir))
        )
        done = rounds.run_once()
        # Done for this ssh.interval_s: the next look collects nothing.
        assert rounds.run_once() is None
    finally:
        engine.dispose()
    assert done is not None and list(done) == ["127.0.0.1"]
    third = done["127.0.0.1"]
    assert isinstance(third, Stored) and (third.agent_id, third.seq) == (agent.id, 3)


def test_unit_comes_from_the_matching_asset(
    data_dir: Path, store: Session, sshd: Sshd, capsys: pytest.CaptureFixture[str]
) -> None:
    trust(data_dir, sshd)
    # Without --unit and without an asset: one line saying to give --unit.
    assert collect(data_dir, sshd, "--key", sshd.client_key) == 1
    assert "--unit" in capsys.readouterr().err
    from controller.store import units

    with store.begin():
        units.ensure_unit(store, "xa-an-binh", "Xã An Bình", parent_id=UNIT, kind="commune")
        store.add(
            Asset(
                id="may-chu-01",
                kind="server",
                unit_id="xa-an-binh",
                machine_id=Path("/etc/machine-id").read_text().strip(),
            )
        )
    assert collect(data_dir, sshd, "--key", sshd.client_key) == 0, capsys.readouterr().err
    assert "in unit xa-an-binh" in capsys.readouterr().out
    store.rollback()
    agent = store.scalar(select(Agent).where(Agent.source == "ssh"))
    assert agent is not None and agent.unit_id == "xa-an-binh"
    # Linked to its asset, so asset.* facts and its classification apply to it.
    assert store.scalar(select(Asset.agent_id).where(Asset.id == "may-chu-01")) == agent.id


def test_changed_host_key_is_refused_and_recorded(
    data_dir: Path, store: Session, own_sshd: Sshd, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gg(data_dir, "ssh", "trust", "127.0.0.1", "--port", own_sshd.port,
              "--key-file", own_sshd.host_public_key()) == 0  # fmt: skip
    pinned = own_sshd.fingerprint()
    key = ("--key", own_sshd.client_key, "--unit", UNIT)
    assert collect(data_dir, own_sshd, *key) == 0
    own_sshd.new_host_key()
    capsys.readouterr()
    assert collect(data_dir, own_sshd, *key) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "changed_host_key" in err
    assert pinned in err and own_sshd.fingerprint() in err
    store.rollback()
    entry = store.scalar(select(AuditEntry).where(AuditEntry.action == "ssh.changed_host_key"))
    assert entry is not None and entry.details is not None
    assert entry.details["expected"] == pinned
    assert entry.details["fingerprint"] == own_sshd.fingerprint()
    target = store.get(SshTarget, "127.0.0.1")
    assert target is not None and (target.last_error or "").startswith("changed_host_key")
    assert target.last_error_at is not None and target.last_ok_at is not None
    assert store.scalar(select(func.count()).select_from(StoredReport)) == 1
    # The known_hosts file still holds the old key: nothing was replaced behind the operator.
    assert (
        ssh.pinned_hosts(data_dir / "ssh" / "known_hosts")[f"[127.0.0.1]:{own_sshd.port}"] == pinned
    )


def test_trust_refuses_a_fingerprint_the_host_does_not_present(
    data_dir: Path, sshd: Sshd, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "SHA256:" + "A" * 43
    assert gg(data_dir, "ssh", "trust", "127.0.0.1", "--port", sshd.port,
              "--fingerprint", wrong) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing pinned" in err and sshd.fingerprint() in err
    assert not (data_dir / "ssh" / "known_hosts").exists()
    assert gg(data_dir, "ssh", "trust", "127.0.0.1", "--fingerprint", "abc") == 1
    assert "not a SHA256 fingerprint" in capsys.readouterr().err


def test_keygen_then_auth_refused_until_the_key_is_installed(
    data_dir: Path, sshd: Sshd, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert gg(data_dir, "ssh", "keygen") == 0
    out = capsys.readouterr().out
    key = data_dir / "ssh" / "id_ed25519"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    public = out.strip().splitlines()[-1]
    assert public.startswith("ssh-ed25519 ")
    # A second keygen keeps the key hosts already trust.
    assert gg(data_dir, "ssh", "keygen") == 0
    assert "kept" in capsys.readouterr().out and key.exists()
    trust(data_dir, sshd)
    capsys.readouterr()
    # The default key (ssh.key_file) is not installed on the host: an authentication error.
    assert collect(data_dir, sshd, "--unit", UNIT) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ": auth:" in err and "authorized_keys" in err
    # A key others can read is refused before any connection.
    loose = tmp_path / "loose"
    loose.write_bytes(key.read_bytes())
    loose.chmod(0o644)
    assert collect(data_dir, sshd, "--unit", UNIT, "--key", loose) == 1
    assert "readable by other users" in capsys.readouterr().err
    # Installed: it works.
    original = sshd.authorized_keys.read_text()
    try:
        sshd.authorized_keys.write_text(original + public + "\n")
        assert collect(data_dir, sshd, "--unit", UNIT) == 0, capsys.readouterr().err
    finally:
        sshd.authorized_keys.write_text(original)


def test_unreachable_and_silent_hosts_fail_with_one_line(
    data_dir: Path, sshd: Sshd, capsys: pytest.CaptureFixture[str]
) -> None:
    config = data_dir / "config.yaml"
    config.write_text(config.read_text() + "ssh:\n  connect_timeout_s: 1\n")
    key = ("--key", sshd.client_key, "--unit", UNIT)
    # Nothing listens: refused.
    assert gg(data_dir, "ssh", "collect", "127.0.0.1", "--port", free_port(), *key) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ": refused:" in err
    # Accepts and never speaks: cut at the connect timeout.
    silent = SilentListener()
    try:
        assert gg(data_dir, "ssh", "collect", "127.0.0.1", "--port", silent.port, *key) == 1
    finally:
        silent.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ": timeout:" in err and "banner" in err
    # Bad input never reaches a connection.
    for host, user in (("x -oProxyCommand=y", "root"), ("127.0.0.1", "a b"), ("a;b", "root")):
        assert gg(data_dir, "ssh", "collect", host, "--user", user, *key) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "not a" in err


def test_a_hanging_or_flooding_command_is_cut_and_the_others_run(
    sshd: Sshd, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    target = ssh.endpoint("127.0.0.1", sshd.port, sshd.user)
    ssh.pin_host_key(known_hosts, target, ssh.read_public_key(sshd.host_public_key()))
    results = ssh.run_commands(
        target,
        [
            Command("slow", "sleep 120"),
            Command("flood", "head -c 300000 /dev/zero", max_bytes=1000),
            Command("quick", "echo ok; echo err >&2; exit 3"),
            Command("bytes", "printf 'caf\\351\\n'"),
            Command("noisy", "head -c 100000 /dev/zero >&2; echo done"),
        ],
        key_file=sshd.client_key,
        known_hosts=known_hosts,
        connect_timeout_s=5,
        command_timeout_s=10,
    )
    assert results["slow"].error == "no end within 10 s: cut"
    assert results["slow"].exit_status is None and not results["slow"].ok
    assert results["flood"].error is not None and "larger than 1000" in results["flood"].error
    quick = results["quick"]
    assert (quick.stdout, quick.stderr, quick.exit_status) == ("ok\n", "err\n", 3)
    assert "exited with status 3: err" in quick.reason()
    assert results["bytes"].ok and results["bytes"].stdout == "caf\ufffd\n"
    # Standard error past its limit is dropped, and the command still ends on its own.
    noisy = results["noisy"]
    assert noisy.ok and noisy.stdout == "done\n" and len(noisy.stderr) == 16 * 1024
