"""A device that fails part-way: a table the agent refuses is a warning and the rest still
come; a device that stops answering after its system group costs one timeout, not one per
table. snmpsim's ``error`` and ``delay`` variations play the faulty agents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.discovery.credentials import Credential
from controller.discovery.poller import poll_round
from controller.discovery.profiles import load_profiles
from controller.discovery.snmp import Target
from controller.settings import SnmpConfig
from tests.support.snmpsim import Simulator, snmpsim

pytestmark = pytest.mark.integration

SYSTEM = """\
1.3.6.1.2.1.1.1.0|4|faulty agent
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10
1.3.6.1.2.1.1.3.0|67|100
1.3.6.1.2.1.1.5.0|4|faulty
1.3.6.1.2.1.2.1.0|2|1
"""
# An agent that refuses ifOperStatus (genErr on any read reaching it); the tables after it in
# OID order (ENTITY-MIB) are fine.
REFUSING = (
    SYSTEM
    + """\
1.3.6.1.2.1.2.2.1.2.1|4|eth0
1.3.6.1.2.1.2.2.1.8.1|2:error|status=generror,value=1
1.3.6.1.2.1.47.1.1.1.1.5.1|2|3
1.3.6.1.2.1.47.1.1.1.1.11.1|4|SER123
"""
)
# Answers the system group, then sleeps 3 s on ifDescr: the interface walk times out.
STALLING = (
    SYSTEM
    + """\
1.3.6.1.2.1.2.2.1.2.1|4:delay|value=eth0,wait=3000
"""
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    data: Path = tmp_path_factory.mktemp("faulty")
    (data / "refusing.snmprec").write_text(REFUSING, encoding="utf-8")
    (data / "stalling.snmprec").write_text(STALLING, encoding="utf-8")
    with snmpsim(data) as simulator:
        yield simulator


def test_refused_table_is_a_warning(sim: Simulator) -> None:
    config = SnmpConfig(timeout_s=2.0, retries=1)
    target = Target("refusing", sim.host, sim.port, Credential("x", "v2c", community="refusing"))
    (result,) = poll_round([target], config=config, profiles=load_profiles(None))
    assert result.ok
    assert "ifTable: the agent answered genErr at 1.3.6.1.2.1.2.2.1.2" in result.warnings
    assert not any(w.startswith("entPhysicalTable") for w in result.warnings)
    assert result.serial == "SER123"  # the other tables still came
    assert result.interfaces == ()  # the refused one did not


def test_device_that_stops_answering(sim: Simulator) -> None:
    """Run last in the module: snmpsim stays asleep on the stalled request for a while."""
    config = SnmpConfig(timeout_s=0.5, retries=0)
    target = Target("stalling", sim.host, sim.port, Credential("x", "v2c", community="stalling"))
    (result,) = poll_round([target], config=config, profiles=load_profiles(None))
    assert result.ok and result.sys_name == "faulty"
    first, *rest = result.warnings
    assert first == "ifTable: no answer (timeout; wrong community?)"
    assert rest and all(w.endswith(": not asked: the device stopped answering") for w in rest)
    assert len(rest) == len(load_profiles(None)["generic"].tables) - 1
