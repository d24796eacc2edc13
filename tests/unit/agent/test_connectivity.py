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

from agent import platform, probes
from agent.collectors.base import Facts
from agent.collectors.connectivity import ConnectivityCollector
from agent.config import AgentConfig
from agent.errors import FactUnavailable
from agent.report import Connectivity
from agent.report.connectivity import DnsResult, GatewayResult, HttpsResult
from agent.report.network import Route
from tests.support.servers import dns_server, https_server, tcp_listener

LOCAL = "127.0.0.1"

#: Hang guard, not a speed goal (see test_probes.HANG_SLACK_S): only "stopped near the deadline"
#: against "waited for every probe", with a margin for a loaded CI machine.
HANG_SLACK_S = 3.0


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
                "timeout_seconds": 1,
                "deadline_seconds": 1,
                "dns": {"names": ["dichvucong.test"], "servers": [dead.address]},
                "https": [{"name": "a", "url": "https://dichvucong.test/"}],
            }
        )
        elapsed = time.monotonic() - start
    assert elapsed < 1 + HANG_SLACK_S
    # A silent server is evidence: the probe ran to its own timeout (kept just inside the
    # deadline, even when both are equal) and failed; it was not cut off.
    assert [(d.ok, d.error) for d in c.dns or []] == [(False, "no answer in 0.9 s")]
    assert c.https[0].ok is False
    assert c.internet is not None and c.internet.reachable is False


def _stuck(*_args: object) -> Any:
    time.sleep(3 * HANG_SLACK_S)  # outlives the deadline and the hang guard; never looked at


def _crash(*_args: object) -> Any:
    raise RuntimeError("lỗi lập trình")


def test_probes_cut_off_by_the_deadline_are_undetermined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "probe_dns", _stuck)
    monkeypatch.setattr(probes, "probe_https", _stuck)
    monkeypatch.setattr(probes, "probe_tcp", _stuck)
    start = time.monotonic()
    c = _collect(
        {
            "timeout_seconds": 0.3,
            "deadline_seconds": 0.3,
            "dns": {"names": ["dichvucong.test"], "servers": ["127.0.0.1"]},
            "https": [{"name": "a", "url": "https://dichvucong.test/"}],
            "tcp": [{"name": "QLVB", "host": LOCAL, "port": 1, "role": "document_system"}],
        }
    )
    assert time.monotonic() - start < 0.3 + HANG_SLACK_S
    late = "cut off by the overall deadline (0.3 s)"
    assert [(d.ok, d.error) for d in c.dns or []] == [(None, late)]
    assert (c.https[0].ok, c.https[0].error) == (None, late)
    assert (c.tcp[0].ok, c.tcp[0].error) == (None, late)
    assert c.internet is not None and c.internet.dns_ok is None
    assert (c.internet.reachable, c.internet.undetermined) == (None, 1)
    assert c.unknown["internet"].startswith("not determined: 2 probe(s) without a result")
    assert c.lan is not None and c.lan.reachable is None  # nothing lan-role configured
    assert c.roles is not None and c.roles.document_system is not None
    assert c.roles.document_system.reachable is None
    assert late in c.unknown["roles.document_system"]


def test_crashed_probes_are_undetermined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "probe_tcp", _crash)
    c = _collect({"tcp": [{"name": "controller", "host": LOCAL, "port": 1, "role": "controller"}]})
    error = "probe failed: RuntimeError: lỗi lập trình"
    assert (c.tcp[0].ok, c.tcp[0].error) == (None, error)
    assert c.lan is not None and (c.lan.reachable, c.lan.undetermined) == (None, 1)
    assert error in c.unknown["lan"]
    assert c.roles is not None and c.roles.controller is not None
    assert c.roles.controller.reachable is None


def _gw(ok: bool | None) -> GatewayResult:
    return GatewayResult(address="10.0.0.1", reachable=ok, error=None if ok else "x")


def _web(ok: bool | None, role: str = "internet") -> HttpsResult:
    return HttpsResult(name="w", url="https://a.test/", role=role, ok=ok, error=None if ok else "x")


def _dns(ok: bool | None) -> DnsResult:
    return DnsResult(name="a.test", server="10.0.0.53", ok=ok, error=None if ok else "x")


@pytest.mark.parametrize(
    ("dns", "web", "expected"),
    [
        pytest.param([True], [True, True], True, id="all answered"),
        pytest.param([True], [True, None], None, id="one of two required undetermined"),
        pytest.param([True], [False, None], False, id="too few even if the rest succeeded"),
        pytest.param([True], [None, None], None, id="nothing determined"),
        pytest.param([False], [None, None], False, id="DNS failed everywhere"),
        pytest.param([None], [True, True], None, id="DNS undetermined"),
        pytest.param([None, False], [True, True], None, id="DNS one failed one undetermined"),
        pytest.param([None, True], [True, True], True, id="DNS one answered"),
    ],
)
def test_internet_leaves_undetermined_results_out(
    dns: list[bool | None], web: list[bool | None], expected: bool | None
) -> None:
    f = Facts()
    out = ConnectivityCollector(AgentConfig())._internet(
        f, [_dns(d) for d in dns], [_web(w) for w in web]
    )
    assert out.reachable is expected
    assert (out.succeeded, out.undetermined) == (web.count(True), web.count(None))
    assert ("internet" in f.unknown) is (expected is None)


@pytest.mark.parametrize(
    ("gateways", "targets", "expected", "gateway_ok"),
    [
        pytest.param([None], [False], None, None, id="gateway undetermined, target failed"),
        pytest.param([None], [True], True, None, id="a target answered"),
        pytest.param([False], [False], False, False, id="all failed"),
        pytest.param([False, None], [], None, None, id="one gateway failed, one undetermined"),
    ],
)
def test_lan_leaves_undetermined_results_out(
    gateways: list[bool | None],
    targets: list[bool | None],
    expected: bool | None,
    gateway_ok: bool | None,
) -> None:
    f = Facts()
    out = ConnectivityCollector(AgentConfig())._lan(
        f, [_gw(g) for g in gateways], [_web(t, "lan") for t in targets], []
    )
    assert (out.reachable, out.gateway_ok) == (expected, gateway_ok)
    assert ("lan" in f.unknown) is (expected is None)


def test_summary(lab: Lab) -> None:
    c = _collect({})
    lines = dict(ConnectivityCollector(AgentConfig()).summary(c))
    assert lines == {"Internet": "unknown (0/0 targets, DNS unknown)", "LAN": "unknown",
                     "Default route": "NO"}  # fmt: skip
