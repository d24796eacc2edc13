"""Engines, migrations, time zones and error classification of controller.store.db."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, exc, inspect, text
from sqlalchemy.orm import Session

from controller.store import db, units
from controller.store.models import Base, Unit
from tests.support.postgres import Server, TempCluster

TABLES = {
    "agents",
    "audit_log",
    "asset_macs",
    "bundles",
    "assets",
    "findings",
    "jobs",
    "login_attempts",
    "rule_states",
    "enrollment_tokens",
    "host_facts",
    "notifications",
    "reports",
    "units",
    "users",
    "web_sessions",
}


def test_upgrade_reaches_head_and_is_repeatable(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        assert db.current_revision(engine) is None
        db.upgrade(engine)
        head = db.head_revision()
        assert head is not None
        assert db.current_revision(engine) == head
        db.upgrade(engine)  # a second start of the controller changes nothing
        assert db.current_revision(engine) == head
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = db.make_engine(db.sqlite_url(tmp_path / "govguard.db"))
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "synchronous": 2,  # FULL: an acknowledged report survives a power cut
    }


def test_write_session_takes_the_sqlite_write_lock_before_reading(tmp_path: Path) -> None:
    """A read-then-write transaction cannot fail the upgrade once another writer committed."""
    path = tmp_path / "govguard.db"
    engine = db.make_engine(db.sqlite_url(path))
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        db.upgrade(engine)
        with db.session_factory(engine)() as writer:
            db.write_session(writer)
            writer.execute(text("SELECT count(*) FROM agents"))
            # The lock is already held: another writer must wait (and here gives up).
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            writer.execute(text("UPDATE agents SET last_seq = last_seq"))
            writer.commit()
        with db.session_factory(engine)() as reader:  # without it: a plain deferred BEGIN
            reader.execute(text("SELECT count(*) FROM agents"))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        pytest.param("postgresql://postgres@127.0.0.1/x", "psycopg", id="plain postgresql"),
        pytest.param("postgres://postgres@127.0.0.1/x", "psycopg", id="postgres alias"),
        pytest.param("postgresql+psycopg://postgres@127.0.0.1/x", "psycopg", id="explicit"),
        pytest.param("sqlite:////tmp/x.db", "pysqlite", id="sqlite"),
    ],
)
def test_make_engine_picks_the_driver(url: str, driver: str) -> None:
    engine = db.make_engine(url)
    assert engine.dialect.driver == driver
    engine.dispose()


def test_make_engine_refuses_other_databases() -> None:
    with pytest.raises(ValueError, match="unsupported database URL scheme 'mysql'"):
        db.make_engine("mysql://root@127.0.0.1/x")


@pytest.mark.parametrize(
    ("revision", "known"),
    [
        pytest.param("0001", True, id="the first"),
        pytest.param(None, True, id="the head"),
        pytest.param("0999", False, id="from a newer govguard"),
        pytest.param("not-a-revision", False, id="garbage"),
    ],
)
def test_is_known_revision(revision: str | None, known: bool) -> None:
    head = db.head_revision()
    assert head is not None
    assert db.is_known_revision(revision or head) is known


def test_times_come_back_aware_utc(engine: Engine) -> None:
    created = datetime(2026, 11, 28, 15, 30, tzinfo=timezone(timedelta(hours=7)))  # Hà Nội
    factory = db.session_factory(engine)
    with factory() as s, s.begin():
        s.add(Unit(id="huyen", name="Huyện", kind="district", created_at=created))
    with factory() as s:
        unit = units.get_unit(s, "huyen")
        assert unit is not None
        assert unit.created_at == created
        assert unit.created_at.tzinfo is UTC
        assert unit.created_at.hour == 8


def test_naive_times_are_refused(session: Session) -> None:
    session.add(Unit(id="huyen", name="Huyện", created_at=datetime(2026, 11, 28)))
    with pytest.raises(exc.StatementError, match="naive datetime"):
        session.flush()


def test_query_errors_are_not_unavailability(engine: Engine) -> None:
    with engine.connect() as connection, pytest.raises(exc.DBAPIError) as caught:
        connection.execute(text("SELECT * FROM no_such_table"))
    assert not db.is_unavailable(caught.value)


_INSERT_AUDIT = (
    "INSERT INTO audit_log (at, actor, action, target) VALUES ('2026-01-01', 'a', 'b', 'c')"
)


def test_sqlite_still_locked_is_unavailability(tmp_path: Path) -> None:
    url = db.sqlite_url(tmp_path / "govguard.db")
    holder, waiter = db.make_engine(url), db.make_engine(url)
    try:
        db.upgrade(holder)
        with holder.begin() as locked:
            # An open write transaction holds SQLite's single writer lock.
            locked.execute(text(_INSERT_AUDIT))
            with waiter.connect() as connection:
                # The default 5 s wait is right in production; here it only slows the test.
                connection.exec_driver_sql("PRAGMA busy_timeout=50")
                with pytest.raises(exc.OperationalError) as caught:
                    connection.execute(text(_INSERT_AUDIT))
    finally:
        holder.dispose()
        waiter.dispose()
    assert "locked" in str(caught.value)
    assert db.is_unavailable(caught.value)


def test_refused_connection_is_unavailability() -> None:
    # A port just released by TempCluster-style probing: nothing listens there.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = db.make_engine(Server("127.0.0.1", port).url("postgres"))
    try:
        with pytest.raises(exc.OperationalError) as caught, engine.connect():
            pass
    finally:
        engine.dispose()
    assert db.is_unavailable(caught.value)


def test_server_restart_is_unavailability_then_recovers() -> None:
    with TempCluster() as cluster:
        engine = db.make_engine(cluster.url("postgres"))
        try:
            db.upgrade(engine)
            with engine.connect() as connection:
                cluster.stop("immediate")
                with pytest.raises(exc.DBAPIError) as caught:
                    connection.execute(text("SELECT 1"))
            assert db.is_unavailable(caught.value)
            cluster.start()
            # pool_pre_ping replaces the dead pooled connection transparently.
            assert db.current_revision(engine) == db.head_revision()
        finally:
            engine.dispose()


def test_upgrade_works_from_an_installed_copy(tmp_path: Path, repo_root: Path, db_url: str) -> None:
    """The migrations ship as package data: install a copy and migrate without the checkout."""
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("agent", "controller"):
        shutil.copytree(repo_root / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(repo_root / name, source / name)
    lib = tmp_path / "lib"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(lib),
        ],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert not list(lib.rglob("alembic.ini"))
    script = textwrap.dedent(
        f"""
        import controller.store.db as db
        assert db.__file__.startswith({str(lib)!r}), db.__file__
        engine = db.make_engine({db_url!r})
        db.upgrade(engine)
        print(db.current_revision(engine))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(lib)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == db.head_revision()


def test_downgrade_and_upgrade_keep_rows_that_refer_to_rebuilt_tables(db_url: str) -> None:
    """0010's downgrade drops columns of ``agents`` and ``assets``, which SQLite does by
    rebuilding the tables; the reports referring to the agent survive it both ways."""
    from controller.store.reports import store_batch
    from tests.unit.controller.store.factories import T0, full, make_agent

    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        with Session(engine) as s, s.begin():
            make_agent(s, "a" * 32)
            store_batch(s, [full("a" * 32, 1), full("a" * 32, 2)], T0)
        db.downgrade(engine, "0009")
        assert db.current_revision(engine) == "0009"
        db.upgrade(engine)
        assert db.current_revision(engine) == db.head_revision()
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM reports")) == 2
            if connection.dialect.name == "sqlite":
                # The pooled connection got its foreign keys back.
                assert connection.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        engine.dispose()


def test_a_migration_leaving_dangling_references_is_rolled_back(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'gg.db'}")
    try:
        db.upgrade(engine)
        dangling = text(
            "INSERT INTO units (id, parent_id, name, kind, created_at, inventory_managed)"
            " VALUES ('xa-mo-coi', 'nowhere', 'Xã Mồ Côi', 'commune', '2026-11-29 00:00:00', 0)"
        )
        with (
            pytest.raises(db.MigrationError, match="rows of units pointing at missing rows"),
            db.migration_connection(engine) as connection,
        ):
            connection.execute(dangling)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM units")) == 0
    finally:
        engine.dispose()
