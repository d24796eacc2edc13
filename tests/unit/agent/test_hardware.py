"""Hardware facts on recorded and hand-made machines (Linux sysfs trees, Windows CIM JSON).

The Debian VM case was recorded from the development VM; the Dell OptiPlex, HP ProBook and
Windows cases are hand-made (see each fixture's README.md). psutil is replaced by fakes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import psutil
import pytest

from agent.collectors.hardware import HardwareCollector, hardware_age
from agent.config import AgentConfig
from agent.errors import FactUnavailable
from agent.platform import _common
from agent.platform._linux import _hw_parsers
from agent.platform._linux import hardware as linux_hw
from agent.platform._windows import hardware as win_hw
from agent.report.hardware import Bios, Hardware, Monitor
from tests.support.replay import FIXTURES

TODAY = date(2026, 11, 28)


class FakePart(NamedTuple):
    device: str
    mountpoint: str
    fstype: str
    opts: str


class FakeUsage(NamedTuple):
    total: int
    used: int
    free: int
    percent: float


@pytest.fixture
def fake_psutil(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Replace psutil's CPU counts and mounted filesystems with the given ones."""

    def use(cores: int | None, threads: int, parts: list[FakePart], usage: FakeUsage) -> None:
        monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: threads if logical else cores)
        monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: parts)
        monkeypatch.setattr(psutil, "disk_usage", lambda path: usage)

    yield use


def _linux_section(
    linux_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch, case: str
) -> Hardware:
    linux_host(f"hardware/{case}")
    monkeypatch.setattr("agent.platform.hardware", linux_hw)
    return HardwareCollector(AgentConfig(), today=lambda: TODAY).collect()


DESKTOP_PARTS = [
    FakePart("/dev/nvme0n1p2", "/", "ext4", "rw,relatime"),
    FakePart("/dev/nvme0n1p1", "/boot/efi", "vfat", "rw"),
    FakePart("/dev/nvme0n1p2", "/var/lib/docker", "ext4", "rw,relatime"),  # bind mount
    FakePart("/dev/loop3", "/snap/core22/1380", "squashfs", "ro"),
]


def test_dell_optiplex_desktop(
    linux_host: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
    fake_psutil: Callable[..., None],
) -> None:
    fake_psutil(
        8, 16, DESKTOP_PARTS, FakeUsage(502_000_000_000, 120_480_000_000, 356_000_000_000, 25.3)
    )
    hw = _linux_section(linux_host, monkeypatch, "dell-optiplex-7080")

    assert hw.unknown == {}
    assert hw.system is not None and hw.board is not None and hw.bios is not None
    assert (hw.system.vendor, hw.system.model, hw.system.serial) == (
        "Dell Inc.",
        "OptiPlex 7080",
        "7XK2M93",
    )
    assert hw.system.chassis_type == 3 and hw.form_factor == "desktop"
    assert hw.bios.release_date == date(2020, 6, 10) and hw.bios.version == "1.12.0"
    assert hw.board.serial == "/7XK2M93/CNFCW0012K00E2/"
    assert hw.cpu is not None
    assert hw.cpu.model == "Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz"
    assert (hw.cpu.sockets, hw.cpu.physical_cores, hw.cpu.logical_cpus, hw.cpu.max_mhz) == (
        1,
        8,
        16,
        4800,
    )
    assert hw.memory is not None and hw.memory.total_bytes == 16226840 * 1024
    assert hw.memory_modules is not None
    assert [(m.slot, m.size_bytes, m.type, m.speed_mts, m.serial) for m in hw.memory_modules] == [
        ("DIMM1", 8 * 2**30, "DDR4", 2933, "2A1B3C4D"),
        ("DIMM2", 8 * 2**30, "DDR4", 2933, "2A1B3C5E"),
    ]
    assert hw.memory_modules[0].part_number == "HMA81GU6DJR8N-WM"
    assert hw.disks is not None
    disks = {d.name: d for d in hw.disks}
    assert sorted(disks) == ["nvme0n1", "sda", "sdb"]  # loop0 and dm-0 are not disks
    nvme, sata, usb = disks["nvme0n1"], disks["sda"], disks["sdb"]
    assert (nvme.model, nvme.serial, nvme.bus, nvme.media) == (
        "PC SN530 NVMe WDC 512GB",
        "21034X801234",
        "nvme",
        "ssd",
    )
    assert nvme.size_bytes == 1000215216 * 512
    assert (sata.serial, sata.bus, sata.media, sata.rotational) == ("ZN1A2B3C", "sata", "hdd", True)
    assert (usb.bus, usb.media, usb.removable) == ("usb", None, True)
    assert hw.partitions is not None
    assert [(p.mountpoint, p.filesystem) for p in hw.partitions] == [
        ("/", "ext4"),
        ("/boot/efi", "vfat"),
    ]
    assert hw.partitions[0].used_percent == 25.3
    assert hw.monitors == [
        Monitor(
            connector="card0-DP-1",
            maker="DEL",
            model="DELL P2419H",
            product_code=0xA0C4,
            serial="3TRJ3Y2",
            year=2021,
            width_cm=53,
            height_cm=30,
            diagonal_inches=24.0,
        )
    ]
    assert hw.batteries == []
    assert hw.age is not None
    assert (hw.age.age_years, hw.age.since, hw.age.source) == (
        6.5,
        date(2020, 6, 10),
        "bios_release_date",
    )


def test_hp_probook_laptop(
    linux_host: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
    fake_psutil: Callable[..., None],
) -> None:
    fake_psutil(4, 8, [FakePart("/dev/nvme0n1p3", "/", "ext4", "rw")], FakeUsage(1, 1, 0, 100.0))
    hw = _linux_section(linux_host, monkeypatch, "hp-probook-450-g8")

    assert hw.form_factor == "laptop"
    assert hw.system is not None and hw.system.model == "HP ProBook 450 G8 Notebook PC"
    assert hw.cpu is not None and hw.cpu.max_mhz == 4200 and hw.cpu.physical_cores == 4
    assert hw.memory_modules is not None
    assert [m.slot for m in hw.memory_modules] == ["Top-Slot 1(left)", "Top-Slot 2(right)"]
    assert hw.memory_modules[0].manufacturer == "Samsung"
    # The built-in panel names itself only in unspecified-text descriptors: no model name.
    assert hw.monitors is not None and len(hw.monitors) == 1
    panel = hw.monitors[0]
    assert (panel.maker, panel.model, panel.serial, panel.year) == ("BOE", None, None, 2020)
    assert panel.diagonal_inches == 15.3
    assert hw.batteries is not None and len(hw.batteries) == 1  # the mouse battery is skipped
    bat = hw.batteries[0]
    assert (bat.name, bat.present, bat.manufacturer, bat.serial) == (
        "BAT0",
        True,
        "Hewlett-Packard",
        "41167 2021/08/13",
    )
    assert (bat.design_capacity, bat.full_capacity, bat.capacity_unit) == (45030, 36380, "mWh")
    assert (bat.health_percent, bat.cycle_count, bat.technology) == (80.8, 312, "Li-ion")
    assert hw.age is not None and hw.age.age_years == 4.7


def _deny(monkeypatch: pytest.MonkeyPatch, *suffixes: str) -> None:
    """Make reads of these host files fail as they do for a non-root user (mode 0400).

    The tests run as root here, which ignores file modes, so the denial is simulated at the
    pathlib level: the platform layer's own PermissionError handling is what is tested.
    """
    real_text, real_bytes = Path.read_text, Path.read_bytes

    def denied(path: Path) -> bool:
        return any(str(path).endswith(s) for s in suffixes)

    def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        if denied(self):
            raise PermissionError(13, "Permission denied", str(self))
        return real_text(self, *args, **kwargs)

    def read_bytes(self: Path) -> bytes:
        if denied(self):
            raise PermissionError(13, "Permission denied", str(self))
        return real_bytes(self)

    monkeypatch.setattr(Path, "read_text", read_text)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def test_root_only_files_are_unknown_with_run_as_root(
    linux_host: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
    fake_psutil: Callable[..., None],
) -> None:
    fake_psutil(8, 16, [], FakeUsage(0, 0, 0, 0.0))
    _deny(monkeypatch, "product_serial", "board_serial", "/raw")
    hw = _linux_section(linux_host, monkeypatch, "dell-optiplex-7080")

    assert hw.system is not None and hw.system.model == "OptiPlex 7080"
    assert hw.system.serial is None and hw.board is not None and hw.board.serial is None
    assert hw.memory_modules is None
    assert hw.unknown == {
        "system.serial": "permission denied reading /sys/class/dmi/id/product_serial (run as root)",
        "board.serial": "permission denied reading /sys/class/dmi/id/board_serial (run as root)",
        "memory_modules": (
            "permission denied reading /sys/firmware/dmi/entries/17-0/raw (run as root)"
        ),
    }
    # Everything else is still collected.
    assert hw.form_factor == "desktop" and hw.disks and hw.monitors


def test_debian_vm_recorded(
    linux_host: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
    fake_psutil: Callable[..., None],
) -> None:
    fake_psutil(2, 2, [FakePart("/dev/vda", "/", "ext4", "rw")], FakeUsage(270, 24, 85, 22.1))
    hw = _linux_section(linux_host, monkeypatch, "debian12-vm")

    no_dmi = "/sys/class/dmi/id does not exist (no SMBIOS tables: virtual or ARM board)"
    assert hw.unknown == {
        "system": no_dmi,
        "bios": no_dmi,
        "board": no_dmi,
        "memory_modules": "/sys/firmware/dmi/entries does not exist (no SMBIOS tables)",
        "age": "no BIOS release date to date the hardware from",
        "cpu.max_mhz": "no cpufreq driver exposes cpuinfo_max_freq (virtual machine?)",
    }
    assert hw.form_factor == "virtual_machine"  # the CPUID hypervisor flag
    assert hw.cpu is not None and (hw.cpu.model, hw.cpu.max_mhz) == ("AMD EPYC", None)
    assert hw.memory is not None and hw.memory.total_bytes == 24683652 * 1024
    assert hw.disks is not None and [d.name for d in hw.disks] == ["vda"]  # no loop, no zram
    vda = hw.disks[0]
    assert (vda.bus, vda.serial, vda.media, vda.rotational) == ("virtio", "overlayblk", None, True)
    assert vda.size_bytes == 256 * 2**30
    assert hw.monitors == [] and hw.batteries == []


def test_garbage_inputs_become_unknown(
    linux_host: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
    fake_psutil: Callable[..., None],
) -> None:
    fake_psutil(None, 4, [], FakeUsage(0, 0, 0, 0.0))
    hw = _linux_section(linux_host, monkeypatch, "garbage")

    assert hw.system is not None and (hw.system.vendor, hw.system.model) == (None, None)
    assert hw.bios is not None and hw.bios.release_date is None
    assert hw.unknown["bios.release_date"] == "unreadable bios_date 'not a date'"
    assert hw.unknown["form_factor"] == "the firmware reports chassis type 2 (other/unknown)"
    assert hw.unknown["monitors"] == "EDID of card0-HDMI-A-1 fails its checksum"
    assert hw.unknown["memory_modules"] == (
        "no SMBIOS type 17 record could be parsed (17-0: SMBIOS record of 3 bytes is too short"
        " for a header)"
    )
    assert hw.unknown["memory"] == "/proc/meminfo has no MemTotal line"
    assert hw.unknown["cpu"] == "/proc/cpuinfo does not exist"
    assert hw.unknown["age"] == "no BIOS release date to date the hardware from"
    assert hw.batteries is not None and hw.batteries[0].present is False
    assert hw.batteries[0].capacity_unit is None


def _type17(size: int, ext_mb: int = 0, speed: int = 3200, ext_speed: int = 0) -> bytes:
    fmt = bytearray(0x5C)
    fmt[0], fmt[1] = 17, 0x5C
    struct.pack_into("<H", fmt, 0x0C, size)
    fmt[0x10], fmt[0x12] = 1, 0x22
    struct.pack_into("<H", fmt, 0x15, speed)
    fmt[0x17] = 2
    struct.pack_into("<I", fmt, 0x1C, ext_mb)
    struct.pack_into("<I", fmt, 0x54, ext_speed)
    return bytes(fmt) + b"DIMM_A1\x00Kingston\x00\x00"


@pytest.mark.parametrize(
    ("raw", "size", "speed"),
    [
        pytest.param(_type17(16384), 16 * 2**30, 3200, id="16 GB in MB"),
        pytest.param(_type17(0x7FFF, ext_mb=65536), 64 * 2**30, 3200, id="64 GB extended size"),
        pytest.param(_type17(0x8000 | 512), 512 * 1024, 3200, id="512 KB granularity bit"),
        pytest.param(_type17(0xFFFF), None, 3200, id="size unknown"),
        pytest.param(
            _type17(32768 >> 1, speed=0xFFFF, ext_speed=8800), 16 * 2**30, 8800, id="extended speed"
        ),
    ],
)
def test_smbios_memory_device_sizes(raw: bytes, size: int | None, speed: int) -> None:
    module = _hw_parsers.parse_memory_device(raw)
    assert module is not None
    assert (module.size_bytes, module.speed_mts, module.type) == (size, speed, "DDR5")
    assert (module.slot, module.manufacturer) == ("DIMM_A1", "Kingston")


def test_broken_smbios_records_are_skipped_not_the_section(
    linux_host: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
    fake_psutil: Callable[..., None],
) -> None:
    """A truncated type-17 record used to raise struct.error and drop the whole section."""
    fake_psutil(8, 16, [], FakeUsage(0, 0, 0, 0.0))
    hw = _linux_section(linux_host, monkeypatch, "smbios-broken")

    assert hw.memory_modules is not None
    assert [(m.slot, m.size_bytes, m.serial) for m in hw.memory_modules] == [
        ("DIMM1", 8 * 2**30, "2A1B3C4D"),
        ("DIMM2", 8 * 2**30, "2A1B3C5E"),  # entry 17-10 sorts after 17-2
    ]
    assert "memory_modules" not in hw.unknown
    assert hw.unknown["memory"] == "/proc/meminfo has an unreadable MemTotal line 'MemTotal:'"
    assert hw.system is not None and hw.system.model == "OptiPlex 7080"


def test_memory_modules_all_broken_is_unknown(
    linux_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_host("hardware/smbios-broken")
    real = _common.list_dir
    # Hide the good records: only the two malformed ones remain.
    monkeypatch.setattr(
        "agent.platform._linux.hardware.list_dir",
        lambda path: [e for e in real(path) if e not in ("17-0", "17-10")],
    )
    with pytest.raises(FactUnavailable) as exc:
        linux_hw.memory_modules()
    assert exc.value.reason == (
        "no SMBIOS type 17 record could be parsed"
        " (17-1: SMBIOS type 17 record is truncated (21 of 40 bytes))"
    )


_GOOD17 = (
    FIXTURES / "linux/hardware/dell-optiplex-7080/root/sys/firmware/dmi/entries/17-0/raw"
).read_bytes()


def _with_length(raw: bytes, length: int) -> bytes:
    return raw[:1] + bytes([length]) + raw[2:]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"", "SMBIOS record of 0 bytes is too short for a header", id="empty"),
        pytest.param(b"\x11\x28\x00", "SMBIOS record of 3 bytes is too short", id="3 bytes"),
        pytest.param(b"\x10\x17\x00\x00" + bytes(30), "not an SMBIOS type 17", id="type 16"),
        pytest.param(_GOOD17[:21], r"truncated \(21 of 40 bytes\)", id="21 bytes claiming 0x28"),
        pytest.param(
            _with_length(_GOOD17, 0x12), "declares length 18, below 21", id="length below 0x13"
        ),
        pytest.param(_with_length(_GOOD17, 0xFF), r"truncated \(105 of 255", id="length 0xFF"),
    ],
)
def test_smbios_malformed_record_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(FactUnavailable, match=reason):
        _hw_parsers.parse_memory_device(raw)


def test_smbios_every_truncation_is_fact_unavailable() -> None:
    """No prefix of a real record, at any declared length, raises anything else."""
    parsed = refused = 0
    for length in (0x15, 0x1B, 0x22, 0x28, 0x54, 0x5C, 0xFF):
        record = _with_length(_GOOD17, length)
        for cut in range(len(record) + 1):
            try:
                _hw_parsers.parse_memory_device(record[:cut])
            except FactUnavailable:
                refused += 1
            else:
                parsed += 1
    # Both outcomes occur (whole records parse, cut ones are refused) and nothing else escaped.
    assert parsed > 0 and refused > 0


@pytest.mark.parametrize(
    ("raw", "size", "speed", "part"),
    [
        # SMBIOS 2.1 record (15h bytes): no speed, no manufacturer/serial/part strings.
        pytest.param(
            _with_length(_GOOD17[:0x15], 0x15) + b"DIMM1\x00\x00",
            8 * 2**30,
            None,
            None,
            id="2.1 record 0x15",
        ),
        # 0x7FFF asks for Extended Size, which a 1Bh record does not carry: unknown, not 32 GB.
        pytest.param(
            _with_length(_GOOD17[:0x0C] + b"\xff\x7f" + _GOOD17[0x0E:0x1B], 0x1B) + b"\x00\x00",
            None,
            2933,
            None,
            id="extended size missing",
        ),
        # Speed 0xFFFF asks for Extended Speed (54h), absent in a 28h record: unknown.
        pytest.param(
            _GOOD17[:0x15] + b"\xff\xff" + _GOOD17[0x17:],
            8 * 2**30,
            None,
            "HMA81GU6DJR8N-WM",
            id="extended speed missing",
        ),
    ],
)
def test_smbios_fields_beyond_the_record_are_none(
    raw: bytes, size: int | None, speed: int | None, part: str | None
) -> None:
    module = _hw_parsers.parse_memory_device(raw)
    assert module is not None
    assert (module.size_bytes, module.speed_mts, module.part_number) == (size, speed, part)


_GOOD_EDID = (FIXTURES / "linux/hardware/dell-optiplex-7080/root/sys/class/drm").glob("*/edid")


def test_edid_every_truncation_is_fact_unavailable() -> None:
    raw = next(p for p in _GOOD_EDID if p.stat().st_size >= 128).read_bytes()
    assert _hw_parsers.parse_edid(raw, "DP-1").model == "DELL P2419H"
    for cut in range(128):
        with pytest.raises(FactUnavailable, match="no valid header"):
            _hw_parsers.parse_edid(raw[:cut], "DP-1")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"", "EDID of X has no valid header", id="empty"),
        pytest.param(b"\x00" * 128, "EDID of X has no valid header", id="zeros"),
        pytest.param(
            b"\x00\xff\xff\xff\xff\xff\xff\x00" + b"\x01" * 120,
            "EDID of X fails its checksum",
            id="bad checksum",
        ),
    ],
)
def test_edid_garbage(raw: bytes, reason: str) -> None:
    with pytest.raises(FactUnavailable, match=reason):
        _hw_parsers.parse_edid(raw, "X")


@pytest.mark.parametrize(
    ("released", "today", "years"),
    [
        pytest.param(date(2020, 6, 10), date(2026, 11, 28), 6.5, id="six and a half years"),
        pytest.param(date(2026, 1, 1), date(2026, 1, 1), 0.0, id="new"),
    ],
)
def test_hardware_age(released: date, today: date, years: float) -> None:
    age = hardware_age(Bios(release_date=released), today)
    assert age.age_years == years and age.since == released


# --- Windows ---


def _windows_section(
    windows_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch, case: str
) -> Hardware:
    windows_host(f"hardware/{case}")
    monkeypatch.setattr("agent.platform.hardware", win_hw)
    return HardwareCollector(AgentConfig(), today=lambda: TODAY).collect()


def test_windows_dell_vostro_desktop(
    windows_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    hw = _windows_section(windows_host, monkeypatch, "win11-vi-dell-vostro")

    assert hw.unknown == {}
    assert hw.system is not None and hw.bios is not None and hw.board is not None
    assert (hw.system.vendor, hw.system.model, hw.system.serial) == (
        "Dell Inc.",
        "Vostro 3888",
        "4JQ8RH3",
    )
    assert (hw.system.chassis_type, hw.form_factor) == (3, "desktop")
    assert hw.bios.release_date == date(2021, 11, 9) and hw.bios.version == "1.16.0"
    assert (hw.board.product, hw.board.serial) == ("0YG4CC", "/4JQ8RH3/CNCMK0019J00NS/")
    assert hw.cpu is not None
    assert (hw.cpu.model, hw.cpu.physical_cores, hw.cpu.logical_cpus, hw.cpu.max_mhz) == (
        "Intel(R) Core(TM) i5-10400 CPU @ 2.90GHz",
        6,
        12,
        2904,
    )
    assert hw.memory is not None and hw.memory.total_bytes == 8_406_745_088
    assert hw.memory_modules is not None
    assert [
        (m.slot, m.size_bytes, m.type, m.speed_mts, m.manufacturer) for m in hw.memory_modules
    ] == [
        ("DIMM1", 8 * 2**30, "DDR4", 2666, "Kingston"),
    ]
    assert hw.disks is not None
    assert [(d.model, d.media, d.bus, d.serial) for d in hw.disks] == [
        ("KINGSTON SNV2S500G", "ssd", "nvme", "50026B7685A1B2C3"),
        ("WDC WD10EZEX-08WN4A0", "hdd", "sata", "WD-WCC6Y3KXYZ12"),
    ]
    assert hw.partitions is not None
    assert [(p.device, p.mountpoint, p.filesystem, p.label) for p in hw.partitions] == [
        ("C:", "C:\\", "NTFS", None),
        ("D:", "D:\\", "NTFS", "Dữ liệu Phòng Tài chính"),
    ]
    c = hw.partitions[0]
    assert (c.size_bytes, c.free_bytes, c.used_bytes, c.used_percent) == (
        499_461_910_528,
        312_153_542_656,
        187_308_367_872,
        37.5,
    )
    assert hw.monitors is not None and [
        (m.maker, m.model, m.serial, m.year, m.width_cm, m.height_cm, m.diagonal_inches)
        for m in hw.monitors
    ] == [("DEL", "DELL E2221HN", "CN0T8J5K", 2022, 48, 27, 21.7)]
    assert hw.monitors[0].product_code == 0xA0F5
    assert hw.batteries == []
    assert hw.age is not None and hw.age.age_years == 5.1


def test_windows_hp_laptop_battery(
    windows_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    hw = _windows_section(windows_host, monkeypatch, "win10-hp-probook")

    assert hw.form_factor == "laptop"
    assert hw.batteries is not None and len(hw.batteries) == 1
    bat = hw.batteries[0]
    assert (bat.name, bat.manufacturer, bat.serial, bat.technology) == (
        "ACPI\\PNP0C0A\\1_0",
        "Hewlett-Packard",
        "41167 2021/08/13",
        "LION",
    )
    assert (bat.design_capacity, bat.full_capacity, bat.health_percent, bat.cycle_count) == (
        45030,
        26486,
        58.8,
        402,
    )
    assert hw.monitors is not None and len(hw.monitors) == 2
    assert hw.monitors[0].model is None and hw.monitors[0].maker == "AUO"
    assert hw.monitors[1].model == "HP P22 G4"


def test_windows_failing_cim_classes(
    windows_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows 7-era laptop: no Storage namespace, root\\wmi denied, a placeholder serial."""
    hw = _windows_section(windows_host, monkeypatch, "win7-failures")

    assert hw.unknown["system.serial"] == "the firmware reports no system serial number"
    assert hw.unknown["monitors"] == "monitors: Access denied"
    assert hw.unknown["memory_modules"] == "memory: Invalid class"
    assert hw.form_factor == "laptop"  # from PCSystemType: the enclosure says "Unknown"
    assert hw.disks is not None
    assert [(d.name, d.model, d.bus, d.media) for d in hw.disks] == [
        ("Disk 0", "ST500DM002-1BD142 ATA Device", "ide", None),
    ]
    # Win32_Battery sees the battery; the capacity classes failed: presence only.
    assert hw.batteries is not None and [(b.name, b.design_capacity) for b in hw.batteries] == [
        ("1", None)
    ]


def test_windows_not_recorded_at_all(
    windows_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    hw = _windows_section(windows_host, monkeypatch, "not-recorded")
    assert hw.cpu is None and hw.disks is None
    assert hw.unknown["cpu"] == "powershell.exe query hardware not recorded"


def test_fixture_readmes_exist() -> None:
    for area in ("linux/hardware", "windows/hardware"):
        for case in (FIXTURES / area).iterdir():
            assert (case / "README.md").is_file(), f"{case} has no README.md"


def test_summary_lines(windows_host: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch) -> None:
    hw = _windows_section(windows_host, monkeypatch, "win11-vi-dell-vostro")
    assert HardwareCollector(AgentConfig()).summary(hw) == [
        ("Computer", "Dell Inc. Vostro 3888 (desktop, 5.1 years old)"),
        ("CPU / RAM", "Intel(R) Core(TM) i5-10400 CPU @ 2.90GHz / 7.8 GiB"),
        ("Disks", "Disk 0 500 GB ssd, Disk 1 1000 GB hdd"),
    ]
    assert HardwareCollector(AgentConfig()).summary(Hardware(unknown={"cpu": "x"})) == [
        ("Computer", "unknown model (unknown type)"),
        ("CPU / RAM", "unknown CPU / unknown"),
        ("Disks", "unknown"),
    ]
