"""The daemon's loop against a real HTTPS endpoint that verifies every signature.

Real pieces: Ed25519 signing, the SQLite outbox, the urllib3 transport with the pinned CA, and
``tests.support.ack_server`` (which checks envelope, digest and signature like the controller).
Only the clock (no real sleeping) and the collected facts are the test's.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent import keys
from agent.daemon import AUTH_RETRY_S, MIN_INTERVAL_S, Cycle, Daemon, backoff_delay, open_daemon
from agent.envelope import from_header
from agent.outbox import Outbox
from agent.report import Report
from agent.report.delivery import Delivery
from agent.state import load_key, state_paths
from agent.transport import Transport
from agent.wire import AgentSettings
from tests.support.ack_server import AckServer, FakeClock, FakeHost, ack_server, enroll_into

DAY = 86400.0


def _monotonic(clock: FakeClock) -> Callable[[], float]:
    """A monotonic clock that moves only with the daemon's (fake) sleeps, whatever happens to
    the wall clock ``clock.now``."""
    return lambda: 5000.0 + sum(clock.sleeps)


@pytest.fixture
def server() -> Iterator[AckServer]:
    with ack_server() as srv:
        yield srv


@pytest.fixture
def make_daemon(
    tmp_path: Path, server: AckServer
) -> Iterator[Callable[..., tuple[Daemon, FakeHost, FakeClock]]]:
    """Build an enrolled daemon in ``tmp_path/state``: ``daemon, host, clock = make_daemon()``."""
    made: list[Daemon] = []

    def make(
        *, status: str = "active", max_items: int = 5000
    ) -> tuple[Daemon, FakeHost, FakeClock]:
        state_dir = tmp_path / "state"
        state = enroll_into(state_dir, server, status=status)
        paths = state_paths(state_dir)
        host, clock = FakeHost(), FakeClock()
        daemon = Daemon(
            state_dir,
            state=state,
            key=load_key(state_dir),
            outbox=Outbox(paths.outbox, max_items=max_items),
            sender=Transport(state.controller_url, paths.ca, timeout_s=10),
            collect=host.collect,
            clock=clock,
            monotonic=_monotonic(clock),
            sleep=clock.sleep,
            rng=random.Random(7),  # noqa: S311 - seeded jitter
        )
        made.append(daemon)
        return daemon, host, clock

    yield make
    for daemon in made:
        daemon.outbox.close()


def test_first_round_sends_a_signed_full_inventory_then_heartbeats(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]], server: AckServer
) -> None:
    daemon, _host, clock = make_daemon()
    first = daemon.cycle()
    assert (first.queued_kind, first.acked) == ("full", [1])
    clock.now += 300
    second = daemon.cycle()
    assert (second.queued_kind, second.sections, second.acked) == ("heartbeat", (), [2])
    assert [r.envelope.seq for r in server.stored] == [1, 2]
    assert [r.report.kind for r in server.stored] == ["full", "heartbeat"]
    heartbeat = server.stored[1].report
    assert heartbeat.software is None and heartbeat.security is None
    assert heartbeat.connectivity is None and heartbeat.identity is None
    assert daemon.outbox.stats().queued == 0


def test_volatile_values_alone_do_not_make_a_full_inventory(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
) -> None:
    daemon, host, clock = make_daemon()
    daemon.cycle()
    kinds = []
    for _ in range(5):  # free space, latencies, durations, service states change every run
        clock.now += 300
        kinds.append(daemon.cycle().queued_kind)
    assert host.runs == 6
    assert kinds == ["heartbeat"] * 5


def test_an_inventory_change_sends_a_full_inventory_at_once(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]], server: AckServer
) -> None:
    daemon, host, clock = make_daemon()
    daemon.cycle()
    clock.now += 300
    host.extra_package = "UltraViewer 6.6"
    assert daemon.cycle().queued_kind == "full"
    software = server.stored[-1].report.software
    assert software is not None and software.packages is not None
    assert "UltraViewer 6.6" in [p.name for p in software.packages]
    clock.now += 300
    assert daemon.cycle().queued_kind == "heartbeat"


def test_a_full_inventory_is_sent_daily_even_without_changes(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
) -> None:
    daemon, _host, clock = make_daemon()
    daemon.cycle()
    clock.now += DAY - 300
    assert daemon.cycle().queued_kind == "heartbeat"
    clock.now += 300
    assert daemon.cycle().queued_kind == "full"


def test_an_unavailable_controller_gets_the_same_bytes_again_after_a_backoff(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]], server: AckServer
) -> None:
    daemon, _host, clock = make_daemon()
    server.forced.extend([503, 503])
    cycle = daemon.cycle()
    assert cycle.acked == [] and cycle.error is not None and "503" in cycle.error
    item = daemon.outbox.items()[0]
    assert item.attempts == 1
    assert clock.now <= item.next_attempt_at <= clock.now + 5  # first retry: within base
    clock.now = item.next_attempt_at
    daemon.deliver(cycle)
    second = daemon.outbox.items()[0]
    assert second.attempts == 2 and second.next_attempt_at <= clock.now + 10
    clock.now = second.next_attempt_at
    daemon.deliver(cycle)
    assert cycle.acked == [1]
    assert server.answers == [503, 503, 200]
    stored = server.stored[0]
    assert (stored.header, stored.body) == (item.header, item.body)  # a retry resends the bytes


def test_a_controller_that_cannot_be_reached_keeps_the_report(
    tmp_path: Path, make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]]
) -> None:
    daemon, _host, clock = make_daemon()
    # Nothing listens on this port: the transport gets no HTTP answer at all.
    daemon.sender = Transport("https://localhost:9", state_paths(tmp_path / "state").ca)
    cycle = daemon.cycle()
    assert cycle.acked == [] and cycle.error is not None
    stats = daemon.outbox.stats()
    assert stats.queued == 1 and stats.last_error == cycle.error
    assert stats.next_attempt_at is not None and stats.next_attempt_at <= clock.now + 5


@pytest.mark.parametrize(
    ("agent_status", "code"),
    [
        pytest.param("revoked", "revoked", id="403 revoked"),
        pytest.param("pending", "pending_approval", id="403 pending approval"),
        pytest.param("unknown", "unknown_agent", id="401 unknown agent"),
    ],
)
def test_a_refused_agent_stops_sending_and_keeps_its_queue(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
    agent_status: str,
    code: str,
) -> None:
    daemon, _host, clock = make_daemon()
    daemon.cycle()  # delivered while active
    if agent_status == "unknown":
        server.agents.clear()
    else:
        server.register(
            daemon.state.agent_id, server.agents[daemon.state.agent_id][0], agent_status
        )
    refused_at = clock.now + 300
    for _ in range(3):
        clock.now += 300
        assert daemon.cycle().acked == []
    stats = daemon.outbox.stats()
    assert stats.queued == 3  # nothing lost
    assert stats.last_error is not None and code in stats.last_error
    assert stats.next_attempt_at is not None
    assert stats.next_attempt_at >= refused_at + 0.9 * AUTH_RETRY_S
    assert server.answers[1:] == [403 if agent_status != "unknown" else 401]  # asked once only


@pytest.mark.parametrize("status", [400, 413, 422], ids=lambda s: f"HTTP {s}")
def test_a_report_the_controller_refuses_for_good_is_dropped_and_counted(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
    status: int,
) -> None:
    daemon, _host, clock = make_daemon()
    daemon.cycle()
    clock.now += 300
    server.forced.append(status)
    refused = daemon.cycle()
    assert refused.rejected == [2] and refused.acked == []
    assert daemon.outbox.stats().rejected == 1
    clock.now += 300
    after = daemon.cycle()
    assert after.acked == [3]
    assert server.stored[-1].report.delivery == Delivery(rejected=1)
    clock.now += 300
    daemon.cycle()
    assert server.stored[-1].report.delivery is None  # the controller knows now


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param(401, "bad_digest", id="401 bad digest"),
        pytest.param(401, "bad_signature", id="401 bad signature"),
        pytest.param(401, "bad_envelope", id="401 bad envelope"),
        pytest.param(400, "bad_envelope", id="400 bad envelope"),
    ],
)
def test_a_report_refused_for_its_own_envelope_does_not_block_the_queue(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
    status: int,
    code: str,
) -> None:
    daemon, _host, clock = make_daemon()
    daemon.cycle()
    clock.now += 300
    server.forced.append((status, {"error": code, "message": "Refused by the test."}))
    refused = daemon.cycle()
    assert refused.rejected == [2] and refused.error is None
    stats = daemon.outbox.stats()
    assert stats.rejected == 1 and stats.queued == 0
    clock.now += 300
    assert daemon.cycle().acked == [3]  # the next report goes out at once, no long pause


def test_a_full_inventory_lost_to_the_cap_is_queued_again(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]], server: AckServer
) -> None:
    daemon, _host, clock = make_daemon(max_items=1)
    server.forced.extend([503, 503])
    assert daemon.cycle().queued_kind == "full"
    clock.now += 300
    second = daemon.cycle()  # the heartbeat pushes the only (undelivered) inventory out
    assert second.queued_kind == "heartbeat"
    assert [(d.seq, d.kind) for d in second.dropped] == [(1, "full")]
    clock.now += 300
    third = daemon.cycle()
    assert third.queued_kind == "full" and third.acked == [3]
    assert server.stored[0].report.kind == "full"
    # Queued while heartbeat #2 still waited (the cap dropped that one right after).
    assert server.stored[0].report.delivery == Delivery(dropped_full=1, queued=1)


def test_a_refused_inventory_is_not_sent_again_until_it_changes(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]], server: AckServer
) -> None:
    daemon, host, clock = make_daemon()
    server.forced.append(413)
    assert daemon.cycle().rejected == [1]
    clock.now += 300
    assert daemon.cycle().queued_kind == "heartbeat"  # the same bytes would be refused again
    clock.now += 300
    host.extra_package = "Zalo 24.1"
    assert daemon.cycle().queued_kind == "full"


def test_a_duplicate_answer_acknowledges_the_report(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]], server: AckServer
) -> None:
    daemon, _host, _clock = make_daemon()
    # The controller stored seq 1 before, but its answer never reached the agent.
    server.seen[(daemon.state.agent_id, 1)] = "0" * 32
    cycle = daemon.cycle()
    assert cycle.acked == [1] and server.stored == []
    assert daemon.outbox.stats().queued == 0


def test_settings_from_the_controller_are_saved_and_applied(
    tmp_path: Path,
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
) -> None:
    daemon, host, clock = make_daemon()
    server.settings = AgentSettings(
        version=3,
        interval_s=600,
        full_every_s=3600,
        jitter=0.0,
        probes={"gateway": False, "tcp": [{"name": "qlvb", "host": "10.0.0.5", "port": 443}]},
    )
    daemon.cycle()
    assert daemon.settings.version == 3
    saved = json.loads(state_paths(tmp_path / "state").settings.read_text(encoding="utf-8"))
    assert saved["version"] == 3 and saved["interval_s"] == 600
    clock.now += 600
    daemon.cycle()
    assert server.stored[-1].settings_version == "3"  # the agent says what it has now
    assert host.configs[-1].probes.gateway is False
    assert [t.name for t in host.configs[-1].probes.tcp] == ["qlvb"]
    assert daemon.next_interval() == 600.0
    clock.now += 3600
    assert daemon.cycle().queued_kind == "full"  # full_every_s applied


def test_saved_settings_are_used_after_a_restart(
    tmp_path: Path,
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
) -> None:
    daemon, _host, _clock = make_daemon()
    server.settings = AgentSettings(version=5, interval_s=900)
    daemon.cycle()
    again = open_daemon(tmp_path / "state")
    try:
        assert (again.settings.version, again.settings.interval_s) == (5, 900)
    finally:
        again.outbox.close()


def test_the_loop_collects_on_the_interval_with_jitter_and_stops_between_steps(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]], server: AckServer
) -> None:
    daemon, host, clock = make_daemon()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 10:
            daemon.stop()  # what the SIGTERM handler does

    daemon.sleep = sleep
    assert daemon.run() is None
    assert host.runs == 10 and len(server.stored) == 10
    assert all(270 <= s <= 330 for s in clock.sleeps)  # 300 s ± 10 %
    assert len(set(clock.sleeps)) > 1  # jittered, not a fixed beat


def test_the_loop_wakes_up_for_a_retry_before_the_next_collection(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]], server: AckServer
) -> None:
    daemon, host, clock = make_daemon()
    server.forced.append(503)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 2:
            daemon.stop()

    daemon.sleep = sleep
    daemon.run()
    assert clock.sleeps[0] <= 5  # the retry, not the 300 s interval
    assert host.runs == 1 and server.answers == [503, 200]


@pytest.mark.parametrize("attempt", range(1, 14))
def test_backoff_grows_exponentially_with_full_jitter_up_to_an_hour(attempt: int) -> None:
    rng = random.Random(attempt)  # noqa: S311 - seeded jitter
    ceiling = min(3600.0, 5.0 * 2 ** (attempt - 1))
    delays = [backoff_delay(attempt, rng) for _ in range(200)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > 0.8 * ceiling  # the whole window is used, not only its start


# -- the command line ----------------------------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", *args]


def _quiet_config(tmp_path: Path) -> Path:
    # No probe leaves the machine: no gateway probe, no targets.
    config = tmp_path / "agent.yaml"
    config.write_text("probes: {gateway: false}\n", encoding="utf-8")
    return config


def test_run_once_cycle_collects_this_computer_and_delivers(
    tmp_path: Path, server: AckServer, repo_root: Path
) -> None:
    state_dir = tmp_path / "state"
    enroll_into(state_dir, server)
    done = subprocess.run(
        _cli(
            "run",
            "--state-dir",
            str(state_dir),
            "--config",
            str(_quiet_config(tmp_path)),
            "--once-cycle",
        ),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=repo_root,
    )
    assert done.returncode == 0, done.stderr
    # Vietnamese by default (the officers who read it); --lang en below.
    assert "đã xếp hàng báo cáo đầy đủ #1; đã gửi 1, đang chờ 0" in done.stdout
    assert [r.report.kind for r in server.stored] == ["full"]
    assert server.stored[0].report.identity is not None


def test_run_once_cycle_exits_1_when_the_report_was_not_delivered(
    tmp_path: Path, server: AckServer, repo_root: Path
) -> None:
    state_dir = tmp_path / "state"
    enroll_into(state_dir, server)
    server.forced.append(503)
    done = subprocess.run(
        _cli(
            "run",
            "--state-dir",
            str(state_dir),
            "--config",
            str(_quiet_config(tmp_path)),
            "--once-cycle",
            "--lang",
            "en",
        ),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=repo_root,
    )
    assert done.returncode == 1
    assert "waiting 1" in done.stdout and "forced_503" in done.stdout
    assert "forced_503" not in done.stderr  # said once, not again by a log line
    assert server.stored == []


def test_a_corrupt_outbox_is_moved_aside_and_the_service_goes_on(
    tmp_path: Path, server: AckServer, repo_root: Path
) -> None:
    state_dir = tmp_path / "state"
    enroll_into(state_dir, server)
    garbage = b"this is not a database" * 100
    state_paths(state_dir).outbox.write_bytes(garbage)
    done = subprocess.run(
        _cli(
            "run",
            "--state-dir",
            str(state_dir),
            "--config",
            str(_quiet_config(tmp_path)),
            "--once-cycle",
            "--lang",
            "en",
        ),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=repo_root,
    )
    assert done.returncode == 0, done.stderr
    assert "queued full #1; delivered 1, waiting 0" in done.stdout
    (moved,) = state_dir.glob("outbox.sqlite.corrupt-*")
    assert moved.read_bytes() == garbage
    # One line, never a traceback: what happened, how much, and where it is now.
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert done.stderr.startswith("ERROR agent.outbox: ")
    assert "is corrupt (file is not a database)" in done.stderr
    assert f"moved {len(garbage)} bytes aside to {moved}" in done.stderr
    status = subprocess.run(
        _cli("status", "--state-dir", str(state_dir), "--lang", "en"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo_root,
        check=True,
    ).stdout
    assert f"Corrupt outbox  {moved} (moved aside; its reports were not sent)" in status


def test_an_unexpected_failure_is_one_error_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent import cli, daemon

    def broken(*_args: object, **_kwargs: object) -> Daemon:
        raise RuntimeError("disk on fire")  # a fault no handler foresaw

    monkeypatch.setattr(daemon, "open_daemon", broken)
    status = cli.main(["run", "--state-dir", str(tmp_path), "--once-cycle"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == "govguard-agent: error: RuntimeError: disk on fire\n"


def test_run_stops_cleanly_on_sigterm(tmp_path: Path, server: AckServer, repo_root: Path) -> None:
    state_dir = tmp_path / "state"
    enroll_into(state_dir, server)
    proc = subprocess.Popen(
        _cli("run", "--state-dir", str(state_dir), "--config", str(_quiet_config(tmp_path))),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=repo_root,
    )
    try:
        deadline = time.monotonic() + 180  # hang guard only
        while not server.stored and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert server.stored, "the service delivered nothing"
        os.kill(proc.pid, signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_run_and_status_refuse_an_agent_that_is_not_enrolled(
    tmp_path: Path, repo_root: Path
) -> None:
    for command in ("run", "status"):
        done = subprocess.run(
            _cli(command, "--state-dir", str(tmp_path / "nothing")),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=repo_root,
        )
        assert done.returncode == 1
        assert "not enrolled" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_status_shows_enrollment_queue_drops_and_last_error(
    tmp_path: Path,
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
    repo_root: Path,
) -> None:
    daemon, _host, clock = make_daemon(max_items=2)
    daemon.cycle()
    server.forced.extend([503] * 10)
    for _ in range(3):
        clock.now += 300
        daemon.cycle()  # queued, refused with 503
        daemon.collect_and_queue(Cycle())  # and one more waiting
    daemon.outbox.close()
    state_dir = tmp_path / "state"
    text = subprocess.run(
        _cli("status", "--state-dir", str(state_dir), "--lang", "en"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo_root,
        check=True,
    ).stdout
    assert daemon.state.agent_id in text and server.url in text
    assert "active" in text
    assert "2 reports (0 full)" in text
    assert "heartbeats" in text and "HTTP 503" in text
    vietnamese = subprocess.run(
        _cli("status", "--state-dir", str(state_dir)),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo_root,
        check=True,
    ).stdout
    assert "Máy chủ quản lý" in vietnamese and "đang hoạt động" in vietnamese
    assert "2 báo cáo (0 kiểm kê đầy đủ)" in vietnamese
    info = json.loads(
        subprocess.run(
            _cli("status", "--state-dir", str(state_dir), "--json"),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=repo_root,
            check=True,
        ).stdout
    )
    assert info["agent_id"] == daemon.state.agent_id
    assert info["queued"] == 2 and info["queued_bytes"] > 0
    assert info["dropped_heartbeats"] == 4 and info["dropped_full"] == 0
    assert info["last_success_at"] is not None
    assert info["last_error"].startswith("HTTP 503")
    daemon.outbox = Outbox(state_paths(state_dir).outbox)  # for the fixture's close


def test_signatures_are_made_with_the_enrolled_key(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]], server: AckServer
) -> None:
    daemon, _host, _clock = make_daemon()
    daemon.cycle()
    env = server.stored[0].envelope
    assert env.agent_id == daemon.state.agent_id and env.key_id == daemon.state.key_id
    assert keys.verify(keys.public_raw(daemon.key), env)
    assert len(env.report_id) == 22 and env.kind == "full"


def test_status_of_an_agent_that_never_ran_shows_an_empty_queue(
    tmp_path: Path, server: AckServer
) -> None:
    from agent.i18n import strict
    from agent.status import format_status, read_status

    state = enroll_into(tmp_path / "state", server)
    info = read_status(tmp_path / "state")
    assert info["agent_id"] == state.agent_id and info["queued"] == 0
    assert info["last_success_at"] is None and info["last_error"] is None
    assert not state_paths(tmp_path / "state").outbox.exists()  # status creates nothing
    assert "Last delivery   never" in format_status(info)
    # Every text of the status has its Vietnamese form (strict raises on a missing one).
    assert "Gửi thành công gần nhất" in format_status(info, strict)


def test_a_pending_agent_records_its_approval_when_a_report_is_accepted(
    tmp_path: Path,
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
) -> None:
    from agent.state import load_state

    daemon, _host, clock = make_daemon(status="pending")
    assert daemon.cycle().acked == [] and daemon.state.status == "pending"
    server.register(daemon.state.agent_id, server.agents[daemon.state.agent_id][0], "active")
    clock.now += AUTH_RETRY_S * 1.1
    assert daemon.cycle().acked == [1, 2]
    saved = load_state(tmp_path / "state")
    assert saved is not None and saved.status == "active"


# -- against the real controller -----------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[str]) -> None:
    import socket

    deadline = time.monotonic() + 60  # hang guard only
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("the controller did not start listening")


@pytest.mark.integration
def test_enroll_run_and_status_against_the_real_controller(tmp_path: Path, repo_root: Path) -> None:
    """Every step through the public command lines: init, serve, token, enroll, run, revoke."""
    bin_dir = Path(sys.executable).parent
    govguard, agent = str(bin_dir / "govguard"), str(bin_dir / "govguard-agent")
    data, state = tmp_path / "data", tmp_path / "agent"
    (tmp_path / "pw").write_text("a-long-test-password\n", encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, capture_output=True, text=True, timeout=120, cwd=repo_root, check=False
        )

    done = run(govguard, "init", "--data-dir", str(data), "--server-name", "localhost",
               "--admin", "admin", "--password-file", str(tmp_path / "pw"),
               "--unit-id", "huyen", "--unit-name", "Huyen")  # fmt: skip
    assert done.returncode == 0, done.stderr
    port = _free_port()
    config = data / "config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            "agents: {host: 0.0.0.0, port: 8443}", f"agents: {{host: 127.0.0.1, port: {port}}}"
        ),
        encoding="utf-8",
    )
    server = subprocess.Popen(
        [govguard, "serve", "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=repo_root,
    )
    try:
        _wait_for_port(port, server)
        token = tmp_path / "token"
        done = run(govguard, "tokens", "create", "--data-dir", str(data), "--unit", "huyen",
                   "--out", str(token))  # fmt: skip
        assert done.returncode == 0, done.stderr
        done = run(agent, "enroll", "--controller", f"https://localhost:{port}",
                   "--token-file", str(token), "--state-dir", str(state))  # fmt: skip
        assert done.returncode == 0, done.stderr
        cycle = [agent, "run", "--state-dir", str(state), "--config",
                 str(_quiet_config(tmp_path)), "--once-cycle", "--lang", "en"]  # fmt: skip
        first, second = run(*cycle), run(*cycle)
        assert "queued full #1; delivered 1, waiting 0" in first.stdout, first.stderr
        assert "queued heartbeat #2; delivered 1, waiting 0" in second.stdout, second.stderr
        assert json.loads(state_paths(state).settings.read_text(encoding="utf-8"))["version"]
        agent_id = json.loads(run(agent, "status", "--state-dir", str(state), "--json").stdout)[
            "agent_id"
        ]
        assert run(govguard, "agents", "revoke", "--data-dir", str(data), agent_id).returncode == 0
        from controller.ingest import CREDENTIALS_TTL_S

        time.sleep(CREDENTIALS_TTL_S + 0.5)  # the controller caches credentials this long
        third = run(*cycle)
        assert "delivered 0, waiting 1; error: HTTP 403 revoked" in third.stdout, third.stderr
        info = json.loads(run(agent, "status", "--state-dir", str(state), "--json").stdout)
        assert info["queued"] == 1 and info["last_error"].startswith("HTTP 403 revoked")
        assert info["last_success_at"] is not None and info["next_seq"] == 4
    finally:
        server.terminate()
        server.communicate(timeout=60)


@pytest.mark.parametrize(
    ("sent", "used"),
    [
        pytest.param((10, 30, -1.0), (60, 60, 0.0), id="too short: clamped up"),
        pytest.param((10**6, 3600, 0.9), (86400, 86400, 0.5), id="too long: clamped down"),
        pytest.param((600, 7200, 0.2), (600, 7200, 0.2), id="sane: as sent"),
    ],
)
def test_settings_out_of_bounds_are_clamped_not_refused(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
    sent: tuple[int, int, float],
    used: tuple[int, int, float],
) -> None:
    daemon, _host, clock = make_daemon()
    interval, full_every, jitter = sent
    server.settings = AgentSettings(
        version=9, interval_s=interval, full_every_s=full_every, jitter=jitter
    )
    daemon.cycle()
    settings = daemon.settings
    assert (settings.interval_s, settings.full_every_s, settings.jitter) == used
    clock.now += 60
    daemon.cycle()
    assert server.stored[-1].settings_version == "9"  # adopted, so not sent again


def test_clamping_is_logged_once_at_info(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    daemon, _host, clock = make_daemon()
    server.settings = AgentSettings(version=4, interval_s=30, full_every_s=86400, jitter=0.1)
    caplog.set_level(logging.INFO, logger="agent.daemon")
    for _ in range(3):
        daemon._use(server.settings)  # as after a restart or a repeated settings reply
        clock.now += 60
    clamping = [r for r in caplog.records if "out of bounds" in r.getMessage()]
    assert [r.levelno for r in clamping] == [logging.INFO]
    assert daemon.settings.interval_s == MIN_INTERVAL_S


# -- sequence numbers: conflicts and the ceiling ---------------------------------------------


def _conflict(last_seq: object = ..., error: str = "seq_conflict") -> tuple[int, dict[str, object]]:
    data: dict[str, object] = {"error": error, "message": "This seq holds another report."}
    if last_seq is not ...:
        data["last_seq"] = last_seq
    return 409, data


def test_a_seq_conflict_renumbers_the_report_and_sends_it_again_at_once(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    daemon, _host, clock = make_daemon()
    cycle = Cycle()
    daemon.collect_and_queue(cycle)
    (queued,) = daemon.outbox.items()
    server.forced.append(_conflict(41))
    caplog.set_level(logging.WARNING, logger="agent.daemon")
    daemon.deliver(cycle)
    assert cycle.renumbered == [(1, 42)] and cycle.acked == [42] and cycle.error is None
    assert server.answers == [409, 200]
    (stored,) = server.stored
    env, old = stored.envelope, from_header(queued.header)
    # The same report, signed again for its new number (the server checked the signature).
    assert env.seq == 42
    assert (env.report_id, env.time, env.kind, env.digest) == (
        old.report_id,
        old.time,
        old.kind,
        old.digest,
    )
    assert stored.body == queued.body
    assert any("already has reports up to #41" in r.getMessage() for r in caplog.records)
    clock.now += 300
    assert daemon.cycle().acked == [43]  # numbering goes on from there


def test_every_queued_report_is_renumbered_in_order(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
) -> None:
    daemon, host, clock = make_daemon()
    server.forced.append(503)
    daemon.cycle()  # full #1, refused: it and what follows wait
    for _ in range(2):
        clock.now += 1
        daemon.collect_and_queue(Cycle())
    host.extra_package = "Zalo 24.1"
    clock.now += 1
    daemon.collect_and_queue(Cycle())  # a second full inventory
    kinds = [i.kind for i in daemon.outbox.items()]
    assert kinds == ["full", "heartbeat", "heartbeat", "full"]
    clock.now = max(i.next_attempt_at for i in daemon.outbox.items())
    server.forced.append(_conflict(100))
    cycle = Cycle()
    daemon.deliver(cycle)
    assert cycle.renumbered == [(1, 101), (2, 102), (3, 103), (4, 104)]
    assert cycle.acked == [101, 102, 103, 104]
    assert [r.envelope.seq for r in server.stored] == [101, 102, 103, 104]
    assert [r.report.kind for r in server.stored] == kinds


def test_a_second_conflict_in_one_round_backs_off_instead_of_spinning(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
) -> None:
    daemon, _host, clock = make_daemon()
    server.forced.extend([_conflict(10), _conflict(10)])
    cycle = daemon.cycle()
    assert server.answers == [409, 409]  # renumbered once, asked once more, then waits
    assert cycle.renumbered == [(1, 11)] and cycle.acked == []
    assert cycle.error is not None and "seq_conflict" in cycle.error
    (item,) = daemon.outbox.items()
    assert (item.seq, item.attempts) == (11, 1)
    assert clock.now < item.next_attempt_at <= clock.now + 5  # the first backoff step
    # The next round may renumber again (once).
    clock.now = item.next_attempt_at
    server.forced.append(_conflict(20))
    retry = Cycle()
    daemon.deliver(retry)
    assert retry.renumbered == [(11, 21)] and retry.acked == [21]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(_conflict(), id="no last_seq"),
        pytest.param(_conflict("41"), id="last_seq a string"),
        pytest.param(_conflict(True), id="last_seq a boolean"),
        pytest.param(_conflict(-1), id="last_seq negative"),
        pytest.param(_conflict(2**63 - 1), id="last_seq at the end of the range"),
        pytest.param(_conflict(41, error="key_exists"), id="another 409"),
    ],
)
def test_a_conflict_without_a_usable_last_seq_is_retried_with_backoff(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
    answer: tuple[int, dict[str, object]],
) -> None:
    daemon, _host, clock = make_daemon()
    server.forced.append(answer)
    cycle = daemon.cycle()
    assert server.answers == [409] and cycle.renumbered == [] and cycle.acked == []
    (item,) = daemon.outbox.items()
    assert (item.seq, item.attempts) == (1, 1)
    assert item.next_attempt_at > clock.now


def test_a_deleted_outbox_continues_its_numbers_instead_of_losing_reports(
    tmp_path: Path, server: AckServer
) -> None:
    """The silent loss this guards against: seq 1 again, answered "duplicate", dropped."""
    state_dir = tmp_path / "state"
    enroll_into(state_dir, server)
    host, clock = FakeHost(), FakeClock()

    def service() -> Daemon:
        daemon = open_daemon(state_dir)
        daemon.collect, daemon.clock = host.collect, clock
        return daemon

    first = service()
    try:
        assert first.cycle().acked == [1]
        clock.now += 300
        assert first.cycle().acked == [2]
    finally:
        first.close()
    outbox = state_paths(state_dir).outbox
    for suffix in ("", "-wal", "-shm"):
        outbox.with_name(outbox.name + suffix).unlink(missing_ok=True)
    again = service()
    try:
        clock.now += 300
        assert again.cycle().acked == [1002]
    finally:
        again.close()
    assert [r.envelope.seq for r in server.stored] == [1, 2, 1002]  # stored, not "duplicate"


# -- the schedule and the wall clock ----------------------------------------------------------


@pytest.mark.parametrize("jump", [-5 * 3600.0, 5 * 3600.0], ids=["back 5 h", "forward 5 h"])
def test_a_wall_clock_jump_neither_delays_nor_floods_collections(
    make_daemon: Callable[..., tuple[Daemon, FakeHost, FakeClock]],
    server: AckServer,
    jump: float,
) -> None:
    daemon, host, clock = make_daemon()
    server.forced.extend([503] * 3)  # retries wake the loop early: the jump comes then
    collected: list[float] = []

    def collect(config: object) -> Report:
        collected.append(daemon.monotonic())
        return host.collect(config)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 1:
            clock.now += jump  # someone sets the clock while the agent waits for a retry
        if len(collected) == 6:
            daemon.stop()

    daemon.collect = collect
    daemon.sleep = sleep
    daemon.run()
    gaps = [later - earlier for earlier, later in itertools.pairwise(collected)]
    assert len(gaps) == 5 and all(270 <= gap <= 330 for gap in gaps), gaps
    assert clock.sleeps[0] <= 5  # the retry wake-up that saw the jump did not collect
    assert len(server.stored) == 6  # and the retries went on (on the wall clock) until done
    assert len(clock.sleeps) < 20  # no burst of one-second rounds


# -- status ------------------------------------------------------------------------------------


def test_status_lists_corrupt_outboxes_moved_aside(tmp_path: Path, server: AckServer) -> None:
    from agent.i18n import strict
    from agent.status import format_status, read_status

    state_dir = tmp_path / "state"
    enroll_into(state_dir, server)
    paths = state_paths(state_dir)
    paths.outbox.write_bytes(b"this is not a database" * 100)
    info = read_status(state_dir)  # status reads only: it neither checks nor moves
    assert info["outbox_error"] is not None and "file is not a database" in info["outbox_error"]
    assert info["quarantined"] == [] and paths.outbox.exists()
    assert "Outbox" in format_status(info) and "cannot be read" in format_status(info)
    assert "Hàng đợi gửi" in format_status(info, strict)
    daemon = open_daemon(state_dir)  # the service does
    daemon.close()
    (moved,) = state_dir.glob("outbox.sqlite.corrupt-*")
    info = read_status(state_dir)
    assert info["quarantined"] == [str(moved)] and info["outbox_error"] is None
    text = format_status(info)
    assert f"Corrupt outbox  {moved} (moved aside; its reports were not sent)" in text
    assert f"{moved} (đã được tách riêng" in format_status(info, strict)
