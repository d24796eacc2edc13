"""PostgreSQL with a password: the data directory's .pgpass serves backup and restore whoever
runs them, and travels in the archive; without it, one clear line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from controller.cli import main
from controller.settings import load_settings
from tests.support.db_invariants import table_counts
from tests.support.postgres import TempCluster

ROLE = "gg_owner"
PASSWORD = "mật-khẩu-csdl-2026"  # noqa: S105 - the test cluster's throwaway password


@pytest.fixture
def cluster() -> Iterator[TempCluster]:
    """A private cluster where ROLE must give its password (scram) over TCP."""
    with TempCluster() as started:
        with psycopg.connect(started.server.conninfo(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(ROLE), sql.Literal(PASSWORD)
                )
            )
            for name in ("source", "copy"):
                admin.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(ROLE)
                    )
                )
            hba = started.data_dir / "pg_hba.conf"
            rule = f"host all {ROLE} {started.host}/32 scram-sha-256\n"
            hba.write_text(rule + hba.read_text())  # first match wins: before the trust lines
            admin.execute("SELECT pg_reload_conf()")
        yield started


def _url(cluster: TempCluster, name: str) -> str:
    return f"postgresql://{ROLE}@{cluster.host}:{cluster.port}/{name}"


def test_the_data_directory_pgpass_is_used_and_restored(
    cluster: TempCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = f"{cluster.host}:{cluster.port}:*:{ROLE}:{PASSWORD}\n"
    setup = tmp_path / "setup.pgpass"
    setup.write_text(line, encoding="utf-8")
    setup.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.pgpass to fall back on
    monkeypatch.setenv("PGPASSFILE", str(setup))  # for `govguard init` only
    source = tmp_path / "gg"
    password = tmp_path / "admin.pw"
    password.write_text("mật khẩu quản trị 2026\n", encoding="utf-8")
    init = ["init", "--data-dir", str(source), "--server-name", "govguard.test"]
    init += ["--password-file", str(password), "--database-url", _url(cluster, "source")]
    assert main(init) == 0
    (source / ".pgpass").write_text(line, encoding="utf-8")
    (source / ".pgpass").chmod(0o600)
    capsys.readouterr()

    archive = tmp_path / "backup.tar.gz"
    backup = ["backup", "--data-dir", str(source), "--out", str(archive)]
    monkeypatch.delenv("PGPASSFILE")  # unset again after the test
    (source / ".pgpass").rename(tmp_path / "aside.pgpass")
    assert main(backup) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("govguard: error: cannot connect to the database:")
    assert "password" in last

    (tmp_path / "aside.pgpass").rename(source / ".pgpass")
    assert main(backup) == 0
    assert "PGPASSFILE" not in os.environ  # set for the backup only
    target = tmp_path / "restored"
    restore = ["restore", str(archive), "--data-dir", str(target)]
    assert main([*restore, "--database-url", _url(cluster, "copy")]) == 0
    assert "PGPASSFILE" not in os.environ
    assert (target / ".pgpass").read_text(encoding="utf-8") == line
    assert (target / ".pgpass").stat().st_mode & 0o777 == 0o600

    monkeypatch.setenv("PGPASSFILE", str(target / ".pgpass"))  # for this test's own reads
    restored = load_settings(target).database_url
    assert table_counts(restored) == table_counts(_url(cluster, "source"))
