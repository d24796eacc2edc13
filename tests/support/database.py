"""Pytest plugin: every store-touching test runs on SQLite and on PostgreSQL.

Registered for all tests by ``pytest_plugins = ["tests.support.database"]`` in
``tests/conftest.py``. Fixtures:

- ``db_url``: parametrized ``sqlite`` / ``postgresql``; a fresh, empty database per test (a
  SQLite file in ``tmp_path``, or ``CREATE DATABASE gg_<random>`` dropped afterwards).
- ``engine``: an engine on ``db_url`` already migrated to the newest schema.
- ``session``: a session on ``engine``, rolled back and closed after the test.
- ``postgres_server``: the shared server (:func:`tests.support.postgres.shared_server`).

PostgreSQL is never skipped: without a server (and without binaries to start one) the
``postgresql`` cases fail with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.postgres import (
    PostgresUnavailableError,
    Server,
    create_database,
    drop_database,
    shared_server,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

DIALECTS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql")]


@pytest.fixture(scope="session")
def postgres_server() -> Server:
    """The PostgreSQL server shared by the whole run (127.0.0.1:5432 or a private cluster)."""
    try:
        return shared_server()
    except PostgresUnavailableError as exc:
        pytest.fail(f"PostgreSQL is required for the store tests: {exc}", pytrace=False)


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty database: a SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        from controller.store.db import sqlite_url

        yield sqlite_url(tmp_path / "govguard.db")
        return
    server: Server = request.getfixturevalue("postgres_server")
    name = create_database(server)
    try:
        yield server.url(name)
    finally:
        drop_database(server, name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url`` with the schema migrated to head; disposed after the test."""
    from controller.store.db import make_engine, upgrade

    new = make_engine(db_url)
    try:
        upgrade(new)
        yield new
    finally:
        new.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on ``engine``; whatever the test did not commit is rolled back."""
    from controller.store.db import session_factory

    with session_factory(engine)() as new:
        yield new
