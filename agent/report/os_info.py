"""Operating system: name, version, kernel, dates, locale, users, vendor support.

``support`` is what ATTT-06 ("OS still supported by its vendor") is evaluated on: it is decided
against the shipped end-of-life table ``agent/data/os_eol.yaml`` and names the row it matched,
so an auditor can check the date and its source.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from agent.report._base import Meta, Record, Section


class LoggedInUser(Record, kw_only=True):
    """A user session open at collection time."""

    name: Annotated[str, Meta(description="User name (DOMAIN\\user is shown as user).")]
    terminal: Annotated[str | None, Meta(description="Terminal or session (tty2, pts/0).")] = None
    host: Annotated[str | None, Meta(description="Remote host of the session, if remote.")] = None
    since: Annotated[datetime | None, Meta(description="When the session started, UTC.")] = None


class EolEntry(Record, kw_only=True):
    """The row of the end-of-life table an OS matched."""

    product: Annotated[
        str, Meta(description="Product key: windows-10, windows-11, debian, ubuntu, rhel, ...")
    ]
    release: Annotated[str, Meta(description="Release in the table (22H2, 12, 24.04).")]
    editions: Annotated[
        list[str],
        Meta(
            description="Edition class the row applies to (home_pro, enterprise, ltsc); empty: all."
        ),
    ] = []
    eol: Annotated[date, Meta(description="Last day of vendor security updates.")]
    source: Annotated[str, Meta(description="Where the date comes from (vendor lifecycle page).")]
    note: Annotated[
        str | None, Meta(description="Caveat: paid extended support (ESU, ELTS), precision.")
    ] = None


class OsSupport(Record, kw_only=True):
    """Whether the vendor still ships security updates (ATTT-06)."""

    supported: Annotated[
        bool | None,
        Meta(description="True before the end-of-life date; None when the OS is not in the table."),
    ] = None
    eol_date: Annotated[date | None, Meta(description="End of security updates.")] = None
    evaluated_on: Annotated[date, Meta(description="The date the decision was made for.")]
    matched: Annotated[
        EolEntry | None, Meta(description="The end-of-life table row that matched.")
    ] = None
    reason: Annotated[
        str | None, Meta(description="Why support could not be decided, when supported is None.")
    ] = None


class OsVersion(Record, kw_only=True):
    """Name and version of the OS."""

    family: Annotated[Literal["linux", "windows"], Meta(description="OS family.")]
    name: Annotated[
        str | None,
        Meta(description="Display name: PRETTY_NAME (Linux), Win32_OperatingSystem.Caption."),
    ] = None
    id: Annotated[
        str | None, Meta(description="Distribution id (debian, ubuntu) or windows-10/windows-11.")
    ] = None
    version: Annotated[
        str | None, Meta(description="VERSION_ID (12, 24.04) or Windows version (10.0.22631).")
    ] = None
    display_version: Annotated[
        str | None,
        Meta(description="Windows feature release (22H2, 23H2); Linux VERSION_CODENAME."),
    ] = None
    build: Annotated[
        str | None, Meta(description="Windows build with update revision (22631.4460).")
    ] = None
    edition: Annotated[
        str | None,
        Meta(description="Windows EditionID (Professional, Enterprise, Core); Linux VARIANT_ID."),
    ] = None


class InstallDate(Record, kw_only=True):
    """When the OS was installed, with the evidence used."""

    installed_at: Annotated[datetime, Meta(description="Install time, UTC.")]
    source: Annotated[
        str,
        Meta(
            description=(
                "Evidence: Win32_OperatingSystem.InstallDate, root filesystem birth time, "
                "/var/log/installer/syslog mtime, /etc/machine-id mtime (a lower bound)."
            )
        ),
    ]


class Locale(Record, kw_only=True):
    """System locale and display languages."""

    locale: Annotated[
        str | None, Meta(description="System locale: LANG (vi_VN.UTF-8) or culture name (vi-VN).")
    ] = None
    ui_languages: Annotated[
        list[str], Meta(description="Installed display languages, BCP 47 (vi-VN, en-US).")
    ] = []
    os_language: Annotated[
        str | None, Meta(description="Language the OS was installed in (Windows OSLanguage).")
    ] = None
    user_locales: Annotated[
        dict[str, str] | None,
        Meta(
            description=(
                "Windows: regional format (LocaleName) of each loaded user profile, keyed by SID;"
                " None where not looked at."
            )
        ),
    ] = None


class OperatingSystem(Section, kw_only=True):
    """Operating system: name, version, kernel, dates, locale, users, vendor support."""

    version: Annotated[OsVersion | None, Meta(description="Name and version.")] = None
    kernel: Annotated[
        str | None, Meta(description="Kernel release (Linux) or NT version with UBR (Windows).")
    ] = None
    architecture: Annotated[
        str | None, Meta(description="Machine architecture: x86_64, aarch64, AMD64, ARM64.")
    ] = None
    install_date: Annotated[
        InstallDate | None, Meta(description="Installation date and its evidence.")
    ] = None
    boot_time: Annotated[datetime | None, Meta(description="Last boot, UTC.")] = None
    timezone: Annotated[
        str | None, Meta(description="Time zone: IANA name (Asia/Ho_Chi_Minh) or Windows id.")
    ] = None
    locale: Annotated[Locale | None, Meta(description="Locale and display languages.")] = None
    users: Annotated[
        list[LoggedInUser] | None, Meta(description="Open user sessions; empty means none.")
    ] = None
    support: Annotated[OsSupport | None, Meta(description="Vendor support status (ATTT-06).")] = (
        None
    )
