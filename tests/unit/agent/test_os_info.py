"""OS facts and the end-of-life decision on recorded and hand-made machines.

The Debian VM case was recorded from the development VM; the other cases are hand-made (see each
fixture's README.md). psutil's boot time and sessions are fakes; the evaluation date is injected.
"""

from __future__ import annotations

import platform as std_platform
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import psutil
import pytest

from agent.collectors.os_info import OsCollector
from agent.config import AgentConfig
from agent.platform import _inventory
from agent.platform._linux import os_info as linux_os
from agent.platform._windows import os_info as win_os
from agent.report.os_info import InstallDate, Locale, LoggedInUser, OperatingSystem, OsVersion
from tests.support.replay import FIXTURES

TODAY = date(2026, 11, 28)
BOOT = datetime(2026, 11, 28, 0, 47, 12, tzinfo=UTC)


class FakeUser(NamedTuple):
    name: str
    terminal: str | None
    host: str | None
    started: float
    pid: int | None


USERS = [
    FakeUser("an.nv", "tty2", None, datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC).timestamp(), 1412),
    FakeUser(
        "admin", "pts/0", "10.20.1.5", datetime(2026, 11, 28, 2, 0, tzinfo=UTC).timestamp(), 9
    ),
]


@pytest.fixture
def fake_psutil(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Boot time and open sessions of the pretend machine."""
    monkeypatch.setattr(psutil, "boot_time", lambda: BOOT.timestamp() + 0.37)
    monkeypatch.setattr(psutil, "users", lambda: USERS)
    yield


def _collect(module: Any, monkeypatch: pytest.MonkeyPatch, today: date = TODAY) -> OperatingSystem:
    monkeypatch.setattr("agent.platform.os_info", module)
    return OsCollector(AgentConfig(), today=lambda: today).collect()


@pytest.mark.usefixtures("fake_psutil")
def test_debian12_vm_recorded(
    linux_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_host("os/debian12-vm")
    monkeypatch.setattr(std_platform, "machine", lambda: "x86_64")
    section = _collect(linux_os, monkeypatch)

    assert section.version == OsVersion(
        family="linux",
        name="Debian GNU/Linux 12 (bookworm)",
        id="debian",
        version="12",
        display_version="bookworm",
    )
    assert section.kernel == "6.18.44-fc-v857"
    assert section.architecture == "x86_64"
    assert section.timezone == "Etc/UTC"
    assert section.boot_time == BOOT.replace(microsecond=0)
    # /etc/default/locale was written by update-locale with no LANG: unknown, not "C".
    assert section.unknown == {"locale": "no LANG in /etc/locale.conf or /etc/default/locale"}
    assert section.install_date is not None
    assert section.install_date.source == "/etc/machine-id mtime (first boot)"
    assert section.users == [
        LoggedInUser(
            name="admin",
            terminal="pts/0",
            host="10.20.1.5",
            since=datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
        ),
        LoggedInUser(
            name="an.nv", terminal="tty2", since=datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC)
        ),
    ]
    assert section.support is not None
    assert (section.support.supported, section.support.eol_date) == (True, date(2028, 6, 30))
    assert section.support.matched is not None
    assert (section.support.matched.product, section.support.matched.release) == ("debian", "12")
    assert section.support.evaluated_on == TODAY


@pytest.mark.usefixtures("fake_psutil")
def test_ubuntu_vietnamese_desktop(
    linux_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_host("os/ubuntu2404-vi")
    mtimes = {
        "/var/log/installer/syslog": datetime(2024, 9, 12, 2, 14, 7, tzinfo=UTC),
        "/etc/machine-id": datetime(2024, 9, 12, 2, 30, tzinfo=UTC),
    }
    monkeypatch.setattr(linux_os, "_mtime", mtimes.get)
    section = _collect(linux_os, monkeypatch)

    assert section.version is not None and section.version.name == "Ubuntu 24.04.1 LTS"
    # The symlink wins over /etc/timezone; its target is relative on Ubuntu.
    assert section.timezone == "Asia/Ho_Chi_Minh"
    assert section.locale == Locale(locale="vi_VN.UTF-8", ui_languages=["vi", "en"])
    assert section.install_date == InstallDate(
        installed_at=datetime(2024, 9, 12, 2, 14, 7, tzinfo=UTC),
        source="/var/log/installer/syslog mtime",
    )
    assert section.support is not None and section.support.supported is True
    assert section.support.eol_date == date(2029, 4, 30)


@pytest.mark.usefixtures("fake_psutil")
def test_ubuntu_1804_is_unsupported(
    linux_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_host("os/ubuntu1804")
    monkeypatch.setattr(linux_os, "_mtime", lambda _path: None)
    section = _collect(linux_os, monkeypatch)

    assert section.support is not None
    assert (section.support.supported, section.support.eol_date) == (False, date(2023, 5, 31))
    assert section.timezone == "Asia/Ho_Chi_Minh"  # no /etc/localtime link: /etc/timezone
    assert section.locale is not None and section.locale.ui_languages == ["en-US"]
    assert section.unknown["install_date"] == (
        "no installer log, root birth time or /etc/machine-id to date it"
    )


@pytest.mark.usefixtures("fake_psutil")
def test_distribution_not_in_the_table(
    linux_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_host("os/fedora-usr-lib")
    section = _collect(linux_os, monkeypatch)

    assert section.version is not None
    assert (section.version.id, section.version.version, section.version.edition) == (
        "fedora",
        "40",
        "workstation",
    )
    assert section.version.display_version is None  # VERSION_CODENAME=""
    assert section.support is not None
    assert section.support.supported is None
    assert section.support.reason == "not in the end-of-life table"
    assert section.locale is not None and section.locale.locale == "vi_VN.UTF-8"
    assert section.unknown["timezone"] == (
        "/etc/localtime is not a zoneinfo link and /etc/timezone is missing"
    )


@pytest.mark.usefixtures("fake_psutil")
def test_psutil_failure_is_unknown(
    linux_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_host("os/debian12-vm")

    def broken() -> list[Any]:
        raise PermissionError(13, "Permission denied", "/var/run/utmp")

    monkeypatch.setattr(psutil, "users", broken)
    section = _collect(linux_os, monkeypatch)
    assert section.users is None
    assert section.unknown["users"].startswith("cannot list user sessions:")


# --- Windows ---


@pytest.mark.usefixtures("fake_psutil")
def test_windows_11_vietnamese(
    windows_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_host("os/win11-25h2-vi")
    section = _collect(win_os, monkeypatch)

    assert section.unknown == {}
    # The registry's ProductName says "Windows 10 Pro" on Windows 11: the build decides.
    assert section.version == OsVersion(
        family="windows",
        name="Microsoft Windows 11 Pro",
        id="windows-11",
        version="10.0.26200",
        display_version="25H2",
        build="26200.7171",
        edition="Professional",
    )
    assert section.kernel == "10.0.26200.7171"
    assert section.architecture == "AMD64"
    assert section.timezone == "SE Asia Standard Time"
    # The system locale, not the SYSTEM account's culture; service hives are not users.
    assert section.locale == Locale(
        locale="vi-VN",
        ui_languages=["vi-VN"],
        os_language="vi-VN",
        user_locales={"S-1-5-21-3623811015-3361044348-30300820-1001": "vi-VN"},
    )
    assert section.install_date == InstallDate(
        installed_at=datetime(2025, 12, 2, 2, 41, 27, tzinfo=UTC),
        source="Win32_OperatingSystem.InstallDate",
    )
    assert section.support is not None
    assert (section.support.supported, section.support.eol_date) == (True, date(2027, 10, 12))
    assert section.support.matched is not None
    assert section.support.matched.editions == ["home_pro"]


@pytest.mark.parametrize(
    ("today", "supported"),
    [
        pytest.param(date(2025, 10, 14), True, id="last day of updates"),
        pytest.param(date(2025, 10, 15), False, id="day after end of support"),
        pytest.param(TODAY, False, id="today"),
    ],
)
@pytest.mark.usefixtures("fake_psutil")
def test_windows_10_22h2_end_of_support(
    windows_host: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
    today: date,
    supported: bool,
) -> None:
    windows_host("os/win10-22h2-vi")
    section = _collect(win_os, monkeypatch, today)

    assert section.version is not None and section.version.id == "windows-10"
    assert section.version.build == "19045.6456"
    assert section.locale is not None and section.locale.ui_languages == ["vi-VN", "en-US"]
    assert section.locale.locale == "vi-VN"
    # The denied hive (…-1003) is skipped; the others survive.
    assert section.locale.user_locales == {
        "S-1-5-21-3623811015-3361044348-30300820-1001": "vi-VN",
        "S-1-5-21-3623811015-3361044348-30300820-1002": "en-US",
    }
    assert section.support is not None
    assert (section.support.supported, section.support.eol_date) == (supported, date(2025, 10, 14))
    assert section.support.matched is not None
    assert "ESU" in (section.support.matched.note or "")


@pytest.mark.usefixtures("fake_psutil")
def test_windows_access_denied(
    windows_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_host("os/win-denied")
    section = _collect(win_os, monkeypatch)

    denied = (
        "access denied to HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion (run as SYSTEM)"
    )
    assert section.unknown == {
        "version": denied,
        "kernel": denied,
        "architecture": "PROCESSOR_ARCHITECTURE is not set in the system environment",
        "install_date": denied,
        "timezone": "timezone: Quyền truy cập bị từ chối. ",
        "locale": "os: Quyền truy cập bị từ chối. ",
        "support": denied,
    }
    assert section.boot_time is not None and section.users is not None


@pytest.mark.usefixtures("fake_psutil")
def test_windows_system_locale_cmdlet_missing(
    windows_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows 7 has no Get-WinSystemLocale: unknown, never the user's or SYSTEM's culture."""
    windows_host("os/win7-no-intl-module")
    section = _collect(win_os, monkeypatch)

    assert section.locale == Locale(
        locale=None,
        ui_languages=["vi-VN"],
        os_language="vi-VN",
        user_locales={"S-1-5-21-1004336348-1177238915-682003330-1000": "vi-VN"},
    )
    assert section.unknown["locale.locale"].startswith(
        "system_locale: The term 'Get-WinSystemLocale' is not recognized"
    )


def test_windows_locale_script_asks_the_system_not_the_account() -> None:
    # Get-Culture answers for the account the agent runs as (SYSTEM: .DEFAULT, usually en-US).
    assert "Get-WinSystemLocale" in win_os._SCRIPT
    assert "(Get-Culture)" not in win_os._SCRIPT


def _win(build: str, edition: str | None, product: str = "windows-11") -> OsVersion:
    return OsVersion(family="windows", id=product, build=build, edition=edition)


@pytest.mark.parametrize(
    ("os", "today", "supported", "eol"),
    [
        pytest.param(
            _win("26100.2314", "Professional"),
            date(2026, 10, 13),
            True,
            date(2026, 10, 13),
            id="11 24H2 Pro last day",
        ),
        pytest.param(
            _win("26100.2314", "Professional"),
            date(2026, 10, 14),
            False,
            date(2026, 10, 13),
            id="11 24H2 Pro ended",
        ),
        pytest.param(
            _win("26100.2314", "Enterprise"),
            TODAY,
            True,
            date(2027, 10, 12),
            id="11 24H2 Enterprise",
        ),
        pytest.param(
            _win("22631.4460", "CoreSingleLanguage"),
            TODAY,
            False,
            date(2025, 11, 11),
            id="11 23H2 Home SL",
        ),
        pytest.param(
            _win("22631.4460", "Education"),
            date(2026, 11, 10),
            True,
            date(2026, 11, 10),
            id="11 23H2 Education",
        ),
        pytest.param(
            _win("19044.5131", "EnterpriseS", "windows-10"),
            TODAY,
            True,
            date(2027, 1, 12),
            id="10 LTSC 2021",
        ),
        pytest.param(
            _win("19044.5131", "Professional", "windows-10"),
            TODAY,
            False,
            date(2023, 6, 13),
            id="10 21H2 Pro",
        ),
        pytest.param(
            _win("7601.24544", "Professional", "windows-7"),
            TODAY,
            False,
            date(2020, 1, 14),
            id="Windows 7",
        ),
        pytest.param(
            _win("9600.21620", "Core", "windows-8.1"),
            TODAY,
            False,
            date(2023, 1, 10),
            id="Windows 8.1",
        ),
        pytest.param(
            OsVersion(family="linux", id="debian", version="11"),
            TODAY,
            False,
            date(2026, 8, 31),
            id="Debian 11 after LTS",
        ),
        pytest.param(
            OsVersion(family="linux", id="rhel", version="9.4"),
            TODAY,
            True,
            date(2032, 5, 31),
            id="RHEL 9.4 minor",
        ),
        pytest.param(
            OsVersion(family="linux", id="almalinux", version="8.10"),
            TODAY,
            True,
            date(2029, 3, 1),
            id="Alma 8.10",
        ),
        pytest.param(
            OsVersion(family="linux", id="rocky", version="8.9"),
            TODAY,
            True,
            date(2029, 5, 31),
            id="Rocky 8.9",
        ),
        pytest.param(
            OsVersion(family="linux", id="ubuntu", version="20.04"),
            TODAY,
            False,
            date(2025, 5, 31),
            id="Ubuntu 20.04",
        ),
        pytest.param(
            OsVersion(family="linux", id="ubuntu", version="22.04"),
            TODAY,
            True,
            date(2027, 5, 31),
            id="Ubuntu 22.04",
        ),
        pytest.param(
            OsVersion(family="linux", id="debian", version="13"),
            TODAY,
            True,
            date(2030, 6, 30),
            id="Debian 13",
        ),
    ],
)
def test_end_of_life_table(os: OsVersion, today: date, supported: bool, eol: date) -> None:
    result = _inventory.support(os, today)
    assert (result.supported, result.eol_date, result.evaluated_on) == (supported, eol, today)
    assert result.matched is not None and result.matched.source.startswith("https://")


@pytest.mark.parametrize(
    ("os", "reason"),
    [
        pytest.param(
            _win("26100.1", None), "not in the end-of-life table (edition unknown)", id="no edition"
        ),
        pytest.param(
            _win("20348.1", "ServerStandard", "windows-server"),
            "not in the end-of-life table",
            id="Windows Server",
        ),
        pytest.param(
            OsVersion(family="linux", id="ubuntu", version="23.10"),
            "not in the end-of-life table",
            id="Ubuntu interim",
        ),
        pytest.param(OsVersion(family="linux"), "not in the end-of-life table", id="nothing known"),
    ],
)
def test_not_in_the_table(os: OsVersion, reason: str) -> None:
    result = _inventory.support(os, TODAY)
    assert (result.supported, result.eol_date, result.matched, result.reason) == (
        None,
        None,
        None,
        reason,
    )


def test_every_windows_end_date_is_a_patch_tuesday() -> None:
    for row in _inventory.eol_table():
        if row.product.startswith("windows"):
            assert row.eol.weekday() == 1, f"{row.product} {row.release}: {row.eol} is no Tuesday"
            assert 8 <= row.eol.day <= 14, f"{row.product} {row.release}: not the second Tuesday"


def test_fixture_readmes_exist() -> None:
    for area in ("linux/os", "windows/os"):
        for case in (FIXTURES / area).iterdir():
            assert (case / "README.md").is_file(), f"{case} has no README.md"


@pytest.mark.parametrize(
    ("case", "today", "lines"),
    [
        pytest.param(
            "os/win10-22h2-vi",
            TODAY,
            [
                ("OS", "Microsoft Windows 10 Pro (build 19045.6456)"),
                ("OS supported", "NO, ended 2025-10-14"),
            ],
            id="Windows 10 after end of support",
        ),
        pytest.param(
            "os/win11-25h2-vi",
            TODAY,
            [
                ("OS", "Microsoft Windows 11 Pro (build 26200.7171)"),
                ("OS supported", "yes, until 2027-10-12"),
            ],
            id="Windows 11 25H2",
        ),
        pytest.param(
            "os/win-denied",
            TODAY,
            [
                ("OS", "unknown"),
                (
                    "OS supported",
                    "unknown: access denied to HKLM\\SOFTWARE\\Microsoft\\Windows NT\\"
                    "CurrentVersion (run as SYSTEM)",
                ),
            ],
            id="nothing readable",
        ),
    ],
)
@pytest.mark.usefixtures("fake_psutil")
def test_summary_lines(
    windows_host: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    today: date,
    lines: list[tuple[str, str]],
) -> None:
    windows_host(case)
    section = _collect(win_os, monkeypatch, today)
    assert OsCollector(AgentConfig()).summary(section) == lines


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("ID=debian", {"ID": "debian"}, id="unquoted"),
        pytest.param('NAME="Ubuntu"', {"NAME": "Ubuntu"}, id="double quotes"),
        pytest.param("NAME='Fedora Linux'", {"NAME": "Fedora Linux"}, id="single quotes"),
        pytest.param('X="a \\"b\\" c"', {"X": 'a "b" c'}, id="escaped double quote"),
        pytest.param('X="C:\\\\dir"', {"X": "C:\\dir"}, id="escaped backslash"),
        pytest.param('X="cost \\$5"', {"X": "cost $5"}, id="escaped dollar"),
        pytest.param('X="run \\`id\\`"', {"X": "run `id`"}, id="escaped backtick"),
        pytest.param('X="keep \\n and \\a"', {"X": "keep \\n and \\a"}, id="other backslash kept"),
        pytest.param(
            "X='it\\s \\\\ \\$ literal'", {"X": "it\\s \\\\ \\$ literal"}, id="single literal"
        ),
        pytest.param("X=Debian\\ GNU", {"X": "Debian GNU"}, id="unquoted escape"),
        pytest.param('X=""', {"X": ""}, id="empty"),
        pytest.param('X="Hệ điều hành Việt"', {"X": "Hệ điều hành Việt"}, id="utf-8"),
        pytest.param('X="unterminated', {}, id="unterminated double is skipped"),
        pytest.param("X='unterminated", {}, id="unterminated single is skipped"),
        pytest.param('X="', {}, id="lone quote is skipped"),
        pytest.param("X=trailing\\", {"X": "trailing"}, id="trailing backslash"),
        pytest.param("no equals sign", {}, id="no equals"),
        pytest.param("=value", {}, id="no key"),
        pytest.param("# NAME=comment", {}, id="comment"),
    ],
)
def test_os_release_unquoting(line: str, expected: dict[str, str]) -> None:
    assert linux_os._env_file(f"{line}\nID=ok\n") == {**expected, "ID": "ok"}
