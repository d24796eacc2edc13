"""The poller against snmpsim: the authored switch and printer, snmpsim's recorded real
devices, dead devices in a round, and a port shutdown by SET (writecache).

One simulator for the module (tests/support/scheduling.py keeps the module on one worker).
"""

from __future__ import annotations

import asyncio
import dataclasses
import selectors
import shutil
import socket
import threading
from collections.abc import Iterator

import pytest

from controller.discovery.credentials import Credential
from controller.discovery.poller import poll_devices, poll_round
from controller.discovery.profiles import ProfileSet, load_profiles
from controller.discovery.results import DeviceResult, FdbEntry
from controller.discovery.snmp import Client, SnmpTimeout, Target, set_admin_status
from controller.settings import SnmpConfig
from tests.support.snmpsim import FIXTURES, SHIPPED, Simulator, free_udp_port, snmpsim

pytestmark = pytest.mark.integration

CLASSIFIED_PC = "52:54:00:c1:a5:51"
CONFIG = SnmpConfig(timeout_s=2.0, retries=1, max_repetitions=32, concurrency=64)
IF_ADMIN_STATUS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 7)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One snmpsim serving the authored recordings and snmpsim's own recorded devices."""
    data = tmp_path_factory.mktemp("snmprec")
    for recording in FIXTURES.glob("*.snmprec"):
        shutil.copy(recording, data / recording.name)
    shutil.copytree(SHIPPED / "recorded", data / "recorded")
    with snmpsim(data) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def profiles() -> ProfileSet:
    return load_profiles(None)


def target(sim: Simulator, community: str, device_id: str | None = None) -> Target:
    credential = Credential(name="test", version="v2c", community=community)
    return Target(device_id or community, sim.host, sim.port, credential)


def poll_one(sim: Simulator, profiles: ProfileSet, community: str) -> DeviceResult:
    (result,) = poll_round([target(sim, community)], config=CONFIG, profiles=profiles)
    return result


def test_access_switch(sim: Simulator, profiles: ProfileSet) -> None:
    result = poll_one(sim, profiles, "access-switch")
    assert result.ok and result.error is None and result.warnings == ()
    assert (result.profile, result.sys_name, result.serial) == (
        "cisco-cbs",
        "huyen-cho-moi-sw-01",
        "FOC24571265",
    )
    assert result.sys_object_id == "1.3.6.1.4.1.9.6.1.95.48.5"
    assert result.uptime_s == 1234567
    # 48 access ports and the 10G uplink
    ports = {i.if_index: i for i in result.interfaces}
    assert sorted(ports) == list(range(1, 50))
    assert (ports[49].name, ports[49].speed_mbps, ports[49].alias) == (
        "te1/0/1",
        10000,
        "Uplink to core-sw-01",
    )
    assert (ports[7].name, ports[7].oper_up, ports[8].oper_up, ports[9].in_errors) == (
        "gi1/0/7",
        True,
        False,
        3,
    )
    # the classified PC on port 7, VLAN 10; the printer on port 24, VLAN 20
    assert FdbEntry(CLASSIFIED_PC, 7, 7, 10) in result.fdb
    assert FdbEntry("3c:52:82:c1:e4:ec", 24, 24, 20) in result.fdb
    assert {e.vlan for e in result.fdb} == {10, 20}
    behind_uplink = [e for e in result.fdb if e.if_index == 49]
    assert len(behind_uplink) == 32  # 30 MACs of the building and the core in both VLANs
    # LLDP: the core switch (a bridge) on the uplink, an IP phone on port 5
    neighbours = {n.if_index: n for n in result.lldp}
    assert neighbours[49].sys_name == "core-sw-01"
    assert neighbours[49].chassis_id == "00:1e:58:aa:00:01"
    assert neighbours[49].capabilities == ("bridge", "router")
    assert neighbours[5].capabilities == ("telephone",)
    assert ("10.63.1.50", "3c:52:82:c1:e4:ec") in {(a.ip, a.mac) for a in result.arp}
    assert result.printer is None
    assert result.values >= 49 * 9


def test_printer(sim: Simulator, profiles: ProfileSet) -> None:
    result = poll_one(sim, profiles, "printer")
    assert result.ok and result.warnings == ()
    assert result.profile == "generic-printer"
    printer = result.printer
    assert printer is not None
    assert (printer.status, printer.device_status, printer.pages) == ("idle", "warning", 48213)
    assert printer.errors == ("lowToner",)
    assert printer.alerts == ("Magenta Cartridge Low",)
    toner = {s.colour: s.percent for s in printer.supplies if s.kind == "toner"}
    assert toner == {"black": 68, "cyan": 46, "magenta": 5, "yellow": 70}
    drum = next(s for s in printer.supplies if s.kind == "opc")
    assert (drum.name, drum.level, drum.percent) == ("Imaging Drum", -3, None)
    assert [i.mac for i in result.interfaces] == ["3c:52:82:c1:e4:ec"]


RECORDED = sorted(p.stem for p in (SHIPPED / "recorded").glob("*.snmprec"))


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_devices_parse(sim: Simulator, profiles: ProfileSet, name: str) -> None:
    """snmpsim's walks of real devices (Linux, Windows XP, a UPS, ...) decode without a
    warning, with the generic profile's every table."""
    result = poll_one(sim, profiles, f"recorded/{name}")
    assert result.ok, result.error
    assert result.warnings == ()
    if name in ("linux-full-walk", "winxp-full-walk"):
        assert result.sys_descr and result.sys_object_id
        assert result.interfaces and all(i.name for i in result.interfaces)
        assert result.arp or name == "linux-full-walk"


def test_shipped_full_walks_content(sim: Simulator, profiles: ProfileSet) -> None:
    linux = poll_one(sim, profiles, "recorded/linux-full-walk")
    assert [i.name for i in linux.interfaces] == ["lo", "eth0"]
    assert linux.interfaces[1].mac == "00:12:79:62:f9:40"
    windows = poll_one(sim, profiles, "recorded/winxp-full-walk")
    assert windows.profile == "generic"
    assert any(i.mac for i in windows.interfaces)


class SilentAgents:
    """UDP sockets on loopback that take SNMP requests and never answer, noting the order in
    which requests reach them (each socket is one dead device)."""

    def __init__(self, count: int) -> None:
        self.sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
        for sock in self.sockets:
            sock.bind(("127.0.0.1", 0))
        self.ports = [sock.getsockname()[1] for sock in self.sockets]
        #: The port each datagram arrived at, in arrival order.
        self.arrivals: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        with selectors.DefaultSelector() as selector:
            for sock in self.sockets:
                selector.register(sock, selectors.EVENT_READ, data=sock)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.1):
                    agent: socket.socket = key.data
                    agent.recv(65535)
                    self.arrivals.append(agent.getsockname()[1])

    def __enter__(self) -> SilentAgents:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


def test_dead_devices_wait_together(sim: Simulator, profiles: ProfileSet) -> None:
    """20 devices, 5 of which never answer: the dead ones are asked together, so the round
    waits about one device's timeout, not five. Shown by order, not by a clock: every dead
    device's first request arrives before any device's retry."""
    config = SnmpConfig(timeout_s=2.0, retries=1, max_repetitions=32, concurrency=64)
    live = [target(sim, "access-switch" if i < 3 else "printer", f"live-{i}") for i in range(15)]
    seen: list[str] = []
    with SilentAgents(5) as silent:
        dead = [
            Target(f"dead-{i}", "127.0.0.1", port, Credential("x", "v2c", community="x"))
            for i, port in enumerate(silent.ports)
        ]
        results = poll_round(
            live + dead,
            config=config,
            profiles=profiles,
            progress=lambda r: seen.append(r.device_id),
        )
    assert [r.device_id for r in results] == [t.device_id for t in live + dead]
    assert sorted(seen) == sorted(t.device_id for t in live + dead)
    for result in results[:15]:
        assert result.ok and result.warnings == (), result
    for result in results[15:]:
        assert not result.ok
        assert result.error == "timeout: no answer (timeout; wrong community?)"
    # One request and one retry per dead device; the five first requests come before any retry.
    assert sorted(silent.arrivals) == sorted(silent.ports * 2)
    assert sorted(silent.arrivals[:5]) == sorted(silent.ports)


def test_wrong_community_is_a_clear_timeout(sim: Simulator, profiles: ProfileSet) -> None:
    config = SnmpConfig(timeout_s=0.5, retries=1)
    (result,) = poll_round([target(sim, "no-such-community")], config=config, profiles=profiles)
    assert not result.ok
    assert result.error == "timeout: no answer (timeout; wrong community?)"


def test_set_admin_status_reaches_writecache(sim: Simulator) -> None:
    switch = target(sim, "access-switch")
    port = (*IF_ADMIN_STATUS, 12)

    async def admin_status() -> object:
        async with Client(timeout_s=2, retries=1) as client:
            return (await client.get(switch, [port]))[port]

    assert asyncio.run(admin_status()) == 1
    asyncio.run(set_admin_status(switch, 12, False, timeout_s=2, retries=1))
    try:
        assert asyncio.run(admin_status()) == 2
        (result,) = poll_round([switch], config=CONFIG, profiles=load_profiles(None))
        assert next(i for i in result.interfaces if i.if_index == 12).admin_up is False
    finally:
        asyncio.run(set_admin_status(switch, 12, True, timeout_s=2, retries=1))
    assert asyncio.run(admin_status()) == 1


def test_set_to_a_dead_device_times_out() -> None:
    dead = Target("dead", "127.0.0.1", free_udp_port(), Credential("x", "v2c", community="x"))
    with pytest.raises(SnmpTimeout, match=r"no answer \(timeout; wrong community\?\)"):
        asyncio.run(set_admin_status(dead, 1, False, timeout_s=0.3, retries=0))


def test_poll_devices_in_a_running_loop(sim: Simulator, profiles: ProfileSet) -> None:
    """The async entry point, as the worker would call it from its own event loop."""
    results = asyncio.run(poll_devices([target(sim, "printer")], config=CONFIG, profiles=profiles))
    assert results[0].ok and results[0].printer is not None


@pytest.mark.parametrize("community", ["access-switch", "printer", "recorded/linux-full-walk"])
def test_builtin_codec_reads_what_pysnmp_reads(
    sim: Simulator, profiles: ProfileSet, community: str
) -> None:
    """The v2c codec is checked against pysnmp on the same device: the same decoded result."""
    results = {
        codec: poll_round(
            [target(sim, community)],
            config=SnmpConfig(timeout_s=2.0, retries=1, v2c_codec=codec),
            profiles=profiles,
        )[0]
        for codec in ("builtin", "pysnmp")
    }
    builtin, pysnmp = (dataclasses.replace(r, elapsed_s=0.0) for r in results.values())
    assert builtin.ok and builtin.interfaces
    assert builtin == pysnmp
