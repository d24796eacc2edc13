"""Scale-out: three ``govguard serve`` processes and two ``govguard worker`` on one database.

PostgreSQL is the deployment of a province; the same runs on one SQLite file, as the processes
of one host do.

The deployment of docs/scale-out.md, on loopback: nginx, with the shipped
``packaging/nginx/govguard.conf``, passes the agents' TLS through to the serve processes, every
report on a new connection so consecutive reports of one agent land on different processes.
Then:

- 1,000 signed reports from 50 agents (enrolled through nginx too) are stored exactly once, and
  nginx handed every process its share of the connections;
- the periodic jobs, run with test-only intervals of a few seconds, appear in ``job_runs``:
  every run of a job ended before the next one began (no overlap), two runs of a job are never
  closer than its interval (each due round ran once), and every run was made by one of the
  processes started here;
- after a serve process and a worker are SIGKILLed, the others carry every job on.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.transport import Reply
from controller.store.db import make_engine, session_factory, sqlite_url
from controller.store.models import JobRun
from tests.support.controller_proc import (
    Controller,
    CountingSender,
    SimAgent,
    Tally,
    clone_controller,
    drain,
    enroll_agents,
    init_controller,
    start_worker,
)
from tests.support.nginx import nginx_balancer

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fast_backoff")]

AGENTS = 50
REPORTS_EACH = 20
#: The test-only intervals (seconds): short enough to see several rounds of every job.
EVERY = {
    "findings.reevaluate": 2,
    "reports.schedules": 1,
    "snmp.round": 2,
    "ssh.round": 2,
}
CONFIG = """
periodic:
  reevaluate_every_s: 2
  report_schedules_every_s: 1
  poll_s: 0.2
  lease_s: 3
snmp: {interval_s: 2}
ssh: {interval_s: 2}
"""
#: Runs of each job to see before stopping (hang guard below).
ROUNDS = 4
#: Hang guards (a healthy run needs a fraction of each).
DELIVERY_DEADLINE_S = 240.0
ROUNDS_DEADLINE_S = 120.0


class HoppingSender(CountingSender):
    """Counts like :class:`CountingSender` and drops the connection after each report, so nginx
    may send the next one to another process (a real agent keeps its connection
    for a while, then reconnects to whichever process the proxy picks)."""

    def post_report(
        self, envelope_header: str, body: bytes, extra_headers: Mapping[str, str] | None = None
    ) -> Reply:
        """POST, count, disconnect."""
        try:
            return super().post_report(envelope_header, body, extra_headers)
        finally:
            self.transport.disconnect()


def _deliver(agents: list[SimAgent], url: str) -> Tally:
    """Each agent queues and delivers ``REPORTS_EACH`` reports with the real daemon, in its own
    thread, through ``url``; the summed tally."""
    tally = Tally()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def body(agent: SimAgent) -> None:
        sender = HoppingSender(agent.transport(url, server_hostname="127.0.0.1"))
        daemon = agent.daemon(sender)  # its outbox's SQLite connection belongs to this thread
        try:
            deadline = time.monotonic() + DELIVERY_DEADLINE_S
            for _ in range(REPORTS_EACH):
                daemon.cycle()
            drain(daemon, deadline)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            daemon.close()
            with lock:
                tally.add(sender.tally)

    threads = [threading.Thread(target=body, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DELIVERY_DEADLINE_S + 30)
    assert not errors, errors[0]
    return tally


def _start_worker(data_dir: Path) -> subprocess.Popen[bytes]:
    """``govguard worker`` on ``data_dir``, with an SNMP credential so it runs SNMP rounds."""
    secrets = data_dir / "secrets"
    secrets.mkdir(mode=0o700, exist_ok=True)
    snmp = secrets / "snmp.yaml"
    snmp.write_text("lan: {version: v2c, community: public}\n", encoding="utf-8")
    snmp.chmod(0o600)
    return start_worker(data_dir, data_dir.parent / f"{data_dir.name}-worker.log")


def _runs(database_url: str) -> list[JobRun]:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:
            return list(s.query(JobRun).order_by(JobRun.started_at, JobRun.id))
    finally:
        engine.dispose()


def _wait_for_rounds(database_url: str, since: datetime | None = None) -> list[JobRun]:
    """Wait until every job of :data:`EVERY` has :data:`ROUNDS` runs (started after ``since``);
    all runs then."""
    deadline = time.monotonic() + ROUNDS_DEADLINE_S
    while True:
        runs = _runs(database_url)
        recent = [r for r in runs if since is None or r.started_at > since]
        counts = {name: sum(r.name == name for r in recent) for name in EVERY}
        if min(counts.values()) >= ROUNDS:
            return runs
        assert time.monotonic() < deadline, f"too few rounds: {counts}"
        time.sleep(0.5)


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The one database of every process: a fresh PostgreSQL database, or one SQLite file (the
    processes of one host sharing it, as ``GOVGUARD_WORKERS`` does)."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "shared.db")
    url: str = request.getfixturevalue("shared_database")
    return url


def test_three_serve_processes_and_two_workers_share_one_database(
    database: str, tmp_path: Path
) -> None:
    on_sqlite = database.startswith("sqlite")
    one = init_controller(tmp_path / "one", database_url=database)
    with (one.data_dir / "config.yaml").open("a", encoding="utf-8") as config:
        config.write(CONFIG)
    controllers: list[Controller] = [one]
    controllers += [clone_controller(one, tmp_path / name) for name in ("two", "three")]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for ctl in controllers:
            ctl.start()
        # Two workers: SNMP and SSH rounds are leased between them as the rest between serves.
        workers += [_start_worker(ctl.data_dir) for ctl in controllers[:2]]
        upstreams = [(ctl.host, ctl.port) for ctl in controllers]
        with nginx_balancer(upstreams, tmp_path / "nginx") as balancer:
            url = f"https://127.0.0.1:{balancer.port}"
            # One at a time on SQLite: concurrent enrollments wait on its one write lock.
            parallel = 1 if on_sqlite else 4
            agents = enroll_agents(one, tmp_path / "agents", AGENTS, url=url, parallel=parallel)
            tally = _deliver(agents, url)
        connections = balancer.connections()
        spread = [connections.get(f"{host}:{port}", 0) for host, port in upstreams]
        _wait_for_rounds(database)
        processes = [ctl.proc for ctl in controllers if ctl.proc is not None]
        pids = {str(proc.pid) for proc in [*processes, *workers]}
        # A serve process and a worker die without a word (SIGKILL): a lease either held
        # expires after lease_s, and the others carry every job on.
        dead = {str(proc.pid) for proc in (processes[1], workers[1])}
        killed_at = datetime.now(UTC)
        controllers[1].kill()
        workers[1].kill()
        workers[1].wait(timeout=30)
        _wait_for_rounds(database, since=killed_at)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
        for ctl in controllers:
            ctl.stop()
    # Runs that ended while the processes stopped count too.
    runs = _runs(database)

    # Every report stored exactly once, whichever process took it.
    stored = one.reports()
    # SQLite may answer 503 (busy: try again) when three writers queue for its lock.
    assert tally.stored == AGENTS * REPORTS_EACH
    assert set(tally.other) <= ({503} if on_sqlite else set()), tally.other
    assert len(stored) == AGENTS * REPORTS_EACH
    assert len({(agent, seq) for agent, seq, _ in stored}) == len(stored)
    for agent in agents:
        assert sorted(s for a, s, _ in stored if a == agent.agent_id) == list(
            range(1, REPORTS_EACH + 1)
        )
    # Agents landed on every process: nginx handed each a share of the connections.
    assert sum(spread) >= AGENTS * REPORTS_EACH and min(spread) > 0, connections

    # The periodic jobs: never two runs of a job at once, never two in one interval.
    by_job: dict[str, list[JobRun]] = {}
    for run in runs:
        by_job.setdefault(run.name, []).append(run)
    summary = {
        name: {
            "runs": len(job_runs),
            "holders": sorted({r.holder for r in job_runs}),
        }
        for name, job_runs in by_job.items()
    }
    print(json.dumps({"connections": spread, "jobs": summary}, indent=2))
    assert set(EVERY) <= set(by_job), summary
    # No run was ever taken over while it went on (``lost``); on SQLite a run may fail when the
    # lock stays busy too long (it is then due again at once), never on PostgreSQL.
    allowed = {"ok", "failed"} if on_sqlite else {"ok"}
    for name, job_runs in by_job.items():
        outcomes = {r.outcome for r in job_runs}
        assert outcomes <= allowed, [(r.outcome, r.result) for r in job_runs if r.outcome != "ok"]
        every = timedelta(seconds=EVERY.get(name, 86400))
        for earlier, later in itertools.pairwise(job_runs):
            assert later.started_at >= earlier.finished_at, (name, earlier.holder, later.holder)
            if earlier.outcome == "ok":
                assert later.started_at - earlier.started_at >= every, (name, earlier, later)
        ok = [r for r in job_runs if r.outcome == "ok"]
        assert len(ok) <= (ok[-1].started_at - ok[0].started_at) / every + 1
        # Made by the processes of this test: <host>:<pid>:<thread>.
        assert {r.holder.split(":")[1] for r in job_runs} <= pids, (name, pids)
    # Nothing started in the dead processes after they died.
    assert not [r for r in runs if r.started_at > killed_at and r.holder.split(":")[1] in dead]
    # The daily purge ran once, in one of the serve processes.
    assert len(by_job["reports.archive.purge"]) == 1
