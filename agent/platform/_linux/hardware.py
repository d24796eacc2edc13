"""Linux hardware facts: /sys/class/dmi, /proc, /sys/block, DRM EDIDs, power_supply, psutil.

Kernel ABI references: Documentation/ABI/testing/sysfs-class-dmi (id/*; product_serial,
board_serial and product_uuid are mode 0400), sysfs-firmware-dmi-entries (raw SMBIOS records,
root only), sysfs-block, sysfs-class-drm, sysfs-class-power.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Literal

import psutil

from agent.errors import FactUnavailable, note_unknown
from agent.platform import _inventory
from agent.platform._common import host_path, list_dir, read_bytes, read_optional, read_text
from agent.platform._inventory import clean
from agent.platform._linux import _hw_parsers
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

log = logging.getLogger(__name__)

_DMI = "/sys/class/dmi/id"


def _dmi(attr: str) -> str | None:
    if not list_dir(_DMI):
        raise FactUnavailable(f"{_DMI} does not exist (no SMBIOS tables: virtual or ARM board)")
    return clean(read_optional(f"{_DMI}/{attr}"))


def _dmi_root_only(attr: str, what: str) -> str:
    _dmi("sys_vendor")  # the same "no DMI at all" reason first
    value = clean(read_text(f"{_DMI}/{attr}"))  # PermissionError -> "(run as root)"
    if value is None:
        raise FactUnavailable(f"the firmware reports no {what}")
    return value


def system() -> SystemInfo:
    """Vendor, model, SKU and chassis type (the serial is :func:`system_serial`, root only)."""
    chassis = _dmi("chassis_type")
    return SystemInfo(
        vendor=_dmi("sys_vendor"),
        model=_dmi("product_name"),
        sku=_dmi("product_sku"),
        chassis_type=int(chassis) if chassis and chassis.isdigit() else None,
    )


def system_serial() -> str:
    """SMBIOS system serial number / service tag (root only)."""
    return _dmi_root_only("product_serial", "system serial number")


def form_factor() -> FormFactor:
    """desktop/laptop/... from the SMBIOS chassis type; virtual_machine for hypervisor firmware."""
    try:
        info = system()
    except FactUnavailable:
        # No DMI at all: the x86 CPUID "hypervisor" bit (shown in /proc/cpuinfo flags) is set by
        # hypervisors for their guests (arch/x86/include/asm/cpufeatures.h, X86_FEATURE_HYPERVISOR).
        flags = _cpuinfo().get("flags", "").split()
        if "hypervisor" in flags:
            return "virtual_machine"
        raise
    if _inventory.is_virtual(info.vendor, info.model, _dmi("bios_vendor"), _dmi("board_vendor")):
        return "virtual_machine"
    return _inventory.form_factor_from_chassis(info.chassis_type)


def _bios_date(text: str | None) -> date | None:
    # The kernel copies the SMBIOS string, specified as MM/DD/YYYY (DSP0134 7.1; old
    # firmware writes MM/DD/YY).
    for fmt in ("%m/%d/%Y", "%m/%d/%y"):
        try:
            return datetime.strptime(text or "", fmt).date()
        except ValueError:
            continue
    return None


def bios() -> Bios:
    """Firmware vendor, version and release date."""
    text = _dmi("bios_date")
    released = _bios_date(text)
    if released is None:
        note_unknown("release_date", f"unreadable bios_date {text!r}" if text else "no bios_date")
    return Bios(vendor=_dmi("bios_vendor"), version=_dmi("bios_version"), release_date=released)


def board() -> Board:
    """Main board vendor and product (the serial is :func:`board_serial`, root only)."""
    return Board(vendor=_dmi("board_vendor"), product=_dmi("board_name"))


def board_serial() -> str:
    """Main board serial number (root only)."""
    return _dmi_root_only("board_serial", "board serial number")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo, plus the count of distinct sockets."""
    fields: dict[str, str] = {}
    sockets: set[str] = set()
    for line in read_text("/proc/cpuinfo").splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "physical id":
            sockets.add(value.strip())
        fields.setdefault(key, value.strip())
    fields["_sockets"] = str(len(sockets)) if sockets else ""
    return fields


def cpu() -> Cpu:
    """Model, sockets, cores, threads and maximum frequency."""
    info = _cpuinfo()
    # x86 writes "model name"; arm64 has no model string in /proc/cpuinfo.
    model = clean(info.get("model name") or info.get("Model") or info.get("Hardware"))
    max_khz = read_optional("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if not (max_khz and max_khz.isdigit()):
        note_unknown("max_mhz", "no cpufreq driver exposes cpuinfo_max_freq (virtual machine?)")
    return Cpu(
        model=" ".join(model.split()) if model else None,
        sockets=int(info["_sockets"]) if info["_sockets"] else None,
        physical_cores=psutil.cpu_count(logical=False),
        logical_cpus=psutil.cpu_count(logical=True),
        max_mhz=int(max_khz) // 1000 if max_khz and max_khz.isdigit() else None,
    )


def memory() -> Memory:
    """Memory usable by the OS (/proc/meminfo MemTotal)."""
    for line in read_text("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            # proc(5): "MemTotal:  16226840 kB"; a line without a number is not a size.
            fields = line.split()
            if len(fields) < 2 or not fields[1].isdigit():
                raise FactUnavailable(f"/proc/meminfo has an unreadable MemTotal line {line!r}")
            return Memory(total_bytes=int(fields[1]) * 1024)
    raise FactUnavailable("/proc/meminfo has no MemTotal line")


def _entry_instance(entry: str) -> int:
    # Entries are named <type>-<instance> (sysfs-firmware-dmi-entries); sort odd names last.
    instance = entry.partition("-")[2]
    return int(instance) if instance.isdigit() else 1 << 30


def memory_modules() -> list[MemoryModule]:
    """Populated slots from the raw SMBIOS type-17 records (root only).

    A malformed record is skipped so the other modules survive; when records exist but none
    could be parsed, the fact is unknown with the first record's reason.
    """
    base = "/sys/firmware/dmi/entries"
    if not list_dir(base):
        raise FactUnavailable(f"{base} does not exist (no SMBIOS tables)")
    entries = [e for e in list_dir(base) if e.startswith("17-")]
    modules, parsed, bad = [], 0, []
    for entry in sorted(entries, key=_entry_instance):
        raw = read_bytes(f"{base}/{entry}/raw")  # PermissionError -> "(run as root)"
        try:
            module = _hw_parsers.parse_memory_device(raw)
        except FactUnavailable as exc:
            log.info("skipping SMBIOS entry %s: %s", entry, exc.reason)
            bad.append(f"{entry}: {exc.reason}")
            continue
        parsed += 1
        if module is not None:
            modules.append(module)
    if bad and not parsed:
        raise FactUnavailable(f"no SMBIOS type 17 record could be parsed ({bad[0]})")
    return modules


# Not disks: loop devices, RAM disks, zram swap, device-mapper and md volumes (which sit on the
# disks listed), optical drives, floppies, network block devices.
_NOT_DISKS = ("loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd", "zd")


def _udev(name: str) -> dict[str, str]:
    # udev's database: /run/udev/data/b<major>:<minor>, "E:KEY=value" lines (udev(7)).
    dev = read_optional(f"/sys/block/{name}/dev")
    text = read_optional(f"/run/udev/data/b{dev}") if dev else None
    props: dict[str, str] = {}
    for line in (text or "").splitlines():
        if line.startswith("E:"):
            key, _, value = line[2:].partition("=")
            props[key] = value
    return props


def _bus(name: str, udev: dict[str, str]) -> str | None:
    if name.startswith("nvme"):
        return "nvme"
    if name.startswith("vd"):
        return "virtio"
    if name.startswith("mmcblk"):
        return "mmc"
    id_bus = udev.get("ID_BUS")
    if id_bus == "ata":
        return "sata" if udev.get("ID_ATA_SATA") == "1" else "ata"
    if id_bus:
        return id_bus
    try:
        # /sys/block/sda links to the device path, which names the transport.
        target = str(host_path(f"/sys/block/{name}").readlink())
    except OSError:
        return None
    if "/usb" in target:
        return "usb"
    return "sata" if "/ata" in target else "scsi"


def disks() -> list[Disk]:
    """Disks from /sys/block with model, serial, size, media and bus."""
    out = []
    for name in list_dir("/sys/block"):
        if name.startswith(_NOT_DISKS):
            continue
        sectors = read_optional(f"/sys/block/{name}/size")
        size = int(sectors) * 512 if sectors and sectors.isdigit() else None
        if size == 0:
            continue  # an empty card reader slot or a detached device
        udev = _udev(name)
        bus = _bus(name, udev)
        rot = read_optional(f"/sys/block/{name}/queue/rotational")
        rotational = None if rot not in ("0", "1") else rot == "1"
        # Virtual disks report the kernel default (rotational), and USB bridges hide the medium.
        media: Literal["ssd", "hdd"] | None = None
        if bus not in ("virtio", "usb") and rotational is not None:
            media = "hdd" if rotational else "ssd"
        serial = clean(
            read_optional(f"/sys/block/{name}/device/serial")
            or read_optional(f"/sys/block/{name}/serial")
            or udev.get("ID_SERIAL_SHORT")
        )
        model = clean(read_optional(f"/sys/block/{name}/device/model") or udev.get("ID_MODEL"))
        out.append(
            Disk(
                name=name,
                model=model,
                serial=serial,
                size_bytes=size,
                media=media,
                rotational=rotational,
                bus=bus,
                removable=read_optional(f"/sys/block/{name}/removable") == "1",
            )
        )
    return out


def partitions() -> list[Partition]:
    """Mounted local filesystems with usage; snap/AppImage squashfs images are skipped."""
    return _inventory.partitions(skip_fstypes=frozenset({"squashfs"}))


def monitors() -> list[Monitor]:
    """Connected monitors from the DRM connectors' EDID (/sys/class/drm/card*-*/edid)."""
    out, bad = [], []
    for connector in list_dir("/sys/class/drm"):
        if "-" not in connector:
            continue  # card0, renderD128: not connectors
        if read_optional(f"/sys/class/drm/{connector}/status") not in (None, "connected"):
            continue
        try:
            raw = read_bytes(f"/sys/class/drm/{connector}/edid")
        except FactUnavailable:
            continue
        if not raw:
            continue  # nothing attached
        try:
            out.append(_hw_parsers.parse_edid(raw, connector))
        except FactUnavailable as exc:
            log.debug("skipping %s: %s", connector, exc.reason)
            bad.append(exc.reason)
    if bad and not out:
        raise FactUnavailable(bad[0])
    return out


def _int(path: str) -> int | None:
    text = read_optional(path)
    return int(text) if text and text.lstrip("-").isdigit() else None


def batteries() -> list[Battery]:
    """System batteries from /sys/class/power_supply (sysfs-class-power)."""
    out = []
    for name in list_dir("/sys/class/power_supply"):
        base = f"/sys/class/power_supply/{name}"
        if read_optional(f"{base}/type") != "Battery":
            continue
        if read_optional(f"{base}/scope") == "Device":
            continue  # a wireless mouse's or keyboard's battery
        # energy_* in µWh, or charge_* in µAh when the firmware reports current only.
        unit: Literal["mWh", "mAh"] | None = "mWh"
        design, full = _int(f"{base}/energy_full_design"), _int(f"{base}/energy_full")
        if design is None and full is None:
            unit = "mAh"
            design, full = _int(f"{base}/charge_full_design"), _int(f"{base}/charge_full")
        if design is None and full is None:
            unit = None
        design = design // 1000 if design is not None else None
        full = full // 1000 if full is not None else None
        present = read_optional(f"{base}/present")
        out.append(
            Battery(
                name=name,
                present=present != "0",
                manufacturer=clean(read_optional(f"{base}/manufacturer")),
                model=clean(read_optional(f"{base}/model_name")),
                serial=clean(read_optional(f"{base}/serial_number")),
                technology=clean(read_optional(f"{base}/technology")),
                design_capacity=design,
                full_capacity=full,
                capacity_unit=unit,
                health_percent=_inventory.health_percent(design, full),
                cycle_count=_int(f"{base}/cycle_count"),
            )
        )
    return out
