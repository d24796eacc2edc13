"""The fixed commands agentless collection runs on a Linux host, and what one run gave back.

Every command is a constant string written here: nothing from the operator, the organisation
file or the host is ever put into a command line. Each one is prefixed with the same ``env``
settings: a C locale (parseable output), UTC (``who`` prints UTC times) and a PATH holding the
sbin directories, which a non-interactive login of an ordinary user lacks on Debian
(``ip``, ``nft`` and ``iptables-save`` live there).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from agent.platform._linux._sw_packages import RPM_QUERY

#: Where host output stops being read: a host that floods a channel costs this much at most.
DEFAULT_MAX_BYTES = 1024 * 1024
#: Package lists and /proc/cpuinfo of big servers are the largest outputs.
LARGE_MAX_BYTES = 8 * 1024 * 1024
#: Standard error is only read for a reason to show.
STDERR_MAX_BYTES = 16 * 1024

_ENV = (
    "env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C LANG=C TZ=UTC0 "
)

#: Small text files read by one ``grep -H`` (each line comes back as ``path:line``; an
#: unreadable file is one line on standard error, the others still come back).
FILES = (
    "/etc/machine-id",
    "/var/lib/dbus/machine-id",
    "/etc/hostname",
    "/proc/uptime",
    "/etc/timezone",
    "/etc/default/locale",
    "/etc/locale.conf",
    "/etc/resolv.conf",
    "/run/systemd/resolve/resolv.conf",
    "/etc/ssh/sshd_config",
    "/etc/ufw/ufw.conf",
    "/etc/default/ufw",
    "/etc/firewalld/firewalld.conf",
    "/var/run/reboot-required",
    "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
)

#: SMBIOS attributes (Documentation/ABI/testing/sysfs-class-dmi); the serials and the UUID are
#: readable by root only, so a login as another user leaves them unknown.
DMI_DIR = "/sys/class/dmi/id"
DMI_ATTRS = (
    "product_uuid",
    "product_serial",
    "sys_vendor",
    "product_name",
    "product_sku",
    "chassis_type",
    "bios_vendor",
    "bios_version",
    "bios_date",
    "board_vendor",
    "board_name",
    "board_serial",
)

#: dpkg-query's output in the shape of dpkg's status file, so that the agent's parser reads it.
_DPKG_FORMAT = (
    "Package: ${Package}\\nStatus: ${Status}\\nVersion: ${Version}\\n"
    "Architecture: ${Architecture}\\n\\n"
)


@dataclass(frozen=True, slots=True)
class Command:
    """One command run on the host: a name for its output, the line, an output limit."""

    name: str
    line: str
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command gave back. ``error`` says why it gave nothing usable (cut, too big)."""

    stdout: str = ""
    stderr: str = ""
    #: The remote exit status; None when the command was cut or the host never said.
    exit_status: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Ran to the end with exit status 0."""
        return self.error is None and self.exit_status == 0

    def reason(self) -> str:
        """Why the output is not usable, for a report's ``unknown`` map."""
        if self.error is not None:
            return self.error
        first = self.stderr.strip().splitlines()
        detail = f": {first[0][:200]}" if first else ""
        if self.exit_status == 127:
            return f"command not found on the host{detail}"
        return f"exited with status {self.exit_status}{detail}"


def _cmd(name: str, line: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Command:
    return Command(name, _ENV + line, max_bytes)


def _grep(paths: tuple[str, ...] | list[str]) -> str:
    return "grep -a -H '' " + " ".join(paths)


COMMANDS: tuple[Command, ...] = (
    _cmd("uname", "uname -snrm"),
    _cmd("os_release", "cat /etc/os-release"),
    _cmd("files", _grep(FILES)),
    _cmd("dmi", _grep([f"{DMI_DIR}/{attr}" for attr in DMI_ATTRS])),
    _cmd("cpuinfo", "cat /proc/cpuinfo", LARGE_MAX_BYTES),
    _cmd("meminfo", "cat /proc/meminfo"),
    _cmd("localtime", "readlink /etc/localtime"),
    _cmd("ip_addr", "ip -j -d addr show"),
    _cmd("ip_route4", "ip -j -4 route show default"),
    _cmd("ip_route6", "ip -j -6 route show default"),
    # The shell expands the globs; DEVTYPE (uevent) and ARPHRD (type) tell the interface kind.
    _cmd("net_sysfs", "grep -a -H '' /sys/class/net/*/type /sys/class/net/*/uevent"),
    # Device-backed interfaces link outside devices/virtual: their MACs identify the computer.
    _cmd("net_links", "readlink /sys/class/net/*"),
    _cmd("lsblk", "lsblk -J -b -d -o NAME,MODEL,SERIAL,SIZE,ROTA,TRAN,RM,TYPE"),
    _cmd("df", "df -P -T -k"),
    _cmd("ss", "ss -H -t -u -l -n -p"),
    _cmd("who", "who"),
    _cmd("dpkg", f"dpkg-query -W -f '{_DPKG_FORMAT}'", LARGE_MAX_BYTES),
    _cmd("rpm", shlex.join(RPM_QUERY), LARGE_MAX_BYTES),
    _cmd("units", "systemctl list-units --type=service --all --no-legend --plain --no-pager"),
    _cmd("unit_files", "systemctl list-unit-files --type=service --no-legend --no-pager"),
    _cmd("timedatectl", "timedatectl show"),
    # Root only (CAP_NET_ADMIN); otherwise the firewall comes from ufw/firewalld configuration.
    _cmd("nft", "nft -j list ruleset", LARGE_MAX_BYTES),
    _cmd("iptables", "iptables-save -t filter", LARGE_MAX_BYTES),
)

__all__ = [
    "COMMANDS",
    "DEFAULT_MAX_BYTES",
    "DMI_ATTRS",
    "DMI_DIR",
    "FILES",
    "STDERR_MAX_BYTES",
    "Command",
    "CommandResult",
]
