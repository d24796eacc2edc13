"""The real agent inside network namespaces: isolated PC, LAN without upstream, full path.

Each test builds its own namespaces (10.231.0.0/16 only), runs ``govguard-agent once`` in the
PC namespace with ``ip netns exec`` and decodes its report. Everything is removed afterwards,
also on failure; the test servers exit by themselves after their lifetime.

    pc (10.231.1.2) --veth-- gw (10.231.1.1 | 10.231.2.1, forwarding) --veth-- inet (10.231.2.2/.3)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from agent.report import Report, decode
from tests.support.netns import NetLab, why_not_available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(why_not_available() is not None, reason=str(why_not_available())),
]

REPO = Path(__file__).resolve().parents[2]
AGENT = Path(sys.executable).parent / "govguard-agent"

PC, GW_LAN, GW_UP = "10.231.1.2", "10.231.1.1", "10.231.2.1"
WEB1, WEB2 = "10.231.2.2", "10.231.2.3"
NAMES = {"dichvucong.test": WEB1, "cong.tinh.test": WEB2}


@pytest.fixture
def lab() -> Iterator[NetLab]:
    with NetLab() as built:
        yield built


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="CA thử nghiệm govguard")


def _config(tmp_path: Path, ca_file: str) -> Path:
    config = {
        "probes": {
            "timeout_seconds": 2,
            "deadline_seconds": 8,
            "dns": {"names": ["dichvucong.test"]},  # the PC's own resolv.conf servers
            "https": [
                {
                    "name": "Cổng DVC quốc gia",
                    "url": "https://dichvucong.test/",
                    "ca_file": ca_file,
                },
                {
                    "name": "Cổng thông tin tỉnh",
                    "url": "https://cong.tinh.test/",
                    "ca_file": ca_file,
                },
            ],
            "tcp": [{"name": "Máy chủ nội bộ", "host": GW_LAN, "port": 22, "role": "lan"}],
        }
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _agent(lab: NetLab, ns: str, config: Path) -> Report:
    argv = [str(AGENT), "once", "--config", str(config), "--section", "network",
            "--section", "connectivity"]  # fmt: skip
    proc = lab.run(ns, argv, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = decode(proc.stdout)
    assert report.errors == [], report.errors
    return report


def _write_ca(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def test_isolated_pc(lab: NetLab, ca: trustme.CA, tmp_path: Path) -> None:
    pc = lab.namespace("pc")
    lab.resolv_conf(pc, [GW_LAN])  # a resolver it cannot reach: no route at all
    report = _agent(lab, pc, _config(tmp_path, _write_ca(ca, tmp_path)))
    net, conn = report.network, report.connectivity
    assert net is not None and conn is not None
    assert [(i.name, i.up) for i in net.interfaces or [] if i.up] == [("lo", True)]
    assert net.default_routes == []
    assert conn.default_route is False
    assert conn.gateways == []
    assert conn.lan is not None and conn.lan.reachable is False
    assert conn.internet is not None and conn.internet.reachable is False
    assert conn.internet.dns_ok is False
    assert all(not h.ok for h in conn.https)


def test_lan_without_upstream(lab: NetLab, ca: trustme.CA, tmp_path: Path) -> None:
    pc, gw = lab.namespace("pc"), lab.namespace("gw")
    lab.link(pc, f"{PC}/24", gw, f"{GW_LAN}/24")
    lab.ip("-n", pc, "route", "add", "default", "via", GW_LAN)
    lab.resolv_conf(pc, [GW_LAN])  # the gateway runs no DNS: refused
    report = _agent(lab, pc, _config(tmp_path, _write_ca(ca, tmp_path)))
    net, conn = report.network, report.connectivity
    assert net is not None and conn is not None
    assert [(r.gateway, r.family) for r in net.default_routes or []] == [(GW_LAN, "ipv4")]
    assert net.dns_servers == [GW_LAN]
    assert conn.default_route is True
    gateways = conn.gateways or []
    assert [(g.address, g.reachable) for g in gateways] == [(GW_LAN, True)]
    assert gateways[0].method in ("icmp", "icmp_raw")
    assert conn.lan is not None and (conn.lan.reachable, conn.lan.gateway_ok) == (True, True)
    assert conn.internet is not None
    assert (conn.internet.reachable, conn.internet.dns_ok, conn.internet.succeeded) == (
        False, False, 0,
    )  # fmt: skip
    assert [d.error for d in conn.dns or []] == ["refused (port unreachable)"]


def _serve_internet(lab: NetLab, inet: str, ca: trustme.CA, tmp_path: Path) -> datetime:
    """HTTPS on both web addresses and DNS in the internet namespace; returns the cert expiry."""
    not_after = (datetime.now(UTC) + timedelta(days=45)).replace(microsecond=0)
    leaf = ca.issue_cert(*NAMES, common_name="dichvucong.test", not_after=not_after)
    chain, key = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    argv: list[Any] = [sys.executable, "-m", "tests.support.servers", "--lifetime", "60",
                       "--cert-chain", chain, "--key", key, "--dns", f"{WEB1}:53"]  # fmt: skip
    for name, addr in NAMES.items():
        argv += ["--https", f"{addr}:443", "--record", f"{name}={addr}"]
    lab.spawn(inet, [str(a) for a in argv], cwd=REPO)
    return not_after


def test_full_path_to_the_test_internet(lab: NetLab, ca: trustme.CA, tmp_path: Path) -> None:
    pc, gw, inet = lab.namespace("pc"), lab.namespace("gw"), lab.namespace("inet")
    lab.link(pc, f"{PC}/24", gw, f"{GW_LAN}/24")
    _gw_end, inet_end = lab.link(gw, f"{GW_UP}/24", inet, f"{WEB1}/24")
    lab.ip("-n", inet, "addr", "add", f"{WEB2}/24", "dev", inet_end)
    lab.forward(gw)
    lab.ip("-n", pc, "route", "add", "default", "via", GW_LAN)
    lab.ip("-n", inet, "route", "add", "10.231.1.0/24", "via", GW_UP)
    lab.resolv_conf(pc, [WEB1])
    not_after = _serve_internet(lab, inet, ca, tmp_path)

    report = _agent(lab, pc, _config(tmp_path, _write_ca(ca, tmp_path)))
    conn = report.connectivity
    assert conn is not None
    assert conn.default_route is True
    assert [(g.address, g.reachable) for g in conn.gateways or []] == [(GW_LAN, True)]
    assert [(d.server, d.ok, d.addresses) for d in conn.dns or []] == [(WEB1, True, [WEB1])]
    assert [(h.name, h.ok, h.status, h.address) for h in conn.https] == [
        ("Cổng DVC quốc gia", True, 200, WEB1),
        ("Cổng thông tin tỉnh", True, 200, WEB2),
    ]
    for result in conn.https:
        assert result.cert_verified is True
        assert result.cert_not_after == not_after
        assert result.cert_days_left is not None and 44.9 < result.cert_days_left <= 45
        assert result.cert_issuer is not None and "CA thử nghiệm govguard" in result.cert_issuer
    assert conn.internet is not None
    assert (conn.internet.reachable, conn.internet.succeeded, conn.internet.dns_ok) == (
        True, 2, True,
    )  # fmt: skip
    assert conn.lan is not None and conn.lan.reachable is True
