"""The worker's schedule: rounds when due or asked for, under one lease, and the round itself
on results built as DeviceResult values (no device to poll: nothing leaves the machine)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from controller.discovery.profiles import load_profiles
from controller.discovery.rounds import (
    JOB,
    RoundBusyError,
    SnmpRounds,
    request_round,
    run_leased,
    run_round,
)
from controller.settings import ControllerConfig, Settings, SnmpConfig, settings_for
from controller.store import db, jobs
from controller.store.models import NetDeviceState
from tests.unit.controller import networld as w


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    factory = db.session_factory(engine)
    with factory() as s, s.begin():
        w.build(s)
    return factory


def _settings(tmp_path: Path, interval_s: int) -> Settings:
    return settings_for(tmp_path, ControllerConfig(snmp=SnmpConfig(interval_s=interval_s)))


class Clock:
    def __init__(self) -> None:
        self.now = w.T0

    def __call__(self) -> datetime:
        return self.now


def _rounds(sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> SnmpRounds:
    return SnmpRounds(sessions, settings, load_profiles(), clock=clock)


def test_on_demand_only_when_the_interval_is_zero(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    clock = Clock()
    rounds = _rounds(sessions, _settings(tmp_path, 0), clock)
    assert rounds.run_once() is None
    with sessions() as s, s.begin():
        request_round(s, clock.now)
    clock.now += timedelta(seconds=1)
    result = rounds.run_once()
    # No device has a credential here: every one fails with a config error, and is recorded.
    assert result is not None and result.summary.devices_ok == 0
    assert result.summary.devices_failed == 1  # sw-1, the only device with an address
    with sessions() as s:
        job = jobs.get(s, JOB)
        assert job is not None and job.finished_at == clock.now
        assert job.last_result["devices_failed"] == result.summary.devices_failed
        state = s.get(NetDeviceState, "sw-1")
        assert state is not None and (state.error or "").startswith("config:")
    clock.now += timedelta(days=1)
    assert rounds.run_once() is None


def test_every_interval_and_one_holder_at_a_time(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    clock = Clock()
    settings = _settings(tmp_path, 900)
    rounds = _rounds(sessions, settings, clock)
    assert rounds.run_once() is not None  # never ran: due at once
    clock.now += timedelta(seconds=600)
    assert rounds.run_once() is None
    clock.now += timedelta(seconds=301)
    # Another process holds the lease (a `govguard snmp poll` in progress).
    with sessions() as s, s.begin():
        assert jobs.claim(s, JOB, "cli:other:1", clock.now, every=timedelta(0), lease=timedelta(1))
    assert rounds.run_once() is None
    with pytest.raises(RoundBusyError, match="cli:other:1"):
        run_leased(sessions, "cli:me:2", clock.now, lambda: pytest.fail("must not run"), full=True)
    with sessions() as s, s.begin():
        jobs.release(s, JOB, "cli:other:1")
    assert rounds.run_once() is not None


def test_a_partial_poll_leaves_the_schedule_alone(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = _settings(tmp_path, 900)
    profiles = load_profiles()
    result = run_leased(
        sessions,
        "cli:me:1",
        w.T0,
        lambda: run_round(sessions, settings, {}, profiles, device_ids=["sw-1"], at=w.T0),
        full=False,
    )
    assert [r.device_id for r in result.results] == ["sw-1"]
    with sessions() as s:
        job = jobs.get(s, JOB)
        assert job is not None and job.finished_at is None and job.lease_until is None


def test_unusable_secrets_skip_the_round_with_one_log_line(
    sessions: sessionmaker[Session], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = tmp_path / "secrets" / "snmp.yaml"
    secrets.parent.mkdir()
    secrets.write_text("snmp-xa: {version: v2c, community: c}\n", encoding="utf-8")
    secrets.chmod(0o644)  # others may read it: refused
    clock = Clock()
    rounds = _rounds(sessions, _settings(tmp_path, 900), clock)
    with caplog.at_level("ERROR", logger="controller.discovery.rounds"):
        assert rounds.run_once() is None
        clock.now += timedelta(seconds=10)
        assert rounds.run_once() is None
    [record] = caplog.records
    assert (
        record.getMessage().startswith("SNMP round skipped: ")
        and "snmp.yaml" in record.getMessage()
    )
    with sessions() as s:
        job = jobs.get(s, JOB)
        assert job is None or job.lease_until is None
    secrets.chmod(0o600)
    assert rounds.run_once() is not None
