"""A backup taken while agents report restores to a consistent database a controller can run on.

Real pieces only: `govguard init`/`serve` as processes (SQLite in the data directory, or
PostgreSQL), agents enrolled with the real enrollment code and sending signed reports with the
real daemon from their own threads, without pause, while `govguard backup` runs as a process of
its own. The archive is restored with `govguard restore` into a new place (another data
directory and database), the restored database is read table against table
(:mod:`tests.support.db_invariants`), and a controller is started on it and takes a report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.settings import load_settings
from tests.support.controller_proc import (
    Controller,
    CountingSender,
    SimAgent,
    drain,
    enroll_agents,
    free_port,
    init_controller,
    set_listen,
)
from tests.support.db_invariants import consistency_problems, table_counts
from tests.support.postgres import create_database, drop_database, shared_server

pytestmark = pytest.mark.integration

AGENTS = 6
#: Reports stored before the first backup starts, so it copies a database with history.
WARM_UP = 60
#: Backups tried until one ran while reports were being stored (the first one almost always).
ATTEMPTS = 5
#: Hang guard for the waits below; healthy runs take seconds.
GUARD_S = 120.0


@pytest.fixture
def restore_url(db_url: str) -> Iterator[str | None]:
    """Where the restored database goes: None (SQLite: inside the restored data directory) or
    a new PostgreSQL database."""
    if db_url.startswith("sqlite"):
        yield None
        return
    server = shared_server()
    name = create_database(server)
    try:
        yield server.url(name)
    finally:
        drop_database(server, name)


class Ingest:
    """Agents reporting continuously from their own threads until :meth:`stop`."""

    def __init__(self, agents: list[SimAgent]) -> None:
        self._stop = threading.Event()
        self.errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._run, args=(agent,), name=f"agent-{agent.index}")
            for agent in agents
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, agent: SimAgent) -> None:
        try:
            # The daemon's outbox connection belongs to this thread.
            daemon = agent.daemon(CountingSender(agent.transport()))
            try:
                while not self._stop.is_set():
                    daemon.cycle()
                drain(daemon, time.monotonic() + GUARD_S)
            finally:
                daemon.close()
        except BaseException as exc:
            self.errors.append(exc)

    def stop(self) -> None:
        """Stop queueing, let every outbox drain, and join the threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=GUARD_S + 30)
        assert not [t.name for t in self._threads if t.is_alive()], "agent threads hang"
        assert not self.errors, f"agent threads failed: {self.errors[:3]!r}"


def _wait_for_reports(ctl: Controller, count: int) -> None:
    deadline = time.monotonic() + GUARD_S
    while ctl.report_count() < count:
        assert time.monotonic() < deadline, f"hang guard: {count} reports never stored"
        time.sleep(0.05)


def test_backup_during_ingest_restores_to_a_consistent_database(
    db_url: str, restore_url: str | None, tmp_path: Path
) -> None:
    ctl = init_controller(
        tmp_path / "ctl", database_url=None if db_url.startswith("sqlite") else db_url
    )
    archive = tmp_path / "backup.tar.gz"
    with ctl:
        agents = enroll_agents(ctl, tmp_path / "agents", AGENTS)
        ingest = Ingest(agents)
        try:
            _wait_for_reports(ctl, WARM_UP)
            # The backup must overlap ingest: reports stored between its start and its end.
            for _attempt in range(ATTEMPTS):
                archive.unlink(missing_ok=True)
                before = ctl.report_count()
                ctl.cli("backup", "--out", str(archive))
                after = ctl.report_count()
                if after > before:
                    break
            assert after > before, "no backup ran while reports were being stored"
        finally:
            ingest.stop()
        total = ctl.report_count()
        original = ctl.database_url
        assert consistency_problems(original) == []

    target = tmp_path / "restored"
    restored = Controller(target, free_port())
    restore = ["restore", str(archive)]
    if restore_url is not None:
        restore += ["--database-url", restore_url]
    restored.cli(*restore)  # --data-dir: the restored controller's

    url = load_settings(target).database_url
    assert url == (restore_url or f"sqlite:///{target / 'govguard.db'}")
    assert consistency_problems(url) == []
    counts = table_counts(url)
    assert before <= counts["reports"] <= after <= total
    assert counts["agents"] == AGENTS
    assert counts["units"] == table_counts(original)["units"]

    # A controller starts on the restored directory and takes the next report of an agent
    # (whose sequence numbers went on past the backup).
    set_listen(target, restored.port)
    with restored:
        agent = agents[0]
        sender = CountingSender(agent.transport(restored.url))
        daemon = agent.daemon(sender)
        try:
            daemon.cycle()
            drain(daemon, time.monotonic() + GUARD_S)
        finally:
            daemon.close()
        assert sender.tally.stored == 1
        assert restored.report_count() == counts["reports"] + 1
    assert consistency_problems(url) == []
