"""Pytest plugin: every store-touching test runs on SQLite and on PostgreSQL.

Registered for all tests by ``pytest_plugins = ["tests.support.database"]`` in
``tests/conftest.py``. Fixtures:

- ``db_url``: parametrized ``sqlite`` / ``postgresql``; a fresh, empty database per test (a
  SQLite file in ``tmp_path``, or ``CREATE DATABASE gg_<random>`` dropped afterwards).
- ``engine``: an engine on ``db_url`` already migrated to the newest schema.
- ``migrated``: fills ``db_url``'s database with a copy of a schema migrated once per run (a
  file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL): running the Alembic
  chain for every test cost about a second each on PostgreSQL. A test that asks for it gets its
  PostgreSQL database made from the template straight away.
- ``session``: a session on ``engine``, rolled back and closed after the test.
- ``postgres_server``: the shared server (:func:`tests.support.postgres.shared_server`).

PostgreSQL is never skipped: without a server (and without binaries to start one) the
``postgresql`` cases fail with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

from tests.support.postgres import (
    PostgresUnavailableError,
    Server,
    create_database,
    drop_database,
    shared_server,
    throwaway_name,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

DIALECTS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql")]

#: PostgreSQL databases ``db_url`` created as copies of the migrated template (by name).
_from_template: set[str] = set()


@pytest.fixture(scope="session")
def postgres_server() -> Server:
    """The PostgreSQL server shared by the whole run (127.0.0.1:5432 or a private cluster)."""
    try:
        return shared_server()
    except PostgresUnavailableError as exc:
        pytest.fail(f"PostgreSQL is required for the store tests: {exc}", pytrace=False)


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty database: a SQLite file or a new PostgreSQL database.

    When the test also uses ``migrated`` (directly or through ``engine``, ``session`` or
    ``data_dir``), the PostgreSQL database is made as a copy of the migrated template at once:
    creating an empty one only for ``migrated`` to drop and copy it again cost a second database
    creation and drop for each of those tests.
    """
    if request.param == "sqlite":
        from controller.store.db import sqlite_url

        yield sqlite_url(tmp_path / "govguard.db")
        return
    server: Server = request.getfixturevalue("postgres_server")
    template = None
    if "migrated" in request.fixturenames:
        template = _template(request, "postgresql")
    name = create_database(server, template=template)
    if template is not None:
        _from_template.add(name)
    try:
        yield server.url(name)
    finally:
        drop_database(server, name)


@pytest.fixture(scope="session")
def _schema_templates() -> Iterator[dict[str, str]]:
    """Per dialect, where a database migrated to head lies (made on first use)."""
    made: dict[str, str] = {}
    yield made
    if "postgresql" in made:
        drop_database(shared_server(), made["postgresql"])


def _template(request: pytest.FixtureRequest, dialect: str) -> str:
    from controller.store.db import make_engine, sqlite_url, upgrade

    made: dict[str, str] = request.getfixturevalue("_schema_templates")
    if dialect not in made:
        if dialect == "sqlite":
            folder = request.getfixturevalue("tmp_path_factory").mktemp("schema")
            made[dialect] = str(folder / "template.db")
            url = sqlite_url(Path(made[dialect]))
        else:
            server: Server = request.getfixturevalue("postgres_server")
            made[dialect] = create_database(server, throwaway_name("gg_template_"))
            url = server.url(made[dialect])
        template = make_engine(url)
        try:
            upgrade(template)
        finally:
            template.dispose()
    return made[dialect]


@pytest.fixture
def migrated(request: pytest.FixtureRequest, db_url: str) -> str:
    """``db_url``, its database now a copy of the schema at head (no migration run)."""
    if db_url.startswith("sqlite"):
        target = Path(db_url.split("///", 1)[1])
        shutil.copyfile(_template(request, "sqlite"), target)
        return db_url
    name = db_url.rsplit("/", 1)[1]
    if name in _from_template:  # db_url made it a copy of the template already
        return db_url
    server: Server = request.getfixturevalue("postgres_server")
    template = _template(request, "postgresql")
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return db_url


@pytest.fixture
def engine(migrated: str) -> Iterator[Engine]:
    """An engine on ``db_url`` with the schema at head (``migrated``); disposed after the test.

    No ``upgrade()`` here: the copy is at head already, and a no-op Alembic run still loads every
    migration script (tens of milliseconds, for each of about 1,500 tests).
    """
    from controller.store.db import make_engine

    new = make_engine(migrated)
    try:
        yield new
    finally:
        new.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on ``engine``; whatever the test did not commit is rolled back."""
    from controller.store.db import session_factory

    with session_factory(engine)() as new:
        yield new
