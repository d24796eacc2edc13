"""The SSH report builder on recorded command outputs (tests/fixtures/ssh/<case>/).

Each case directory holds ``<command>.out``, ``.err`` and ``.status`` (0 when absent) for the
commands of :data:`COMMANDS`; a command with no file at all was not run. ``debian12-server`` is
a root login on a Dell server; ``rocky9-user`` an ordinary login on a virtual machine, with
unreadable files and broken output where a hostile or odd host would give them.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from agent.report import SECTION_NAMES, Report, decode, encode
from controller.discovery.ssh_commands import COMMANDS, CommandResult
from controller.discovery.ssh_report import NOT_COLLECTED, build_report, grep_files

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "ssh"
NOW = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)


def outputs(case: str) -> dict[str, CommandResult]:
    folder = FIXTURES / case
    found: dict[str, CommandResult] = {}
    for command in COMMANDS:
        out, err, status = (folder / f"{command.name}.{ext}" for ext in ("out", "err", "status"))
        if not (out.exists() or err.exists()):
            continue
        found[command.name] = CommandResult(
            stdout=out.read_text() if out.exists() else "",
            stderr=err.read_text() if err.exists() else "",
            exit_status=int(status.read_text()) if status.exists() else 0,
        )
    return found


def report_of(case: str) -> Report:
    report = build_report(outputs(case), NOW)
    # Whatever the host said, the result is a valid report (what ingest would accept).
    return decode(encode(report))


def test_debian_server_as_root() -> None:
    r = report_of("debian12-server")
    assert not r.errors and [run.name for run in r.collectors] == [
        "identity", "hardware", "os", "software", "network", "security"
    ]  # fmt: skip
    assert r.connectivity is None and r.peripherals is None
    assert r.identity is not None and r.identity.hostname == "srv-vanthu"
    assert r.identity.system_uuid == "4c4c4544-0042-3510-8053-b7c04f4e4d32"
    assert r.identity.system_serial == "7B5XNM2"
    # Device-backed interfaces only (the bridge and the tunnel are left out), lower case.
    assert r.identity.macs == ["3c:a9:f4:10:20:30", "b0:7b:25:aa:bb:01", "b0:7b:25:aa:bb:02"]

    hw = r.hardware
    assert hw is not None and hw.system is not None and hw.form_factor == "server"
    assert (hw.system.vendor, hw.system.model, hw.system.serial) == (
        "Dell Inc.", "PowerEdge T150", "7B5XNM2"
    )  # fmt: skip
    assert hw.bios is not None and str(hw.bios.release_date) == "2023-03-14"
    assert hw.age is not None and hw.age.age_years == 3.7
    assert hw.cpu is not None and (hw.cpu.sockets, hw.cpu.physical_cores, hw.cpu.max_mhz) == (
        1, 4, 3900
    )  # fmt: skip
    assert hw.memory is not None and hw.memory.total_bytes == 16226840 * 1024
    assert [d.name for d in hw.disks or []] == ["sda", "nvme0n1", "sdb"]
    usb = (hw.disks or [])[2]
    assert usb.bus == "usb" and usb.removable and usb.media is None
    assert [p.mountpoint for p in hw.partitions or []] == ["/", "/boot/efi", "/srv/van thu"]
    assert hw.unknown["monitors"] == NOT_COLLECTED

    os_ = r.os
    assert os_ is not None and os_.version is not None and os_.version.id == "debian"
    assert (os_.kernel, os_.architecture, os_.timezone) == (
        "6.1.0-27-amd64", "x86_64", "Asia/Ho_Chi_Minh"
    )  # fmt: skip
    assert os_.boot_time == datetime(2026, 11, 28, 4, 59, 59, tzinfo=UTC)
    assert os_.locale is not None and os_.locale.ui_languages == ["vi", "en"]
    assert os_.support is not None and os_.support.supported is True
    assert [(u.name, u.host) for u in os_.users or []] == [("root", "10.10.0.5"), ("thuky", None)]

    sw = r.software
    assert sw is not None and sw.package_manager == "dpkg"
    # Installed ones only ("config-files" is not); the foreign architecture is kept.
    assert [(p.name, p.arch) for p in sw.packages or []] == [
        ("dpkg", None), ("libc6", "i386"), ("openssh-server", None), ("tzdata", None)
    ]  # fmt: skip
    modes = {s.name: (s.start_mode, s.running) for s in sw.services or []}
    assert modes["ssh.service"] == ("auto", True) and modes["rsync.service"] == ("disabled", False)
    assert "sshd.service" not in modes and modes["getty@tty1.service"] == ("manual", True)

    net = r.network
    assert net is not None
    kinds = {i.name: i.kind for i in net.interfaces or []}
    assert kinds == {"lo": "loopback", "eno1": "wired", "eno2": "wired", "wlp3s0": "wifi",
                     "docker0": "virtual", "tun0": "virtual"}  # fmt: skip
    eno2 = next(i for i in net.interfaces or [] if i.name == "eno2")
    assert (eno2.up, eno2.admin_up, eno2.carrier) == (False, True, False)
    assert [(x.gateway, x.interface, x.interface_index) for x in net.default_routes or []] == [
        ("10.10.0.1", "eno1", 2)
    ]
    assert net.dns_servers == ["10.10.0.1", "8.8.8.8"]

    sec = r.security
    assert sec is not None and sec.firewall is not None
    assert (sec.firewall.enabled, sec.firewall.product) == (True, "ufw")
    assert [p.name for p in sec.firewall.profiles] == ["ufw", "nftables"]
    ports = {(p.protocol, p.address, p.port): p.process for p in sec.listening_ports or []}
    assert ports[("tcp", "127.0.0.53", 53)] == "systemd-resolve"
    assert ports[("tcp", "*", 443)] == "nginx" and ports[("udp", "0.0.0.0", 68)] == "dhclient"
    assert sec.time_sync is not None and sec.time_sync.synchronized is True
    assert sec.time_sync.service == "systemd-timesyncd"
    assert sec.ssh_server is not None and sec.ssh_server.ports == [22, 2222]
    assert sec.ssh_server.permit_root_login == "prohibit-password"
    assert sec.ssh_server.password_authentication is False  # the Match block is not global
    assert sec.unknown["antimalware"] == NOT_COLLECTED


def test_ordinary_login_on_a_virtual_machine_degrades_fact_by_fact() -> None:
    r = report_of("rocky9-user")
    assert not r.errors
    ident = r.identity
    assert ident is not None and ident.fqdn == "qlvb-db.ubnd.local"
    assert ident.system_serial is None and "collect as root" in ident.unknown["system_serial"]
    assert ident.macs == ["52:54:00:12:34:56"]
    hw = r.hardware
    assert hw is not None and hw.form_factor == "virtual_machine"
    assert hw.memory is None and "MemTotal" in hw.unknown["memory"]
    assert hw.disks is None and "JSON" in hw.unknown["disks"]
    assert hw.system is not None and hw.system.serial is None
    assert hw.unknown["system.serial"].startswith("permission denied")
    assert r.os is not None and r.os.version is not None and r.os.version.id == "rocky"
    assert r.os.timezone == "Asia/Ho_Chi_Minh" and r.os.users == []
    sw = r.software
    assert sw is not None and sw.package_manager == "rpm"
    assert [(p.name, p.arch) for p in sw.packages or []] == [
        ("glibc", "i686"), ("postgresql-server", None), ("rpm", None)
    ]  # fmt: skip
    net = r.network
    assert net is not None and [i.name for i in net.interfaces or []] == ["lo", "ens3"]
    # systemd-resolved's stub: the upstream servers instead.
    assert net.dns_servers == ["10.20.0.2", "10.20.0.3"]
    assert net.default_routes is not None and len(net.default_routes) == 1
    sec = r.security
    assert sec is not None and sec.firewall is not None
    # The ruleset is root-only: firewalld running decides.
    assert (sec.firewall.enabled, sec.firewall.product) == (True, "firewalld")
    assert sec.time_sync is not None and (sec.time_sync.synchronized, sec.time_sync.service) == (
        False, "chronyd"
    )  # fmt: skip
    addresses = {(p.address, p.port) for p in sec.listening_ports or []}
    assert addresses == {("::", 5432), ("fe80::5054:ff:fe12:3456", 546)}
    assert sec.ssh_server is not None and sec.ssh_server.ports is None
    assert "permission denied" in sec.unknown["ssh_server.ports"]


def test_a_host_that_answers_nothing_gives_errors_not_a_crash() -> None:
    cut = CommandResult(error="no end within 30 s: cut")
    report = decode(encode(build_report({c.name: cut for c in COMMANDS}, NOW)))
    failed = {e.collector for e in report.errors}
    # Without a host name there is no identity; the other sections keep what they can.
    assert "identity" in failed
    assert (
        report.os is not None
        and report.os.unknown["version"] == "os_release: no end within 30 s: cut"
    )
    assert report.security is not None and report.security.firewall is None


@pytest.mark.parametrize(
    "name, text",
    [
        pytest.param("ip_addr", '{"not": "a list"}', id="ip JSON of another shape"),
        pytest.param("ip_addr", "[" * 5000, id="deeply nested garbage"),
        pytest.param("lsblk", '{"blockdevices": [1, "x", {"type": "disk"}]}', id="lsblk odd rows"),
        pytest.param("nft", '{"nftables": "no"}', id="nft JSON of another shape"),
        pytest.param("nft", "[" * 5000, id="nft nested garbage"),
        pytest.param("lsblk", "[" * 5000, id="lsblk nested garbage"),
        pytest.param("cpuinfo", "\x00\ufffd" * 1000, id="binary cpuinfo"),
        pytest.param("df", "x\n/dev/sda1 ext4 a b c d% /\n", id="df without numbers"),
        pytest.param("who", "root\n" + "a b c d e f g\n", id="who odd lines"),
        pytest.param("os_release", 'NAME="unterminated\nID=' + "x" * 10000, id="os-release junk"),
        pytest.param("ip_route4", '[{"dst": "default", "metric": "high", "dev": 5}]', id="route"),
    ],
)
def test_hostile_output_never_breaks_the_report(name: str, text: str) -> None:
    given = outputs("debian12-server")
    given[name] = CommandResult(stdout=text, exit_status=0)
    report = build_report(given, NOW)
    decoded = decode(encode(report))
    assert decoded.identity is not None
    assert {s for s in SECTION_NAMES if getattr(decoded, s) is not None} >= {"os", "security"}


def test_long_values_are_cut() -> None:
    given = outputs("debian12-server")
    given["uname"] = CommandResult(stdout=f"Linux {'h' * 500} 6.1 x86_64\n", exit_status=0)
    report = build_report(given, NOW)
    assert report.identity is not None and len(report.identity.hostname) == 255


def test_grep_files_splits_contents_and_reasons() -> None:
    result = CommandResult(
        stdout="/etc/a:one\n/etc/a:two: with colon\n/etc/b:\n",
        stderr="grep: /etc/c: Permission denied\ngrep: /etc/d: No such file or directory\n",
        exit_status=2,
    )
    files, errors = grep_files(result)
    assert files == {"/etc/a": "one\ntwo: with colon", "/etc/b": ""}
    assert errors == {
        "/etc/c": "permission denied reading /etc/c (collect as root)",
        "/etc/d": "/etc/d does not exist",
    }


def test_every_command_is_fixed_and_reads_in_a_c_locale() -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    for command in COMMANDS:
        assert command.line.startswith("env PATH=") and " LC_ALL=C " in command.line
        assert command.max_bytes > 0
    assert msgspec.json.encode([c.line for c in COMMANDS])  # plain text, nothing formatted in


def test_only_the_client_module_imports_paramiko() -> None:
    """The report builder reads text; SSH stays in controller/discovery/ssh.py."""
    code = (
        "import sys, controller.discovery.ssh_report, controller.discovery.ssh_commands;"
        "assert 'paramiko' not in sys.modules, 'paramiko imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    sources = Path(__file__).resolve().parents[4] / "controller"
    importers = sorted(
        str(path.relative_to(sources))
        for path in sources.rglob("*.py")
        if "import paramiko" in path.read_text(encoding="utf-8")
    )
    assert importers == ["discovery/ssh.py"]
