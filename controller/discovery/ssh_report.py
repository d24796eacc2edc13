"""Turn the outputs of :data:`controller.discovery.ssh_commands.COMMANDS` into a report.

The report has the agent's shape (:mod:`agent.report`), so the same policies, host facts and
dashboard apply to a host collected over SSH. Where the agent reads a file or a command and this
module gets the same text over SSH, the agent's own parsers are reused (os-release, dpkg and rpm
lists, nftables and iptables rulesets, sshd_config, the end-of-life table). Facts the commands
cannot give (monitors, radios, saved networks, anti-malware...) stay ``None`` with the reason in
the section's ``unknown`` map, so that no rule takes them for a pass.

Everything here is hostile input: a parse that fails makes one fact unknown (or, at worst, one
section missing with an error entry), never the collection.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from agent import __version__
from agent.collectors.base import Facts
from agent.collectors.hardware import hardware_age
from agent.errors import FactUnavailable, note_unknown
from agent.platform import _inventory
from agent.platform._inventory import clean
from agent.platform._linux._sec_firewall import _iptables_profile, _nft_profile
from agent.platform._linux._sw_packages import dpkg_installed, rpm_packages
from agent.platform._linux.hardware import _bios_date
from agent.platform._linux.network import _DEVTYPE_KIND, _nameservers
from agent.platform._linux.os_info import _bcp47, _env_file
from agent.platform._portable import parse_sshd_config
from agent.report import SCHEMA_VERSION, CollectorError, CollectorRun, Report
from agent.report._base import Section
from agent.report.hardware import Bios, Board, Cpu, Disk, Hardware, Memory, Partition, SystemInfo
from agent.report.identity import Identity
from agent.report.network import Address, Interface, Network, Route
from agent.report.os_info import Locale, LoggedInUser, OperatingSystem, OsVersion
from agent.report.security import (
    Firewall,
    FirewallProfile,
    ListeningPort,
    Security,
    SshServer,
    TimeSync,
)
from agent.report.software import Package, Service, Software, StartMode
from controller.discovery.ssh_commands import DMI_DIR, CommandResult

#: Why a fact the agent collects is missing from an SSH report.
NOT_COLLECTED = "not collected over SSH (no agent on this host)"

Outputs = Mapping[str, CommandResult]


class Collected:
    """The outputs of one collection, with the small files and SMBIOS attributes split out."""

    def __init__(self, outputs: Outputs, now: datetime) -> None:
        self.outputs = outputs
        self.now = now
        self.files, self.file_errors = grep_files(outputs.get("files"))
        dmi, dmi_errors = grep_files(outputs.get("dmi"))
        prefix = DMI_DIR + "/"
        self.dmi = {k.removeprefix(prefix): v for k, v in dmi.items()}
        self.dmi_errors = {k.removeprefix(prefix): v for k, v in dmi_errors.items()}

    def text(self, name: str) -> str:
        """The standard output of a command that succeeded, else FactUnavailable."""
        result = self.outputs.get(name)
        if result is None:
            raise FactUnavailable(f"{name}: not run")
        if not result.ok:
            raise FactUnavailable(f"{name}: {result.reason()}")
        return result.stdout

    def file(self, path: str) -> str:
        """A small file's content, else FactUnavailable with the reason grep gave."""
        if path in self.files:
            return self.files[path]
        raise FactUnavailable(self.file_errors.get(path, f"{path} could not be read"))

    def optional(self, path: str) -> str | None:
        """A small file's content, or None."""
        return self.files.get(path)


def grep_files(result: CommandResult | None) -> tuple[dict[str, str], dict[str, str]]:
    """``grep -H ''`` output as {path: text} and its errors as {path: reason}.

    Each output line is ``path:line``; paths never hold ':' (ours are fixed, and Linux refuses
    ':' in interface names). An error line is ``grep: path: reason``.
    """
    files: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    if result is None:
        return {}, {}
    for line in result.stdout.splitlines():
        path, sep, value = line.partition(":")
        if sep and path.startswith("/"):
            files.setdefault(path, []).append(value)
    for line in result.stderr.splitlines():
        parts = line.split(": ")
        if len(parts) >= 3 and parts[1].startswith("/"):
            reason = parts[-1].strip()
            if "denied" in reason.lower():
                reason = f"permission denied reading {parts[1]} (collect as root)"
            elif "no such file" in reason.lower():
                reason = f"{parts[1]} does not exist"
            else:
                reason = f"cannot read {parts[1]}: {reason[:120]}"
            errors[parts[1]] = reason
    return {path: "\n".join(lines) for path, lines in files.items()}, errors


def load_json(text: str, what: str) -> Any:
    """Parsed JSON, or FactUnavailable: a host's garbage, or nesting deep enough to exhaust
    the parser's recursion, is one unknown fact."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FactUnavailable(f"{what} printed something that is not JSON") from exc


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


# --- network ----------------------------------------------------------------------------------

_ARPHRD_LOOPBACK = 772
_ARPHRD_PPP = 512
_ARPHRD_RAWIP = 519
_ARPHRD_NONE = 65534
_ARPHRD_ETHER = 1
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def _net_sysfs(c: Collected) -> tuple[dict[str, int], dict[str, str], set[str] | None]:
    """(ARPHRD type, DEVTYPE) per interface and the virtual ones (None: not known)."""
    types: dict[str, int] = {}
    devtypes: dict[str, str] = {}
    result = c.outputs.get("net_sysfs")
    for line in result.stdout.splitlines() if result is not None else []:
        path, sep, value = line.partition(":")
        parts = path.split("/")
        if not sep or len(parts) != 6 or parts[:4] != ["", "sys", "class", "net"]:
            continue
        name, attr = parts[4], parts[5]
        if attr == "type" and value.strip().isdigit():
            types[name] = int(value.strip())
        elif attr == "uevent" and value.startswith("DEVTYPE="):
            devtypes[name] = value.partition("=")[2].strip()
    virtual: set[str] | None = None
    links = c.outputs.get("net_links")
    if links is not None and links.stdout.strip():
        virtual = {
            line.rstrip("/").rsplit("/", 1)[-1]
            for line in links.stdout.splitlines()
            if "/devices/virtual/" in line
        }
    return types, devtypes, virtual


def _kind(
    name: str, link_type: str | None, arptype: int | None, devtype: str | None, virtual: bool | None
) -> str | None:
    """The agent's interface kinds (agent/platform/_linux/network.py), from what ip and sysfs
    told over SSH."""
    if arptype == _ARPHRD_LOOPBACK or link_type == "loopback":
        return "loopback"
    if devtype in _DEVTYPE_KIND:
        return _DEVTYPE_KIND[devtype]
    if arptype in (_ARPHRD_RAWIP, _ARPHRD_PPP):
        return "wwan"
    if virtual or arptype == _ARPHRD_NONE or link_type == "none":
        return "virtual"
    if virtual is None:
        return None
    if arptype == _ARPHRD_ETHER or link_type == "ether":
        return "wired"
    return "other"


def _addresses(entries: Any) -> list[Address]:
    out: list[Address] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        try:
            ip = ipaddress.ip_address(str(entry.get("local", "")).partition("%")[0])
        except ValueError:
            continue
        prefix = entry.get("prefixlen")
        out.append(
            Address(
                address=str(ip),
                family="ipv4" if ip.version == 4 else "ipv6",
                prefix=prefix if isinstance(prefix, int) and 0 <= prefix <= 128 else None,
                link_local=ip.is_link_local,
            )
        )
    return out[:256]


def interfaces(c: Collected) -> list[Interface]:
    """Interfaces of ``ip -j -d addr`` with their kind, state and addresses."""
    links = load_json(c.text("ip_addr"), "ip")
    if not isinstance(links, list):
        raise FactUnavailable("ip printed something that is not its JSON list")
    types, devtypes, virtual = _net_sysfs(c)
    out: list[Interface] = []
    for link in links[:1024]:
        if not isinstance(link, dict) or not isinstance(link.get("ifname"), str):
            continue
        name = link["ifname"][:32]
        raw_flags = link.get("flags")
        flags: list[Any] = raw_flags if isinstance(raw_flags, list) else []
        link_type = link.get("link_type") if isinstance(link.get("link_type"), str) else None
        info = link.get("linkinfo")
        # ip -d names the driver of virtual links (bridge, veth, vlan, tun...).
        info_kind = info.get("info_kind") if isinstance(info, dict) else None
        kind_name = _kind(
            name,
            link_type,
            types.get(name),
            devtypes.get(name),
            None if virtual is None else (name in virtual or bool(info_kind)),
        )
        mac: str | None = str(link.get("address", "")).lower()
        if not _MAC.fullmatch(mac or "") or mac == "00:00:00:00:00:00":
            mac = None
        operstate = str(link.get("operstate", "")).lower()
        up: bool | None = None
        if operstate in ("up", "down", "dormant", "lowerlayerdown", "notpresent"):
            up = operstate == "up"
        elif operstate == "unknown":
            # loopback and tun never report an operstate (RFC 2863 "unknown").
            up = "UP" in flags and "NO-CARRIER" not in flags
        mtu = link.get("mtu")
        out.append(
            Interface(
                name=name,
                kind=kind_name,  # type: ignore[arg-type]
                loopback=kind_name == "loopback",
                mac=mac,
                up=up,
                admin_up="UP" in flags,
                carrier="LOWER_UP" in flags if "UP" in flags else None,
                mtu=mtu if isinstance(mtu, int) else None,
                addresses=_addresses(link.get("addr_info")),
            )
        )
    return out


def default_routes(c: Collected, indexes: Mapping[str, int]) -> list[Route]:
    """Default routes of ``ip -j route show default`` (IPv4; IPv6 when it answered)."""
    routes: list[Route] = []
    for name, family in (("ip_route4", "ipv4"), ("ip_route6", "ipv6")):
        result = c.outputs.get(name)
        if result is None or not result.ok:
            if family == "ipv4":
                raise FactUnavailable(f"ip route: {result.reason() if result else 'not run'}")
            continue
        entries = load_json(result.stdout or "[]", "ip route")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("dst") != "default":
                continue
            if entry.get("type") in ("unreachable", "blackhole", "prohibit"):
                continue
            dev = entry.get("dev") if isinstance(entry.get("dev"), str) else None
            if family == "ipv6" and dev == "lo":
                continue
            gateway = entry.get("gateway") if isinstance(entry.get("gateway"), str) else None
            metric = entry.get("metric")
            routes.append(
                Route(
                    family=family,  # type: ignore[arg-type]
                    gateway=gateway[:64] if gateway else None,
                    interface=dev[:32] if dev else None,
                    interface_index=indexes.get(dev) if dev else None,
                    metric=metric if isinstance(metric, int) else None,
                )
            )
    return routes


def dns_servers(c: Collected) -> list[str]:
    """resolv.conf's nameservers, or systemd-resolved's upstream ones behind its stub."""
    servers = _nameservers(c.file("/etc/resolv.conf"))
    if servers and all(s in ("127.0.0.53", "127.0.0.54") for s in servers):
        upstream = c.optional("/run/systemd/resolve/resolv.conf")
        if upstream is None:
            raise FactUnavailable("resolv.conf points at the systemd-resolved stub only")
        servers = _nameservers(upstream)
    return [s[:64] for s in servers][:16]


def _ifindexes(c: Collected) -> dict[str, int]:
    try:
        links = load_json(c.text("ip_addr"), "ip")
    except FactUnavailable:
        return {}
    out: dict[str, int] = {}
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and isinstance(link.get("ifname"), str):
            index = link.get("ifindex")
            if isinstance(index, int):
                out[link["ifname"]] = index
    return out


def network(c: Collected) -> Network:
    """The network section."""
    f = Facts()
    section = Network(
        interfaces=f.get("interfaces", lambda: interfaces(c)),
        default_routes=f.get("default_routes", lambda: default_routes(c, _ifindexes(c))),
        dns_servers=f.get("dns_servers", lambda: dns_servers(c)),
    )
    for name in ("radios", "profiles"):
        f.unknown[name] = NOT_COLLECTED
    section.unknown = f.unknown
    return section


# --- security ---------------------------------------------------------------------------------


def _running_units(c: Collected) -> set[str] | None:
    result = c.outputs.get("units")
    if result is None or not result.ok:
        return None
    return {
        fields[0]
        for line in result.stdout.splitlines()
        if len(fields := line.split()) >= 4 and fields[3] == "running"
    }


def _key_values(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip().strip("\"'")
    return out


def _ufw(c: Collected) -> FirewallProfile | None:
    conf = c.optional("/etc/ufw/ufw.conf")
    if conf is None:
        return None
    enabled = _key_values(conf).get("ENABLED", "").lower()
    # ufw(8): ENABLED=yes makes the ufw service load the rules at boot.
    state = True if enabled == "yes" else False if enabled == "no" else None
    policy = _key_values(c.optional("/etc/default/ufw")).get("DEFAULT_INPUT_POLICY", "").upper()
    inbound: Literal["allow", "block"] | None = None
    if policy in ("DROP", "REJECT"):
        inbound = "block"
    elif policy == "ACCEPT":
        inbound = "allow"
    return FirewallProfile(name="ufw", enabled=state, default_inbound=inbound if state else None)


def _firewalld(c: Collected) -> FirewallProfile | None:
    if c.optional("/etc/firewalld/firewalld.conf") is None:
        return None
    running = _running_units(c)
    return FirewallProfile(
        name="firewalld", enabled=None if running is None else "firewalld.service" in running
    )


def _kernel_ruleset(c: Collected) -> tuple[FirewallProfile | None, str]:
    reasons: list[str] = []
    for name, parse in (("nft", _nft_profile), ("iptables", _iptables_profile)):
        result = c.outputs.get(name)
        if result is None:
            continue
        if result.ok and result.stdout.strip():
            try:
                return parse(result.stdout), ""
            except FactUnavailable as exc:
                reasons.append(f"{name}: {exc.reason}")
            except RecursionError:
                reasons.append(f"{name}: output nested too deep to read")
        else:
            reasons.append(f"{name}: {result.reason()}")
    return None, "; ".join(reasons) or "the kernel ruleset was not read"


def firewall(c: Collected) -> Firewall:
    """ufw/firewalld configuration and, when the login may read it, the kernel ruleset (the
    same decision as the agent's, agent/platform/_linux/_sec_firewall.py)."""
    tools = [p for p in (_ufw(c), _firewalld(c)) if p is not None]
    kernel, reason = _kernel_ruleset(c)
    profiles = [*tools, *([kernel] if kernel else [])]
    configured = next((p for p in tools if p.enabled), None)
    if kernel is not None:
        enabled = kernel.enabled
        if enabled and configured is not None:
            product: str | None = configured.name
        else:
            product = kernel.name if enabled else (tools[0].name if tools else None)
        return Firewall(enabled=enabled, product=product, profiles=profiles)
    if configured is not None:
        return Firewall(enabled=True, product=configured.name, profiles=profiles)
    state = f"{', '.join(p.name for p in tools)} not enabled" if tools else "no ufw or firewalld"
    raise FactUnavailable(f"{state}, and {reason} (collect as root to read the ruleset)")


def _split_address(text: str) -> tuple[str, int] | None:
    """``addr:port`` of ss (``[v6]:port``, ``*:port``, ``addr%iface:port``)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    host = host.partition("%")[0].strip("[]")
    return (host or "*")[:64], int(port)


def listening_ports(c: Collected) -> list[ListeningPort]:
    """``ss -H -tuln -p``: listening TCP sockets and bound UDP ones, with the process when
    the login may see it."""
    found: dict[tuple[str, str, int, int | None], ListeningPort] = {}
    for line in c.text("ss").splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] not in ("tcp", "udp"):
            continue
        local = _split_address(fields[4])
        if local is None:
            continue
        process: str | None = None
        pid: int | None = None
        rest = " ".join(fields[6:])
        if rest.startswith('users:(("'):
            process = rest[len('users:(("') :].partition('"')[0][:64] or None
            pid_text = rest.partition("pid=")[2].partition(",")[0]
            pid = int(pid_text) if pid_text.isdigit() else None
        protocol: Literal["tcp", "udp"] = "tcp" if fields[0] == "tcp" else "udp"
        key = (protocol, local[0], local[1], pid)
        found.setdefault(
            key,
            ListeningPort(
                protocol=protocol, address=local[0], port=local[1], process=process, pid=pid
            ),
        )
    ports = sorted(found.values(), key=lambda p: (p.protocol, p.port, p.address, p.pid or 0))
    return ports[:2000]


def time_sync(c: Collected) -> TimeSync:
    """timedatectl's NTPSynchronized, and the time service running."""
    values = _key_values(c.text("timedatectl"))
    synced = values.get("NTPSynchronized", "").lower()
    running = _running_units(c) or set()
    service = next(
        (
            name.removesuffix(".service")
            for name in ("chronyd.service", "chrony.service", "ntpsec.service", "ntp.service",
                         "ntpd.service", "systemd-timesyncd.service")
            if name in running
        ),
        None,
    )  # fmt: skip
    if service == "chrony":
        service = "chronyd"
    return TimeSync(
        synchronized={"yes": True, "no": False}.get(synced),
        service=service,
    )


def ssh_server(c: Collected) -> SshServer:
    """The SSH server the collection logged in to: running by definition, its settings from
    the main sshd_config (Include files are not followed over SSH)."""
    server = SshServer(installed=True, running=True)
    try:
        text = c.file("/etc/ssh/sshd_config")
    except FactUnavailable as exc:
        server.ports = None
        for name in ("ports", "permit_root_login", "password_authentication"):
            note_unknown(name, exc.reason)
        return server
    settings = parse_sshd_config(text)
    ports = [int(v) for v in settings.get("port", ["22"]) if v.isdigit() and 0 < int(v) < 65536]
    root = settings.get("permitrootlogin", ["prohibit-password"])[0].lower()
    if root == "without-password":
        root = "prohibit-password"  # deprecated alias (sshd_config(5))
    server.ports = sorted(set(ports))
    server.permit_root_login = root[:32]
    pw_auth = settings.get("passwordauthentication", ["yes"])[0].lower()
    server.password_authentication = {"yes": True, "no": False}.get(pw_auth)
    return server


def security(c: Collected) -> Security:
    """The security section: what the commands can tell; the rest unknown."""
    f = Facts()
    section = Security(
        firewall=f.get("firewall", lambda: firewall(c)),
        listening_ports=f.get("listening_ports", lambda: listening_ports(c)),
        time_sync=f.get("time_sync", lambda: time_sync(c)),
        ssh_server=f.get("ssh_server", lambda: ssh_server(c)),
    )
    for name in (
        "antimalware",
        "updates",
        "encryption",
        "accounts",
        "password_policy",
        "screen_lock",
        "usb_storage",
        "autorun",
        "remote_tools",
        "audit",
    ):
        f.unknown[name] = NOT_COLLECTED
    section.unknown = f.unknown
    return section


# --- the report -------------------------------------------------------------------------------

#: Section name -> builder, in the report's order. Connectivity (probes from the host itself)
#: and peripherals are left out: no SSH command gives them.
SECTIONS: tuple[tuple[str, Callable[[Collected], Section]], ...] = (
    ("identity", identity),
    ("hardware", hardware),
    ("os", operating_system),
    ("software", software),
    ("network", network),
    ("security", security),
)


def build_report(outputs: Outputs, collected_at: datetime) -> Report:
    """The report of one collection. A section whose builder fails is left out with an error
    entry, like a failed collector of the agent; the others are kept."""
    c = Collected(outputs, collected_at)
    report = Report(
        schema_version=SCHEMA_VERSION,
        kind="full",
        agent_version=__version__,
        collected_at=collected_at.replace(microsecond=0),
    )
    for name, build in SECTIONS:
        start = time.perf_counter()
        error: CollectorError | None = None
        try:
            setattr(report, name, build(c))
        except FactUnavailable as exc:
            error = CollectorError(collector=name, error="FactUnavailable", message=exc.reason)
        except Exception as exc:  # hostile output must never stop the collection
            error = CollectorError(collector=name, error=type(exc).__name__, message=str(exc))
        elapsed = round((time.perf_counter() - start) * 1000, 1)
        report.collectors.append(CollectorRun(name=name, duration_ms=elapsed, ok=error is None))
        if error is not None:
            report.errors.append(error)
    return report


__all__ = ["NOT_COLLECTED", "SECTIONS", "Collected", "build_report", "grep_files"]
