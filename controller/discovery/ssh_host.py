"""The identity, hardware, os and software sections of an SSH report.

Where the agent reads the same text, its parsers are reused (os-release, the dpkg and rpm
lists, the end-of-life table, SMBIOS placeholders and chassis types).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from agent.collectors.base import Facts
from agent.collectors.hardware import hardware_age
from agent.errors import FactUnavailable
from agent.platform import _inventory
from agent.platform._inventory import clean
from agent.platform._linux._sw_packages import dpkg_installed, rpm_packages
from agent.platform._linux.hardware import _bios_date
from agent.platform._linux.os_info import _bcp47, _env_file
from agent.report.hardware import Bios, Board, Cpu, Disk, Hardware, Memory, Partition, SystemInfo
from agent.report.identity import Identity
from agent.report.os_info import Locale, LoggedInUser, OperatingSystem, OsVersion
from agent.report.software import Package, Service, Software, StartMode
from controller.discovery.ssh_commands import DMI_DIR
from controller.discovery.ssh_network import interfaces
from controller.discovery.ssh_outputs import NOT_COLLECTED, Collected, load_json

# --- identity ---------------------------------------------------------------------------------


def _uname(c: Collected) -> list[str]:
    """``uname -snrm``: kernel name, node name, release, machine."""
    fields = c.text("uname").split()
    if len(fields) != 4:
        raise FactUnavailable("uname printed something unexpected")
    return fields


def hostname(c: Collected) -> str:
    """The node name (uname -n), else /etc/hostname."""
    try:
        return _uname(c)[1][:255]
    except FactUnavailable:
        name = (c.optional("/etc/hostname") or "").strip()
        if not name:
            raise
        return name.splitlines()[0][:255]


def machine_id(c: Collected) -> str:
    """systemd's machine id, D-Bus's copy on older systems (machine-id(5))."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        value = (c.optional(path) or "").strip()
        if value:
            return value[:64]
    raise FactUnavailable("neither /etc/machine-id nor /var/lib/dbus/machine-id could be read")


def _dmi(c: Collected, attr: str, what: str) -> str:
    if attr in c.dmi_errors:
        raise FactUnavailable(c.dmi_errors[attr])
    value = clean(c.dmi.get(attr))
    if value is None:
        if not c.dmi:
            raise FactUnavailable(f"{DMI_DIR} is not readable (no SMBIOS: virtual or ARM board?)")
        raise FactUnavailable(f"the firmware reports no {what}")
    return value[:200]


def physical_macs(c: Collected) -> list[str]:
    """MACs of the device-backed interfaces (not bridges, veths, tunnels)."""
    return sorted({i.mac for i in interfaces(c) if i.mac and i.kind not in ("virtual", "loopback")})


def identity(c: Collected) -> Identity:
    """The identity section; without a host name there is no report."""
    f = Facts()
    name = hostname(c)
    return Identity(
        hostname=name,
        fqdn=name if "." in name else None,
        machine_id=f.get("machine_id", lambda: machine_id(c)),
        system_uuid=f.get("system_uuid", lambda: _dmi(c, "product_uuid", "UUID").lower()),
        system_serial=f.get("system_serial", lambda: _dmi(c, "product_serial", "serial number")),
        macs=f.get("macs", lambda: physical_macs(c)) or [],
        unknown=f.unknown,
    )


# --- hardware ---------------------------------------------------------------------------------


def _optional_dmi(c: Collected, attr: str) -> str | None:
    value = clean(c.dmi.get(attr))
    return value[:200] if value else None


def system(c: Collected) -> SystemInfo:
    """Vendor, model, SKU and chassis type (SMBIOS)."""
    if not c.dmi:
        raise FactUnavailable(f"{DMI_DIR} is not readable (no SMBIOS: virtual or ARM board?)")
    chassis = _optional_dmi(c, "chassis_type")
    return SystemInfo(
        vendor=_optional_dmi(c, "sys_vendor"),
        model=_optional_dmi(c, "product_name"),
        sku=_optional_dmi(c, "product_sku"),
        chassis_type=int(chassis) if chassis and chassis.isdigit() else None,
    )


def cpuinfo_fields(text: str) -> tuple[dict[str, str], int, set[str], set[tuple[str, str]]]:
    """The first processor's fields, the processor count, the sockets and the (socket, core)
    pairs of /proc/cpuinfo."""
    fields: dict[str, str] = {}
    processors = 0
    sockets: set[str] = set()
    cores: set[tuple[str, str]] = set()
    socket = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "processor":
            processors += 1
        elif key == "physical id":
            socket = value
            sockets.add(value)
        elif key == "core id":
            cores.add((socket, value))
        fields.setdefault(key, value[:400])
    return fields, processors, sockets, cores


def form_factor(
    c: Collected,
) -> Literal["desktop", "laptop", "all_in_one", "tablet", "server", "virtual_machine", "other"]:
    """From the chassis type; virtual_machine for hypervisor firmware or the CPUID flag."""
    try:
        info = system(c)
    except FactUnavailable:
        # X86_FEATURE_HYPERVISOR shows as the "hypervisor" flag (arch/x86 cpufeatures.h).
        fields = cpuinfo_fields(c.text("cpuinfo"))[0]
        if "hypervisor" in fields.get("flags", "").split():
            return "virtual_machine"
        raise
    if _inventory.is_virtual(
        info.vendor, info.model, _optional_dmi(c, "bios_vendor"), _optional_dmi(c, "board_vendor")
    ):
        return "virtual_machine"
    return _inventory.form_factor_from_chassis(info.chassis_type)


def cpu(c: Collected) -> Cpu:
    """Model, sockets, cores, threads and maximum frequency from /proc/cpuinfo and cpufreq."""
    fields, processors, sockets, cores = cpuinfo_fields(c.text("cpuinfo"))
    model = clean(fields.get("model name") or fields.get("Model") or fields.get("Hardware"))
    max_khz = (c.optional("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") or "").strip()
    return Cpu(
        model=" ".join(model.split()) if model else None,
        sockets=len(sockets) or None,
        physical_cores=len(cores) or None,
        logical_cpus=processors or None,
        max_mhz=int(max_khz) // 1000 if max_khz.isdigit() else None,
    )


def memory(c: Collected) -> Memory:
    """MemTotal of /proc/meminfo."""
    for line in c.text("meminfo").splitlines():
        if line.startswith("MemTotal:"):
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                return Memory(total_bytes=int(fields[1]) * 1024)
            raise FactUnavailable(f"/proc/meminfo has an unreadable MemTotal line {line[:80]!r}")
    raise FactUnavailable("/proc/meminfo has no MemTotal line")


def _flag(value: Any) -> bool | None:
    # lsblk prints booleans since util-linux 2.33, "0"/"1" strings before.
    if isinstance(value, bool):
        return value
    if value in ("0", "1", 0, 1):
        return value in ("1", 1)
    return None


def _text(value: Any, limit: int = 200) -> str | None:
    text = clean(value) if isinstance(value, str) else None
    return text[:limit] if text else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def disks(c: Collected) -> list[Disk]:
    """Whole disks of ``lsblk -J -d`` (loop, RAM and zram devices left out, as by the agent)."""
    data = load_json(c.text("lsblk"), "lsblk")
    try:
        devices = data["blockdevices"]
    except (KeyError, TypeError) as exc:
        raise FactUnavailable("lsblk printed something that is not its JSON list") from exc
    out: list[Disk] = []
    for dev in devices if isinstance(devices, list) else []:
        if not isinstance(dev, dict) or dev.get("type") != "disk":
            continue
        name = _text(dev.get("name"), 64)
        size = _as_int(dev.get("size"))
        if not name or name.startswith(("loop", "ram", "zram")) or size == 0:
            continue
        rotational = _flag(dev.get("rota"))
        bus = _text(dev.get("tran"), 16)
        if bus is None and name.startswith("vd"):
            bus = "virtio"
        media: Literal["ssd", "hdd"] | None = None
        if bus not in ("virtio", "usb", None) and rotational is not None:
            media = "hdd" if rotational else "ssd"
        out.append(
            Disk(
                name=name,
                model=_text(dev.get("model")),
                serial=_text(dev.get("serial")),
                size_bytes=size,
                media=media,
                rotational=rotational,
                bus=bus,
                removable=_flag(dev.get("rm")),
            )
        )
    return out


def partitions(c: Collected) -> list[Partition]:
    """Block-device filesystems of ``df -P -T -k`` with their usage (one entry per device)."""
    out: list[Partition] = []
    seen: set[str] = set()
    for line in c.text("df").splitlines()[1:]:
        # Filesystem Type 1024-blocks Used Available Capacity Mounted-on (the last may hold
        # spaces, so it is what is left after six splits).
        fields = line.split(None, 6)
        if len(fields) != 7 or not fields[0].startswith("/dev/") or fields[0] in seen:
            continue
        device, fstype, total, used, free, percent, mount = fields
        if fstype == "squashfs" or device.startswith("/dev/loop"):
            continue
        seen.add(device)
        numbers = [int(x) * 1024 if x.isdigit() else None for x in (total, used, free)]
        share = percent.rstrip("%")
        out.append(
            Partition(
                device=device[:200],
                mountpoint=mount[:400],
                filesystem=fstype[:32],
                size_bytes=numbers[0],
                used_bytes=numbers[1],
                free_bytes=numbers[2],
                used_percent=float(share) if share.isdigit() else None,
            )
        )
    return out


def hardware(c: Collected) -> Hardware:
    """The hardware section (SMBIOS, /proc, lsblk, df)."""
    f = Facts()
    info = f.get("system", lambda: system(c))
    if info is not None:
        info.serial = f.get("system.serial", lambda: _dmi(c, "product_serial", "serial number"))
    bios: Bios | None = None
    board: Board | None = None
    if c.dmi:
        date_text = _optional_dmi(c, "bios_date")
        bios = Bios(
            vendor=_optional_dmi(c, "bios_vendor"),
            version=_optional_dmi(c, "bios_version"),
            release_date=_bios_date(date_text),
        )
        board = Board(
            vendor=_optional_dmi(c, "board_vendor"), product=_optional_dmi(c, "board_name")
        )
        board.serial = f.get("board.serial", lambda: _dmi(c, "board_serial", "board serial"))
    else:
        f.unknown["bios"] = f.unknown["board"] = f"{DMI_DIR} is not readable"
    section = Hardware(
        system=info,
        form_factor=f.get("form_factor", lambda: form_factor(c)),
        bios=bios,
        board=board,
        cpu=f.get("cpu", lambda: cpu(c)),
        memory=f.get("memory", lambda: memory(c)),
        disks=f.get("disks", lambda: disks(c)),
        partitions=f.get("partitions", lambda: partitions(c)),
    )
    for name in ("memory_modules", "monitors", "batteries", "age"):
        f.unknown[name] = NOT_COLLECTED
    if bios is not None and bios.release_date is not None:
        section.age = hardware_age(bios, c.now.date())
        del f.unknown["age"]
    section.unknown = f.unknown
    return section


# --- operating system -------------------------------------------------------------------------


def os_version(c: Collected) -> OsVersion:
    """Name and version from /etc/os-release (os-release(5))."""
    rel = _env_file(c.text("os_release"))
    name = rel.get("PRETTY_NAME") or " ".join(filter(None, (rel.get("NAME"), rel.get("VERSION"))))
    return OsVersion(
        family="linux",
        name=name[:200] or None,
        id=(rel.get("ID") or "")[:64] or None,
        version=(rel.get("VERSION_ID") or "")[:64] or None,
        display_version=(rel.get("VERSION_CODENAME") or "")[:64] or None,
        edition=(rel.get("VARIANT_ID") or "")[:64] or None,
    )


def boot_time(c: Collected) -> datetime:
    """Now minus /proc/uptime: the host's own clock does not matter."""
    fields = c.file("/proc/uptime").split()
    try:
        seconds = float(fields[0])
    except (IndexError, ValueError) as exc:
        raise FactUnavailable("/proc/uptime is unreadable") from exc
    return (c.now - timedelta(seconds=seconds)).replace(microsecond=0)


def timezone(c: Collected) -> str:
    """The /etc/localtime link target's zone, else /etc/timezone (Debian)."""
    result = c.outputs.get("localtime")
    target = result.stdout.strip() if result is not None and result.ok else ""
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1][:64]
    value = (c.optional("/etc/timezone") or "").strip()
    if value:
        return value.splitlines()[0][:64]
    raise FactUnavailable("/etc/localtime is not a zoneinfo link and /etc/timezone is missing")


def locale(c: Collected) -> Locale:
    """LANG (and LANGUAGE) of /etc/locale.conf or /etc/default/locale."""
    for path in ("/etc/locale.conf", "/etc/default/locale"):
        text = c.optional(path)
        if text is None:
            continue
        env = _env_file(text)
        lang = env.get("LANG")
        if not lang:
            continue
        languages = [_bcp47(x) for x in env.get("LANGUAGE", "").split(":") if x] or [_bcp47(lang)]
        return Locale(locale=lang[:64], ui_languages=[x[:32] for x in languages if x][:16])
    raise FactUnavailable("no LANG in /etc/locale.conf or /etc/default/locale")


def users(c: Collected) -> list[LoggedInUser]:
    """``who`` (run with TZ=UTC0): name, terminal, login time, remote host."""
    out: list[LoggedInUser] = []
    for line in c.text("who").splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        since: datetime | None = None
        if len(fields) >= 4:
            try:
                since = datetime.strptime(f"{fields[2]} {fields[3]}", "%Y-%m-%d %H:%M")
                since = since.replace(tzinfo=UTC)
            except ValueError:
                since = None
        host = fields[-1][1:-1] if fields[-1].startswith("(") and fields[-1].endswith(")") else None
        out.append(
            LoggedInUser(name=fields[0][:64], terminal=fields[1][:32], host=host, since=since)
        )
    return sorted(out, key=lambda u: (u.name, u.terminal or ""))[:200]


def operating_system(c: Collected) -> OperatingSystem:
    """The os section."""
    f = Facts()
    version = f.get("version", lambda: os_version(c))
    uname = f.get("kernel", lambda: _uname(c))
    if uname is None:
        f.unknown["architecture"] = f.unknown["kernel"]
    section = OperatingSystem(
        version=version,
        kernel=uname[2][:128] if uname else None,
        architecture=uname[3][:32] if uname else None,
        boot_time=f.get("boot_time", lambda: boot_time(c)),
        timezone=f.get("timezone", lambda: timezone(c)),
        locale=f.get("locale", lambda: locale(c)),
        users=f.get("users", lambda: users(c)),
    )
    f.unknown["install_date"] = NOT_COLLECTED
    if version is not None:
        section.support = f.get("support", lambda: _inventory.support(version, c.now.date()))
    else:
        f.unknown["support"] = "the OS version is unknown"
    section.unknown = f.unknown
    return section


# --- software ---------------------------------------------------------------------------------


def packages(c: Collected) -> tuple[Literal["dpkg", "rpm"], list[Package]]:
    """The package manager and the installed packages (dpkg-query, else rpm -qa)."""
    dpkg = c.outputs.get("dpkg")
    if dpkg is not None and dpkg.ok and dpkg.stdout.strip():
        stanzas = dpkg_installed(dpkg.stdout)
        native = next((s.get("Architecture") for s in stanzas if s.get("Package") == "dpkg"), None)
        found = [
            Package(
                name=s.get("Package", "?")[:200],
                version=(s.get("Version") or "")[:200] or None,
                arch=arch[:32] if (arch := s.get("Architecture")) and arch not in ("all", native)
                else None,
            )
            for s in stanzas
        ]  # fmt: skip
        return "dpkg", sorted(found, key=lambda p: (p.name, p.arch or ""))
    rpm = c.outputs.get("rpm")
    if rpm is not None and rpm.ok and rpm.stdout.strip():
        return "rpm", sorted(rpm_packages(rpm.stdout), key=lambda p: (p.name, p.arch or ""))
    reasons = [f"{n}: {r.reason()}" for n in ("dpkg", "rpm") if (r := c.outputs.get(n))]
    raise FactUnavailable("no package list: " + ("; ".join(reasons) or "not run"))


#: systemctl list-unit-files states, onto the report's start modes (agent/report/software.py).
_UNIT_STATE: dict[str, StartMode] = {
    "enabled": "auto",
    "enabled-runtime": "auto",
    "alias": "manual",
    "masked": "disabled",
    "masked-runtime": "disabled",
}


def services(c: Collected) -> list[Service]:
    """systemd services: start mode from list-unit-files, running from list-units."""
    modes: dict[str, StartMode] = {}
    for line in c.text("unit_files").splitlines():
        fields = line.split()
        usable = len(fields) >= 2 and fields[0].endswith(".service") and "@." not in fields[0]
        if usable and fields[1] != "alias":
            modes[fields[0][:200]] = _UNIT_STATE.get(fields[1], "manual")
    running: set[str] | None = None
    units = c.outputs.get("units")
    if units is not None and units.ok:
        running = set()
        for line in units.stdout.splitlines():
            fields = line.split()
            # UNIT LOAD ACTIVE SUB DESCRIPTION
            if len(fields) >= 4 and fields[0].endswith(".service"):
                name = fields[0][:200]
                modes.setdefault(name, "manual")
                if fields[3] == "running":
                    running.add(name)
    return [
        Service(name=name, start_mode=mode, running=None if running is None else name in running)
        for name, mode in sorted(modes.items())
    ]


def software(c: Collected) -> Software:
    """The software section."""
    f = Facts()
    found = f.get("packages", lambda: packages(c))
    if found is None:
        f.unknown["package_manager"] = f.unknown["packages"]
    listed = f.get("services", lambda: services(c))
    if listed and all(s.running is None for s in listed):
        f.unknown["services.running"] = "systemctl list-units could not be read"
    for name in ("autostart", "vietnamese_text"):
        f.unknown[name] = NOT_COLLECTED
    return Software(
        package_manager=found[0] if found else None,
        packages=found[1] if found else None,
        services=listed,
        unknown=f.unknown,
    )
