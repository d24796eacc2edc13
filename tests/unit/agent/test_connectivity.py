"""Connectivity collector: probes against servers on 127.0.0.1 and the derived facts."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
import trustme

from agent import platform
from agent.collectors.connectivity import ConnectivityCollector
from agent.config import AgentConfig
from agent.errors import FactUnavailable
from agent.report import Connectivity
from agent.report.network import Route
from tests.support.servers import dns_server, https_server, tcp_listener

LOCAL = "127.0.0.1"


@dataclass
class Lab:
    """Servers on loopback the configs point at."""

    dns: str
    web_ok: str
    web_ok2: str
    web_down: str
    ca_file: str
    tcp_port: int
    closed_port: int


@pytest.fixture
def lab() -> Iterator[Lab]:
    ca = trustme.CA()
    records = {"dichvucong.test": [LOCAL], "cong.tinh.test": [LOCAL]}
    with (
        dns_server(LOCAL, 0, records) as dns,
        https_server(LOCAL, 0, ca, hostname="dichvucong.test") as w1,
        https_server(LOCAL, 0, ca, hostname="cong.tinh.test") as w2,
        https_server(LOCAL, 0, ca, hostname=LOCAL, status=503) as w3,
        tcp_listener(LOCAL, 0) as tcp,
    ):
        with socket.socket() as s:
            s.bind((LOCAL, 0))
            closed = s.getsockname()[1]
        assert w1.ca_file is not None
        yield Lab(dns.address, w1.url, w2.url, w3.address_url, w1.ca_file, tcp.port, closed)


@pytest.fixture(autouse=True)
def no_host_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read this machine's routes or resolvers: no gateway, no system DNS."""
    monkeypatch.setattr(platform.network, "default_routes", lambda: [])
    monkeypatch.setattr(platform.network, "dns_servers", lambda: [])


def _collect(raw: dict[str, Any]) -> Connectivity:
    config = msgspec.convert({"probes": raw}, type=AgentConfig)
    section = ConnectivityCollector(config).collect()
    wire = msgspec.json.decode(msgspec.json.encode(section), type=Connectivity)
    assert wire.internet == section.internet and wire.https == section.https
    return section


def _https(name: str, url: str, ca: str, role: str = "internet") -> dict[str, Any]:
    return {"name": name, "url": url, "ca_file": ca, "role": role}


def test_everything_reachable(lab: Lab) -> None:
    c = _collect(
        {
            "dns": {"names": ["dichvucong.test"], "servers": [lab.dns]},
            "https": [
                _https("Cổng DVC quốc gia", lab.web_ok, lab.ca_file),
                _https("Cổng tỉnh", lab.web_ok2, lab.ca_file, role="internet"),
                _https("QLVB", lab.web_ok2, lab.ca_file, role="document_system"),
            ],
            "tcp": [{"name": "Máy chủ nội bộ", "host": LOCAL, "port": lab.tcp_port}],
        }
    )
    assert c.internet is not None and c.lan is not None and c.roles is not None
    assert (c.internet.reachable, c.internet.succeeded, c.internet.required) == (True, 2, 2)
    assert c.internet.dns_ok is True
    assert (c.lan.reachable, c.lan.gateway_ok) == (True, None)
    assert c.roles.document_system is not None and c.roles.document_system.reachable is True
    assert c.roles.email is None and c.unknown["roles.email"] == "no email target configured"
    assert c.default_route is False
    assert [d.addresses for d in c.dns or []] == [[LOCAL]]
    assert c.https[0].cert_verified is True


@pytest.mark.parametrize(
    ("min_internet", "expected"),
    [
        pytest.param(2, False, id="one of two is not enough by default"),
        pytest.param(1, True, id="one is enough when configured"),
    ],
)
def test_internet_minimum_is_configurable(lab: Lab, min_internet: int, expected: bool) -> None:
    c = _collect(
        {
            "min_internet": min_internet,
            "dns": {"names": ["dichvucong.test"], "servers": [lab.dns]},
            "https": [
                _https("ok", lab.web_ok, lab.ca_file),
                _https("503", lab.web_down, lab.ca_file),
            ],
        }
    )
    assert c.internet is not None
    assert (c.internet.reachable, c.internet.succeeded, c.internet.total) == (expected, 1, 2)


def test_dns_failure_means_no_internet(lab: Lab) -> None:
    c = _collect(
        {
            "min_internet": 1,
            "dns": {"names": ["khongtontai.test"], "servers": [lab.dns]},
            "https": [_https("ok", lab.web_ok, lab.ca_file)],
        }
    )
    assert c.internet is not None
    assert (c.internet.reachable, c.internet.dns_ok) == (False, False)


def test_nothing_configured_is_unknown_not_false() -> None:
    c = _collect({})
    assert c.internet is not None and c.internet.reachable is None
    assert c.lan is not None and c.lan.reachable is None
    assert "internet" in c.unknown and "lan" in c.unknown
    assert c.default_route is False
    assert c.gateways == [] and c.dns is None
    assert c.unknown["dns"] == "no names to resolve configured (probes.dns.names)"


def test_https_without_a_dns_check_stays_undecided(lab: Lab) -> None:
    c = _collect({"min_internet": 1, "https": [_https("ok", lab.web_ok, lab.ca_file)]})
    # no dns.names and no system resolver: the name came from the configured servers only
    assert c.https[0].ok is False  # nothing could resolve dichvucong.test
    c = _collect(
        {
            "min_internet": 1,
            "dns": {"servers": [lab.dns]},
            "https": [_https("ok", lab.web_ok, lab.ca_file)],
        }
    )
    assert c.internet is not None and c.internet.reachable is None
    assert "no DNS check" in c.unknown["internet"]


def test_lan_from_gateway_and_unreachable_targets(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = [Route(family="ipv4", gateway=LOCAL, interface="lo", metric=0)]
    monkeypatch.setattr(platform.network, "default_routes", lambda: routes)
    c = _collect(
        {
            "tcp": [
                {"name": "controller", "host": LOCAL, "port": lab.closed_port, "role": "controller"}
            ]
        }
    )
    assert c.default_route is True
    assert [(g.address, g.reachable) for g in c.gateways or []] == [(LOCAL, True)]
    assert c.lan is not None and (c.lan.reachable, c.lan.gateway_ok, c.lan.total) == (True, True, 2)
    assert c.roles is not None and c.roles.controller is not None
    assert c.roles.controller.reachable is False


def test_routes_unknown_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> list[Route]:
        raise FactUnavailable("/proc/net/route does not exist")

    monkeypatch.setattr(platform.network, "default_routes", unavailable)
    c = _collect({})
    assert c.default_route is None and c.gateways is None
    assert c.unknown["default_route"] == "/proc/net/route does not exist"
    assert c.unknown["gateways"] == "default routes unknown: /proc/net/route does not exist"


def test_system_resolvers_are_used_when_none_configured(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform.network, "dns_servers", lambda: [lab.dns])
    c = _collect({"dns": {"names": ["cong.tinh.test"]}})
    assert [(d.server, d.ok) for d in c.dns or []] == [(lab.dns, True)]


def test_dead_network_is_bounded_by_the_deadline() -> None:
    with dns_server(LOCAL, 0, {}, silent=True) as dead:
        start = time.monotonic()
        c = _collect(
            {
                "timeout_seconds": 5,
                "deadline_seconds": 0.5,
                "dns": {"names": ["dichvucong.test"], "servers": [dead.address]},
                "https": [{"name": "a", "url": "https://dichvucong.test/"}],
            }
        )
        elapsed = time.monotonic() - start
    assert elapsed < 1.5
    assert [d.error for d in c.dns or []] == ["overall deadline"]
    assert c.https[0].error == "overall deadline"
    assert c.internet is not None and c.internet.reachable is False


def test_summary(lab: Lab) -> None:
    c = _collect({})
    lines = dict(ConnectivityCollector(AgentConfig()).summary(c))
    assert lines == {"Internet": "unknown (0/0 targets, DNS unknown)", "LAN": "unknown",
                     "Default route": "NO"}  # fmt: skip
