"""A lost or restored outbox never costs a report: the real agent against the real controller.

Real pieces only: ``govguard init``/``serve`` as subprocesses on SQLite and PostgreSQL, an agent
enrolled with :func:`agent.enrollment.enroll` and run with :func:`agent.daemon.open_daemon` (its
outbox, sequence ceiling, signing and HTTPS transport as the service uses them); only the
collection is a small prebuilt report. Each test ends by reading the controller's database.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.daemon import Daemon, open_daemon
from agent.state import state_paths
from tests.support.controller_proc import (
    Controller,
    CountingSender,
    SimAgent,
    enroll_agents,
    init_controller,
    small_report,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fast_backoff")]


@pytest.fixture
def controller(db_url: str, tmp_path: Path) -> Iterator[Controller]:
    """A running controller on the test's database."""
    ctl = init_controller(tmp_path / "ctl", database_url=db_url)
    with ctl:
        yield ctl


@pytest.fixture
def agent(controller: Controller, tmp_path: Path) -> SimAgent:
    """One enrolled agent."""
    (agent,) = enroll_agents(controller, tmp_path / "agents", 1)
    return agent


def _service(agent: SimAgent) -> tuple[Daemon, CountingSender]:
    """The agent's service as ``govguard-agent run`` opens it, collecting a small report."""
    daemon = open_daemon(agent.state_dir)
    report = small_report(agent.hostname)
    daemon.collect = lambda _config: report
    sender = CountingSender(daemon.sender)  # type: ignore[arg-type]
    daemon.sender = sender
    return daemon, sender


def _stored(controller: Controller, agent: SimAgent) -> dict[int, str]:
    """``seq -> report_id`` of every report the controller holds for ``agent``."""
    rows = [(seq, rid) for aid, seq, rid in controller.reports() if aid == agent.agent_id]
    assert len(rows) == len({seq for seq, _ in rows})  # no seq twice
    return dict(rows)


def _delete_outbox(state_dir: Path) -> None:
    outbox = state_paths(state_dir).outbox
    for suffix in ("", "-wal", "-shm"):
        outbox.with_name(outbox.name + suffix).unlink(missing_ok=True)


def test_a_deleted_outbox_continues_above_the_ceiling_without_a_conflict(
    controller: Controller, agent: SimAgent
) -> None:
    daemon, _sender = _service(agent)
    try:
        assert [daemon.cycle().acked for _ in range(3)] == [[1], [2], [3]]
    finally:
        daemon.close()
    _delete_outbox(agent.state_dir)
    daemon, sender = _service(agent)
    try:
        cycle = daemon.cycle()
    finally:
        daemon.close()
    assert cycle.acked == [1002] and cycle.renumbered == []
    assert (sender.tally.stored, sender.tally.other) == (1, {})
    assert sorted(_stored(controller, agent)) == [1, 2, 3, 1002]


def test_numbers_started_over_are_renumbered_after_the_controllers_conflict(
    controller: Controller, agent: SimAgent
) -> None:
    """Outbox and ceiling both gone: numbering starts at 1 again, and the controller says so."""
    daemon, _sender = _service(agent)
    try:
        for _ in range(3):
            daemon.cycle()
    finally:
        daemon.close()
    before = _stored(controller, agent)
    _delete_outbox(agent.state_dir)
    state_paths(agent.state_dir).seq_ceiling.unlink()
    daemon, sender = _service(agent)
    try:
        cycle = daemon.cycle()
        queued_after = daemon.outbox.stats().queued
    finally:
        daemon.close()
    assert cycle.renumbered == [(1, 4)] and cycle.acked == [4] and cycle.error is None
    assert sender.tally.other == {409: 1} and sender.tally.stored == 1
    assert queued_after == 0
    stored = _stored(controller, agent)
    assert sorted(stored) == [1, 2, 3, 4]
    assert {seq: stored[seq] for seq in before} == before  # the old reports untouched


def test_a_state_directory_restored_from_a_backup_loses_and_doubles_nothing(
    controller: Controller, agent: SimAgent, tmp_path: Path
) -> None:
    """The backup holds old numbers, and reports that were delivered after it was taken."""
    daemon, _sender = _service(agent)
    try:
        assert daemon.cycle().acked == [1]
        controller.kill()  # the controller is gone: #2 and #3 wait in the outbox
        daemon.cycle()
        daemon.cycle()
        assert daemon.outbox.stats().queued == 2
    finally:
        daemon.close()
    backup = tmp_path / "backup"
    shutil.copytree(agent.state_dir, backup)
    controller.start()
    daemon, _sender = _service(agent)
    try:
        _wait_until_due(daemon)
        assert daemon.cycle().acked == [2, 3, 4]
        assert daemon.cycle().acked == [5]
    finally:
        daemon.close()
    first = _stored(controller, agent)
    assert sorted(first) == [1, 2, 3, 4, 5]
    shutil.rmtree(agent.state_dir)
    shutil.copytree(backup, agent.state_dir)  # the whole directory, ceiling included
    daemon, sender = _service(agent)
    try:
        cycle = daemon.cycle()  # queues a new #4: the controller holds another #4
    finally:
        daemon.close()
    # #2 and #3 are the very reports the controller has: acknowledged as duplicates, not
    # renumbered into second copies; the new report moves past the controller's #5.
    assert cycle.acked == [2, 3, 6] and cycle.renumbered == [(4, 6)]
    assert (sender.tally.duplicate, sender.tally.stored, sender.tally.other) == (2, 1, {409: 1})
    stored = _stored(controller, agent)
    assert sorted(stored) == [1, 2, 3, 4, 5, 6]
    assert {seq: stored[seq] for seq in first} == first
    assert len(set(stored.values())) == 6  # six different reports, each once


def _wait_until_due(daemon: Daemon) -> None:
    """Sleep until the oldest queued report's retry time (the backoff is shortened here)."""
    due = daemon.outbox.stats().next_attempt_at
    if due is not None:
        time.sleep(max(0.0, min(due - time.time(), 5.0)))
