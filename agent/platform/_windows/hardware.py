"""Windows hardware facts from one batched CIM query (never localized command output).

Classes: Win32_ComputerSystem, Win32_BIOS, Win32_BaseBoard, Win32_SystemEnclosure,
Win32_Processor, Win32_PhysicalMemory, MSFT_PhysicalDisk (root/Microsoft/Windows/Storage) with
Win32_DiskDrive as fallback, Win32_LogicalDisk, WmiMonitorID and WmiMonitorBasicDisplayParams
(root/wmi), Win32_Battery with BatteryStaticData, BatteryFullChargedCapacity and
BatteryCycleCount (root/wmi). https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/
"""

from __future__ import annotations

import contextlib
import struct
from datetime import date
from typing import Any, Literal

from agent.errors import FactUnavailable, note_unknown
from agent.platform import _inventory
from agent.platform._inventory import clean
from agent.platform._windows import _ps, _winshared
from agent.report.hardware import (
    Battery,
    Bios,
    Board,
    Cpu,
    Disk,
    FormFactor,
    Memory,
    MemoryModule,
    Monitor,
    Partition,
    SystemInfo,
)

# Each query is wrapped so that one failing class (no Storage module on Windows 7, access
# denied to root\wmi) puts {error = ...} under its key and the rest of the batch survives.
# Select-Object keeps the JSON small: a raw CIM instance serialises its whole class schema.
_SCRIPT = r"""
$r = @{}
function Q([string]$k, [scriptblock]$b) {
  try { $r[$k] = @(& $b) } catch { $r[$k] = @{ error = $_.Exception.Message } }
}
Q cs { Get-CimInstance Win32_ComputerSystem |
  Select-Object Manufacturer, Model, SystemSKUNumber, TotalPhysicalMemory, PCSystemType }
# ReleaseDate is a calendar date: formatted here, since /Date(ms)/ would carry local midnight
# as an instant and shift the day for time zones east of UTC (Vietnam is UTC+7).
Q bios { Get-CimInstance Win32_BIOS | Select-Object Manufacturer, SMBIOSBIOSVersion, SerialNumber,
  @{ n = 'ReleaseDate'; e = { if ($_.ReleaseDate) {
       $_.ReleaseDate.ToString('yyyy-MM-dd', [Globalization.CultureInfo]::InvariantCulture) } } } }
Q board { Get-CimInstance Win32_BaseBoard | Select-Object Manufacturer, Product, SerialNumber }
Q enclosure { Get-CimInstance Win32_SystemEnclosure | Select-Object ChassisTypes }
Q cpu { Get-CimInstance Win32_Processor |
  Select-Object Name, NumberOfCores, NumberOfLogicalProcessors, MaxClockSpeed }
Q memory { Get-CimInstance Win32_PhysicalMemory |
  Select-Object DeviceLocator, Capacity, Speed, SMBIOSMemoryType, Manufacturer, SerialNumber,
                PartNumber }
Q physical_disks { Get-CimInstance -Namespace root/Microsoft/Windows/Storage MSFT_PhysicalDisk |
  Select-Object DeviceId, FriendlyName, Model, SerialNumber, Size, MediaType, BusType }
Q disk_drives { Get-CimInstance Win32_DiskDrive |
  Select-Object Index, Model, SerialNumber, Size, InterfaceType, MediaType }
Q volumes { Get-CimInstance Win32_LogicalDisk -Filter 'DriveType=3' |
  Select-Object DeviceID, FileSystem, VolumeName, Size, FreeSpace }
Q monitors { Get-CimInstance -Namespace root/wmi WmiMonitorID |
  Select-Object InstanceName, ManufacturerName, ProductCodeID, UserFriendlyName, SerialNumberID,
                YearOfManufacture }
Q monitor_sizes { Get-CimInstance -Namespace root/wmi WmiMonitorBasicDisplayParams |
  Select-Object InstanceName, MaxHorizontalImageSize, MaxVerticalImageSize }
Q batteries { Get-CimInstance Win32_Battery | Select-Object DeviceID, Name, Chemistry }
# BatteryStaticData answers Get-WmiObject but not always Get-CimInstance (powershell.one).
Q battery_static { Get-WmiObject -Namespace root\wmi BatteryStaticData |
  Select-Object InstanceName, DesignedCapacity, ManufactureName, SerialNumber, DeviceName,
                Chemistry }
Q battery_full { Get-CimInstance -Namespace root/wmi BatteryFullChargedCapacity |
  Select-Object InstanceName, FullChargedCapacity }
Q battery_cycles { Get-CimInstance -Namespace root/wmi BatteryCycleCount |
  Select-Object InstanceName, CycleCount }
$r
"""


def _rows(key: str) -> list[dict[str, Any]]:
    rows = _ps.as_list(_winshared.part("hardware", _SCRIPT, key))
    return [r for r in rows if isinstance(r, dict)]


def _one(key: str) -> dict[str, Any]:
    rows = _rows(key)
    if not rows:
        raise FactUnavailable(f"CIM returned no {key} instance")
    return rows[0]


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def system() -> SystemInfo:
    """Manufacturer, model, SKU and chassis type (the serial is :func:`system_serial`)."""
    cs = _one("cs")
    chassis = None
    try:
        types = _ps.as_list(_one("enclosure").get("ChassisTypes"))
        chassis = _int(types[0]) if types else None
    except FactUnavailable:
        pass
    return SystemInfo(
        vendor=clean(cs.get("Manufacturer")),
        model=clean(cs.get("Model")),
        sku=clean(cs.get("SystemSKUNumber")),
        chassis_type=chassis,
    )


def system_serial() -> str:
    """Serial number / service tag (Win32_BIOS.SerialNumber)."""
    value = clean(_one("bios").get("SerialNumber"))
    if value is None:
        raise FactUnavailable("the firmware reports no system serial number")
    return value


# Win32_ComputerSystem.PCSystemType, used when the enclosure says "Other"/"Unknown":
# https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-computersystem
_PC_SYSTEM_TYPES: dict[int, FormFactor] = {
    1: "desktop",
    2: "laptop",
    3: "desktop",
    4: "server",
    5: "server",
    7: "server",
}


def form_factor() -> FormFactor:
    """From Win32_SystemEnclosure.ChassisTypes, else PCSystemType; virtual_machine for VMs."""
    info = system()
    bios_vendor = None
    with contextlib.suppress(FactUnavailable):
        bios_vendor = clean(_one("bios").get("Manufacturer"))
    if _inventory.is_virtual(info.vendor, info.model, bios_vendor):
        return "virtual_machine"
    try:
        return _inventory.form_factor_from_chassis(info.chassis_type)
    except FactUnavailable:
        kind = _PC_SYSTEM_TYPES.get(_int(_one("cs").get("PCSystemType")) or 0)
        if kind is None:
            raise
        return kind


def bios() -> Bios:
    """Firmware vendor, version and release date."""
    row = _one("bios")
    try:
        released = date.fromisoformat(str(row.get("ReleaseDate") or ""))
    except ValueError:
        released = None
        note_unknown("release_date", "Win32_BIOS reports no release date")
    return Bios(
        vendor=clean(row.get("Manufacturer")),
        version=clean(row.get("SMBIOSBIOSVersion")),
        release_date=released,
    )


def board() -> Board:
    """Main board vendor and product."""
    row = _one("board")
    return Board(vendor=clean(row.get("Manufacturer")), product=clean(row.get("Product")))


def board_serial() -> str:
    """Main board serial number (Win32_BaseBoard.SerialNumber)."""
    value = clean(_one("board").get("SerialNumber"))
    if value is None:
        raise FactUnavailable("the firmware reports no board serial number")
    return value


def cpu() -> Cpu:
    """Model, sockets, cores, threads and maximum clock (summed over Win32_Processor)."""
    rows = _rows("cpu")
    if not rows:
        raise FactUnavailable("CIM returned no Win32_Processor instance")
    cores = [_int(r.get("NumberOfCores")) for r in rows]
    threads = [_int(r.get("NumberOfLogicalProcessors")) for r in rows]
    name = clean(rows[0].get("Name"))
    return Cpu(
        model=" ".join(name.split()) if name else None,
        sockets=len(rows),
        physical_cores=sum(c for c in cores if c) if all(cores) else None,
        logical_cpus=sum(t for t in threads if t) if all(threads) else None,
        max_mhz=_int(rows[0].get("MaxClockSpeed")),
    )


def memory() -> Memory:
    """Memory usable by the OS (Win32_ComputerSystem.TotalPhysicalMemory)."""
    total = _int(_one("cs").get("TotalPhysicalMemory"))
    if not total:
        raise FactUnavailable("Win32_ComputerSystem reports no TotalPhysicalMemory")
    return Memory(total_bytes=total)


def memory_modules() -> list[MemoryModule]:
    """Populated slots (Win32_PhysicalMemory; SMBIOSMemoryType uses the SMBIOS codes)."""
    return [
        MemoryModule(
            slot=clean(r.get("DeviceLocator")),
            size_bytes=_int(r.get("Capacity")),
            type=_inventory.MEMORY_TYPES.get(_int(r.get("SMBIOSMemoryType")) or 0),
            speed_mts=_int(r.get("Speed")),
            manufacturer=clean(r.get("Manufacturer")),
            serial=clean(r.get("SerialNumber")),
            part_number=clean(r.get("PartNumber")),
        )
        for r in _rows("memory")
    ]


# MSFT_PhysicalDisk BusType and MediaType codes:
# https://learn.microsoft.com/en-us/windows-hardware/drivers/storage/msft-physicaldisk
_BUS = {
    1: "scsi",
    2: "atapi",
    3: "ata",
    7: "usb",
    8: "raid",
    9: "iscsi",
    10: "sas",
    11: "sata",
    12: "sd",
    13: "mmc",
    15: "virtual",
    16: "storage_spaces",
    17: "nvme",
}
_MEDIA: dict[int, Literal["ssd", "hdd"]] = {3: "hdd", 4: "ssd"}


def disks() -> list[Disk]:
    """Physical disks (MSFT_PhysicalDisk; Win32_DiskDrive where the Storage module is absent)."""
    try:
        rows = _rows("physical_disks")
    except FactUnavailable:
        # Windows 7 has no root/Microsoft/Windows/Storage: Win32_DiskDrive has no media type.
        return [
            Disk(
                name=f"Disk {r.get('Index')}",
                model=clean(r.get("Model")),
                serial=clean(r.get("SerialNumber")),
                size_bytes=_int(r.get("Size")),
                bus=(clean(r.get("InterfaceType")) or "").lower() or None,
                removable="removable" in str(r.get("MediaType") or "").lower(),
            )
            for r in _rows("disk_drives")
        ]
    return [
        Disk(
            name=f"Disk {r.get('DeviceId')}",
            model=clean(r.get("Model")) or clean(r.get("FriendlyName")),
            serial=clean(r.get("SerialNumber")),
            size_bytes=_int(r.get("Size")),
            media=_MEDIA.get(_int(r.get("MediaType")) or 0),
            bus=_BUS.get(_int(r.get("BusType")) or 0),
        )
        for r in rows
    ]


def partitions() -> list[Partition]:
    """Fixed drive letters with usage (Win32_LogicalDisk, DriveType 3 = local disk)."""
    out = []
    for r in _rows("volumes"):
        letter = str(r.get("DeviceID") or "")
        size, free = _int(r.get("Size")), _int(r.get("FreeSpace"))
        used = size - free if size is not None and free is not None else None
        out.append(
            Partition(
                device=letter,
                mountpoint=f"{letter}\\",
                filesystem=clean(r.get("FileSystem")),
                label=clean(r.get("VolumeName")),
                size_bytes=size,
                free_bytes=free,
                used_bytes=used,
                used_percent=round(used * 100 / size, 1) if used is not None and size else None,
            )
        )
    return out


def _wmi_string(codes: Any) -> str | None:
    """WmiMonitorID strings are uint16 arrays of character codes, zero padded."""
    chars = [chr(c) for c in _ps.as_list(codes) if isinstance(c, int) and c > 0]
    return clean("".join(chars))


def monitors() -> list[Monitor]:
    """Connected monitors: WmiMonitorID (names) joined with WmiMonitorBasicDisplayParams (cm)."""
    sizes: dict[str, dict[str, Any]] = {}
    with contextlib.suppress(FactUnavailable):
        sizes = {str(r.get("InstanceName")): r for r in _rows("monitor_sizes")}
    out = []
    for r in _rows("monitors"):
        instance = str(r.get("InstanceName") or "") or None
        size = sizes.get(instance or "", {})
        width, height = (
            _int(size.get("MaxHorizontalImageSize")),
            _int(size.get("MaxVerticalImageSize")),
        )
        product = _wmi_string(r.get("ProductCodeID"))
        out.append(
            Monitor(
                connector=instance,
                maker=_wmi_string(r.get("ManufacturerName")),
                model=_wmi_string(r.get("UserFriendlyName")),
                product_code=int(product, 16) if product and _is_hex(product) else None,
                serial=_wmi_string(r.get("SerialNumberID")),
                year=_int(r.get("YearOfManufacture")) or None,
                width_cm=width or None,
                height_cm=height or None,
                diagonal_inches=_inventory.diagonal_inches(width, height),
            )
        )
    return out


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _chemistry(code: Any) -> str | None:
    # BatteryStaticData.Chemistry packs four ASCII characters little-endian ("LION", "LiP ").
    value = _int(code)
    if not value:
        return None
    return clean(struct.pack("<I", value & 0xFFFFFFFF).decode("ascii", "replace"))


def batteries() -> list[Battery]:
    """System batteries: Win32_Battery for presence, root/wmi classes for capacities."""
    present = _rows("batteries")

    def by_instance(key: str) -> dict[str, dict[str, Any]]:
        try:
            return {str(r.get("InstanceName")): r for r in _rows(key)}
        except FactUnavailable:
            return {}

    static, full, cycles = (
        by_instance("battery_static"),
        by_instance("battery_full"),
        by_instance("battery_cycles"),
    )
    if not static:
        return [Battery(name=str(b.get("DeviceID") or b.get("Name"))) for b in present]
    out = []
    for instance, s in sorted(static.items()):
        design = _int(s.get("DesignedCapacity"))
        full_cap = _int(full.get(instance, {}).get("FullChargedCapacity"))
        out.append(
            Battery(
                name=instance,
                present=bool(present) or design is not None,
                manufacturer=clean(s.get("ManufactureName")),
                model=clean(s.get("DeviceName")),
                serial=clean(s.get("SerialNumber")),
                technology=_chemistry(s.get("Chemistry")),
                design_capacity=design,
                full_capacity=full_cap,
                # root\wmi battery capacities are in mWh (BATTERY_INFORMATION, ACPI _BIF/_BIX).
                capacity_unit="mWh" if design is not None or full_cap is not None else None,
                health_percent=_inventory.health_percent(design, full_cap),
                cycle_count=_int(cycles.get(instance, {}).get("CycleCount")),
            )
        )
    return out
