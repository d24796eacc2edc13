"""Windows operating-system facts: Win32_OperatingSystem, cmdlets' objects and the registry.

Caption is shown but never parsed: the product (Windows 10 or 11) is decided from the build
number, because the registry's ProductName still says "Windows 10" on Windows 11
(https://learn.microsoft.com/en-us/answers/questions/555857/windows-11-product-name-in-registry).
"""

from __future__ import annotations

import contextlib
import locale as _locale
from datetime import UTC, date, datetime
from typing import Any

from agent.errors import FactUnavailable, note_unknown
from agent.platform import _inventory
from agent.platform._windows import _ps, _registry, _winshared
from agent.report.os_info import InstallDate, Locale, LoggedInUser, OsSupport, OsVersion

_SCRIPT = r"""
$r = @{}
try {
  $o = Get-CimInstance Win32_OperatingSystem
  $r.os = @{ Caption = $o.Caption; Version = $o.Version; BuildNumber = $o.BuildNumber;
             ProductType = $o.ProductType; InstallDate = $o.InstallDate;
             OSLanguage = $o.OSLanguage; MUILanguages = @($o.MUILanguages) }
} catch { $r.os = @{ error = $_.Exception.Message } }
try { $r.timezone = (Get-TimeZone).Id } catch { $r.timezone = @{ error = $_.Exception.Message } }
# Get-WinSystemLocale, not Get-Culture: the agent runs as SYSTEM, whose culture is the .DEFAULT
# profile's (usually en-US), not the PC's. Windows 8 and later (International module).
# https://learn.microsoft.com/en-us/powershell/module/international/get-winsystemlocale
try { $r.system_locale = (Get-WinSystemLocale).Name } catch {
  $r.system_locale = @{ error = $_.Exception.Message } }
$r
"""

_CURRENT_VERSION = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"


def _os() -> dict[str, Any]:
    row = _ps.section("os", _SCRIPT, "os")
    if not isinstance(row, dict):
        raise FactUnavailable("Win32_OperatingSystem returned nothing")
    return row


def _product(build: int | None, product_type: int | None) -> str | None:
    # ProductType 1 = workstation; 2 (domain controller) and 3 (server) share the client builds.
    # https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-operatingsystem
    if build is None or product_type not in (None, 1):
        return "windows-server" if build is not None else None
    if build >= 22000:
        return "windows-11"
    if build >= 10240:
        return "windows-10"
    if build == 9600:
        return "windows-8.1"
    if build in (7600, 7601):
        return "windows-7"
    return None


def _digits(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def version() -> OsVersion:
    """Caption, version, feature release, build.UBR and edition."""
    reg = _registry.values(_CURRENT_VERSION)
    try:
        cim: dict[str, Any] = _os()
    except FactUnavailable:
        if not reg:
            raise
        cim = {}
    build = _digits(cim.get("BuildNumber")) or _digits(reg.get("CurrentBuild"))
    ubr = reg.get("UBR")
    return OsVersion(
        family="windows",
        name=cim.get("Caption") or reg.get("ProductName"),
        id=_product(build, _digits(cim.get("ProductType"))),
        version=cim.get("Version") or None,
        # DisplayVersion exists from 20H2; older Windows 10 releases only have ReleaseId (2004).
        display_version=reg.get("DisplayVersion") or reg.get("ReleaseId"),
        build=(f"{build}.{ubr}" if ubr is not None else str(build)) if build else None,
        edition=reg.get("EditionID"),
    )


def kernel() -> str:
    """NT version with the update build revision (10.0.22631.4460)."""
    reg = _registry.values(_CURRENT_VERSION)
    major, minor = reg.get("CurrentMajorVersionNumber"), reg.get("CurrentMinorVersionNumber")
    build, ubr = reg.get("CurrentBuild"), reg.get("UBR")
    if major is None or build is None:
        raise FactUnavailable(f"{_CURRENT_VERSION} has no CurrentMajorVersionNumber/CurrentBuild")
    return ".".join(str(x) for x in (major, minor or 0, build, ubr) if x is not None)


def architecture() -> str:
    """PROCESSOR_ARCHITECTURE of the system environment (AMD64, ARM64, x86)."""
    value = _registry.value(
        r"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment",
        "PROCESSOR_ARCHITECTURE",
    )
    if not value:
        raise FactUnavailable("PROCESSOR_ARCHITECTURE is not set in the system environment")
    return str(value)


def install_date() -> InstallDate:
    """Win32_OperatingSystem.InstallDate (reset by feature-update in-place upgrades)."""
    with_cim = None
    with contextlib.suppress(FactUnavailable):
        with_cim = _ps.parse_datetime(_os().get("InstallDate"))
    if with_cim is not None:
        return InstallDate(installed_at=with_cim, source="Win32_OperatingSystem.InstallDate")
    seconds = _registry.value(_CURRENT_VERSION, "InstallDate")  # REG_DWORD, Unix seconds
    if isinstance(seconds, int) and seconds > 0:
        when = datetime.fromtimestamp(seconds, tz=UTC)
        return InstallDate(installed_at=when, source=f"{_CURRENT_VERSION}\\InstallDate")
    raise FactUnavailable("neither Win32_OperatingSystem nor the registry gives an install date")


def boot_time() -> datetime:
    """Last boot, UTC."""
    return _inventory.boot_time()


def timezone() -> str:
    """Windows time zone id from Get-TimeZone (SE Asia Standard Time)."""
    value = _ps.section("os", _SCRIPT, "timezone")
    if not value:
        raise FactUnavailable("Get-TimeZone returned no Id")
    return str(value)


def _lcid_name(lcid: Any) -> str | None:
    # OSLanguage is an LCID (1066 = vi-VN, 1033 = en-US); the stdlib table maps it.
    code = _digits(lcid)
    name = _locale.windows_locale.get(code) if code else None
    return name.replace("_", "-") if name else None


def _user_locales() -> dict[str, str]:
    # HKU holds only the hives of profiles loaded now (signed-in users, services); each user's
    # regional format is Control Panel\International\LocaleName (REG_SZ, e.g. "vi-VN").
    # https://learn.microsoft.com/en-us/windows/win32/intl/locale-names
    out: dict[str, str] = {}
    for sid in _registry.subkeys("HKU"):
        if not _winshared.is_user_sid(sid):
            continue  # service accounts, .DEFAULT and the *_Classes hives are not people
        try:
            name = _registry.value(rf"HKU\{sid}\Control Panel\International", "LocaleName")
        except FactUnavailable:
            continue  # one denied hive does not hide the others
        if isinstance(name, str) and name:
            out[sid] = name
    return out


def locale() -> Locale:
    """System locale (Get-WinSystemLocale), install and display languages, users' formats."""
    system: str | None = None
    reason = "Get-WinSystemLocale returned no Name"
    try:
        system = str(_ps.section("os", _SCRIPT, "system_locale") or "") or None
    except FactUnavailable as exc:
        reason = exc.reason
    try:
        cim = _os()
    except FactUnavailable:
        if system is None:
            raise
        cim = {}
    if system is None:
        note_unknown("locale", reason)
    user_locales: dict[str, str] | None = None
    try:
        user_locales = _user_locales()
    except FactUnavailable as exc:
        note_unknown("user_locales", exc.reason)
    return Locale(
        locale=system,
        ui_languages=[str(x) for x in _ps.as_list(cim.get("MUILanguages")) if x],
        os_language=_lcid_name(cim.get("OSLanguage")),
        user_locales=user_locales,
    )


def users() -> list[LoggedInUser]:
    """Open user sessions (WTS sessions through psutil)."""
    return _inventory.logged_in_users()


def support(today: date) -> OsSupport:
    """Vendor support on ``today`` from the shipped end-of-life table (ATTT-06)."""
    return _inventory.support(version(), today)
