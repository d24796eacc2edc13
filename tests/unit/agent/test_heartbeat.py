"""Heartbeats: only what changed, stable digests, re-sending what the outbox lost, bytes per day."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agent.daemon import Daemon
from agent.digest import (
    INVENTORY_SECTIONS,
    POSTURE_SECTIONS,
    VOLATILE,
    inventory_digest,
    posture_digests,
    stable_form,
)
from agent.outbox import Outbox
from agent.report import json_schema
from agent.report.delivery import Delivery
from agent.state import load_key, state_paths
from agent.transport import Reply, Transport
from tests.support.ack_server import AckServer, FakeClock, FakeHost, ack_server, enroll_into

DAY = 86400.0
#: Goal for one PC on a commune link: 5-minute heartbeats and a daily inventory.
GOAL_BYTES_PER_DAY = 150 * 1024


class CountingSender:
    """The real transport, with the bytes of every exchange added up."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.sent = 0
        self.received = 0
        self.requests = 0

    def post_report(
        self, envelope_header: str, body: bytes, extra_headers: Mapping[str, str] | None = None
    ) -> Reply:
        reply = self.inner.post_report(envelope_header, body, extra_headers)
        self.sent += reply.sent_bytes
        self.received += reply.received_bytes
        self.requests += 1
        return reply


@pytest.fixture
def server() -> Iterator[AckServer]:
    with ack_server() as srv:
        yield srv


def _daemon(
    tmp_path: Path, server: AckServer, host: FakeHost, clock: FakeClock, *, max_items: int = 5000
) -> tuple[Daemon, CountingSender]:
    state_dir = tmp_path / "state"
    state = enroll_into(state_dir, server)
    paths = state_paths(state_dir)
    sender = CountingSender(Transport(state.controller_url, paths.ca, timeout_s=10))
    daemon = Daemon(
        state_dir,
        state=state,
        key=load_key(state_dir),
        outbox=Outbox(paths.outbox, max_items=max_items),
        sender=sender,
        collect=host.collect,
        clock=clock,
        monotonic=clock,  # the fake clock moves only with the fake sleeps: monotonic here
        sleep=clock.sleep,
        rng=random.Random(3),  # noqa: S311 - seeded jitter
    )
    return daemon, sender


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({}, (), id="nothing changed: no section"),
        pytest.param({"firewall": False}, ("security",), id="firewall off: security only"),
        pytest.param({"internet": False}, ("connectivity",), id="internet down: connectivity"),
        pytest.param(
            {"firewall": False, "internet": False},
            ("connectivity", "security"),
            id="both changed: both",
        ),
    ],
)
def test_a_heartbeat_carries_only_the_posture_sections_that_changed(
    tmp_path: Path, server: AckServer, change: dict[str, Any], expected: tuple[str, ...]
) -> None:
    host, clock = FakeHost(), FakeClock()
    daemon, _sender = _daemon(tmp_path, server, host, clock)
    try:
        daemon.cycle()
        clock.now += 300
        for name, value in change.items():
            setattr(host, name, value)
        cycle = daemon.cycle()
        assert (cycle.queued_kind, cycle.sections) == ("heartbeat", expected)
        sent = server.stored[-1].report
        carried = tuple(n for n in ("identity", "hardware", "os", "software", "network",
                                    "peripherals", "connectivity", "security")
                        if getattr(sent, n) is not None)  # fmt: skip
        assert carried == expected
        if "security" in expected:
            assert sent.security is not None and sent.security.firewall is not None
            assert sent.security.firewall.enabled is False
        clock.now += 300
        assert daemon.cycle().sections == ()  # told once, not on every heartbeat
    finally:
        daemon.outbox.close()


def test_a_heartbeat_with_news_repeats_what_else_still_differs_from_the_inventory(
    tmp_path: Path, server: AckServer
) -> None:
    # The controller keeps the newest heartbeat's sections as one overlay on the inventory:
    # a heartbeat with only the latest change would erase an earlier one from it.
    host, clock = FakeHost(), FakeClock()
    daemon, _sender = _daemon(tmp_path, server, host, clock)
    steps: list[tuple[dict[str, bool], tuple[str, ...]]] = [
        ({"firewall": False}, ("security",)),
        ({"internet": False}, ("connectivity", "security")),
        ({}, ()),
        ({"firewall": True}, ("connectivity", "security")),
        ({"internet": True}, ("connectivity",)),
        ({}, ()),
    ]
    try:
        daemon.cycle()
        for change, expected in steps:
            clock.now += 300
            for name, value in change.items():
                setattr(host, name, value)
            assert daemon.cycle().sections == expected, change
    finally:
        daemon.outbox.close()


def test_a_heartbeat_lost_to_the_cap_is_told_again(tmp_path: Path, server: AckServer) -> None:
    host, clock = FakeHost(), FakeClock()
    daemon, _sender = _daemon(tmp_path, server, host, clock, max_items=2)
    try:
        daemon.cycle()
        server.forced.extend([503] * 20)  # the controller is down from now on
        clock.now += 300
        host.firewall = False
        assert daemon.cycle().sections == ("security",)
        clock.now += 300
        assert daemon.cycle().sections == ()
        clock.now += 300
        cycle = daemon.cycle()  # the cap drops the heartbeat that told about the firewall
        assert [(d.kind, d.sections) for d in cycle.dropped] == [("heartbeat", ("security",))]
        clock.now += 300
        assert daemon.cycle().sections == ("security",)  # so the next one tells it again
        assert daemon.outbox.delivery() == Delivery(dropped_heartbeats=2, queued=2)
    finally:
        daemon.outbox.close()


def test_the_next_report_tells_the_controller_what_was_dropped(
    tmp_path: Path, server: AckServer
) -> None:
    host, clock = FakeHost(), FakeClock()
    daemon, _sender = _daemon(tmp_path, server, host, clock, max_items=3)
    try:
        daemon.cycle()
        server.forced.extend([503] * 6)
        for _ in range(6):  # offline: six heartbeats, room for three
            clock.now += 300
            daemon.cycle()
        clock.now += 3600
        cycle = daemon.cycle()  # back online: the backlog and the new heartbeat go out
        assert cycle.error is None and daemon.outbox.stats().queued == 0
        assert daemon.outbox.stats().dropped_heartbeats == 4
        told = [r.report.delivery for r in server.stored[1:]]
        assert [d.dropped_heartbeats if d else 0 for d in told] == [1, 2, 3]
        assert told[0] is not None and told[0].queued == 3  # a backlog was waiting
        # The last drop happened when the newest report was queued: the next one tells it.
        clock.now += 300
        daemon.cycle()
        assert server.stored[-1].report.delivery == Delivery(dropped_heartbeats=1)
        clock.now += 300
        daemon.cycle()
        assert server.stored[-1].report.delivery is None
    finally:
        daemon.outbox.close()


def test_the_stable_form_leaves_out_what_moves_on_every_run() -> None:
    host = FakeHost()
    first, second = host.collect(None), host.collect(None)
    assert first.hardware != second.hardware  # free space moved
    assert inventory_digest(first) == inventory_digest(second)
    assert posture_digests(first) == posture_digests(second)
    partition = stable_form("hardware", first.hardware)["partitions"][0]
    assert "free_bytes" not in partition and partition["size_bytes"] == 256_000_000_000
    host.extra_package = "TeamViewer 15"
    assert inventory_digest(host.collect(None)) != inventory_digest(second)
    host.firewall = False
    changed = posture_digests(host.collect(None))
    assert changed["security"] != posture_digests(second)["security"]
    assert changed["connectivity"] == posture_digests(second)["connectivity"]


def _fields_under(defs: dict[str, Any], name: str) -> set[str]:
    """Every property name of a model and of the models it refers to."""
    seen: set[str] = set()
    names: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for prop, spec in defs[current].get("properties", {}).items():
            names.add(prop)
            text = msgspec.json.encode(spec).decode()
            todo.extend(part.split('"')[0] for part in text.split("#/$defs/")[1:])
    return names


@pytest.mark.parametrize("section", INVENTORY_SECTIONS + POSTURE_SECTIONS)
def test_every_volatile_key_is_a_field_of_its_section(section: str) -> None:
    schema: dict[str, Any] = json_schema()
    ref = msgspec.json.encode(schema["$defs"]["Report"]["properties"][section]).decode()
    model = ref.split("#/$defs/")[1].split('"')[0]
    unknown = VOLATILE[section] - _fields_under(schema["$defs"], model)
    assert not unknown, f"not fields of {model}: {sorted(unknown)} (typo?)"


@pytest.mark.parametrize("packages", [400, 1500], ids=lambda n: f"{n} programs")
def test_a_day_of_heartbeats_and_one_inventory_stays_within_the_budget(
    tmp_path: Path, server: AckServer, packages: int, capsys: pytest.CaptureFixture[str]
) -> None:
    host, clock = FakeHost(packages=packages), FakeClock()
    daemon, sender = _daemon(tmp_path, server, host, clock)
    start = clock.now

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now - start >= DAY:
            daemon.stop()

    daemon.sleep = sleep
    try:
        daemon.run()
    finally:
        daemon.outbox.close()
    full = [r for r in server.stored if r.report.kind == "full"]
    beats = [r for r in server.stored if r.report.kind == "heartbeat"]
    payload = sum(len(r.body) + len(r.header) for r in server.stored)
    with capsys.disabled():
        print(
            f"\n{packages} programs, one day: {len(full)} full ({len(full[0].body)} B gzip), "
            f"{len(beats)} heartbeats ({len(beats[0].body)} B body + {len(beats[0].header)} B "
            f"envelope); signed payload {payload / 1024:.1f} KiB/day; HTTP messages "
            f"{sender.sent / 1024:.1f} KiB sent + {sender.received / 1024:.1f} KiB received"
        )
    assert len(full) == 1 and 280 <= len(beats) <= 300
    assert payload <= GOAL_BYTES_PER_DAY
