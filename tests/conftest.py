"""Fixtures shared by every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.platform import _common
from agent.platform._windows import _ps, _registry
from tests.support.replay import FIXTURES, ReplayRunner
from tests.support.windows import PsReplay, RegistryReplay

# db_url / engine / session fixtures: every store test runs on SQLite and PostgreSQL;
# data_dir: a data directory made by `govguard init` on that database.
pytest_plugins = ["tests.support.database", "tests.support.data_dir"]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` (``make test``): tests one by one, except the groups of
    :mod:`tests.support.scheduling` (the browser suite, modules sharing a real agent run), which
    each go whole to one worker. Other ``--dist`` modes are xdist's own."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests.support.scheduling import GroupedLoadScheduling

    return GroupedLoadScheduling(config, log)


@pytest.fixture(autouse=True)
def cheap_password_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process password hashes use argon2's cheapest parameters, unless the test is marked
    ``real_argon2``: hundreds of tests make accounts and log in, and a 64 MiB hash each time was
    a large part of the suite's time. Controllers started as processes keep the real ones."""
    if request.node.get_closest_marker("real_argon2") is not None:
        return
    from argon2 import PasswordHasher

    from controller import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


@pytest.fixture
def linux_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], ReplayRunner]]:
    """Point the platform layer at a recorded Linux machine: ``linux_host("debian12-desktop")``."""

    def use(case: str) -> ReplayRunner:
        case_dir = FIXTURES / "linux" / case
        assert case_dir.is_dir(), f"no fixture {case_dir}"
        runner = ReplayRunner(case_dir)
        monkeypatch.setattr(_common, "HOST_ROOT", case_dir / "root")
        monkeypatch.setattr(_common, "runner", runner)
        return runner

    yield use


@pytest.fixture
def windows_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], PsReplay]]:
    """Point the Windows platform code at a recorded machine: ``windows_host("win11-vi")``."""

    def use(case: str) -> PsReplay:
        case_dir = FIXTURES / "windows" / case
        assert case_dir.is_dir(), f"no fixture {case_dir}"
        ps = PsReplay(case_dir)
        _ps.clear_cache()
        monkeypatch.setattr(_ps, "runner", ps)
        monkeypatch.setattr(_registry, "backend", RegistryReplay(case_dir))
        monkeypatch.setattr(_common, "runner", ReplayRunner(case_dir))
        return ps

    yield use
    _ps.clear_cache()


@pytest.fixture
def repo_root() -> Path:
    """The repository's top folder."""
    return Path(__file__).resolve().parent.parent
