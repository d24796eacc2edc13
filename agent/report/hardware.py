"""Hardware inventory: system, firmware, board, CPU, memory, disks, monitors, battery.

The district's reports count computers by form factor and flag ageing hardware (RULES.md
indicator 29), so the SMBIOS facts (vendor, model, serials, BIOS date, chassis type) matter as
much as the parts list. ``None`` means not determined; the reason is in ``unknown``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from agent.report._base import Meta, Record, Section

FormFactor = Literal[
    "desktop", "laptop", "all_in_one", "tablet", "server", "virtual_machine", "other"
]


class SystemInfo(Record, kw_only=True):
    """The computer as its firmware describes it (SMBIOS type 1 and 3)."""

    vendor: Annotated[str | None, Meta(description="System manufacturer (Dell Inc., HP).")] = None
    model: Annotated[
        str | None, Meta(description="Product name (OptiPlex 7080, HP ProBook 450 G8).")
    ] = None
    serial: Annotated[
        str | None, Meta(description="System serial number / service tag; root only on Linux.")
    ] = None
    sku: Annotated[
        str | None, Meta(description="Vendor SKU number, if the firmware gives one.")
    ] = None
    chassis_type: Annotated[
        int | None,
        Meta(description="SMBIOS chassis type code (DSP0134 7.4.1): 3 desktop, 10 notebook, ..."),
    ] = None


class Bios(Record, kw_only=True):
    """System firmware (SMBIOS type 0)."""

    vendor: Annotated[str | None, Meta(description="Firmware vendor (Dell Inc., AMI, HP).")] = None
    version: Annotated[str | None, Meta(description="Firmware version string.")] = None
    release_date: Annotated[
        date | None, Meta(description="Firmware release date; a lower bound of the model's age.")
    ] = None


class Board(Record, kw_only=True):
    """Main board (SMBIOS type 2)."""

    vendor: Annotated[str | None, Meta(description="Board manufacturer.")] = None
    product: Annotated[str | None, Meta(description="Board product name or part number.")] = None
    serial: Annotated[str | None, Meta(description="Board serial number; root only on Linux.")] = (
        None
    )


class Cpu(Record, kw_only=True):
    """Processors, summed over sockets."""

    model: Annotated[
        str | None, Meta(description="Processor model (Intel(R) Core(TM) i5-10400 CPU @ 2.90GHz).")
    ] = None
    sockets: Annotated[int | None, Meta(description="Populated processor sockets.")] = None
    physical_cores: Annotated[int | None, Meta(description="Physical cores, all sockets.")] = None
    logical_cpus: Annotated[
        int | None, Meta(description="Logical processors (hardware threads), all sockets.")
    ] = None
    max_mhz: Annotated[
        int | None, Meta(description="Maximum (rated or boost) clock frequency, MHz.")
    ] = None


class Memory(Record, kw_only=True):
    """Installed memory."""

    total_bytes: Annotated[
        int, Meta(description="Memory usable by the OS, bytes (slightly below the installed sum).")
    ]


class MemoryModule(Record, kw_only=True):
    """One populated memory slot (SMBIOS type 17)."""

    slot: Annotated[str | None, Meta(description="Device locator (DIMM1, ChannelA-DIMM0).")] = None
    size_bytes: Annotated[int | None, Meta(description="Module size, bytes.")] = None
    type: Annotated[
        str | None, Meta(description="Memory type from SMBIOS (DDR4, DDR5, LPDDR4, ...).")
    ] = None
    speed_mts: Annotated[
        int | None, Meta(description="Rated speed, megatransfers per second (MT/s).")
    ] = None
    manufacturer: Annotated[str | None, Meta(description="Module manufacturer.")] = None
    serial: Annotated[str | None, Meta(description="Module serial number.")] = None
    part_number: Annotated[str | None, Meta(description="Module part number.")] = None


class Disk(Record, kw_only=True):
    """A physical (or virtual-machine) disk; loop, RAM, zram and device-mapper devices excluded."""

    name: Annotated[
        str, Meta(description="Kernel name (sda, nvme0n1) or Windows disk number (Disk 0).")
    ]
    model: Annotated[str | None, Meta(description="Disk model.")] = None
    serial: Annotated[str | None, Meta(description="Disk serial number.")] = None
    size_bytes: Annotated[int | None, Meta(description="Capacity, bytes.")] = None
    media: Annotated[
        Literal["ssd", "hdd"] | None,
        Meta(description="Solid-state or spinning; None when the OS cannot tell (virtual disks)."),
    ] = None
    rotational: Annotated[
        bool | None, Meta(description="The kernel's rotational flag (Linux queue/rotational).")
    ] = None
    bus: Annotated[
        str | None, Meta(description="Attachment: sata, nvme, usb, scsi, sas, mmc, virtio, raid.")
    ] = None
    removable: Annotated[bool | None, Meta(description="Removable media flag.")] = None


class Partition(Record, kw_only=True):
    """A mounted local filesystem (Linux) or fixed drive letter (Windows)."""

    device: Annotated[str, Meta(description="Block device (/dev/sda2) or drive letter (C:).")]
    mountpoint: Annotated[str, Meta(description="Where it is mounted (/, C:\\).")]
    filesystem: Annotated[str | None, Meta(description="Filesystem type (ext4, NTFS).")] = None
    label: Annotated[str | None, Meta(description="Volume label, if any.")] = None
    size_bytes: Annotated[int | None, Meta(description="Total size, bytes.")] = None
    used_bytes: Annotated[int | None, Meta(description="Space in use, bytes.")] = None
    free_bytes: Annotated[int | None, Meta(description="Space available, bytes.")] = None
    used_percent: Annotated[float | None, Meta(description="Share in use, percent.")] = None


class Monitor(Record, kw_only=True):
    """A connected display, from its EDID (Linux) or WmiMonitorID (Windows)."""

    connector: Annotated[
        str | None, Meta(description="Where it is connected (card0-HDMI-A-1) or its instance id.")
    ] = None
    maker: Annotated[
        str | None, Meta(description="Three-letter PNP manufacturer id (DEL, HWP, SAM).")
    ] = None
    model: Annotated[str | None, Meta(description="Monitor name (DELL P2419H).")] = None
    product_code: Annotated[int | None, Meta(description="Manufacturer product code.")] = None
    serial: Annotated[
        str | None, Meta(description="Serial number (text, else the numeric one).")
    ] = None
    year: Annotated[int | None, Meta(description="Year of manufacture (or model year).")] = None
    width_cm: Annotated[int | None, Meta(description="Visible image width, centimetres.")] = None
    height_cm: Annotated[int | None, Meta(description="Visible image height, centimetres.")] = None
    diagonal_inches: Annotated[
        float | None, Meta(description="Diagonal from width and height, inches, one decimal.")
    ] = None


class Battery(Record, kw_only=True):
    """A system battery (peripheral batteries such as a mouse's are excluded)."""

    name: Annotated[str, Meta(description="BAT0, or the Windows battery instance.")]
    present: Annotated[bool, Meta(description="A battery is in the slot.")] = True
    manufacturer: Annotated[str | None, Meta(description="Battery manufacturer.")] = None
    model: Annotated[str | None, Meta(description="Battery model or device name.")] = None
    serial: Annotated[str | None, Meta(description="Battery serial number.")] = None
    technology: Annotated[str | None, Meta(description="Chemistry (Li-ion, Li-poly).")] = None
    design_capacity: Annotated[
        int | None, Meta(description="Capacity when new, in capacity_unit.")
    ] = None
    full_capacity: Annotated[
        int | None, Meta(description="Capacity when fully charged today, in capacity_unit.")
    ] = None
    capacity_unit: Annotated[
        Literal["mWh", "mAh"] | None, Meta(description="Unit of the two capacities.")
    ] = None
    health_percent: Annotated[
        float | None, Meta(description="full_capacity / design_capacity, percent, one decimal.")
    ] = None
    cycle_count: Annotated[int | None, Meta(description="Charge cycles, where reported.")] = None


class HardwareAge(Record, kw_only=True):
    """How old the hardware is, and from which evidence."""

    age_years: Annotated[float, Meta(description="Age at collection time, years, one decimal.")]
    since: Annotated[date, Meta(description="The date the age counts from.")]
    source: Annotated[
        Literal["bios_release_date"],
        Meta(description="Evidence: bios_release_date (a lower bound: a BIOS update resets it)."),
    ]


class Hardware(Section, kw_only=True):
    """Hardware inventory: system, firmware, board, CPU, memory, disks, monitors, battery."""

    system: Annotated[SystemInfo | None, Meta(description="Vendor, model, serial.")] = None
    form_factor: Annotated[
        FormFactor | None,
        Meta(description="Computer type from the SMBIOS chassis type, or virtual_machine."),
    ] = None
    bios: Annotated[Bios | None, Meta(description="System firmware.")] = None
    board: Annotated[Board | None, Meta(description="Main board.")] = None
    cpu: Annotated[Cpu | None, Meta(description="Processors.")] = None
    memory: Annotated[Memory | None, Meta(description="Memory usable by the OS.")] = None
    memory_modules: Annotated[
        list[MemoryModule] | None,
        Meta(description="Populated memory slots (SMBIOS type 17; root only on Linux)."),
    ] = None
    disks: Annotated[list[Disk] | None, Meta(description="Disks; empty means none found.")] = None
    partitions: Annotated[
        list[Partition] | None, Meta(description="Mounted local filesystems with usage.")
    ] = None
    monitors: Annotated[
        list[Monitor] | None, Meta(description="Connected monitors; empty means none found.")
    ] = None
    batteries: Annotated[
        list[Battery] | None, Meta(description="System batteries; empty means none (a desktop).")
    ] = None
    age: Annotated[
        HardwareAge | None, Meta(description="Hardware age where known (RULES.md indicator 29).")
    ] = None
