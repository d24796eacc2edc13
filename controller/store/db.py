"""Engines, sessions and migrations for SQLite (one office) and PostgreSQL (the district).

SQLite runs in WAL mode so the dashboard can read while ingest writes; PostgreSQL goes through
psycopg 3. :func:`upgrade` runs the Alembic migrations shipped inside this package, so an
installed controller needs no ``alembic.ini`` on disk.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Any fixed number works; it only has to be the same for every controller process.
_MIGRATION_LOCK_ID = 0x67677374  # "ggst"

# How long a SQLite writer waits for another one before giving up with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000

# Texts of sqlite3.OperationalError that mean "try again later", not "the query is wrong".
_SQLITE_TRANSIENT = (
    "database is locked",
    "database is busy",
    "unable to open database",
    "disk i/o",
)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite database file."""
    return f"sqlite:///{path.resolve()}"


def _normalise_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        # Only psycopg 3 is installed with the controller; plain URLs would pick psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL with govguard's connection settings.

    Extra keyword arguments go to :func:`sqlalchemy.create_engine` (tests use them to shrink
    the pool).
    """
    url = _normalise_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    raise ValueError(f"unsupported database URL scheme {backend!r}: use sqlite or postgresql")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # The sqlite3 module's own transaction handling starts transactions late and never for
        # SELECT; switch it off and let SQLAlchemy emit BEGIN (see the "begin" hook below), as
        # SQLAlchemy's SQLite documentation recommends, so SAVEPOINT and DDL are transactional.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a report is acknowledged after its commit and the agent then deletes its copy,
            # so a commit must survive a power cut too (NORMAL in WAL mode may lose the last
            # ones). Batched commits keep the fsync per report small.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at once. A deferred transaction that read first cannot
        # upgrade to a writer once another connection has committed (WAL: SQLITE_BUSY_SNAPSHOT,
        # returned at once, busy_timeout does not help): administrative commands that read,
        # then write while agents report, ask for it with write_session().
        immediate = connection.get_execution_options().get(IMMEDIATE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


#: Execution option asking SQLite for BEGIN IMMEDIATE (see :func:`write_session`).
IMMEDIATE_OPTION = "govguard_sqlite_immediate"


def write_session(session: Session) -> None:
    """Make ``session``'s transaction a writer from its start (SQLite; no-op elsewhere).

    The one way the controller takes SQLite's write lock. Call it before the session's first
    statement when the transaction reads and then writes; later, the transaction has already
    begun and cannot take the lock any more: :class:`RuntimeError` on SQLite.
    """
    connection = session.connection(execution_options={IMMEDIATE_OPTION: True})
    if connection.dialect.name == "sqlite" and not connection.get_execution_options().get(
        IMMEDIATE_OPTION
    ):
        raise RuntimeError(
            "write_session() must come before the transaction's first statement: "
            "it has begun without SQLite's write lock"
        )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory for ``engine``; objects stay usable after commit (no expiry)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Migrate the database behind ``engine`` to the newest schema (no-op when already there)."""
    config = _alembic_config()
    with migration_connection(engine) as connection:
        if connection.dialect.name == "postgresql":
            # Two controllers starting at once must not both create the tables; the lock ends
            # with this transaction.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.info("database schema at %s", current_revision(engine))


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema behind ``engine`` down to ``revision``, dropping what later migrations
    added with its data (docs/backup.md); the ``alembic downgrade`` command does the same."""
    config = _alembic_config()
    with migration_connection(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


class MigrationError(Exception):
    """A migration would leave the database inconsistent; it was rolled back."""


@contextlib.contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside one transaction, for running migrations up or down.

    SQLite alters a table by rebuilding it (Alembic's batch mode: copy, drop, rename). With
    foreign keys enforced, as the controller's connections have them, dropping a table other
    rows refer to fails although the rebuilt table restores every reference. SQLite's own
    procedure for altering tables is followed instead: foreign keys off for the migration (the
    pragma only takes effect outside a transaction), every reference checked before the commit.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw: Any = connection.connection.driver_connection
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        tables = sorted({str(row[0]) for row in broken})
                        raise MigrationError(
                            f"the migration would leave {len(broken)} rows of "
                            f"{', '.join(tables)} pointing at missing rows; nothing was changed"
                        )
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def is_known_revision(revision: str) -> bool:
    """True when ``revision`` is one of this package's migrations (the head or an older one).

    False means a newer govguard wrote the database: this code cannot migrate it, neither up
    (it has no newer scripts) nor down (the downgrade steps live in the newer scripts).
    """
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError

    try:
        return ScriptDirectory.from_config(_alembic_config()).get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


def error_line(error: BaseException) -> str:
    """The first line of what the database said (the driver's message, without SQLAlchemy's
    SQL and background link), for one-line error messages."""
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()
    return detail[0] if detail else type(error).__name__


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached now (retry later).

    Connection refused, server shut down or restarted, connection lost, pool exhausted, SQLite
    still locked after the busy timeout. Errors in the query itself return False.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _unavailable_one(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _unavailable_one(error: BaseException) -> bool:
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.DisconnectionError | exc.TimeoutError):
        return True
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        return _unavailable_one(error.orig)
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        return any(part in message for part in _SQLITE_TRANSIENT)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - SQLite-only installation
        return isinstance(error, ConnectionError)
    if isinstance(error, psycopg.OperationalError):
        # psycopg raises OperationalError (or subclasses for SQLSTATE classes 08, 53, 57, 58)
        # for refused or lost connections, shutdowns and resource exhaustion; query errors
        # are ProgrammingError, IntegrityError or DataError instead.
        return True
    return isinstance(error, ConnectionError)
