"""The poller against net-snmp's snmpd on a loopback port: this machine's own IF-MIB and
HOST-RESOURCES over v2c and v3 authPriv (SHA/AES), and wrong credentials that fail clearly
and quickly instead of hanging."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from controller.discovery.credentials import Credential
from controller.discovery.poller import poll_round
from controller.discovery.profiles import ProfileSet, load_profiles
from controller.discovery.results import DeviceResult
from controller.discovery.snmp import (
    Client,
    Oid,
    SnmpAuthError,
    SnmpError,
    SnmpTimeout,
    Target,
    Value,
)
from controller.settings import SnmpConfig
from tests.support.snmpd import Snmpd, snmpd, snmpd_available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not snmpd_available(), reason="net-snmp's snmpd is not installed"),
]

CONFIG = SnmpConfig(timeout_s=1.0, retries=1)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)


@pytest.fixture(scope="module")
def agent() -> Iterator[Snmpd]:
    with snmpd() as running:
        yield running


@pytest.fixture(scope="module")
def profiles() -> ProfileSet:
    return load_profiles(None)


def v2c(agent: Snmpd, community: str | None = None) -> Credential:
    return Credential("lab-v2c", "v2c", community=community or agent.community)


def v3(agent: Snmpd, **wrong: str) -> Credential:
    fields = {"user": agent.user, "auth_key": agent.auth_key, "priv_key": agent.priv_key}
    fields.update(wrong)
    return Credential("lab-v3", "v3", auth_protocol="SHA", priv_protocol="AES", **fields)


def poll(agent: Snmpd, profiles: ProfileSet, credential: Credential) -> DeviceResult:
    target = Target("snmpd", agent.host, agent.port, credential)
    (result,) = poll_round([target], config=CONFIG, profiles=profiles)
    return result


@pytest.mark.parametrize("version", ["v2c", "v3"])
def test_real_agent(agent: Snmpd, profiles: ProfileSet, version: str) -> None:
    result = poll(agent, profiles, v2c(agent) if version == "v2c" else v3(agent))
    assert result.ok, result.error
    assert result.warnings == ()
    assert result.sys_name == "govguard-test-snmpd"
    assert result.sys_object_id and result.sys_object_id.startswith("1.3.6.1.4.1.8072.")
    assert result.profile == "generic"
    names = {i.name for i in result.interfaces}
    assert "lo" in names
    lo = next(i for i in result.interfaces if i.name == "lo")
    assert lo.oper_up is True and lo.if_type == 24  # softwareLoopback
    assert result.values > 20
    assert result.printer is None  # HOST-RESOURCES has devices here, but no printer


def test_host_resources_devices(agent: Snmpd) -> None:
    """hrDeviceTable: this machine's processors and network interfaces, as walked columns."""

    async def walk() -> dict[Oid, dict[Oid, Value]]:
        async with Client(timeout_s=1, retries=1) as client:
            return await client.walk(
                Target("snmpd", agent.host, agent.port, v3(agent)),
                [(1, 3, 6, 1, 2, 1, 25, 3, 2, 1, 2), (1, 3, 6, 1, 2, 1, 25, 3, 2, 1, 3)],
            )

    columns = asyncio.run(walk())
    kinds = set(columns[(1, 3, 6, 1, 2, 1, 25, 3, 2, 1, 2)].values())
    assert "1.3.6.1.2.1.25.3.1.3" in kinds  # hrDeviceProcessor
    assert "1.3.6.1.2.1.25.3.1.4" in kinds  # hrDeviceNetwork
    descriptions = [v for v in columns[(1, 3, 6, 1, 2, 1, 25, 3, 2, 1, 3)].values()]
    assert any(isinstance(d, bytes) and b"network interface lo" in d for d in descriptions)


def test_wrong_community(agent: Snmpd, profiles: ProfileSet) -> None:
    result = poll(agent, profiles, v2c(agent, "not-the-community"))
    assert not result.ok
    assert result.error == "timeout: no answer (timeout; wrong community?)"


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        pytest.param(
            {"user": "intruder"},
            "the agent does not know SNMPv3 user 'intruder' (usmStatsUnknownUserNames)",
            id="unknown user",
        ),
        pytest.param(
            {"auth_key": "not-the-auth-key"},
            "wrong SNMPv3 auth key or protocol for user 'govguard' (usmStatsWrongDigests)",
            id="wrong auth key",
        ),
        pytest.param(
            {"priv_key": "not-the-priv-key"},
            "the agent answered SNMPv3 discovery but not the encrypted request: wrong priv key "
            "or protocol for user 'govguard'?",
            id="wrong priv key",
        ),
    ],
)
def test_wrong_v3_credentials(
    agent: Snmpd, profiles: ProfileSet, wrong: dict[str, str], message: str
) -> None:
    result = poll(agent, profiles, v3(agent, **wrong))
    assert not result.ok
    assert result.error == f"auth: {message}"

    async def get() -> None:
        async with Client(timeout_s=0.5, retries=0) as client:
            await client.get(
                Target("snmpd", agent.host, agent.port, v3(agent, **wrong)), [SYS_NAME]
            )

    with pytest.raises(SnmpAuthError):
        asyncio.run(get())


def test_v3_dead_port_is_a_timeout() -> None:
    from tests.support.snmpsim import free_udp_port

    credential = Credential("x", "v3", user="u", auth_key="12345678", priv_key="12345678")

    async def get() -> None:
        async with Client(timeout_s=0.3, retries=0) as client:
            await client.get(Target("dead", "127.0.0.1", free_udp_port(), credential), [SYS_NAME])

    with pytest.raises(SnmpTimeout, match=r"^no answer \(timeout\)$"):
        asyncio.run(get())


SNMP_ENABLE_AUTHEN_TRAPS = (1, 3, 6, 1, 2, 1, 11, 30, 0)  # SNMPv2-MIB, INTEGER, read-write


def test_v3_set_reads_back(agent: Snmpd) -> None:
    """A SET over SNMPv3 authPriv (the path of a port shutdown on a v3 switch)."""
    writer = Target("snmpd", agent.host, agent.port, v3(agent, user=f"{agent.user}-rw"))

    async def set_and_read(value: int) -> object:
        async with Client(timeout_s=1, retries=1) as client:
            await client.set_integer(writer, SNMP_ENABLE_AUTHEN_TRAPS, value)
            return (await client.get(writer, [SNMP_ENABLE_AUTHEN_TRAPS]))[SNMP_ENABLE_AUTHEN_TRAPS]

    assert asyncio.run(set_and_read(1)) == 1  # enabled(1)
    assert asyncio.run(set_and_read(2)) == 2  # disabled(2)


@pytest.mark.parametrize("version", ["v2c", "v3"])
def test_set_refused_is_a_clear_error(agent: Snmpd, version: str) -> None:
    """A read-only credential's SET: the agent's refusal, named, not a hang or a traceback."""
    credential = v2c(agent) if version == "v2c" else v3(agent)
    reader = Target("snmpd", agent.host, agent.port, credential)

    async def attempt() -> None:
        async with Client(timeout_s=1, retries=0) as client:
            await client.set_integer(reader, SNMP_ENABLE_AUTHEN_TRAPS, 2)

    with pytest.raises(
        SnmpError, match=r"^the agent answered (noAccess|authorizationError|notWritable)"
    ):
        asyncio.run(attempt())
