"""Installed packages, services, autostart entries and Vietnamese text support (CQĐT-07).

The package list is the biggest part of a report, so its records carry only what the policies
use (name, version, publisher, install date, a foreign architecture) and omit every default:
a Debian desktop's ~2,000 packages must fit in a few tens of kilobytes gzipped.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from agent.report._base import Meta, Record, Section

#: Where the package list comes from.
PackageManager = Literal["dpkg", "rpm", "windows"]
#: How a service starts (Windows StartMode names; Linux mapped onto them).
StartMode = Literal["boot", "system", "auto", "manual", "disabled"]


class Package(Record, kw_only=True):
    """One installed package or program."""

    name: Annotated[
        str, Meta(description="Package name (dpkg/rpm) or DisplayName (Windows uninstall key).")
    ]
    version: Annotated[
        str | None, Meta(description="Version (dpkg Version, rpm [E:]V-R, DisplayVersion).")
    ] = None
    publisher: Annotated[
        str | None, Meta(description="Publisher (Windows) or vendor (rpm); absent for dpkg.")
    ] = None
    installed_on: Annotated[
        date | None,
        Meta(description="Install date (Windows InstallDate yyyymmdd, rpm INSTALLTIME)."),
    ] = None
    arch: Annotated[
        str | None,
        Meta(
            description=(
                "Architecture, only when it differs from the system's own (i386 on amd64, "
                "x86 programs in the 32-bit registry view on 64-bit Windows)."
            )
        ),
    ] = None
    user: Annotated[
        str | None,
        Meta(description="SID of the user it is installed for (per-user Windows installs)."),
    ] = None


class Service(Record, kw_only=True):
    """A system service (systemd service unit, Windows service)."""

    name: Annotated[str, Meta(description="Unit name (ssh.service) or Windows service name.")]
    display_name: Annotated[
        str | None, Meta(description="Windows DisplayName, when it differs from the name.")
    ] = None
    running: Annotated[
        bool | None,
        Meta(
            description=(
                "The service has running processes (systemd cgroup populated, Windows State "
                "Running); null when it could not be determined."
            )
        ),
    ] = None
    start_mode: Annotated[
        StartMode | None,
        Meta(
            description=(
                "Windows StartMode; on Linux auto = enabled (wanted by a target), disabled = "
                "masked, manual = neither (started on demand or as a dependency)."
            )
        ),
    ] = None
    path: Annotated[str | None, Meta(description="Windows PathName (command line).")] = None
    account: Annotated[
        str | None, Meta(description="Account the service runs as (Windows StartName).")
    ] = None


class AutostartEntry(Record, kw_only=True):
    """A program started automatically at boot or logon."""

    name: Annotated[str, Meta(description="Entry name (Run value, .desktop file, unit name).")]
    command: Annotated[
        str | None, Meta(description="Command line, or the Exec= line of a .desktop file.")
    ] = None
    kind: Annotated[
        Literal[
            "run_key", "run_once_key", "startup_folder", "startup_command", "xdg", "systemd", "cron"
        ],
        Meta(
            description=(
                "Mechanism: Run/RunOnce registry key, Startup folder, Win32_StartupCommand, "
                "XDG autostart .desktop, enabled systemd unit, cron @reboot line."
            )
        ),
    ]
    location: Annotated[
        str | None, Meta(description="Registry key, folder or file the entry was read from.")
    ] = None
    user: Annotated[
        str | None,
        Meta(description="User (name or SID) it applies to; absent means every user."),
    ] = None


class InputMethod(Record, kw_only=True):
    """A Vietnamese input method (bộ gõ tiếng Việt)."""

    name: Annotated[str, Meta(description="UniKey, EVKey, OpenKey, ibus-bamboo, ...")]
    installed: Annotated[bool, Meta(description="Found among installed programs or packages.")] = (
        False
    )
    running: Annotated[
        bool | None,
        Meta(description="A process of it is running; null when processes were not checked."),
    ] = None
    detail: Annotated[
        str | None, Meta(description="Package or program name and version that matched.")
    ] = None


class VietnameseText(Record, kw_only=True):
    """Unicode Vietnamese text support (TCVN 6909:2001) for official documents (CQĐT-07)."""

    times_new_roman: Annotated[
        bool, Meta(description="Times New Roman is installed (required for official documents).")
    ] = False
    unicode_fonts: Annotated[
        list[str],
        Meta(description="Notable Unicode fonts with Vietnamese glyphs found (font families)."),
    ] = []
    legacy_fonts: Annotated[
        list[str],
        Meta(description="Legacy TCVN3 (.VnTime) and VNI (VNI-Times) fonts found."),
    ] = []
    input_methods: Annotated[
        list[InputMethod], Meta(description="Vietnamese input methods installed or running.")
    ] = []
    vietnamese_keyboard: Annotated[
        bool | None,
        Meta(
            description=(
                "The OS Vietnamese keyboard layout is configured (Windows 0000042A in a "
                "user's Keyboard Layout\\Preload; Linux XKBLAYOUT vn); null if not determined."
            )
        ),
    ] = None


class Software(Section, kw_only=True):
    """Installed packages, services, autostart entries and Vietnamese text support."""

    package_manager: Annotated[
        PackageManager | None,
        Meta(description="Where the package list comes from."),
    ] = None
    packages: Annotated[
        list[Package] | None, Meta(description="Installed packages or programs, sorted by name.")
    ] = None
    services: Annotated[list[Service] | None, Meta(description="System services.")] = None
    autostart: Annotated[
        list[AutostartEntry] | None,
        Meta(description="Programs started automatically at boot or logon."),
    ] = None
    vietnamese_text: Annotated[
        VietnameseText | None, Meta(description="Vietnamese fonts and input methods (CQĐT-07).")
    ] = None
