"""Delivery never loses nor duplicates a report, whatever fails between agent and database.

Real pieces only: ``govguard init``/``serve``/``tokens``/``agents`` as subprocesses, HTTPS on
127.0.0.1 with the controller's own CA, agents enrolled with :func:`agent.enrollment.enroll` and
delivering with :class:`agent.daemon.Daemon` (signing, SQLite outbox, status handling, backoff;
only the collection is a small prebuilt report and the backoff is shortened), SQLite files and
PostgreSQL (the shared server, or a private cluster the test may stop).

Every test ends by reading the controller's database: each report the agents queued is stored
exactly once (no ``(agent, seq)`` and no ``report_id`` twice, seqs 1..n without a gap) and
every outbox is empty. No timing is asserted; deadlines only guard against hangs.
"""

from __future__ import annotations

import functools
import http.client
import json
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent.daemon import Cycle
from agent.transport import TransportError
from controller import pki
from controller.ingest import CREDENTIALS_TTL_S, RETRY_AFTER_S
from tests.support.controller_proc import (
    Controller,
    CountingSender,
    SimAgent,
    Tally,
    clone_controller,
    drain,
    enroll_agents,
    init_controller,
)
from tests.support.cutting_proxy import cutting_proxy
from tests.support.postgres import (
    TempCluster,
    create_database,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fast_backoff")]

#: Hang guard for one delivery phase (a healthy run needs a few seconds).
DELIVERY_DEADLINE_S = 90.0


@pytest.fixture
def controllers() -> Iterator[list[Controller]]:
    """Controllers a test started; all are stopped (or killed) at the end."""
    started: list[Controller] = []
    yield started
    for ctl in started:
        ctl.stop(grace_s=5)


def _run_agent(
    agent: SimAgent,
    reports: int,
    *,
    url: str | None = None,
    pause: Callable[[], float] = lambda: 0.0,
    tally: Tally,
) -> None:
    """One agent's thread: queue and deliver ``reports`` reports with the real daemon, then
    keep delivering until its outbox is empty (or the hang guard strikes)."""
    sender = CountingSender(agent.transport(url))
    daemon = agent.daemon(sender)  # the outbox's SQLite connection belongs to this thread
    try:
        deadline = time.monotonic() + DELIVERY_DEADLINE_S
        for _ in range(reports):
            daemon.cycle()
            time.sleep(pause())
        drain(daemon, deadline)
    finally:
        daemon.close()
        tally.add(sender.tally)


def _run_agents(
    agents: list[SimAgent],
    reports: int,
    *,
    url: str | None = None,
    pause: Callable[[], float] = lambda: 0.0,
) -> tuple[list[threading.Thread], Tally, list[BaseException]]:
    """Start one thread per agent; returns the threads, the shared tally and thread errors."""
    tally = Tally()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def body(agent: SimAgent) -> None:
        own = Tally()
        try:
            _run_agent(agent, reports, url=url, pause=pause, tally=own)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            with lock:
                tally.add(own)

    threads = [
        threading.Thread(target=body, args=(agent,), name=f"agent-{agent.index}", daemon=True)
        for agent in agents
    ]
    for thread in threads:
        thread.start()
    return threads, tally, errors


def _join(threads: list[threading.Thread], errors: list[BaseException]) -> None:
    deadline = time.monotonic() + DELIVERY_DEADLINE_S + 30
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    assert not [t.name for t in threads if t.is_alive()], "agent threads hang"
    assert not errors, f"agent threads failed: {errors[:3]!r}"


def _assert_exactly_once(ctl: Controller, agents: list[SimAgent], reports_each: int) -> None:
    """Every agent's reports 1..n stored once, no report id twice, every outbox empty."""
    rows = ctl.reports()
    pairs = Counter((agent_id, seq) for agent_id, seq, _ in rows)
    assert [pair for pair, n in pairs.items() if n > 1] == []
    report_ids = Counter(report_id for _, _, report_id in rows)
    assert [rid for rid, n in report_ids.items() if n > 1] == []
    by_agent: dict[str, list[int]] = {}
    for agent_id, seq, _ in rows:
        by_agent.setdefault(agent_id, []).append(seq)
    expected = list(range(1, reports_each + 1))
    assert {a.agent_id: sorted(by_agent.get(a.agent_id, [])) for a in agents} == {
        a.agent_id: expected for a in agents
    }
    assert len(rows) == len(agents) * reports_each
    assert {a.agent_id: a.queued() for a in agents} == {a.agent_id: 0 for a in agents}


def _wait_for(predicate: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"hang guard: {what}"
        time.sleep(0.05)


def _holds_at_least(ctl: Controller, count: int) -> bool:
    return ctl.report_count() >= count


def _raw_post(
    url_host: str, port: int, ca_file: Path, header: str, body: bytes
) -> tuple[int, dict[str, str], dict[str, object]]:
    """POST a queued report as is (the daemon's Reply has no headers): status, headers, JSON."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    conn = http.client.HTTPSConnection(url_host, port, context=ctx, timeout=30)
    try:
        conn.request(
            "POST",
            "/api/v1/reports",
            body=body,
            headers={"GG-Envelope": header, "Content-Encoding": "gzip"},
        )
        answer = conn.getresponse()
        data = json.loads(answer.read() or b"{}")
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, data
    finally:
        conn.close()


# --------------------------------------------------------------------------- 1. crash


CRASH_AGENTS = 50
CRASH_REPORTS = 20
#: The controller is SIGKILLed when the database holds this many reports: spread over the run.
KILL_AT = (150, 450, 750)


def test_controller_sigkilled_three_times_loses_and_duplicates_nothing(
    db_url: str, tmp_path: Path, controllers: list[Controller]
) -> None:
    ctl = init_controller(tmp_path / "ctl", database_url=db_url)
    controllers.append(ctl.start())
    agents = enroll_agents(ctl, tmp_path / "agents", CRASH_AGENTS)
    rng_lock = threading.Lock()
    rng = random.Random(3)  # noqa: S311 - pacing, not a secret

    def pause() -> float:
        with rng_lock:
            return rng.uniform(0.1, 0.4)

    threads, tally, errors = _run_agents(agents, CRASH_REPORTS, pause=pause)
    try:
        pids = []
        for threshold in KILL_AT:
            _wait_for(functools.partial(_holds_at_least, ctl, threshold), f"{threshold} stored")
            assert ctl.proc is not None
            pids.append(ctl.proc.pid)
            ctl.kill()
            time.sleep(0.3)  # agents meet a refused port, not only cut connections
            ctl.start()
    finally:
        _join(threads, errors)
    assert ctl.starts == 1 + len(KILL_AT)
    assert tally.transport_errors > 0  # the agents did see the controller die
    assert tally.stored + tally.duplicate == CRASH_AGENTS * CRASH_REPORTS
    _assert_exactly_once(ctl, agents, CRASH_REPORTS)


# --------------------------------------------------------------------------- 2. dropped answers


PROXY_AGENTS = 10
PROXY_REPORTS = 12


def test_answers_lost_after_the_commit_are_retried_and_answered_duplicate(
    db_url: str, tmp_path: Path, controllers: list[Controller]
) -> None:
    ctl = init_controller(tmp_path / "ctl", database_url=db_url)
    controllers.append(ctl.start())
    agents = enroll_agents(ctl, tmp_path / "agents", PROXY_AGENTS)
    tls = ctl.data_dir / "tls"
    cert_pem, key_pem = pki.issue_server_cert(
        (tls / "ca.crt").read_bytes(), (tls / "ca.key").read_bytes(), ["localhost"]
    )
    with cutting_proxy(ctl.url, ctl.ca_file, cert_pem, key_pem, cut=lambda n: n % 3 == 0) as proxy:
        threads, tally, errors = _run_agents(agents, PROXY_REPORTS, url=proxy.url)
        _join(threads, errors)
    total = PROXY_AGENTS * PROXY_REPORTS
    assert proxy.cut > 0
    # Each report was acknowledged once; every answer the proxy threw away was a "stored" or a
    # "duplicate", and each stored one lost shows up as exactly one duplicate answer later.
    assert tally.stored + tally.duplicate == total
    assert 0 < tally.duplicate <= proxy.cut
    assert tally.transport_errors == proxy.cut
    assert proxy.forwarded == total + proxy.cut + sum(tally.other.values())
    _assert_exactly_once(ctl, agents, PROXY_REPORTS)


# --------------------------------------------------------------------------- 3. PostgreSQL restart


def test_postgresql_down_answers_503_and_the_same_controller_stores_the_backlog(
    tmp_path: Path, controllers: list[Controller]
) -> None:
    with TempCluster() as cluster:
        name = create_database(cluster.server, "govguard")
        ctl = init_controller(tmp_path / "ctl", database_url=cluster.url(name))
        controllers.append(ctl.start())
        assert ctl.proc is not None
        pid = ctl.proc.pid
        agents = enroll_agents(ctl, tmp_path / "agents", 3)
        daemons = [a.daemon(a.transport()) for a in agents]  # all in this thread
        try:
            for daemon in daemons:
                assert daemon.cycle().acked == [1]

            cluster.stop()
            for daemon in daemons:
                cycle = daemon.cycle()
                assert cycle.acked == []
                assert cycle.error is not None and cycle.error.startswith("HTTP 503 unavailable")
                assert daemon.outbox.stats().queued == 1  # kept for a retry
            item = daemons[0].outbox.items()[0]
            status, headers, data = _raw_post(
                "127.0.0.1", ctl.port, ctl.ca_file, item.header, item.body
            )
            assert (status, data.get("error")) == (503, "unavailable")
            assert headers.get("retry-after") == str(RETRY_AFTER_S)
            for daemon in daemons:  # a second report waits behind the first
                daemon.cycle()
                assert daemon.outbox.stats().queued == 2

            cluster.start()
            deadline = time.monotonic() + DELIVERY_DEADLINE_S
            for daemon in daemons:
                drain(daemon, deadline)
        finally:
            for daemon in daemons:
                daemon.close()
        assert ctl.running and ctl.proc is not None and ctl.proc.pid == pid  # no restart
        assert ctl.starts == 1
        _assert_exactly_once(ctl, agents, 3)
        ctl.stop(grace_s=5)


# --------------------------------------------------------------------------- 4. two processes


def test_two_controller_processes_share_one_database(
    shared_database: str, tmp_path: Path, controllers: list[Controller]
) -> None:
    one = init_controller(tmp_path / "one", database_url=shared_database)
    two = clone_controller(one, tmp_path / "two")
    controllers.extend([one.start(), two.start()])
    token = one.create_token(6)
    # Enrolled through either process: one database, one token.
    agents = enroll_agents(one, tmp_path / "agents", 3, token=token)
    agents += enroll_agents(one, tmp_path / "agents", 3, token=token, url=two.url, first=3)
    assert {a.state.controller_url for a in agents} == {one.url, two.url}

    # Agents split across both processes, concurrently.
    threads, tally, errors = _run_agents(agents, 4)
    _join(threads, errors)
    assert tally.stored == 24 and tally.duplicate == 0

    # The same queued report sent to both processes at once: one stores it, the other says
    # duplicate; then the agent's own delivery is answered duplicate and empties the outbox.
    racers = agents[:2]
    for agent in racers:
        to_one, to_two = agent.transport(one.url), agent.transport(two.url)
        daemon = agent.daemon(CountingSender(to_one))
        try:
            for _ in range(3):
                cycle = Cycle()
                daemon.collect_and_queue(cycle)
                item = daemon.outbox.items()[0]
                with ThreadPoolExecutor(max_workers=2) as pool:
                    sent = [
                        pool.submit(t.post_report, item.header, item.body) for t in (to_one, to_two)
                    ]
                    replies = [future.result() for future in sent]
                assert [r.status for r in replies] == [200, 200]
                assert sorted(str(r.data["status"]) for r in replies) == ["duplicate", "stored"]
                daemon.deliver(cycle)
                assert cycle.acked == [item.seq]
                assert daemon.outbox.stats().queued == 0
        finally:
            daemon.close()
            to_two.close()
    for agent in racers:  # their next reports came from the same outbox: seqs 5..7
        agent_reports = [s for a, s, _ in one.reports() if a == agent.agent_id]
        assert sorted(agent_reports) == list(range(1, 8))

    # Revocation through the CLI reaches both processes once their credential cache expires.
    victim = agents[4]
    for ctl in (one, two):  # make sure both have the victim's credentials cached
        daemon = victim.daemon(CountingSender(victim.transport(ctl.url)))
        try:
            assert len(daemon.cycle().acked) == 1
        finally:
            daemon.close()
    two.cli("agents", "revoke", victim.agent_id)
    time.sleep(CREDENTIALS_TTL_S + 1.0)
    sender = CountingSender(victim.transport(one.url))
    daemon = victim.daemon(sender)
    try:
        cycle = daemon.cycle()
        item = daemon.outbox.items()[0]
    finally:
        daemon.close()
    assert cycle.acked == []
    assert cycle.error is not None and cycle.error.startswith("HTTP 403 revoked")
    assert sender.tally.other == {403: 1}
    with victim.transport(two.url) as transport:
        refused = transport.post_report(item.header, item.body)
    assert (refused.status, refused.data.get("error")) == (403, "revoked")
    # The refused reports stay queued (an administrator may re-enroll the PC); nothing of them
    # was stored. Everybody else: every report exactly once.
    assert victim.queued() == 1
    stored = [s for a, s, _ in one.reports() if a == victim.agent_id]
    assert sorted(stored) == list(range(1, 7))
    others = [a for a in agents if a not in racers and a is not victim]
    _assert_exactly_once_subset(one, others, 4)


def _assert_exactly_once_subset(ctl: Controller, agents: list[SimAgent], reports_each: int) -> None:
    rows = [r for r in ctl.reports() if r[0] in {a.agent_id for a in agents}]
    assert len(rows) == len(agents) * reports_each
    assert len({(a, s) for a, s, _ in rows}) == len(rows)
    assert len({rid for _, _, rid in ctl.reports()}) == len(ctl.reports())
    assert {a.agent_id: a.queued() for a in agents} == {a.agent_id: 0 for a in agents}


# --------------------------------------------------------------------------- 5. wrong controller


def test_an_agent_pointed_at_the_wrong_controller_sends_nothing(
    db_url: str, tmp_path: Path, controllers: list[Controller]
) -> None:
    right = init_controller(tmp_path / "right", database_url=db_url)
    other = init_controller(tmp_path / "other")  # its own CA, SQLite
    controllers.extend([right.start(), other.start()])
    (agent,) = enroll_agents(right, tmp_path / "agents", 1)

    # Controller B, with another CA: the pinned CA refuses it before the body is sent.
    sender = CountingSender(agent.transport(other.url))
    daemon = agent.daemon(sender)
    try:
        cycle = daemon.cycle()
        assert cycle.acked == [] and cycle.error is not None
        assert "not signed by the pinned controller CA" in cycle.error
        assert sender.tally.transport_errors == 1 and sender.tally.other == {}
        assert daemon.outbox.stats().queued == 1
        item = daemon.outbox.items()[0]
    finally:
        daemon.close()
    with pytest.raises(TransportError, match="pinned controller CA"):
        agent.transport(other.url).post_report(item.header, item.body)
    assert other.report_count() == 0
    # Its database never saw the agent either (nothing reached enrollment or ingest).
    assert other.cli("agents", "list").stdout.strip() == "no agents"

    # The right controller's address under a name its certificate does not carry.
    misnamed = agent.transport(right.url, server_hostname="elsewhere.govguard.test")
    with pytest.raises(TransportError, match="does not match the host name"):
        misnamed.post_report(item.header, item.body)
    assert right.report_count() == 0

    # The report was kept, and the right controller under the right name takes it.
    daemon = agent.daemon(CountingSender(agent.transport()))
    try:
        drain(daemon, time.monotonic() + DELIVERY_DEADLINE_S)
    finally:
        daemon.close()
    assert [(a, s) for a, s, _ in right.reports()] == [(agent.agent_id, 1)]
    assert agent.queued() == 0
