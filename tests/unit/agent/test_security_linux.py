"""Linux security facts on recorded machines (tests/fixtures/linux/security/<case>/)."""

from __future__ import annotations

import os
import pathlib
import shutil
import struct
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent import catalog
from agent.errors import FactUnavailable, collecting_fact
from agent.platform import _common
from agent.platform._linux import (
    _sec_accounts,
    _sec_common,
    _sec_desktop,
    _sec_packages,
    _sw_packages,
)
from agent.platform._linux import security as sec
from agent.report.security import (
    Accounts,
    AntiMalware,
    AuditLogging,
    AutoRun,
    EncryptedVolume,
    Firewall,
    FirewallProfile,
    LocalAccount,
    PasswordPolicy,
    RemoteTool,
    ScreenLock,
    SshServer,
    TimeSync,
    Updates,
    UsbStorage,
    UsbStorageDevice,
)
from tests.support.replay import FIXTURES, ReplayRunner
from tests.unit.agent.test_portable import FakePsutil, install_fake_psutil, tcp

NOW = datetime(2026, 11, 28, 3, 0, 0, tzinfo=UTC)
HOST = Callable[[str], ReplayRunner]

PROCESSES = {
    "hardened-desktop": {
        1: "systemd",
        310: "systemd-timesyn",  # comm cut to 15 characters (unprivileged psutil)
        402: "auditd",
        512: "clamd",
        513: "freshclam",
        620: "sshd",
        700: "kesl",
        701: "klnagent",
        900: "gnome-shell",
        1500: "anydesk",
    },
    "bare-server": {1: "systemd", 620: "cron"},
    "unprivileged": {1: "systemd", 402: "auditd", 1100: "xfce4-session"},
    "firewalld-server": {1: "systemd", 730: "firewalld"},
    "ufw-no-nft": {1: "systemd"},
    "usb-builtin": {1: "systemd"},
    "usbguard-allow": {1: "systemd", 88: "usbguard-daemon"},
    "ssh-socket": {1: "systemd", 2: "systemd-journal"},  # no sshd until a client connects
}


@pytest.fixture
def machine(
    linux_host: HOST, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], ReplayRunner]]:
    """A recorded machine at a fixed time in Vietnam, run as root, with its processes."""
    monkeypatch.setenv("TZ", "Asia/Ho_Chi_Minh")
    time.tzset()
    monkeypatch.setattr(_sec_common, "now", lambda: NOW)
    monkeypatch.setattr(_sec_common, "privileged", lambda: True)
    _sw_packages._parsed.clear()

    def use(case: str) -> ReplayRunner:
        runner = linux_host(f"security/{case}")
        install_fake_psutil(monkeypatch, FakePsutil(processes=dict(PROCESSES[case])))
        return runner

    yield use
    monkeypatch.undo()
    time.tzset()
    _sw_packages._parsed.clear()


def _deny(monkeypatch: pytest.MonkeyPatch, *suffixes: str) -> None:
    """Make reads and listings of these host paths fail as they do for a non-root agent."""
    real_read, real_listdir = pathlib.Path.read_text, os.listdir

    def read_text(self: pathlib.Path, *args: Any, **kwargs: Any) -> str:
        if str(self).endswith(suffixes):
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self, *args, **kwargs)

    def listdir(path: Any = ".") -> list[str]:
        if str(path).endswith(suffixes):
            raise PermissionError(13, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr(pathlib.Path, "read_text", read_text)
    monkeypatch.setattr(os, "listdir", listdir)


def _unprivileged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sec_common, "privileged", lambda: False)
    # /etc/shadow is 0640 root:shadow, /etc/audit 0750 root (Debian packaging).
    _deny(monkeypatch, "/etc/shadow", "/etc/audit", "/etc/audit/auditd.conf")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- firewall ----------------------------------------------------------------------------------

UFW_ON = FirewallProfile(name="ufw", enabled=True, default_inbound="block")


def test_firewall_ufw_with_loaded_ruleset(machine: HOST) -> None:
    runner = machine("hardened-desktop")
    assert sec.firewall() == Firewall(
        enabled=True,
        product="ufw",
        profiles=[UFW_ON, FirewallProfile(name="nftables", enabled=True, default_inbound="block")],
    )
    assert runner.calls == [("nft", "-j", "list", "ruleset")]


def test_firewall_bare_server_without_nft_is_unknown(machine: HOST) -> None:
    # No legacy tables says nothing about nftables rules (iptables-nft, firewalld): not "off".
    machine("bare-server")
    with pytest.raises(
        FactUnavailable, match=r"no ufw or firewalld, and nft is not installed and no legacy"
    ):
        sec.firewall()


def test_firewall_without_nft_decides_from_ufw_config(machine: HOST) -> None:
    # Root, no nft command, empty /proc/net/ip_tables_names: ufw's config is the only evidence.
    runner = machine("ufw-no-nft")
    assert sec.firewall() == Firewall(enabled=True, product="ufw", profiles=[UFW_ON])
    assert runner.calls == []


@pytest.mark.parametrize(
    "privileged", [pytest.param(False, id="not root"), pytest.param(True, id="nft refused")]
)
def test_firewall_without_ruleset_trusts_ufw_config(
    machine: HOST, monkeypatch: pytest.MonkeyPatch, privileged: bool
) -> None:
    runner = machine("unprivileged")
    monkeypatch.setattr(_sec_common, "privileged", lambda: privileged)
    assert sec.firewall() == Firewall(enabled=True, product="ufw", profiles=[UFW_ON])
    assert bool(runner.calls) is privileged  # no fork at all when it cannot succeed


def test_firewall_ruleset_beats_ufw_config(machine: HOST) -> None:
    runner = machine("hardened-desktop")
    # ufw.conf says enabled, but the kernel holds an empty accept-all ruleset (rules flushed).
    runner._recorded[("nft", "-j", "list", "ruleset")] = {
        "stdout": '{"nftables": [{"metainfo": {"json_schema_version": 1}}, {"table": {"family":'
        ' "inet", "name": "filter", "handle": 1}}, {"chain": {"family": "inet", "table": '
        '"filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0,'
        ' "policy": "accept"}}]}'
    }
    fw = sec.firewall()
    assert (fw.enabled, fw.product) == (False, "ufw")
    assert fw.profiles[1] == FirewallProfile(
        name="nftables", enabled=False, default_inbound="allow"
    )


def test_firewall_garbage_from_nft_falls_back_to_config(machine: HOST) -> None:
    runner = machine("hardened-desktop")
    runner._recorded[("nft", "-j", "list", "ruleset")] = {"stdout": "Error: syntax error\n"}
    assert sec.firewall() == Firewall(enabled=True, product="ufw", profiles=[UFW_ON])


@pytest.mark.parametrize(
    "odd",
    [
        pytest.param('"chain"', id="string item"),
        pytest.param('{"chain": "input"}', id="chain not an object"),
        pytest.param('{"rule": [1, 2]}', id="rule not an object"),
        pytest.param("null", id="null item"),
    ],
)
def test_firewall_odd_nft_json_items_are_skipped(machine: HOST, odd: str) -> None:
    runner = machine("hardened-desktop")
    runner._recorded[("nft", "-j", "list", "ruleset")] = {
        "stdout": '{"nftables": [' + odd + ', {"chain": {"family": "inet", "table": "filter",'
        ' "name": "input", "hook": "input", "policy": "drop"}}]}'
    }
    fw = sec.firewall()
    assert (fw.enabled, fw.product) == (True, "ufw")
    assert fw.profiles[1] == FirewallProfile(name="nftables", enabled=True, default_inbound="block")


def test_firewall_nothing_known_unprivileged(
    machine: HOST, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine("bare-server")
    monkeypatch.setattr(_sec_common, "privileged", lambda: False)
    with pytest.raises(
        FactUnavailable, match=r"no ufw or firewalld, and the kernel ruleset .*run as root"
    ):
        sec.firewall()


def test_firewall_firewalld_zone_target(machine: HOST, monkeypatch: pytest.MonkeyPatch) -> None:
    machine("firewalld-server")
    monkeypatch.setattr(_sec_common, "privileged", lambda: False)
    allow = FirewallProfile(name="firewalld", enabled=True, default_inbound="allow")
    assert sec.firewall() == Firewall(enabled=True, product="firewalld", profiles=[allow])
    _deny(monkeypatch, "/etc/firewalld/zones/work.xml")  # only the packaged zone is left
    assert sec.firewall().profiles[0].default_inbound == "block"
    install_fake_psutil(monkeypatch, FakePsutil(processes={1: "systemd"}))
    with pytest.raises(FactUnavailable, match="firewalld not enabled, and the kernel ruleset"):
        sec.firewall()


# --- anti-malware ------------------------------------------------------------------------------


def _age_clamav(days: float, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Replay the hardened desktop from a copy whose ClamAV databases are ``days`` old.

    A copy, not the shared fixture: setting the fixture's own modification times raced with the
    same test's other case on the other xdist worker (a "fresh" run once read 9.25 days).
    """
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "linux/security/hardened-desktop/root", root, symlinks=True)
    monkeypatch.setattr(_common, "HOST_ROOT", root)
    db = root / "var/lib/clamav"
    newest = NOW - timedelta(days=days)
    os.utime(db / "daily.cld", (newest.timestamp(), newest.timestamp()))
    old = (NOW - timedelta(days=70)).timestamp()
    os.utime(db / "main.cvd", (old, old))
    os.utime(db / "bytecode.cvd", (old, old))
    return newest


@pytest.mark.parametrize(
    ("age", "up_to_date"),
    [pytest.param(1.5, True, id="fresh signatures"), pytest.param(9.25, False, id="stale")],
)
def test_antimalware_hardened_desktop(
    machine: HOST,
    age: float,
    up_to_date: bool,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    machine("hardened-desktop")
    updated = _age_clamav(age, tmp_path, monkeypatch)
    assert sec.antimalware(catalog.antimalware([])) == [
        AntiMalware(
            name="Kaspersky",
            source="package",
            enabled=True,
            version="12.1.0-1297",
            management_agent="klnagent64",
            management_agent_running=True,
        ),
        AntiMalware(
            name="ClamAV",
            source="package",
            enabled=True,
            version="1.0-1",
            up_to_date=up_to_date,
            signature_updated_at=updated,
            signature_age_days=age,
        ),
    ]


def test_antimalware_clamav_daemon_stopped(
    machine: HOST, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    machine("hardened-desktop")
    _age_clamav(2, tmp_path, monkeypatch)
    procs = {k: v for k, v in PROCESSES["hardened-desktop"].items() if v not in ("clamd", "kesl")}
    install_fake_psutil(monkeypatch, FakePsutil(processes=procs))
    found = {a.name: a.enabled for a in sec.antimalware(catalog.antimalware([]))}
    assert found == {"Kaspersky": False, "ClamAV": False}


def test_antimalware_none_on_bare_server(machine: HOST) -> None:
    machine("bare-server")  # clamav-base is only "config-files": not installed
    assert sec.antimalware(catalog.antimalware([])) == []


# --- updates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param(
            "hardened-desktop",
            Updates(
                last_installed_at=_utc("2026-11-24T06:31:41+07:00"),
                pending_security=2,
                automatic=True,
                reboot_required=True,
            ),
            id="upgrade logged, unattended-upgrades on, reboot flag",
        ),
        pytest.param(
            "bare-server",
            Updates(
                last_installed_at=_utc("2026-06-01T03:10:03+07:00"),
                automatic=False,
                reboot_required=True,
            ),
            id="only the install logged, newer kernel waiting",
        ),
        pytest.param(
            "unprivileged",
            Updates(pending=12, pending_security=3, automatic=False),
            id="Ubuntu update-notifier counts",
        ),
    ],
)
def test_updates(machine: HOST, case: str, expected: Updates) -> None:
    machine(case)
    assert sec.updates() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('APT::Periodic::Unattended-Upgrade "1";', "1", id="flat"),
        pytest.param('APT { Periodic { Unattended-Upgrade "1"; }; };', "1", id="scoped"),
        pytest.param(
            'APT::Periodic { Update-Package-Lists "1"; Unattended-Upgrade "7"; };',
            "7",
            id="partly scoped",
        ),
        pytest.param('// APT::Periodic::Unattended-Upgrade "1";', None, id="// comment"),
        pytest.param('# APT::Periodic::Unattended-Upgrade "1";', None, id="# comment"),
        pytest.param(
            '/* APT::Periodic::Unattended-Upgrade "1";\n */ APT::Periodic::Verbose "2";',
            None,
            id="block comment",
        ),
        pytest.param(
            'APT::Periodic::Unattended-Upgrade "1"; // "0" later in a comment', "1", id="trailing"
        ),
        pytest.param('apt::periodic::unattended-upgrade "1";', "1", id="case-insensitive"),
        pytest.param(
            'Dir "/usr//lib"; APT::Periodic::Unattended-Upgrade "1";', "1", id="// quoted"
        ),
        pytest.param('}}; APT { Periodic { Unattended-Upgrade "1"', None, id="garbage braces"),
    ],
)
def test_apt_conf_values(text: str, expected: str | None) -> None:
    assert _sec_packages.apt_conf_values(text).get("apt::periodic::unattended-upgrade") == expected


def test_dpkg_states_that_count_as_installed() -> None:
    text = "".join(
        f"Package: p{i}\nStatus: install ok {state}\nVersion: 1.0-1\n\n"
        for i, state in enumerate(
            ["installed", "triggers-pending", "triggers-awaiting", "half-installed",
             "config-files", "unpacked", "not-installed"]
        )
    )  # fmt: skip
    assert [s["Package"] for s in _sw_packages.dpkg_installed(text)] == ["p0", "p1", "p2"]


@pytest.mark.parametrize(
    ("a", "b", "sign"),
    [
        pytest.param("1.0-1", "1.0-1", 0, id="equal"),
        pytest.param("1.0.7+dfsg-1~deb12u1", "1.0-1", 1, id="newer upstream"),
        pytest.param("1.0~rc1-1", "1.0-1", -1, id="tilde sorts before release"),
        pytest.param("1:9.2p1-2", "9.9-1", 1, id="epoch wins"),
        pytest.param("2.36-9+deb12u9", "2.36-9+deb12u10", -1, id="numeric, not lexical"),
        pytest.param("1.0a", "1.0+", -1, id="letters before symbols"),
        pytest.param("1.0", "1.0-0", 0, id="missing revision is empty"),
        pytest.param("1.01", "1.1", 0, id="leading zeros"),
    ],
)
def test_compare_versions(a: str, b: str, sign: int) -> None:
    result = _sec_packages.compare_versions(a, b)
    assert (result > 0) - (result < 0) == sign
    mirrored = _sec_packages.compare_versions(b, a)
    assert (mirrored > 0) - (mirrored < 0) == -sign


# --- encryption --------------------------------------------------------------------------------


def test_encryption_lvm_on_luks(machine: HOST) -> None:
    machine("hardened-desktop")
    assert sec.encryption() == [
        EncryptedVolume(volume="/", method="luks", protected=True, system=True),
        EncryptedVolume(volume="/home", method="luks", protected=True),
        EncryptedVolume(volume="/srv/du lieu", method=None, protected=False),
    ]


def test_encryption_plain_disk(machine: HOST) -> None:
    machine("bare-server")
    assert sec.encryption() == [EncryptedVolume(volume="/", protected=False, system=True)]


# --- accounts and password policy --------------------------------------------------------------


def test_accounts_hardened_desktop(machine: HOST) -> None:
    machine("hardened-desktop")
    assert sec.accounts() == Accounts(
        users=[
            LocalAccount(name="quantri", enabled=True, password_locked=False, admin=True),
            LocalAccount(name="an", enabled=True, password_locked=False, admin=True),
            # shadow(5) field 8: account expired.
            LocalAccount(name="binh", enabled=False, password_locked=False),
            # "!" password: password logon blocked, SSH keys still work: the account is enabled.
            LocalAccount(name="cuong", enabled=True, password_locked=True),
            LocalAccount(name="guest", enabled=True, password_locked=True),
        ],
        admins=["an", "quantri", "root"],
        guest_enabled=False,
    )


def test_accounts_unreadable_shadow(machine: HOST, monkeypatch: pytest.MonkeyPatch) -> None:
    machine("unprivileged")
    _unprivileged(monkeypatch)
    assert sec.accounts() == Accounts(
        users=[LocalAccount(name="an", enabled=None, admin=True)],
        admins=["an", "root"],
        guest_enabled=False,
    )


def test_last_logon_from_lastlog(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    stamp = int(datetime(2026, 11, 27, 1, 15, tzinfo=UTC).timestamp())
    record = struct.pack("=i32s256s", stamp, b"pts/0", b"10.20.1.5")
    (tmp_path / "var/log").mkdir(parents=True)
    (tmp_path / "var/log/lastlog").write_bytes(b"\0" * 292 * 1001 + record)
    monkeypatch.setattr(_common, "HOST_ROOT", tmp_path)
    assert _sec_accounts._last_logon(1001) == datetime(2026, 11, 27, 1, 15, tzinfo=UTC)
    assert _sec_accounts._last_logon(1000) is None  # never logged in
    assert _sec_accounts._last_logon(5000) is None  # beyond the file


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param(
            "hardened-desktop",
            PasswordPolicy(
                min_length=12,
                complexity=True,
                max_age_days=99999,
                history=5,
                lockout_threshold=5,
                lockout_minutes=15,
            ),
            id="pwquality, pwhistory, faillock",
        ),
        pytest.param(
            "bare-server",
            PasswordPolicy(
                min_length=6,
                complexity=False,
                max_age_days=99999,
                history=0,
                lockout_threshold=0,
            ),
            id="stock Debian pam_unix",
        ),
    ],
)
def test_password_policy(machine: HOST, case: str, expected: PasswordPolicy) -> None:
    machine(case)
    assert sec.password_policy() == expected


def test_password_policy_without_pam(machine: HOST) -> None:
    machine("unprivileged")
    with pytest.raises(FactUnavailable, match="no system PAM configuration"):
        sec.password_policy()


# --- desktop settings --------------------------------------------------------------------------


def test_screen_lock_and_autorun_from_dconf(machine: HOST) -> None:
    machine("hardened-desktop")
    assert sec.screen_lock() == ScreenLock(
        enabled=True, timeout_seconds=600, source="GNOME system dconf local (locked)"
    )
    assert sec.autorun() == AutoRun(
        disabled=True, source="GNOME autorun-never in system dconf (locked)"
    )


def test_screen_lock_schema_defaults_without_dconf(
    machine: HOST, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine("hardened-desktop")
    monkeypatch.setattr(_sec_common, "dconf_settings", lambda: ({}, []))
    # Defaults recorded from gsettings-desktop-schemas 43 (lock on, autorun asks) and the
    # vendor override of idle-delay (420 s instead of the schema's 300 s).
    assert sec.screen_lock() == ScreenLock(
        enabled=True,
        timeout_seconds=420,
        source="GNOME schema defaults (users may change them)",
    )
    assert sec.autorun() == AutoRun(
        disabled=False, source="GNOME autorun-never schema default (users may change it)"
    )


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        pytest.param("bare-server", "no graphical session configured", id="server"),
        pytest.param("unprivileged", "desktop not supported yet: xfce", id="Xfce"),
    ],
)
def test_desktop_settings_unknown(machine: HOST, case: str, reason: str) -> None:
    machine(case)
    for fact in (sec.screen_lock, sec.autorun):
        with pytest.raises(FactUnavailable, match=reason):
            fact()


def test_usb_storage_blocked_with_history(machine: HOST) -> None:
    machine("hardened-desktop")
    assert sec.usb_storage() == UsbStorage(
        policy="blocked",
        mechanism="modprobe install /bin/false (/etc/modprobe.d/usb-storage.conf)",
        history=[
            UsbStorageDevice(
                vendor="Kingston",
                product="DataTraveler 3.0",
                serial="60A44C413AB7E3A0B9930042",
                first_seen=_utc("2026-11-20T14:03:55.010000+07:00"),
                last_seen=_utc("2026-11-20T14:03:55.010000+07:00"),
            ),
            UsbStorageDevice(
                vendor="SanDisk",
                product="Cruzer Blade",
                serial="4C530001230815116381",
                first_seen=_utc("2026-11-10T09:12:01.560101+07:00"),
                last_seen=_utc("2026-11-25T08:30:10.100000+07:00"),
            ),
        ],
        history_source="/var/log/kern.log.1, /var/log/kern.log",
    )


def _with_unknown(fact: Callable[[], Any]) -> tuple[Any, dict[str, str]]:
    """Run a fact as the collector does, returning it and the reasons it noted."""
    unknown: dict[str, str] = {}
    with collecting_fact(unknown, "fact"):
        return fact(), unknown


def test_usb_storage_usbguard(machine: HOST, monkeypatch: pytest.MonkeyPatch) -> None:
    machine("hardened-desktop")
    install_fake_psutil(monkeypatch, FakePsutil(processes={1: "systemd", 88: "usbguard-daemon"}))
    usb = sec.usb_storage()
    assert (usb.policy, usb.mechanism, len(usb.history)) == ("allow_list", "usbguard", 2)
    # Debian ships the daemon's configuration 0600 root: the policy is then unknown.
    _deny(monkeypatch, "/etc/usbguard/usbguard-daemon.conf")
    usb, unknown = _with_unknown(sec.usb_storage)
    assert (usb.policy, usb.mechanism, len(usb.history)) == (None, "usbguard", 2)
    assert "usbguard-daemon.conf is unreadable (run as root)" in unknown["fact.policy"]


def test_usb_storage_usbguard_implicit_allow_is_no_allow_list(machine: HOST) -> None:
    machine("usbguard-allow")
    assert sec.usb_storage() == UsbStorage(policy="allowed", history=[], history_source=None)


def test_usb_storage_builtin_module_ignores_blacklist(machine: HOST) -> None:
    machine("usb-builtin")
    assert sec.usb_storage() == UsbStorage(
        policy="allowed",
        mechanism="modprobe blacklist (/etc/modprobe.d/chan-usb.conf) but usb_storage is built "
        "into the kernel",
    )


@pytest.mark.parametrize("case", ["usb-builtin", "hardened-desktop"])
def test_usb_storage_unknown_without_sysfs(
    machine: HOST, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    machine(case)
    _deny(monkeypatch, "/sys/module")
    usb, unknown = _with_unknown(sec.usb_storage)
    assert usb.policy is None
    assert usb.mechanism is not None and usb.mechanism.startswith("modprobe")
    assert "/sys/module is unreadable" in unknown["fact.policy"]


def test_usb_storage_open_server_without_logs(machine: HOST) -> None:
    machine("bare-server")
    assert sec.usb_storage() == UsbStorage(policy="allowed", history=[], history_source=None)


# --- ports, remote tools -----------------------------------------------------------------------


def test_listening_ports_and_remote_tools(machine: HOST, monkeypatch: pytest.MonkeyPatch) -> None:
    machine("hardened-desktop")
    install_fake_psutil(
        monkeypatch,
        FakePsutil(
            processes=dict(PROCESSES["hardened-desktop"]), sockets=[tcp("0.0.0.0", 2222, 620)]
        ),
    )
    assert [(p.port, p.process) for p in sec.listening_ports()] == [(2222, "sshd")]
    assert sec.remote_tools(catalog.remote_tools([])) == [
        RemoteTool(
            name="AnyDesk", evidence=["installed", "process"], running=True, detail="anydesk"
        )
    ]


def test_unprivileged_ports_and_tools(machine: HOST, monkeypatch: pytest.MonkeyPatch) -> None:
    machine("unprivileged")
    install_fake_psutil(monkeypatch, FakePsutil(sockets_denied=True))
    with pytest.raises(FactUnavailable, match="run as root"):
        sec.listening_ports()
    assert sec.remote_tools(catalog.remote_tools([])) == [
        RemoteTool(name="RustDesk", evidence=["installed"], detail="rustdesk")
    ]


# --- audit, time, ssh --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param(
            "hardened-desktop",
            AuditLogging(
                enabled=True,
                mechanism="auditd",
                security_log_max_bytes=32 * 5 * 1024 * 1024,
                persistent_journal=True,
            ),
            id="auditd with CIS rules",
        ),
        pytest.param(
            "bare-server",
            AuditLogging(enabled=False, persistent_journal=False),
            id="no auditd, volatile journal",
        ),
    ],
)
def test_audit(machine: HOST, case: str, expected: AuditLogging) -> None:
    machine(case)
    assert sec.audit() == expected


def test_audit_rules_unreadable(machine: HOST, monkeypatch: pytest.MonkeyPatch) -> None:
    machine("unprivileged")
    _unprivileged(monkeypatch)
    assert sec.audit() == AuditLogging(
        enabled=None, mechanism="auditd", security_log_max_bytes=None, persistent_journal=False
    )


def test_audit_without_identity_rules(machine: HOST, monkeypatch: pytest.MonkeyPatch) -> None:
    machine("hardened-desktop")
    _deny(monkeypatch, "50-cis.rules")
    assert sec.audit().enabled is False


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param(
            "hardened-desktop",
            TimeSync(synchronized=True, service="systemd-timesyncd", server="0.vn.pool.ntp.org"),
            id="timesyncd synchronised",
        ),
        pytest.param("bare-server", TimeSync(synchronized=False), id="no time service"),
    ],
)
def test_time_sync(machine: HOST, case: str, expected: TimeSync) -> None:
    machine(case)
    assert sec.time_sync() == expected


def test_time_sync_chrony(machine: HOST, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = machine("bare-server")
    install_fake_psutil(monkeypatch, FakePsutil(processes={1: "systemd", 500: "chronyd"}))
    # chronyc(1) -c tracking, hand-made in its documented CSV field order.
    runner._recorded[("chronyc", "-c", "tracking")] = {
        "stdout": "A29FC87B,162.159.200.123,3,1764298800.123456789,-0.000012345,0.000023456,"
        "0.000110000,-3.210,0.004,0.051,0.012345678,0.001234567,1029.5,Normal\n"
    }
    assert sec.time_sync() == TimeSync(
        synchronized=True, service="chronyd", server="162.159.200.123", offset_seconds=0.000023456
    )


def test_ssh_server(machine: HOST) -> None:
    machine("hardened-desktop")
    assert sec.ssh_server() == SshServer(
        installed=True,
        running=True,
        ports=[2222],
        permit_root_login="no",
        password_authentication=False,
    )


def test_ssh_server_socket_activated(machine: HOST) -> None:
    machine("ssh-socket")
    server, unknown = _with_unknown(sec.ssh_server)
    assert server == SshServer(
        installed=True,
        running=True,  # systemd listens for sshd
        ports=[2202],  # the administrator's drop-in resets the generator's ListenStream
        permit_root_login="prohibit-password",
        password_authentication=False,
    )
    assert unknown == {}


def test_ssh_server_unreadable_config_keeps_what_is_known(
    machine: HOST, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine("hardened-desktop")
    _deny(monkeypatch, "/etc/ssh/sshd_config")
    server, unknown = _with_unknown(sec.ssh_server)
    assert server == SshServer(installed=True, running=True, ports=None)
    assert set(unknown) == {"fact.ports", "fact.permit_root_login", "fact.password_authentication"}
    assert "permission denied reading /etc/ssh/sshd_config" in unknown["fact.ports"]


def test_ssh_server_running_unknown_without_processes(
    machine: HOST, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine("unprivileged")
    monkeypatch.setattr(_sec_common, "running", lambda *_names: None)
    server, unknown = _with_unknown(sec.ssh_server)
    assert (server.installed, server.running, server.ports) == (True, None, [22])
    assert unknown == {"fact.running": "cannot list processes to find sshd"}


def test_ssh_server_defaults_and_absent(machine: HOST) -> None:
    machine("unprivileged")
    assert sec.ssh_server() == SshServer(
        installed=True,
        running=False,
        ports=[22],
        permit_root_login="prohibit-password",
        password_authentication=True,
    )
    machine("bare-server")
    assert sec.ssh_server() == SshServer(installed=False)


# --- the whole section -------------------------------------------------------------------------


def test_collector_on_unprivileged_machine_never_crashes(
    machine: HOST, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.collectors.security import SecurityCollector
    from agent.config import AgentConfig

    machine("unprivileged")
    _unprivileged(monkeypatch)
    install_fake_psutil(monkeypatch, FakePsutil(processes={1: "systemd"}, sockets_denied=True))
    section = SecurityCollector(AgentConfig()).collect()
    assert section.firewall is not None and section.firewall.enabled is True
    assert section.accounts is not None and section.accounts.users[0].enabled is None
    # encryption: this hand-made tree has no /proc/mounts.
    assert set(section.unknown) == {
        "encryption",
        "password_policy",
        "screen_lock",
        "autorun",
        "listening_ports",
    }
    assert "run as root" in section.unknown["listening_ports"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "12 packages can be updated.\n3 updates are security updates.\n",
            (12, 3),
            id="Ubuntu 18.04 wording",
        ),
        pytest.param(
            "5 updates can be installed immediately.\n0 of these updates are security updates.\n",
            (5, 0),
            id="Ubuntu 20.04 wording",
        ),
        pytest.param("0 updates can be applied immediately.\n", (0, 0), id="nothing pending"),
        pytest.param(
            "7 updates can be applied immediately.\n", (7, None), id="no security line: unknown"
        ),
        pytest.param(
            "Có thể cài đặt 12 bản cập nhật ngay lập tức.\n", None, id="translated: not parsed"
        ),
    ],
)
def test_update_notifier_wordings(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: tuple[int | None, int | None] | None
) -> None:
    monkeypatch.setattr(_sec_packages, "read_optional", lambda path: text)
    assert _sec_packages._notifier_counts() == expected


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        pytest.param("Nov 20 09:12:01", "2026-11-20T02:12:01+00:00", id="syslog stamp this year"),
        pytest.param("Dec 30 10:00:00", "2025-12-30T03:00:00+00:00", id="future means last year"),
        pytest.param(
            "2026-11-20T14:03:55.010000+07:00", "2026-11-20T07:03:55.010000+00:00", id="RFC 3339"
        ),
        pytest.param("Foo 99 99:99:99", None, id="garbage"),
    ],
)
def test_kernel_log_stamps(machine: HOST, stamp: str, expected: str | None) -> None:
    machine("bare-server")  # only for the pinned clock and time zone
    when = _sec_desktop._when(stamp)
    assert (when.isoformat() if when else None) == expected
