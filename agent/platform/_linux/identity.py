"""Linux identity facts."""

import socket

import psutil

from agent.errors import FactUnavailable
from agent.platform._common import read_optional, read_text


def hostname() -> str:
    """Host name as the kernel knows it."""
    return socket.gethostname()


def fqdn() -> str | None:
    """Domain-qualified name when the host name carries one.

    ``socket.getfqdn()`` is not used: it asks DNS, which may hang for seconds on a cut-off PC.
    """
    name = socket.gethostname()
    return name if "." in name else None


def machine_id() -> str:
    """systemd's machine id (machine-id(5)); D-Bus's copy on older systems."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        value = read_optional(path)
        if value:
            return value
    raise FactUnavailable("neither /etc/machine-id nor /var/lib/dbus/machine-id exists")


def system_uuid() -> str:
    """SMBIOS system UUID; the kernel makes it readable by root only."""
    value = read_text("/sys/class/dmi/id/product_uuid").strip().lower()
    if not value:
        raise FactUnavailable("the firmware reports no system UUID")
    return value


def system_serial() -> str:
    """SMBIOS system serial number (root only); placeholders from the vendor count as none."""
    value = read_text("/sys/class/dmi/id/product_serial").strip()
    if not value or value.lower() in _PLACEHOLDER_SERIALS:
        raise FactUnavailable("the firmware reports no system serial number")
    return value


_PLACEHOLDER_SERIALS = frozenset(
    {"to be filled by o.e.m.", "default string", "system serial number", "none", "0", "n/a"}
)


def physical_macs() -> list[str]:
    """MACs of interfaces backed by a device (``/sys/class/net/X/device``), not virtual ones."""
    macs: set[str] = set()
    for name, addrs in psutil.net_if_addrs().items():
        if read_optional(f"/sys/class/net/{name}/device/uevent") is None:
            continue
        for addr in addrs:
            mac = addr.address.lower() if addr.family == psutil.AF_LINK else ""
            if mac and mac != "00:00:00:00:00:00":
                macs.add(mac)
    return sorted(macs)
