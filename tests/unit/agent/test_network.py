"""Network section on recorded Linux machines and hand-made Windows outputs."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import psutil
import pytest

from agent.collectors.network import NetworkCollector
from agent.config import AgentConfig
from agent.errors import FactUnavailable
from agent.platform import _common
from agent.platform._linux import _net_profiles
from agent.platform._linux import network as linux
from agent.platform._windows import _ps
from agent.platform._windows import network as windows
from agent.report.network import Network
from tests.support.replay import FIXTURES, ReplayRunner
from tests.support.windows import PsReplay

_FAMILIES = {"AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6, "AF_LINK": psutil.AF_LINK}


@pytest.fixture
def linux_net(
    linux_host: Callable[[str], ReplayRunner], monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], None]:
    """A recorded Linux machine plus its recorded ``psutil.net_if_addrs()``."""

    def use(case: str) -> None:
        linux_host(f"network/{case}")
        raw = json.loads((FIXTURES / "linux" / "network" / case / "if_addrs.json").read_text())
        addrs = {
            name: [
                SimpleNamespace(
                    family=_FAMILIES[a["family"]], address=a["address"], netmask=a["netmask"]
                )
                for a in entries
            ]
            for name, entries in raw.items()
        }
        monkeypatch.setattr(linux, "if_addrs", lambda: addrs)

    return use


def _collect() -> Network:
    """Collect, and check the section survives the wire (what the controller validates)."""
    net = NetworkCollector(AgentConfig()).collect()
    assert msgspec.json.decode(msgspec.json.encode(net), type=Network) == net
    return net


# ------------------------------------------------------------------------------------ Linux


def test_linux_vm_interfaces_routes_and_dns(linux_net: Callable[[str], None]) -> None:
    linux_net("debian12-vm")
    net = _collect()
    assert net.unknown == {}
    by_name = {i.name: i for i in net.interfaces or []}
    eth0 = by_name["eth0"]
    assert (eth0.kind, eth0.up, eth0.carrier, eth0.mtu, eth0.mac) == (
        "wired", True, True, 1400, "02:fc:00:00:00:01",
    )  # fmt: skip
    assert eth0.speed_mbps is None  # virtio reports -1: unknown, not 0
    assert [(a.address, a.prefix, a.link_local) for a in eth0.addresses] == [
        ("192.0.2.2", 24, False),
        ("fd00::2", 64, False),
        ("fe80::fc:ff:fe00:1", 64, True),
    ]
    assert by_name["lo"].loopback and by_name["lo"].up and by_name["lo"].mac is None
    ifb = by_name["ifb0"]
    assert (ifb.kind, ifb.up, ifb.admin_up, ifb.carrier) == ("virtual", False, False, None)
    routes = [
        (r.family, r.gateway, r.interface, r.interface_index, r.metric)
        for r in net.default_routes or []
    ]
    assert routes == [("ipv4", "192.0.2.1", "eth0", 4, 0), ("ipv6", "fd00::1", "eth0", 4, 1024)]
    assert net.dns_servers == ["10.255.255.53"]
    assert net.radios == []
    assert net.profiles == []


def test_linux_laptop_kinds_radios_and_resolved(linux_net: Callable[[str], None]) -> None:
    linux_net("laptop-wifi-nm")
    net = _collect()
    kinds = {i.name: i.kind for i in net.interfaces or []}
    assert kinds == {
        "docker0": "virtual",
        "enp0s31f6": "wired",
        "lo": "loopback",
        "wlp2s0": "wifi",
        "wwan0": "wwan",
    }
    wired = next(i for i in net.interfaces or [] if i.name == "enp0s31f6")
    assert (wired.up, wired.admin_up, wired.carrier) == (False, True, False)
    assert [(r.gateway, r.interface) for r in net.default_routes or []] == [
        ("192.168.1.1", "wlp2s0"),
        (None, "wwan0"),
        ("fe80::a6c3:f0ff:fe7d:2201", "wlp2s0"),
    ]
    # resolv.conf only names the systemd-resolved stub: the upstream servers are reported.
    assert net.dns_servers == ["192.168.1.1", "203.162.4.191"]
    radios = {(r.kind, r.name): (r.enabled, r.soft_blocked, r.source) for r in net.radios or []}
    assert radios == {
        ("wifi", "phy0"): (True, False, "rfkill"),
        ("bluetooth", "hci0"): (False, True, "rfkill"),
        ("wwan", "wwan0"): (True, False, "rfkill"),
    }


def test_linux_laptop_saved_profiles_never_carry_secrets(linux_net: Callable[[str], None]) -> None:
    linux_net("laptop-wifi-nm")
    net = _collect()
    assert "profiles" not in net.unknown
    profiles = net.profiles or []
    summary = {(p.source, p.name, p.kind, p.ssid) for p in profiles}
    assert summary == {
        # /run (in-memory) and extension-less /etc keyfiles are loaded; backups (~, .orig,
        # hidden .swp), extension-less files outside /etc and a shadowed /usr/lib copy are not.
        ("networkmanager", "Điểm phát tạm", "wifi", "Diem-phat-Hop-Huyen"),
        ("networkmanager", "Hội trường", "wifi", "Hội trường UBND"),  # SSID as a byte list
        ("networkmanager", "Viettel 4G", "wwan", None),
        ("networkmanager", "Wi-Fi Phòng Tài chính", "wifi", "UBND-Xa-TaiChinh"),
        ("networkmanager", "Wired connection 1", "wired", None),
        (
            "networkmanager_lease",
            "internal-5b0c1f7e-3c1a-4b6e-9f61-2d0f6a1c9e21-wlp2s0.lease",
            None,
            None,
        ),
        ("netplan", "UBND-Xa-HoiTruong", "wifi", "UBND-Xa-HoiTruong"),
    }
    last = {p.name: p.last_connected for p in profiles if p.source == "networkmanager"}
    # /var/lib/NetworkManager/timestamps wins over the keyfile's legacy connection.timestamp;
    # 0 there means never active.
    assert last == {
        "Điểm phát tạm": None,
        "Hội trường": datetime(2025, 11, 14, 9, 0, tzinfo=UTC),
        "Viettel 4G": None,
        "Wi-Fi Phòng Tài chính": datetime(2025, 11, 28, 1, 0, tzinfo=UTC),
        "Wired connection 1": None,
    }
    assert "khong-doc-mat-khau" not in repr(profiles)


def test_linux_odd_netplan_files_are_skipped_not_fatal(
    linux_net: Callable[[str], None], caplog: pytest.LogCaptureFixture
) -> None:
    linux_net("laptop-wifi-nm")
    with caplog.at_level("INFO", logger=_net_profiles.__name__):
        profiles = _net_profiles._netplan_profiles()
    assert [(p.name, p.kind) for p in profiles] == [("UBND-Xa-HoiTruong", "wifi")]
    skipped = sorted(r.getMessage() for r in caplog.records)
    assert skipped == [
        "skipping netplan file 50-cloud-init.yaml: 'ethernets' is not a mapping",
        "skipping netplan file 60-sai.yaml: 'network' is not a mapping",
        "skipping netplan file 65-sai-thiet-bi.yaml: 'wifis.wlp2s0' is not a mapping",
        "skipping netplan file 66-danh-sach.yaml: the document is not a mapping",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("UBND-Xa", "UBND-Xa", id="text"),
        pytest.param("85;66;78;68;", "UBND", id="byte list"),
        pytest.param("85;66;78;68", "UBND", id="byte list without trailing ;"),
        pytest.param("2024", "2024", id="digits are text"),
        pytest.param("300;1;", "300;1;", id="not bytes"),
        pytest.param("", None, id="empty"),
    ],
)
def test_linux_nm_ssid(value: str, expected: str | None) -> None:
    assert _net_profiles._nm_ssid(value) == expected


def test_linux_isolated_pc_has_nothing(linux_net: Callable[[str], None]) -> None:
    linux_net("classified-isolated")
    net = _collect()
    assert net.unknown == {}
    up = [i.name for i in net.interfaces or [] if i.up and not i.loopback]
    assert up == []
    assert net.default_routes == []  # the IPv6 "default dev lo" reject route is not a route
    assert net.dns_servers == []
    assert net.radios == []
    assert net.profiles == []


@pytest.mark.parametrize(
    ("missing", "field", "reason"),
    [
        pytest.param(
            "proc/net/route", "default_routes", "/proc/net/route", id="no /proc/net/route"
        ),
        pytest.param("etc/resolv.conf", "dns_servers", "/etc/resolv.conf", id="no resolv.conf"),
        pytest.param("sys/class/net", "interfaces", "sysfs", id="sysfs not mounted"),
    ],
)
def test_linux_missing_sources_are_unknown(
    linux_net: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    missing: str,
    field: str,
    reason: str,
) -> None:
    import shutil

    linux_net("debian12-vm")
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "linux" / "network" / "debian12-vm" / "root", root)
    target = root / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    monkeypatch.setattr(_common, "HOST_ROOT", root)
    net = _collect()
    assert getattr(net, field) is None
    assert reason in net.unknown[field]


def test_linux_garbage_route_lines_are_skipped(
    linux_net: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_net("debian12-vm")
    real = _common.read_text

    def fake(path: str) -> str:
        if path == "/proc/net/route":
            return (
                "Iface\tDestination\n\x00\x01garbage\neth0 zz\n"
                # full-width lines of non-hex fields, or an address wider than 32 bits
                "eth0\t00000000\tZZ\t0003\t0\t0\t0\t00000000\n"
                "eth0\t00000000\t0102030405\t0003\t0\t0\t0\t00000000\n"
                "eth0\t00000000\t0100000A\tzz\t0\t0\t0\t00000000\n" + real(path)
            )
        return real(path)

    monkeypatch.setattr(linux, "read_text", fake)
    assert [r.gateway for r in linux.default_routes()] == ["192.0.2.1", "fd00::1"]


def test_linux_profiles_unreadable_without_root(
    linux_net: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_net("classified-isolated")
    real = _common.list_dir

    def denied(path: str) -> list[str]:
        if path.startswith("/etc/NetworkManager"):
            raise FactUnavailable(f"permission denied listing {path} (run as root)")
        return real(path)

    monkeypatch.setattr(_net_profiles, "list_dir", denied)
    net = _collect()
    # "Never connected" cannot be claimed when the main source was unreadable.
    assert net.profiles is None
    assert "run as root" in net.unknown["profiles"]


# ---------------------------------------------------------------------------------- Windows


@pytest.fixture
def win_net(
    windows_host: Callable[[str], PsReplay], monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], None]:
    """Hand-made Windows outputs, read through the Windows platform module on any OS."""

    def use(case: str) -> None:
        windows_host(f"network/{case}")
        from agent import platform

        monkeypatch.setattr(platform, "network", windows)

    return use


def test_windows_laptop(win_net: Callable[[str], None]) -> None:
    win_net("win11-vi-laptop")
    net = _collect()
    assert net.unknown == {}
    by_name = {i.name: i for i in net.interfaces or []}
    assert {n: i.kind for n, i in by_name.items()} == {
        "Ethernet": "wired",
        "Wi-Fi": "wifi",
        "Kết nối mạng Bluetooth": "bluetooth",
        "Di động": "wwan",
        "vEthernet (Default Switch)": "virtual",
    }
    wifi = by_name["Wi-Fi"]
    assert (wifi.up, wifi.carrier, wifi.speed_mbps, wifi.mac) == (
        True, True, 866, "a4:c3:f0:7d:22:5b",
    )  # fmt: skip
    assert [(a.address, a.prefix) for a in wifi.addresses] == [
        ("192.168.1.37", 24),
        ("fe80::5d2a:9e1b:3c4d:7f10", 64),
    ]
    eth = by_name["Ethernet"]
    assert (eth.up, eth.carrier, eth.addresses[0].link_local) == (False, False, True)
    modem = by_name["Di động"]
    assert (modem.admin_up, modem.mac) == (False, None)
    assert [
        (r.family, r.gateway, r.interface, r.interface_index) for r in net.default_routes or []
    ] == [("ipv4", "192.168.1.1", "Wi-Fi", 17)]
    assert net.dns_servers == ["192.168.1.1", "203.162.4.191"]
    radios = {(r.kind, r.name): (r.enabled, r.source) for r in net.radios or []}
    assert radios == {
        ("wifi", "Wi-Fi"): (True, "NetAdapter"),
        ("wwan", "Di động"): (False, "NetAdapter"),
        ("bluetooth", "Intel(R) Wireless Bluetooth(R)"): (True, "PnpDevice"),
    }


def test_windows_laptop_profiles(win_net: Callable[[str], None]) -> None:
    win_net("win11-vi-laptop")
    profiles = _collect().profiles or []
    rows = [
        (p.source, p.name, p.kind, p.category, p.first_connected, p.last_connected)
        for p in profiles
    ]
    assert rows == [
        (
            "networklist", "UBND-Xa-TaiChinh", "wifi", "private",
            datetime(2025, 3, 14, 8, 15, 30, tzinfo=UTC),
            datetime(2026, 11, 27, 16, 40, 5, tzinfo=UTC),
        ),
        (
            "networklist", "Mạng UBND huyện 2", "wired", "public",
            datetime(2024, 10, 1, 7, 30, 0, tzinfo=UTC),
            None,  # truncated blob: unknown, not a crash
        ),
        (
            "wlan_profile", "UBND-Xa-TaiChinh", "wifi", None, None,
            datetime(2026, 11, 27, 9, 40, 5, tzinfo=UTC),
        ),
        (
            "wlan_profile", "Quán cà phê Hương Giang", "wifi", None, None,
            datetime(2025, 8, 2, 3, 11, tzinfo=UTC),
        ),
    ]  # fmt: skip
    assert profiles[3].ssid == "HuongGiang_Cafe"


def test_windows_classified_pc_has_nothing(win_net: Callable[[str], None]) -> None:
    win_net("win10-classified")
    net = _collect()
    assert net.unknown == {}
    assert [(i.name, i.up, i.admin_up) for i in net.interfaces or []] == [
        ("Ethernet", False, False)
    ]
    assert net.default_routes == []
    assert net.dns_servers == []
    assert net.radios == []
    assert net.profiles == []


def test_windows_denied_everything_is_unknown(win_net: Callable[[str], None]) -> None:
    win_net("win10-denied")
    net = _collect()
    assert net.interfaces is None and net.default_routes is None and net.profiles is None
    assert net.unknown["interfaces"] == "adapters: Truy cập bị từ chối."
    assert net.unknown["default_routes"] == "routes: Invalid class"
    assert "not recognized" in net.unknown["dns_servers"]
    assert "radios" in net.unknown
    assert "run as SYSTEM" in net.unknown["profiles"]


def _script_part(key: str) -> str:
    """The lines of the network script that query ``key`` (its ``Q key`` block)."""
    blocks = windows._SCRIPT.split("\nQ ")
    [block] = [b for b in blocks if b.startswith(f"{key} ")]
    return block


def test_windows_default_routes_query_the_active_store_without_hiding_errors() -> None:
    routes = _script_part("routes")
    # The default PersistentStore view also lists routes of disconnected adapters.
    assert "-PolicyStore ActiveStore" in routes
    # Any failure must reach Q's catch (an error object), never read as "no default route".
    assert "SilentlyContinue" not in routes and "-ErrorAction" not in routes
    assert "SilentlyContinue" not in _script_part("bluetooth")


def test_windows_partial_route_list_is_unknown(
    win_net: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    win_net("win11-vi-laptop")
    path = FIXTURES / "windows" / "network" / "win11-vi-laptop" / "ps" / "network.json"
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    data["routes"] = [*_ps.as_list(data["routes"]), {"error": "Lỗi nhà cung cấp WMI"}]
    _ps.clear_cache()
    monkeypatch.setattr(_ps, "runner", lambda name, script: json.dumps(data))
    net = _collect()
    assert net.default_routes is None
    assert net.unknown["default_routes"].startswith("routes: Lỗi nhà cung cấp WMI")
    assert net.interfaces is not None  # the other parts of the batch are kept


def test_windows_wlan_profiles_are_read_one_file_at_a_time() -> None:
    wlan = _script_part("wlan_profiles")
    # Each profile file has its own try: one corrupt XML is skipped, not the whole key.
    assert wlan.index("ForEach-Object {") < wlan.index("try {") < wlan.index("[xml]")
    assert "skipped = $f.Name" in wlan
    # A denied Profiles directory still fails the key (not "no Wi-Fi profiles").
    assert "-Recurse -ErrorAction Stop" in wlan


def test_windows_corrupt_wlan_profile_keeps_the_others(
    win_net: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    win_net("win11-vi-laptop")
    path = FIXTURES / "windows" / "network" / "win11-vi-laptop" / "ps" / "network.json"
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    bad = {
        "skipped": "{5A1C3F0E-77B2-4C1D-9E0A-2B6F4D8C1E35}.xml",
        "reason": 'Cannot convert value "<WLANProfile" to type "System.Xml.XmlDocument".',
    }
    data["wlan_profiles"] = [data["wlan_profiles"][0], bad, data["wlan_profiles"][1]]
    _ps.clear_cache()
    monkeypatch.setattr(_ps, "runner", lambda name, script: json.dumps(data))
    net = _collect()
    wifi = [p.name for p in net.profiles or [] if p.source == "wlan_profile"]
    assert wifi == ["UBND-Xa-TaiChinh", "Quán cà phê Hương Giang"]
    assert net.unknown == {
        "profiles.wlan_profiles": (
            "unreadable Wi-Fi profile files: {5A1C3F0E-77B2-4C1D-9E0A-2B6F4D8C1E35}.xml (Cannot"
            ' convert value "<WLANProfile" to type "System.Xml.XmlDocument".)'
        )
    }


@pytest.mark.parametrize(
    ("blob", "expected"),
    [
        pytest.param(
            bytes.fromhex("d9070200020018001700140025000001"),
            datetime(2009, 2, 24, 23, 20, 37, tzinfo=UTC),
            id="documented example bytes",
        ),
        pytest.param("e9070b0005001b0010002800050000000", None, id="odd hex string"),
        pytest.param([0] * 16, None, id="all zero"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_systemtime(blob: Any, expected: datetime | None) -> None:
    assert windows._systemtime(blob) == expected


def test_summary_lines(linux_net: Callable[[str], None]) -> None:
    linux_net("laptop-wifi-nm")
    net = _collect()
    lines = dict(NetworkCollector(AgentConfig()).summary(net))
    assert lines["Interfaces up"] == "wlp2s0, wwan0"
    assert lines["Gateways"] == "192.168.1.1, wwan0, fe80::a6c3:f0ff:fe7d:2201"
    assert lines["Radios"] == "wifi phy0, wwan wwan0"
    assert lines["Saved networks"] == "7"
