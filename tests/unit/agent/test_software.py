"""Software section: packages, services, autostart and Vietnamese text on recorded machines.

Linux cases: ``software/debian12-vm`` recorded from the project's Debian 12 VM (dpkg status trimmed
to 37 packages), ``software/ubuntu-desktop-vi`` hand-made. Windows cases are hand-made following
the documented registry and CIM formats (see each fixture's README.md).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agent import platform
from agent.collectors.software import SoftwareCollector
from agent.config import AgentConfig
from agent.errors import FactUnavailable, collecting_fact
from agent.platform._linux import _sw_packages
from agent.platform._linux import software as lin
from agent.platform._windows import _ps, _registry, _sec_common, _winshared
from agent.platform._windows import software as win
from agent.report.software import AutostartEntry, Package, Service, Software
from tests.support.replay import FIXTURES, ReplayRunner
from tests.support.windows import RegistryReplay

Host = Callable[[str], Any]

DEBIAN = "software/debian12-vm"
DESKTOP = "software/ubuntu-desktop-vi"
WIN11 = "software/win11-vi-office"
WIN_BROKEN = "software/win10-broken"
SID = "S-1-5-21-3623811015-3361044348-30300820-1001"


def _by_name(items: list[Any]) -> dict[str, Any]:
    return {i.name: i for i in items}


# --- Linux packages ---------------------------------------------------------------------------


def test_debian_vm_packages_come_from_the_dpkg_status_file(linux_host: Host) -> None:
    runner = linux_host(DEBIAN)
    pkgs = lin.packages()
    assert lin.package_manager() == "dpkg"
    assert len(pkgs) == 37
    assert [p.name for p in pkgs] == sorted(p.name for p in pkgs)
    byname = _by_name(pkgs)
    assert byname["bash"] == Package(name="bash", version="5.2.15-2+b8")
    # Arch: all and the native amd64 are left out to keep the report small.
    assert byname["fonts-dejavu-core"].arch is None
    assert all(p.publisher is None and p.installed_on is None for p in pkgs)
    assert runner.calls == []  # in-process: no dpkg-query fork


def test_desktop_packages_keep_foreign_arch_and_skip_removed_ones(linux_host: Host) -> None:
    linux_host(DESKTOP)
    pkgs = lin.packages()
    names = [(p.name, p.arch) for p in pkgs]
    assert ("libc6", None) in names
    assert ("libc6", "i386") in names
    assert "ibus-bamboo" not in {p.name for p in pkgs}  # deinstall ok config-files
    assert _by_name(pkgs)["ibus-unikey"].version == "0.6.1-1.1build2"


_RPM_ROWS = (
    "rpm\t4.18.2-1.fc39\tx86_64\tFedora Project\t1700000000\n"
    "bash\t5.2.26-1.fc39\tx86_64\tFedora Project\t1700000000\n"
    "gpg-pubkey\t8d0efc1a-6a3b23b0\t(none)\t(none)\t1700000100\n"
    "fonts-filesystem\t1:2.0.5-12.fc39\tnoarch\tFedora Project\t1700000000\n"
    "glibc\t2.38-18.fc39\ti686\tFedora Project\t1700000200\n"
)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param(
            _RPM_ROWS,
            [
                Package(
                    name="bash",
                    version="5.2.26-1.fc39",
                    publisher="Fedora Project",
                    installed_on=date(2023, 11, 14),
                ),
                Package(
                    name="fonts-filesystem",
                    version="1:2.0.5-12.fc39",
                    publisher="Fedora Project",
                    installed_on=date(2023, 11, 14),
                ),
                Package(
                    name="glibc",
                    version="2.38-18.fc39",
                    publisher="Fedora Project",
                    installed_on=date(2023, 11, 14),
                    arch="i686",
                ),
                Package(
                    name="gpg-pubkey", version="8d0efc1a-6a3b23b0", installed_on=date(2023, 11, 14)
                ),
                Package(
                    name="rpm",
                    version="4.18.2-1.fc39",
                    publisher="Fedora Project",
                    installed_on=date(2023, 11, 14),
                ),
            ],
            id="rpm query format parsed, native and noarch arch left out",
        ),
        pytest.param("error: rpmdb open failed\n", None, id="garbage rpm output"),
        pytest.param("", None, id="empty rpm output"),
    ],
)
def test_rpm_systems_use_one_rpm_query(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    output: str,
    expected: list[Package] | None,
) -> None:
    # A minimal RPM machine built in tmp_path: no dpkg database, rpm recorded.
    (tmp_path / "root").mkdir()
    (tmp_path / "commands.yaml").write_text(
        msgspec.yaml.encode([{"argv": list(_sw_packages.RPM_QUERY), "stdout": output}]).decode(),
        encoding="utf-8",
    )
    from agent.platform import _common

    runner = ReplayRunner(tmp_path)
    monkeypatch.setattr(_sw_packages, "_rpm_cache", {})
    monkeypatch.setattr(_common, "HOST_ROOT", tmp_path / "root")
    monkeypatch.setattr(_common, "runner", runner)
    assert lin.package_manager() == "rpm"
    if expected is None:
        with pytest.raises(FactUnavailable, match="rpm"):
            lin.packages()
    else:
        assert lin.packages() == expected
        assert lin.vietnamese_text().input_methods == []
        assert runner.calls == [_sw_packages.RPM_QUERY]  # one fork serves both facts


def test_no_package_database_is_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.platform import _common

    (tmp_path / "root").mkdir()
    monkeypatch.setattr(_common, "HOST_ROOT", tmp_path / "root")
    monkeypatch.setattr(_common, "runner", ReplayRunner(tmp_path))
    with pytest.raises(FactUnavailable, match="no dpkg database and no rpm"):
        lin.packages()


def test_unreadable_dpkg_status_is_unknown(
    linux_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_host(DEBIAN)
    real = Path.read_text

    def denied(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name == "status":
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(_sw_packages, "_parsed", {})
    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(FactUnavailable, match=r"permission denied .*run as root"):
        lin.packages()


# --- Linux services and autostart ---------------------------------------------------------------


def test_debian_vm_services_without_systemd_as_pid1(linux_host: Host) -> None:
    linux_host(DEBIAN)
    services = _by_name(lin.services())
    assert services["postgresql.service"] == Service(name="postgresql.service", start_mode="auto")
    assert services["x11-common.service"].start_mode == "disabled"  # masked: -> /dev/null
    assert "kmod.service" not in services  # an alias of systemd-modules-load.service
    assert services["apt-daily.service"].start_mode == "manual"
    assert "redis.service" not in services  # an alias of redis-server.service
    assert "mysql.service" not in services  # an alias of mariadb.service
    assert "dbus-org.freedesktop.timesync1.service" not in services  # an alias
    assert not any(n.endswith("@.service") for n in services)  # templates are not units
    assert all(s.running is None for s in services.values())


def test_desktop_services_running_state_from_cgroups(linux_host: Host) -> None:
    linux_host(DESKTOP)
    services = _by_name(lin.services())
    assert services["teamviewerd.service"] == Service(
        name="teamviewerd.service", start_mode="auto", running=True
    )
    assert services["cups.service"].running is False  # empty cgroup.procs
    assert services["getty@tty1.service"].running is True  # in a nested slice
    assert services["bluetooth.service"] == Service(
        name="bluetooth.service", start_mode="disabled", running=False
    )
    assert "sshd.service" not in services
    assert services["ssh.service"].start_mode == "auto"


def test_debian_vm_autostart(linux_host: Host) -> None:
    linux_host(DEBIAN)
    entries = lin.autostart()
    assert (
        AutostartEntry(
            name="xdg-user-dirs",
            command="xdg-user-dirs-update",
            kind="xdg",
            location="/etc/xdg/autostart",
        )
        in entries
    )
    systemd = {e.name for e in entries if e.kind == "systemd"}
    assert {"postgresql.service", "getty@tty1.service", "logrotate.timer"} <= systemd
    assert not [e for e in entries if e.kind == "cron"]  # e2scrub_all has no @reboot line


def test_desktop_autostart_has_user_entries_and_reboot_lines(linux_host: Host) -> None:
    linux_host(DESKTOP)
    entries = lin.autostart()
    xdg = {(e.name, e.user): e for e in entries if e.kind == "xdg"}
    assert xdg[("teamviewer", "an")].command == "/opt/teamviewer/tv_bin/script/teamviewer"
    assert ("im-launch", None) in xdg
    assert ("tracker-miner-fs-3", "an") not in xdg  # Hidden=true
    cron = [e for e in entries if e.kind == "cron"]
    assert cron == [
        AutostartEntry(
            name="@reboot",
            command="/usr/local/bin/dong-bo-gio.sh --ngay-khoi-dong",
            kind="cron",
            location="/etc/crontab",
            user="root",
        ),
        AutostartEntry(
            name="@reboot",
            command="/home/an/bin/sao-luu-tai-lieu.sh",
            kind="cron",
            location="/var/spool/cron/crontabs/an",
            user="an",
        ),
    ]


# --- Linux Vietnamese text ----------------------------------------------------------------------


def test_debian_vm_has_no_vietnamese_office_setup(linux_host: Host) -> None:
    linux_host(DEBIAN)
    vn = lin.vietnamese_text()
    assert vn.times_new_roman is False
    assert vn.unicode_fonts == ["DejaVu Sans"]
    assert vn.legacy_fonts == []
    assert vn.input_methods == []
    assert vn.vietnamese_keyboard is None  # no /etc/default/keyboard


def test_desktop_vietnamese_fonts_and_ibus_unikey(linux_host: Host) -> None:
    linux_host(DESKTOP)
    vn = lin.vietnamese_text()
    assert vn.times_new_roman is True
    assert vn.unicode_fonts == ["Times New Roman", "Arial", "DejaVu Sans"]
    assert vn.legacy_fonts == [".VnTime", ".VnTimeH", "VNI-Times"]
    [im] = vn.input_methods
    assert (im.name, im.installed, im.running) == ("ibus-unikey", True, None)
    assert im.detail == "ibus-unikey 0.6.1-1.1build2"
    assert vn.vietnamese_keyboard is True


# --- Windows ------------------------------------------------------------------------------------


def test_windows_packages_from_both_views_and_user_hives(windows_host: Host) -> None:
    windows_host(WIN11)
    pkgs = win.packages()
    names = [p.name for p in pkgs]
    assert names == [
        "Bkav Pro Internet Security",
        "Foxit PDF Reader",
        "Microsoft Edge",
        "Microsoft Office Professional Plus 2016",
        "UltraViewer version 6.6.105",
        "VGCA Sign Service",
        "Zalo 24.11.1",
    ]  # SystemComponent, no DisplayName, ParentKeyName updates left out; Edge once
    byname = _by_name(pkgs)
    assert byname["Bkav Pro Internet Security"] == Package(
        name="Bkav Pro Internet Security",
        version="5.9.0.2024",
        publisher="Bkav Corporation",
        installed_on=date(2025, 3, 10),
    )
    assert byname["UltraViewer version 6.6.105"].arch == "x86"
    assert byname["VGCA Sign Service"].publisher == "Ban Cơ yếu Chính phủ"
    assert byname["Microsoft Edge"].arch is None  # the 64-bit view wins
    assert byname["Microsoft Office Professional Plus 2016"].installed_on is None  # not yyyymmdd
    assert byname["Zalo 24.11.1"].user == SID
    assert win.package_manager() == "windows"


def test_windows_services(windows_host: Host) -> None:
    windows_host(WIN11)
    services = _by_name(win.services())
    assert services["Spooler"] == Service(
        name="Spooler",
        display_name="Bộ đệm máy in",
        running=True,
        start_mode="auto",
        path="C:\\Windows\\System32\\spoolsv.exe",
        account="LocalSystem",
    )
    assert services["RemoteRegistry"].start_mode == "disabled"
    assert services["RemoteRegistry"].running is False
    assert services["UltraViewService"].running is True


def test_windows_autostart_run_keys_folders_and_startup_commands(windows_host: Host) -> None:
    windows_host(WIN11)
    entries = win.autostart()
    keyed = {(e.kind, e.name): e for e in entries}
    unikey = keyed[("run_key", "UniKey")]
    assert unikey.user == SID
    assert unikey.command == "C:\\Users\\an\\Desktop\\unikey46RC2-230919-win64\\UniKeyNT.exe"
    assert keyed[("run_key", "UltraViewer")].location == (
        "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run (32-bit)"
    )
    assert ("startup_folder", "Máy chấm công.lnk") in keyed
    # Win32_StartupCommand repeats are dropped; another user's Run entry is kept.
    startup = [e.name for e in entries if e.kind == "startup_command"]
    assert startup == ["OneDrive"]
    assert keyed[("startup_command", "OneDrive")].user == "DESKTOP-UBNDTL\\ketoan"
    assert not any(e.name == "" for e in entries)  # the (Default) value is not an entry


def test_windows_startup_folders_come_from_profile_list_one_at_a_time() -> None:
    script = win._SCRIPT
    assert "'C:\\Users'" not in script  # the old hard-coded profile root
    assert "CurrentVersion\\ProfileList" in script and "GetValue('ProfileImagePath')" in script
    folders = script[script.index("$r.startup_folders = @(foreach") :]
    # The try is inside the loop over folders: one unreadable folder is skipped, not all.
    assert folders.index("foreach ($d in $dirs)") < folders.index("try {")
    assert "skipped = $d" in folders


def test_windows_unreadable_startup_folder_keeps_the_others(
    windows_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_host(WIN11)
    path = FIXTURES / "windows" / WIN11 / "ps" / "software.json"
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    denied = (
        "D:\\Profiles\\ketoan\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup"
    )
    data["startup_folders"] = [
        *_ps.as_list(data["startup_folders"]),
        {"skipped": denied, "reason": "Access to the path is denied."},
    ]
    _ps.clear_cache()
    monkeypatch.setattr(_ps, "runner", lambda name, script: json.dumps(data))
    unknown: dict[str, str] = {}
    with collecting_fact(unknown, "autostart"):
        entries = win.autostart()
    folder = [e.name for e in entries if e.kind == "startup_folder"]
    assert folder == ["Máy chấm công.lnk"]
    assert "None" not in [e.name for e in entries]
    assert unknown == {
        "autostart.startup_folders": (
            f"unreadable Startup folders: {denied} (Access to the path is denied.)"
        )
    }


def test_windows_vietnamese_text(windows_host: Host) -> None:
    windows_host(WIN11)
    vn = win.vietnamese_text()
    assert vn.times_new_roman is True
    assert vn.unicode_fonts == ["Times New Roman", "Arial", "Tahoma"]
    assert vn.legacy_fonts == [".VnTime", ".VnTimeH", "VNI-Times"]
    [im] = vn.input_methods
    assert (im.name, im.installed, im.running) == ("UniKey", True, True)
    assert im.detail == "UniKey (autostart UniKeyNT.exe)"  # portable: no uninstall entry
    assert vn.vietnamese_keyboard is True


ENTRA_SID = "S-1-12-1-2948417283-1162460372-3917616540-3525129467"


@pytest.mark.parametrize(
    ("sid", "person"),
    [
        pytest.param(SID, True, id="local account"),
        pytest.param(ENTRA_SID, True, id="Entra ID account"),
        pytest.param("S-1-5-18", False, id="LocalSystem"),
        pytest.param(".DEFAULT", False, id=".DEFAULT"),
        pytest.param(f"{SID}_Classes", False, id="classes hive"),
        pytest.param(f"{ENTRA_SID}_Classes", False, id="Entra ID classes hive"),
    ],
)
def test_user_sid_pattern(sid: str, person: bool) -> None:
    assert _winshared.is_user_sid(sid) is person


def test_windows_user_hives_agree_between_areas(windows_host: Host) -> None:
    windows_host(WIN11)
    backend = _registry.backend
    assert isinstance(backend, RegistryReplay)
    hku = backend.keys["hku"]
    hku["subkeys"] = [*hku["subkeys"], ENTRA_SID, f"{ENTRA_SID}_Classes"]
    assert win._user_sids() == [SID, ENTRA_SID]
    # The security area reads the same hives (it used to skip Entra ID accounts).
    assert _sec_common.user_hives() == [f"HKU\\{SID}", f"HKU\\{ENTRA_SID}"]


def test_windows_vietnamese_keyboard_unknown_when_nobody_is_logged_on(windows_host: Host) -> None:
    windows_host(WIN11)
    backend = _registry.backend
    assert isinstance(backend, RegistryReplay)
    backend.keys["hku"] = {"subkeys": [".DEFAULT", "S-1-5-18", "S-1-5-19", "S-1-5-20"]}
    unknown: dict[str, str] = {}
    with collecting_fact(unknown, "vietnamese_text"):
        vn = win.vietnamese_text()
    assert vn.vietnamese_keyboard is None  # nothing was checked: not "no"
    assert "no user is logged on" in unknown["vietnamese_text.vietnamese_keyboard"]
    assert vn.times_new_roman is True  # machine fonts are still read


@pytest.mark.parametrize(
    ("fact", "reason"),
    [
        pytest.param(win.packages, "access denied to HKLM", id="uninstall key denied"),
        pytest.param(win.services, 'Invalid class "Win32_Service"', id="Win32_Service fails"),
        pytest.param(win.autostart, "Invalid namespace", id="no autostart source answers"),
        pytest.param(win.vietnamese_text, "lists no font", id="empty Fonts key"),
    ],
)
def test_windows_failures_are_unknown_with_reason(
    windows_host: Host, fact: Callable[[], Any], reason: str
) -> None:
    windows_host(WIN_BROKEN)
    with pytest.raises(FactUnavailable, match=reason):
        fact()


# --- Collector ----------------------------------------------------------------------------------


def test_collector_on_the_debian_vm_records_unknown_running_state(linux_host: Host) -> None:
    linux_host(DEBIAN)
    section = SoftwareCollector(AgentConfig()).collect()
    assert section.package_manager == "dpkg"
    assert section.packages is not None and len(section.packages) == 37
    assert section.unknown == {
        "services.running": "the service manager's running state is not readable"
    }
    lines = dict(SoftwareCollector(AgentConfig()).summary(section))
    assert lines["Packages"] == "37"
    assert lines["Services running"].startswith("unknown of ")
    assert lines["Vietnamese text"] == "NO Times New Roman, no input method"


def test_collector_on_windows_with_failures(
    windows_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_host(WIN_BROKEN)
    monkeypatch.setattr(platform, "software", win)
    section = SoftwareCollector(AgentConfig()).collect()
    assert section.packages is None and section.services is None
    assert set(section.unknown) == {"packages", "services", "autostart", "vietnamese_text"}
    assert section.package_manager == "windows"


# --- Size ---------------------------------------------------------------------------------------

LARGE = FIXTURES / "linux" / "software" / "large-desktop"


def _large_section() -> Software:
    """A desktop-sized section: the VM's 815 real packages plus 1,700 more named after them."""
    rows = [
        line.split("\t")
        for line in (LARGE / "packages.tsv").read_text(encoding="utf-8").splitlines()
    ]
    pkgs = [Package(name=n, version=v, arch=a or None) for n, v, a in rows]
    # A GNOME desktop has ~2,500 packages: their -data/-common/-l10n siblings look alike.
    for suffix in ("-data", "-common"):
        pkgs += [Package(name=f"{p.name}{suffix}", version=p.version) for p in pkgs[:850]]
    services = [
        Service(name=f"{p.name}.service", start_mode="auto", running=True) for p in pkgs[:250]
    ]
    autostart = [
        AutostartEntry(name=s.name, kind="systemd", location="/etc/systemd/system/x.wants")
        for s in services[:60]
    ]
    return Software(
        package_manager="dpkg",
        packages=sorted(pkgs, key=lambda p: p.name),
        services=services,
        autostart=autostart,
    )


def test_software_section_of_a_large_desktop_stays_compact() -> None:
    section = _large_section()
    assert section.packages is not None and len(section.packages) == 2480
    raw = msgspec.json.encode(section)
    packed = gzip.compress(raw, compresslevel=6)
    # The whole report must stay under 50 KB gzipped; software may use about 40 % of it.
    assert len(packed) < 20_000, f"{len(packed)} bytes gzipped ({len(raw)} raw)"
    # Defaults are omitted: no "arch":null, no empty lists, no publisher for dpkg.
    assert b"null" not in raw and b"publisher" not in raw and b"[]" not in raw
