"""Inventory helpers shared by the Linux and Windows hardware/os modules.

SMBIOS code tables (both OSes report the same DSP0134 codes), the vendor placeholder strings
that mean "no value", the psutil facts that work identically on both OSes, and the end-of-life
table lookup. Nothing here reads OS-specific files or runs commands.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import psutil

from agent import data
from agent.errors import FactUnavailable
from agent.report.hardware import FormFactor, Partition
from agent.report.os_info import EolEntry, LoggedInUser, OsSupport, OsVersion

log = logging.getLogger(__name__)

# Strings firmware vendors leave in unset SMBIOS fields; they are no value, not a value.
_PLACEHOLDERS = frozenset(
    {
        "",
        "to be filled by o.e.m.",
        "to be filled by o.e.m",
        "default string",
        "system serial number",
        "system product name",
        "system manufacturer",
        "base board serial number",
        "not specified",
        "not applicable",
        "none",
        "n/a",
        "0",
        "00000000",
        "0123456789",
        "unknown",
        "oem",
        "o.e.m.",
        "chassis serial number",
    }
)


def clean(value: Any) -> str | None:
    """A firmware/CIM string stripped, ``None`` for empty values and vendor placeholders."""
    if value is None:
        return None
    text = str(value).strip().strip("\x00").strip()
    return None if text.lower() in _PLACEHOLDERS else text


# SMBIOS chassis types, DSP0134 3.x section 7.4.1 (Win32_SystemEnclosure.ChassisTypes uses the
# same codes). 1 "Other" and 2 "Unknown" tell nothing.
_CHASSIS: dict[int, FormFactor] = {
    **dict.fromkeys((3, 4, 5, 6, 7, 15, 16, 24, 34, 35, 36), "desktop"),
    **dict.fromkeys((8, 9, 10, 14, 31, 32), "laptop"),
    **dict.fromkeys((11, 30), "tablet"),
    13: "all_in_one",
    **dict.fromkeys((17, 23, 25, 28, 29), "server"),
    **dict.fromkeys((12, 18, 19, 20, 21, 22, 26, 27, 33), "other"),
}

# Vendor/product strings of hypervisors' virtual firmware (QEMU/KVM, VMware, VirtualBox,
# Hyper-V "Microsoft Corporation / Virtual Machine", Xen, Parallels, Bochs).
_VM_MARKERS = (
    "qemu",
    "kvm",
    "vmware",
    "virtualbox",
    "innotek",
    "virtual machine",
    "xen",
    "parallels",
    "bochs",
    "bhyve",
    "openstack",
)


def is_virtual(*strings: str | None) -> bool:
    """Whether firmware vendor/model strings are those of a virtual machine."""
    text = " ".join(s for s in strings if s).lower()
    return any(marker in text for marker in _VM_MARKERS)


def form_factor_from_chassis(chassis: int | None) -> FormFactor:
    """Map an SMBIOS chassis type to a form factor, or raise when it tells nothing."""
    if chassis is None:
        raise FactUnavailable("the firmware reports no chassis type")
    kind = _CHASSIS.get(chassis)
    if kind is None:
        raise FactUnavailable(f"the firmware reports chassis type {chassis} (other/unknown)")
    return kind


# SMBIOS memory device types, DSP0134 section 7.18.2 (Win32_PhysicalMemory.SMBIOSMemoryType).
MEMORY_TYPES: dict[int, str] = {
    0x03: "DRAM",
    0x04: "EDRAM",
    0x05: "VRAM",
    0x06: "SRAM",
    0x07: "RAM",
    0x08: "ROM",
    0x09: "FLASH",
    0x0F: "SDRAM",
    0x11: "RDRAM",
    0x12: "DDR",
    0x13: "DDR2",
    0x14: "DDR2 FB-DIMM",
    0x18: "DDR3",
    0x19: "FBD2",
    0x1A: "DDR4",
    0x1B: "LPDDR",
    0x1C: "LPDDR2",
    0x1D: "LPDDR3",
    0x1E: "LPDDR4",
    0x1F: "Logical non-volatile device",
    0x20: "HBM",
    0x21: "HBM2",
    0x22: "DDR5",
    0x23: "LPDDR5",
    0x24: "HBM3",
}


def diagonal_inches(width_cm: int | None, height_cm: int | None) -> float | None:
    """Screen diagonal from the image size, one decimal."""
    if not width_cm or not height_cm:
        return None
    return round(float((width_cm**2 + height_cm**2) ** 0.5) / 2.54, 1)


def health_percent(design: int | None, full: int | None) -> float | None:
    """Battery health: full-charge capacity against design capacity."""
    if not design or full is None:
        return None
    return round(full * 100 / design, 1)


# --- psutil facts, identical on Linux and Windows ---


def boot_time() -> datetime:
    """Last boot, UTC (psutil.boot_time)."""
    try:
        return datetime.fromtimestamp(psutil.boot_time(), tz=UTC).replace(microsecond=0)
    except (OSError, psutil.Error) as exc:
        raise FactUnavailable(f"cannot read the boot time: {exc}") from exc


def logged_in_users() -> list[LoggedInUser]:
    """Open user sessions (psutil.users: utmp on Linux, WTS sessions on Windows)."""
    try:
        sessions = psutil.users()
    except (OSError, psutil.Error) as exc:
        raise FactUnavailable(f"cannot list user sessions: {exc}") from exc
    out = []
    for s in sessions:
        since = datetime.fromtimestamp(s.started, tz=UTC).replace(microsecond=0)
        out.append(
            LoggedInUser(name=s.name, terminal=s.terminal or None, host=s.host or None, since=since)
        )
    return sorted(out, key=lambda u: (u.name, u.terminal or ""))


def partitions(skip_fstypes: frozenset[str] = frozenset()) -> list[Partition]:
    """Mounted local filesystems with usage (psutil.disk_partitions(all=False) + disk_usage).

    A filesystem whose usage cannot be read (a stale network share, a CD tray with no disc) keeps
    its entry with the usage fields unknown instead of failing the whole list.
    """
    try:
        parts = psutil.disk_partitions(all=False)
    except (OSError, psutil.Error) as exc:
        raise FactUnavailable(f"cannot list mounted filesystems: {exc}") from exc
    out: list[Partition] = []
    seen: set[str] = set()
    for p in parts:
        # One entry per filesystem: bind mounts and btrfs subvolumes repeat the same device with
        # the same usage, and only the first (outermost) mount point is listed.
        if p.fstype in skip_fstypes or p.device in seen:
            continue
        seen.add(p.device)
        entry = Partition(device=p.device, mountpoint=p.mountpoint, filesystem=p.fstype or None)
        try:
            usage = psutil.disk_usage(p.mountpoint)
        except (OSError, psutil.Error) as exc:
            log.debug("no usage for %s: %s", p.mountpoint, exc)
        else:
            entry.size_bytes = usage.total
            entry.used_bytes = usage.used
            entry.free_bytes = usage.free
            entry.used_percent = round(usage.percent, 1)
        out.append(entry)
    return out


# --- End-of-life table (agent/data/os_eol.yaml) ---


class _EolMatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    builds: list[int] = []
    version_id: str | None = None


class _EolRow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    product: str
    release: str
    match: _EolMatch
    editions: list[str] = []
    eol: date
    source: str
    note: str | None = None


def eol_table() -> list[_EolRow]:
    """The shipped end-of-life table, validated."""
    return msgspec.convert(data.load("os_eol"), type=list[_EolRow])


# Windows EditionID values grouped by lifecycle policy: Home/Pro (including Pro Education and
# Pro for Workstations, which follow the Home and Pro lifecycle page), Enterprise/Education,
# and LTSC ("S" editions). https://learn.microsoft.com/en-us/lifecycle/faq/windows
_LTSC_EDITIONS = frozenset({"enterprises", "enterprisesn", "iotenterprises", "iotenterprisesk"})
_ENTERPRISE_EDITIONS = frozenset(
    {
        "enterprise",
        "enterprisen",
        "enterpriseg",
        "enterprisegn",
        "education",
        "educationn",
        "iotenterprise",
        "serverrdsh",
    }
)


def edition_class(edition: str | None) -> str | None:
    """home_pro, enterprise or ltsc for a Windows EditionID; None when unknown."""
    if not edition:
        return None
    key = edition.lower()
    if key in _LTSC_EDITIONS:
        return "ltsc"
    if key in _ENTERPRISE_EDITIONS:
        return "enterprise"
    if key.startswith(("core", "professional")):
        return "home_pro"
    return None


def _matches(row: _EolRow, os: OsVersion) -> bool:
    if row.product != os.id:
        return False
    if row.match.builds:
        build = (os.build or "").split(".")[0]
        if not build.isdigit() or int(build) not in row.match.builds:
            return False
    if row.match.version_id is not None:
        vid = os.version or ""
        if vid != row.match.version_id and not vid.startswith(row.match.version_id + "."):
            return False
    return not row.editions or edition_class(os.edition) in row.editions


def support(os: OsVersion, today: date) -> OsSupport:
    """Decide vendor support for ``os`` on ``today`` from the end-of-life table.

    An OS not in the table is not guessed: ``supported`` stays None with the reason.
    """
    rows = [row for row in eol_table() if _matches(row, os)]
    if not rows:
        reason = "not in the end-of-life table"
        if os.id in ("windows-10", "windows-11") and edition_class(os.edition) is None:
            reason += f" (edition {os.edition or 'unknown'})"
        return OsSupport(supported=None, evaluated_on=today, reason=reason)
    row = rows[0]
    entry = EolEntry(
        product=row.product,
        release=row.release,
        editions=row.editions,
        eol=row.eol,
        source=row.source,
        note=row.note,
    )
    return OsSupport(
        supported=today <= row.eol, eol_date=row.eol, evaluated_on=today, matched=entry
    )
