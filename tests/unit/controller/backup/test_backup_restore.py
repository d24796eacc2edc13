"""`govguard backup` then `govguard restore`, on SQLite and PostgreSQL: the same rows, a report
that still reads, the same config, CA and secrets; an older schema is upgraded on the way."""

from __future__ import annotations

import gzip
import json
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.backup.manifest import decode
from controller.cli import main
from controller.settings import load_settings
from controller.store import db
from controller.store.models import Report
from controller.store.reports import store_batch
from tests.support.db_invariants import consistency_problems, table_counts
from tests.support.postgres import Server, create_database, drop_database
from tests.unit.controller.store.factories import T0, full, heartbeat, make_agent

REPO = Path(__file__).resolve().parents[4]


def _fill(data_dir: Path) -> str:
    """Two agents with reports, and the files an operator adds; returns the database URL."""
    url = load_settings(data_dir).database_url
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine)() as s:
            for agent_id in ("a1", "a2"):
                make_agent(s, agent_id)
            store_batch(
                s,
                [full("a1", 1, os={"name": "Windows 11"}), heartbeat("a1", 2), full("a2", 1)],
                T0,
            )
            s.commit()
    finally:
        engine.dispose()
    secrets = data_dir / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "snmp.yaml").write_text("credentials: {}\n", encoding="utf-8")
    (secrets / "snmp.yaml").chmod(0o600)
    (data_dir / "policies").mkdir()
    (data_dir / "policies" / "overrides.yaml").write_text("disable: [ATTT-07]\n")
    archive = data_dir / "reports" / "2026" / "11"
    archive.mkdir(parents=True)
    (archive / "1_bao-cao.pdf").write_bytes(b"%PDF-1.7 generated report")
    (data_dir / "remediation" / "runs" / "3").mkdir(parents=True)
    (data_dir / "remediation" / "runs" / "3" / "inventory").write_text("scratch")
    return url


@pytest.fixture
def other_database(db_url: str, tmp_path: Path) -> Iterator[str]:
    """Where the backup is restored: another SQLite file, or another empty PostgreSQL database
    (the data_dir fixture's config names its database explicitly, so restoring without
    --database-url would mean replacing the original)."""
    if db_url.startswith("sqlite"):
        yield db.sqlite_url(tmp_path / "restored.db")
        return
    from tests.support.postgres import shared_server

    server: Server = shared_server()
    name = create_database(server)
    try:
        yield server.url(name)
    finally:
        drop_database(server, name)


def _restore_args(archive: Path, target: Path, url: str, *extra: str) -> list[str]:
    return ["restore", str(archive), "--data-dir", str(target), "--database-url", url, *extra]


def test_round_trip_keeps_rows_reports_config_and_keys(
    data_dir: Path,
    other_database: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _fill(data_dir)
    archive = tmp_path / "backup.tar.gz"

    assert main(["backup", "--data-dir", str(data_dir), "--out", str(archive)]) == 0
    out = capsys.readouterr().out
    assert f"backup written: {archive}" in out
    assert "CA private key" in out
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = decode(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == "manifest.json"
    assert manifest.database.revision == db.head_revision()
    assert {"data/config.yaml", "data/tls/ca.key", "data/secrets/snmp.yaml"} <= set(names)
    assert "data/policies/overrides.yaml" in names
    # The report archive and Ansible's run folders are left out, and the manifest says so.
    assert not [name for name in names if name.startswith(("data/reports", "data/remediation"))]
    assert set(manifest.skipped) == {"reports", "remediation/runs"}

    target = tmp_path / "restored"
    assert main(_restore_args(archive, target, other_database)) == 0
    assert f"into {target}" in capsys.readouterr().out

    restored = load_settings(target)
    assert restored.database_url == other_database
    assert table_counts(restored.database_url) == table_counts(url)
    assert consistency_problems(restored.database_url) == []
    engine = db.make_engine(restored.database_url)
    try:
        with engine.connect() as conn:
            body = conn.execute(
                select(Report.body).where(Report.agent_id == "a1", Report.seq == 1)
            ).scalar_one()
    finally:
        engine.dispose()
    assert json.loads(gzip.decompress(body))["os"] == {"name": "Windows 11"}

    for name in ("tls/ca.crt", "tls/ca.key", "tls/server.key", "secrets/snmp.yaml"):
        assert (target / name).read_bytes() == (data_dir / name).read_bytes(), name
        mode = stat.S_IMODE((data_dir / name).stat().st_mode)
        assert stat.S_IMODE((target / name).stat().st_mode) == mode, name
    assert stat.S_IMODE((target / "tls" / "ca.key").stat().st_mode) == 0o600
    # Only database_url changed: --database-url is written into the restored config.
    config = (data_dir / "config.yaml").read_text(encoding="utf-8").splitlines()
    restored_lines = (target / "config.yaml").read_text(encoding="utf-8").splitlines()
    changed = [a for a, b in zip(config, restored_lines, strict=True) if a != b]
    assert changed == [line for line in config if line.startswith("database_url:")]
    assert not (target / "reports").exists()
    assert main(["config", "check", "--data-dir", str(target)]) == 0
    # Nothing is left beside the target: no staging folders, no database work files.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_sqlite_inside_the_data_directory_comes_back_inside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default layout (database_url: null): the database travels with the directory."""
    source = tmp_path / "gg"
    password = tmp_path / "pw"
    password.write_text("mật khẩu quản trị 2026\n", encoding="utf-8")
    init = ["init", "--data-dir", str(source), "--server-name", "govguard.test"]
    assert main([*init, "--password-file", str(password)]) == 0
    _fill(source)
    archive = tmp_path / "backup.tar.gz"
    assert main(["backup", "--data-dir", str(source), "--out", str(archive)]) == 0
    target = tmp_path / "restored"
    assert main(["restore", str(archive), "--data-dir", str(target)]) == 0
    capsys.readouterr()
    url = load_settings(target).database_url
    assert url == db.sqlite_url(target / "govguard.db")
    assert table_counts(url) == table_counts(load_settings(source).database_url)
    assert (target / "config.yaml").read_bytes() == (source / "config.yaml").read_bytes()


def test_restore_upgrades_an_older_schema(
    data_dir: Path,
    other_database: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A backup of a database one migration behind comes back at this govguard's schema."""
    url = _fill(data_dir)
    head = db.head_revision()
    assert head is not None
    previous = _previous_revision(head)
    _downgrade(url, previous, tmp_path)
    archive = tmp_path / "old.tar.gz"
    assert main(["backup", "--data-dir", str(data_dir), "--out", str(archive)]) == 0
    assert f"schema {previous}" in capsys.readouterr().out

    target = tmp_path / "restored"
    assert main(_restore_args(archive, target, other_database)) == 0
    assert f"schema {head} (upgraded from {previous})" in capsys.readouterr().out
    restored_url = load_settings(target).database_url
    engine = db.make_engine(restored_url)
    try:
        assert db.current_revision(engine) == head
    finally:
        engine.dispose()
    assert consistency_problems(restored_url) == []
    assert table_counts(restored_url)["reports"] == 3


def _downgrade(url: str, revision: str, tmp_path: Path) -> None:
    """Take the schema down to ``revision`` with the ``alembic`` command, as docs/backup.md says
    (on SQLite too: migrations rebuild tables with foreign keys off, checked before the commit).
    """
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = controller.store:migrations\n")
    alembic = Path(sys.executable).with_name("alembic")
    done = subprocess.run(
        [str(alembic), "-c", str(ini), "-x", f"url={url}", "downgrade", revision],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _previous_revision(revision: str) -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(db.MIGRATIONS)).get_revision(revision)
    assert script is not None and isinstance(script.down_revision, str)
    return script.down_revision


def test_restore_over_a_data_directory_needs_yes_and_keeps_the_old_one(
    data_dir: Path, other_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(data_dir)
    archive = tmp_path / "backup.tar.gz"
    assert main(["backup", "--data-dir", str(data_dir), "--out", str(archive)]) == 0
    target = tmp_path / "restored"
    assert main(_restore_args(archive, target, other_database)) == 0
    (target / "config.yaml").write_text("# changed after the restore\n", encoding="utf-8")
    capsys.readouterr()

    assert main(_restore_args(archive, target, other_database)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("govguard: error: ")
    assert "not empty" in err and "--yes" in err
    assert (target / "config.yaml").read_text() == "# changed after the restore\n"

    # An empty directory, but the database it names holds the first restore.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert main(_restore_args(archive, elsewhere, other_database)) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("govguard: error: ")
    assert "a database is there" in line or "is not empty" in line
    assert list(elsewhere.iterdir()) == []

    assert main(_restore_args(archive, target, other_database, "--yes")) == 0
    out = capsys.readouterr().out
    (kept,) = [p for p in tmp_path.iterdir() if p.name.startswith("restored.before-restore-")]
    assert f"kept in {kept}" in out
    assert (kept / "config.yaml").read_text() == "# changed after the restore\n"
    assert (target / "config.yaml").read_bytes() != b"# changed after the restore\n"
    assert table_counts(load_settings(target).database_url)["reports"] == 3
    if other_database.startswith("sqlite"):
        # A SQLite file outside the directory is not deleted either: moved aside the same way.
        (old_db,) = [p for p in tmp_path.iterdir() if p.name.startswith("restored.db.before-")]
        assert f"kept in {old_db}" in out
        assert table_counts(db.sqlite_url(old_db))["reports"] == 3


def test_backup_never_overwrites_its_output(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "backup.tar.gz"
    archive.write_bytes(b"an older backup")
    assert main(["backup", "--data-dir", str(data_dir), "--out", str(archive)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == f"govguard: error: {archive}: already exists " \
        "(backups are never overwritten)"  # fmt: skip
    assert archive.read_bytes() == b"an older backup"
    # No temporary archive or staging folder left beside it.
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
