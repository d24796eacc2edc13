"""Linux peripherals: CUPS printers, USB devices, tokens, NSS certificates, signing ports."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

from agent.errors import FactUnavailable
from agent.platform import _catalogs
from agent.platform._common import have_command, host_path, list_dir, read_optional, read_text, run
from agent.platform._linux import _x509
from agent.report.peripherals import (
    Certificate,
    Connection,
    Printer,
    SigningPort,
    SmartCardReader,
    UsbDevice,
)

log = logging.getLogger(__name__)

PRINTERS_CONF = "/etc/cups/printers.conf"
USB_DEVICES = "/sys/bus/usb/devices"

#: CUPS backends (lpinfo -v) by what they reach; ``dnssd``/``ipp`` are network queues,
#: ``implicitclass`` is a cups-browsed queue for printers found on the network.
_NETWORK_SCHEMES = frozenset(
    {"ipp", "ipps", "http", "https", "socket", "lpd", "smb", "dnssd", "implicitclass", "beh"}
)
_LOCAL_SCHEMES = frozenset({"parallel", "serial"})
_VIRTUAL_SCHEMES = frozenset({"cups-pdf", "file", "virtual"})


def _strip_credentials(uri: str) -> str:
    """smb://user:password@host/queue keeps the password in printers.conf; never report it."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _connection(uri: str | None) -> Connection:
    scheme = (uri or "").partition(":")[0].lower()
    if scheme == "usb" or (scheme == "hp" and "usb" in (uri or "").lower()):
        return "usb"
    if scheme in _NETWORK_SCHEMES or scheme in ("hp", "hpfax"):
        return "network"
    if scheme in _LOCAL_SCHEMES:
        return "local"
    if scheme in _VIRTUAL_SCHEMES:
        return "virtual"
    return "other"


def _lpoptions_default() -> str | None:
    """``Default name`` in /etc/cups/lpoptions (lpoptions(1)), set by ``lpoptions -d``."""
    for line in (read_optional("/etc/cups/lpoptions") or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "Default":
            return parts[1].partition("/")[0]
    return None


def _parse_printers_conf(text: str, default: str | None = None) -> list[Printer]:
    """Queues of a printers.conf(5): ``<Printer name>``/``<DefaultPrinter name>`` blocks."""
    printers: list[Printer] = []
    block: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        start = re.match(r"<(Default)?Printer\s+(.+)>$", line)
        if start:
            block = {"_name": start.group(2), "_default": "1" if start.group(1) else ""}
        elif line == "</Printer>" and block is not None:
            printers.append(_printer(block, default))
            block = None
        elif block is not None:
            key, _, value = line.partition(" ")
            block[key] = value.strip()
    return printers


def _printer(block: dict[str, str], default: str | None) -> Printer:
    uri = block.get("DeviceURI")
    state = block.get("State", "").lower()
    return Printer(
        name=block["_name"],
        connection=_connection(uri),
        port=_strip_credentials(uri) if uri else None,
        driver=block.get("MakeModel") or None,
        description=block.get("Info") or None,
        location=block.get("Location") or None,
        default=bool(block["_default"]) or block["_name"] == default,
        shared=block.get("Shared", "").lower() == "yes",
        accepting=None if "Accepting" not in block else block["Accepting"].lower() == "yes",
        status={"idle": "idle", "stopped": "stopped", "processing": "printing"}.get(state),
    )


def printers() -> list[Printer]:
    """CUPS queues from /etc/cups/printers.conf (root-only: cupsd writes it mode 0600)."""
    if _exists("/etc/cups") is False:
        return []  # no CUPS: nothing can print from this computer
    if _exists(PRINTERS_CONF) is False:
        return []  # CUPS without any queue
    text = read_text(PRINTERS_CONF)  # permission denied -> "(run as root)"
    return _parse_printers_conf(text, _lpoptions_default())


def _usb_attrs(dev: str) -> dict[str, str]:
    base = f"{USB_DEVICES}/{dev}"
    names = ("idVendor", "idProduct", "manufacturer", "product", "serial", "bDeviceClass")
    return {n: v for n in names if (v := read_optional(f"{base}/{n}"))}


def _usb_devices_raw() -> list[tuple[dict[str, str], list[str]]]:
    """(attributes, interface classes) of each device; kernel names per sysfs-bus-usb ABI.

    ``usbN`` are root hubs, ``B-P[.P]`` devices and ``B-P:C.I`` their interfaces.
    """
    if not host_path(USB_DEVICES).is_dir():
        raise FactUnavailable(f"{USB_DEVICES} does not exist (no USB bus or /sys not mounted)")
    entries = list_dir(USB_DEVICES)
    out = []
    for dev in entries:
        if dev.startswith("usb") or ":" in dev:
            continue
        attrs = _usb_attrs(dev)
        if attrs.get("bDeviceClass") == "09":
            continue  # hubs
        classes = [
            c
            for i in entries
            if i.startswith(f"{dev}:")
            and (c := read_optional(f"{USB_DEVICES}/{i}/bInterfaceClass") or "")
        ]
        out.append((attrs, sorted(set(classes))))
    return out


def usb_devices() -> list[UsbDevice]:
    """Connected USB devices from sysfs (hubs left out)."""
    return [
        UsbDevice(
            vendor_id=a.get("idVendor"),
            product_id=a.get("idProduct"),
            manufacturer=a.get("manufacturer"),
            product=a.get("product"),
            serial=a.get("serial"),
            device_class=a.get("bDeviceClass"),
            interface_classes=classes,
        )
        for a, classes in _usb_devices_raw()
    ]


def smart_card_readers() -> list[SmartCardReader]:
    """USB devices with a CCID interface (class 0x0B) or from a known token vendor."""
    vendors = _catalogs.token_vendors()
    out = []
    for a, classes in _usb_devices_raw():
        vid = a.get("idVendor", "").lower()
        if "0b" not in classes and a.get("bDeviceClass") != "0b" and vid not in vendors:
            continue
        name = a.get("product") or a.get("manufacturer") or f"USB {vid}:{a.get('idProduct')}"
        out.append(
            SmartCardReader(
                name=name,
                vendor=vendors.get(vid) or a.get("manufacturer"),
                vendor_id=vid or None,
                product_id=a.get("idProduct"),
            )
        )
    return out


def _exists(path: str) -> bool | None:
    """Whether a host file exists; ``None`` when a directory on the way may not be entered."""
    try:
        return host_path(path).exists()
    except PermissionError:
        return None
    except OSError:
        return False


def _nss_databases() -> list[tuple[str, str]]:
    """(user, directory) of every NSS sql database under /root and /home/* (~/.pki/nssdb).

    Unprivileged, other users' homes (0700/0750) cannot be entered: when no database was found
    and some home could not be looked into, the answer is unknown rather than "none".
    """
    homes = ["/root"] + [f"/home/{u}" for u in list_dir("/home")]
    out = []
    denied = []
    for home in homes:
        path = f"{home}/.pki/nssdb"
        found = _exists(f"{path}/cert9.db")
        if found:
            out.append((home.rsplit("/", 1)[-1], path))
        elif found is None:
            denied.append(home)
    if denied and not out:
        raise FactUnavailable(f"cannot look into {', '.join(denied)} (run as root)")
    return out


def certificates() -> list[Certificate]:
    """User certificates (trust flags ``u``: a private key is present) in users' NSS databases.

    ``certutil -L`` lists nicknames with trust attributes; ``u`` marks a certificate whose private
    key is in the database (certutil(1) "-t trustargs"). Each such certificate is then exported
    with ``-a`` and read in-process: usually zero or one per PC.
    """
    dbs = _nss_databases()
    if not dbs:
        return []  # no user has an NSS database, so no personal certificate can be there
    if not have_command("certutil"):
        raise FactUnavailable(
            "NSS databases exist but certutil is not installed (install libnss3-tools)"
        )
    out: list[Certificate] = []
    for _user, path in dbs:
        listing = run(["certutil", "-L", "-d", f"sql:{path}"])
        for line in listing.splitlines():
            nick, _, trust = line.rstrip().rpartition(" ")
            nick = nick.strip()
            if not nick or not re.fullmatch(r"[A-Za-z]*,[A-Za-z]*,[A-Za-z]*", trust):
                continue
            if "u" not in trust:
                continue
            pem = run(["certutil", "-L", "-d", f"sql:{path}", "-n", nick, "-a"])
            for c in _x509.parse_pem(pem):
                out.append(
                    Certificate(
                        subject=c.subject,
                        issuer=c.issuer,
                        not_before=c.not_before,
                        not_after=c.not_after,
                        thumbprint=c.thumbprint,
                        serial=c.serial,
                        store=path,
                    )
                )
    return out


def _listeners(text: str) -> list[tuple[str, int]]:
    """(hex address, port) of LISTEN sockets in the text of /proc/net/tcp or tcp6 (proc(5))."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A":  # 0A = TCP_LISTEN (include/net/tcp_states.h)
            continue
        addr, _, port = fields[1].partition(":")
        try:
            out.append((addr.upper(), int(port, 16)))
        except ValueError:
            continue
    return out


#: Hex forms (host byte order words, little-endian x86) of addresses a 127.0.0.1 client reaches.
_LOOPBACK_V4 = {"0100007F": "127.0.0.1", "00000000": "0.0.0.0"}  # noqa: S104 - a match table
_LOOPBACK_V6 = {
    "00000000000000000000000001000000": "::1",
    "00000000000000000000000000000000": "::",
    "0000000000000000FFFF00000100007F": "::ffff:127.0.0.1",
}


def signing_ports(ports: list[int]) -> list[SigningPort]:
    """Whether something listens where a browser reaches 127.0.0.1:<port>, from /proc/net.

    Read in-process: no connection is attempted. A listener on 0.0.0.0 or on :: (dual-stack,
    ipv6(7) IPV6_V6ONLY off by default) also answers 127.0.0.1.
    """
    # Each read of /proc/net/tcp walks the kernel's whole socket hash table (milliseconds on a
    # machine with much memory), so each file is read once.
    tcp4 = read_optional("/proc/net/tcp")
    if tcp4 is None:
        raise FactUnavailable("/proc/net/tcp is not readable (is /proc mounted?)")
    tcp6 = read_optional("/proc/net/tcp6") or ""
    names = _catalogs.signing_port_names()
    found: dict[int, str] = {}
    for text, table in ((tcp4, _LOOPBACK_V4), (tcp6, _LOOPBACK_V6)):
        for addr, port in _listeners(text):
            if port in ports and addr in table:
                found.setdefault(port, table[addr])
    return [
        SigningPort(port=p, name=names.get(p), listening=p in found, address=found.get(p))
        for p in ports
    ]
