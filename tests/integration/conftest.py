"""Fixtures shared by the integration tests that run real controller processes."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from agent import daemon as daemon_module
from tests.support.postgres import Server, create_database, drop_database


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Agents retry after tenths of a second instead of 5 s doubling to an hour.

    The daemon takes its backoff from the module function, so the full-jitter formula stays the
    product's; only its base and cap shrink. Modules use it with
    ``pytest.mark.usefixtures("fast_backoff")``.
    """
    monkeypatch.setattr(
        daemon_module,
        "backoff_delay",
        functools.partial(daemon_module.backoff_delay, base=0.05, cap=0.5),
    )


@pytest.fixture
def shared_database(postgres_server: Server) -> Iterator[str]:
    """A fresh database on the shared PostgreSQL server, for several controller processes."""
    name = create_database(postgres_server)
    try:
        yield postgres_server.url(name)
    finally:
        drop_database(postgres_server, name)
