"""Linux network facts from /sys/class/net, /proc/net, resolv.conf, rfkill and saved profiles.

Everything is read in-process through ``_common`` (no ``ip`` or ``nmcli`` fork); interface
addresses come from psutil (getifaddrs(3)) because no /proc file lists IPv4 addresses.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psutil
import yaml

from agent.errors import FactUnavailable
from agent.platform._common import host_path, list_dir, read_optional, read_text
from agent.report.network import Address, Interface, NetworkProfile, Radio, Route

log = logging.getLogger(__name__)

#: getifaddrs(3) through psutil; a hook so tests replay recorded addresses.
if_addrs: Callable[[], dict[str, list[Any]]] = psutil.net_if_addrs

# ARPHRD_* from include/uapi/linux/if_arp.h
_ARPHRD_ETHER = 1
_ARPHRD_PPP = 512
_ARPHRD_LOOPBACK = 772
_ARPHRD_RAWIP = 519  # wwan modems in raw-IP mode (qmi_wwan)
_ARPHRD_NONE = 65534  # tun, wireguard
_IFF_UP = 0x1

#: uevent DEVTYPE values (net/core, drivers) that tell the kind without guessing from the name.
_DEVTYPE_KIND = {
    "wlan": "wifi",
    "wwan": "wwan",
    "bluetooth": "bluetooth",
    "bridge": "virtual",
    "bond": "virtual",
    "vlan": "virtual",
    "vxlan": "virtual",
    "veth": "virtual",
    "macvlan": "virtual",
    "ipvlan": "virtual",
    "wireguard": "virtual",
    "team": "virtual",
    "dsa": "virtual",
    "gadget": "wired",
}


def _uevent(path: str) -> dict[str, str]:
    text = read_optional(path) or ""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _int(text: str | None) -> int | None:
    try:
        return int(text, 0) if text is not None else None
    except ValueError:
        return None


def _kind(name: str, arptype: int | None) -> str:
    base = f"/sys/class/net/{name}"
    if arptype == _ARPHRD_LOOPBACK:
        return "loopback"
    devtype = _uevent(f"{base}/uevent").get("DEVTYPE", "")
    if devtype in _DEVTYPE_KIND:
        return _DEVTYPE_KIND[devtype]
    if host_path(f"{base}/wireless").exists() or host_path(f"{base}/phy80211").exists():
        return "wifi"
    if arptype in (_ARPHRD_RAWIP, _ARPHRD_PPP):
        return "wwan"
    if not host_path(f"{base}/device").exists() or arptype == _ARPHRD_NONE:
        return "virtual"  # no backing device: bridge, tun, veth, dummy, ifb
    if arptype == _ARPHRD_ETHER:
        return "wired"
    return "other"


def _addresses(entries: list[Any]) -> tuple[str | None, list[Address]]:
    mac: str | None = None
    out: list[Address] = []
    for entry in entries:
        if entry.family == psutil.AF_LINK:
            mac = entry.address.lower() or None
        elif entry.family in (socket.AF_INET, socket.AF_INET6):
            addr = entry.address.partition("%")[0]
            try:
                ip = ipaddress.ip_address(addr)
            except ValueError:
                log.info("unparseable address %r", entry.address)
                continue
            prefix: int | None = None
            if entry.netmask:
                try:
                    prefix = bin(int(ipaddress.ip_address(entry.netmask))).count("1")
                except ValueError:
                    prefix = None
            out.append(
                Address(
                    address=addr,
                    family="ipv4" if ip.version == 4 else "ipv6",
                    prefix=prefix,
                    link_local=ip.is_link_local,
                )
            )
    return mac, out


def interfaces() -> list[Interface]:
    """Every interface in /sys/class/net with its kind, state and addresses."""
    names = list_dir("/sys/class/net")
    if not names:
        raise FactUnavailable("/sys/class/net is empty or missing (sysfs not mounted)")
    try:
        addrs = if_addrs()
    except OSError as exc:
        raise FactUnavailable(f"cannot list interface addresses: {exc}") from exc
    result: list[Interface] = []
    for name in names:
        base = f"/sys/class/net/{name}"
        arptype = _int(read_optional(f"{base}/type"))
        kind = _kind(name, arptype)
        mac, addresses = _addresses(addrs.get(name, []))
        if mac is None:
            mac = (read_optional(f"{base}/address") or "").lower() or None
        if mac == "00:00:00:00:00:00":
            mac = None
        flags = _int(read_optional(f"{base}/flags"))
        operstate = read_optional(f"{base}/operstate")
        # carrier and speed raise EINVAL while the interface is down (Documentation/ABI/
        # testing/sysfs-class-net): unreadable means unknown, not "no link".
        carrier = _int(read_optional(f"{base}/carrier"))
        speed = _int(read_optional(f"{base}/speed"))
        up: bool | None = None
        if operstate in ("up", "down", "dormant", "lowerlayerdown", "notpresent"):
            up = operstate == "up"
        elif operstate == "unknown" and flags is not None:
            # loopback, tun and some drivers never report an operstate (RFC 2863 "unknown").
            up = bool(flags & _IFF_UP) and carrier != 0
        result.append(
            Interface(
                name=name,
                kind=kind,  # type: ignore[arg-type]
                loopback=kind == "loopback",
                mac=mac,
                up=up,
                admin_up=bool(flags & _IFF_UP) if flags is not None else None,
                carrier=bool(carrier) if carrier is not None else None,
                speed_mbps=speed if speed is not None and speed > 0 else None,
                mtu=_int(read_optional(f"{base}/mtu")),
                addresses=addresses,
            )
        )
    return result


def _hex_ipv4(value: str) -> str:
    # /proc/net/route prints addresses as host-order (little-endian on x86/ARM) hex.
    return socket.inet_ntop(socket.AF_INET, int(value, 16).to_bytes(4, "little"))


def _hex_ipv6(value: str) -> str:
    return str(ipaddress.IPv6Address(bytes.fromhex(value)))


def _ifindex(name: str) -> int | None:
    return _int(read_optional(f"/sys/class/net/{name}/ifindex"))


_RTF_UP = 0x1
_RTF_GATEWAY = 0x2
_RTF_REJECT = 0x200


def _route_v4(line: str) -> Route | None:
    f = line.split()
    if len(f) < 8 or f[1] != "00000000" or f[7] != "00000000":
        return None
    flags = int(f[3], 16)
    if not flags & _RTF_UP or flags & _RTF_REJECT:
        return None
    gateway = _hex_ipv4(f[2]) if flags & _RTF_GATEWAY else None
    return Route(family="ipv4", gateway=gateway, interface=f[0], interface_index=_ifindex(f[0]),
                 metric=int(f[6]))  # fmt: skip


def _route_v6(line: str) -> Route | None:
    f = line.split()
    if len(f) < 10 or f[0] != "0" * 32 or f[1] != "00":
        return None
    flags = int(f[8], 16)
    # The kernel keeps a reject route "default dev lo" when IPv6 has no default route.
    if not flags & _RTF_UP or flags & _RTF_REJECT or f[9] == "lo":
        return None
    gateway = _hex_ipv6(f[4]) if flags & _RTF_GATEWAY else None
    return Route(family="ipv6", gateway=gateway, interface=f[9], interface_index=_ifindex(f[9]),
                 metric=int(f[5], 16))  # fmt: skip


def default_routes() -> list[Route]:
    """Default routes from /proc/net/route and /proc/net/ipv6_route (proc(5)).

    A line whose fields are not the hex numbers proc(5) documents is skipped with a log line.
    """
    routes: list[Route] = []
    v4 = read_text("/proc/net/route").splitlines()[1:]
    v6 = (read_optional("/proc/net/ipv6_route") or "").splitlines()  # absent without IPv6
    for parse, lines in ((_route_v4, v4), (_route_v6, v6)):
        for line in lines:
            try:
                route = parse(line)
            except (ValueError, OverflowError):
                log.info("unparseable route line %r", line[:120])
                continue
            if route is not None:
                routes.append(route)
    return routes


def _nameservers(text: str) -> list[str]:
    servers: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            servers.append(fields[1])
    return servers


def dns_servers() -> list[str]:
    """Nameservers of /etc/resolv.conf, or systemd-resolved's upstream ones behind its stub.

    With systemd-resolved, resolv.conf points at the 127.0.0.53 stub (systemd-resolved.service(8));
    the servers it forwards to are listed in /run/systemd/resolve/resolv.conf.
    """
    servers = _nameservers(read_text("/etc/resolv.conf"))
    if servers and all(s in ("127.0.0.53", "127.0.0.54") for s in servers):
        upstream = read_optional("/run/systemd/resolve/resolv.conf")
        if upstream is None:
            raise FactUnavailable(
                "resolv.conf points at the systemd-resolved stub but "
                "/run/systemd/resolve/resolv.conf is missing"
            )
        return _nameservers(upstream)
    return servers


_RFKILL_KIND = {"wlan": "wifi", "bluetooth": "bluetooth", "wwan": "wwan"}


def radios() -> list[Radio]:
    """rfkill switches (/sys/class/rfkill, rfkill(8)) and Bluetooth adapters without one."""
    found: list[Radio] = []
    seen_bt: set[str] = set()
    for entry in list_dir("/sys/class/rfkill"):
        base = f"/sys/class/rfkill/{entry}"
        rtype = read_optional(f"{base}/type") or ""
        name = read_optional(f"{base}/name") or entry
        soft, hard = _int(read_optional(f"{base}/soft")), _int(read_optional(f"{base}/hard"))
        kind = _RFKILL_KIND.get(rtype, "other")
        if kind == "bluetooth":
            seen_bt.add(name)
        found.append(
            Radio(
                kind=kind,  # type: ignore[arg-type]
                name=name,
                soft_blocked=bool(soft) if soft is not None else None,
                hard_blocked=bool(hard) if hard is not None else None,
                enabled=(not soft and not hard) if soft is not None and hard is not None else None,
                source="rfkill",
            )
        )
    for hci in list_dir("/sys/class/bluetooth"):
        if ":" not in hci and hci not in seen_bt:  # hci0:256 entries are connections
            found.append(Radio(kind="bluetooth", name=hci, source="sysfs"))
    return found


# ------------------------------------------------------------------ saved profiles (BMNN-02)

#: Keyfile directories in NetworkManager's priority order (nm-settings-keyfile(5)): profiles in
#: /run (in-memory) shadow those of /etc, which shadow the read-only ones of /usr/lib.
_NM_DIRS = (
    "/run/NetworkManager/system-connections",
    "/etc/NetworkManager/system-connections",
    "/usr/lib/NetworkManager/system-connections",
)
_NM_ETC = "/etc/NetworkManager/system-connections"
#: Where NetworkManager records when each profile was last active: ``[timestamps]`` with
#: ``<uuid>=<unix seconds>`` (it no longer writes connection.timestamp into the keyfile).
_NM_TIMESTAMPS = "/var/lib/NetworkManager/timestamps"
#: Names NetworkManager never loads as profiles: editor backups and leftovers of patch(1)
#: (``.*``, ``*~``, ``*.swp``, ``*.orig``, ``*.rej``), certificates, and its ``.nmmeta`` links.
_NM_IGNORED_SUFFIXES = ("~", ".swp", ".swpx", ".orig", ".rej", ".pem", ".der", ".nmmeta")
_SSID_BYTES = re.compile(r"(?:\d{1,3};)+\d{0,3}")
_NM_KIND = {
    "802-3-ethernet": "wired",
    "ethernet": "wired",
    "802-11-wireless": "wifi",
    "wifi": "wifi",
    "gsm": "wwan",
    "cdma": "wwan",
    "vpn": "vpn",
    "wireguard": "vpn",
}


def _ts(value: str | None) -> datetime | None:
    n = _int(value)
    return datetime.fromtimestamp(n, tz=UTC) if n else None


def _mtime(path: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(host_path(path).stat().st_mtime, tz=UTC)
    except OSError:
        return None


def _nm_keyfile_name(directory: str, entry: str) -> bool:
    """Whether NetworkManager loads this file as a profile. Old versions wrote keyfiles without
    an extension in /etc, and NetworkManager still loads them there; elsewhere only
    ``*.nmconnection`` is read (nm-settings-keyfile(5))."""
    if entry.startswith(".") or entry.endswith(_NM_IGNORED_SUFFIXES):
        return False
    return entry.endswith(".nmconnection") or directory == _NM_ETC


def _nm_ssid(value: str | None) -> str | None:
    """nm-settings-keyfile(5): an SSID is written as text, or as its bytes in decimal
    ("77;105;110;104;") when older versions or non-UTF-8 bytes made text impossible."""
    if not value:
        return None
    if _SSID_BYTES.fullmatch(value):
        numbers = [int(n) for n in value.split(";") if n]
        if all(n < 256 for n in numbers):
            return bytes(numbers).decode("utf-8", "replace")
    return value


def _nm_timestamps(configparser: Any) -> dict[str, int]:
    text = read_optional(_NM_TIMESTAMPS)
    if not text:
        return {}
    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
    parser.optionxform = str  # uuids are case-sensitive keys
    try:
        parser.read_string(text)
    except configparser.Error:
        log.info("unparseable %s", _NM_TIMESTAMPS)
        return {}
    if not parser.has_section("timestamps"):
        return {}
    out: dict[str, int] = {}
    for uuid, value in parser.items("timestamps"):
        stamp = _int(value)
        if stamp is not None:
            out[uuid] = stamp
    return out


def _nm_profiles() -> list[NetworkProfile]:
    """NetworkManager keyfiles (nm-settings-keyfile(5)); the directories are root-only."""
    out: list[NetworkProfile] = []
    seen: set[str] = set()
    stamps: dict[str, int] | None = None
    for directory in _NM_DIRS:
        for entry in list_dir(directory):
            if not _nm_keyfile_name(directory, entry):
                continue
            # Imported only when a keyfile exists (most PCs have none): ~6 ms of start-up CPU.
            import configparser

            parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
            try:
                parser.read_string(read_text(f"{directory}/{entry}"))
            except configparser.Error:
                log.info("unparseable NetworkManager keyfile %s/%s", directory, entry)
                continue
            if not parser.has_section("connection"):
                log.info("NetworkManager keyfile %s/%s has no [connection]", directory, entry)
                continue
            conn = parser["connection"]
            uuid = conn.get("uuid", "")
            if uuid and uuid in seen:
                continue  # shadowed by the same profile in a higher-priority directory
            seen.add(uuid)
            if stamps is None:
                stamps = _nm_timestamps(configparser)
            ssid = parser.get("wifi", "ssid", fallback=None) or parser.get(
                "802-11-wireless", "ssid", fallback=None
            )
            # The timestamps file is authoritative (0: never active); the keyfile key is the
            # legacy place older versions wrote it.
            stamp = stamps.get(uuid) if uuid else None
            out.append(
                NetworkProfile(
                    name=conn.get("id") or entry.removesuffix(".nmconnection"),
                    kind=_NM_KIND.get(conn.get("type", ""), "other"),  # type: ignore[arg-type]
                    ssid=_nm_ssid(ssid),
                    source="networkmanager",
                    last_connected=_ts(conn.get("timestamp") if stamp is None else str(stamp)),
                )
            )
    return out


_LEASE_DIRS = (
    ("/var/lib/NetworkManager", re.compile(r".+\.lease$"), "networkmanager_lease"),
    ("/var/lib/dhcp", re.compile(r"^dhclient.*\.leases?$"), "dhclient_lease"),
    ("/var/lib/dhclient", re.compile(r"^dhclient.*\.leases?$"), "dhclient_lease"),
)


def _leases() -> list[NetworkProfile]:
    """DHCP lease files: this computer obtained an address on some network."""
    out: list[NetworkProfile] = []
    for directory, pattern, source in _LEASE_DIRS:
        for entry in list_dir(directory):
            if not pattern.match(entry):
                continue
            path = f"{directory}/{entry}"
            text = read_optional(path)
            if not text:  # dhclient creates empty files before any lease
                continue
            out.append(
                NetworkProfile(
                    name=entry,
                    source=source,  # type: ignore[arg-type]
                    last_connected=_mtime(path),
                )
            )
    return out


_WPA_SSID = re.compile(r'^\s*ssid\s*=\s*"?(.*?)"?\s*$', re.MULTILINE)


def _wpa_profiles() -> list[NetworkProfile]:
    """``network={ ssid="..." }`` blocks of wpa_supplicant.conf(5); keys are never read out."""
    out: list[NetworkProfile] = []
    for directory in ("/etc/wpa_supplicant", "/etc"):
        for entry in list_dir(directory):
            if entry.startswith("wpa_supplicant") and entry.endswith(".conf"):
                text = read_text(f"{directory}/{entry}")
                for ssid in _WPA_SSID.findall(text):
                    out.append(
                        NetworkProfile(name=ssid, kind="wifi", ssid=ssid, source="wpa_supplicant")
                    )
    return out


def _netplan_file(entry: str, doc: object) -> list[NetworkProfile]:
    """Profiles of one parsed netplan file; ``ValueError`` when its shape is not netplan(5)'s
    (mappings all the way down: ``network: {ethernets: {eth0: {...}}}``)."""
    if doc is None:
        return []  # an empty file is valid YAML and configures nothing
    if not isinstance(doc, dict):
        raise ValueError("the document is not a mapping")
    net = doc.get("network")
    if net is None:
        return []
    if not isinstance(net, dict):
        raise ValueError("'network' is not a mapping")
    out: list[NetworkProfile] = []
    for section, kind in (("ethernets", "wired"), ("wifis", "wifi"), ("modems", "wwan")):
        devices = net.get(section)
        if devices is None:
            continue
        if not isinstance(devices, dict):
            raise ValueError(f"'{section}' is not a mapping")
        for iface, conf in devices.items():
            if conf is not None and not isinstance(conf, dict):
                raise ValueError(f"'{section}.{iface}' is not a mapping")
            aps = (conf or {}).get("access-points")
            if aps is not None and not isinstance(aps, dict):
                raise ValueError(f"'{section}.{iface}.access-points' is not a mapping")
            if kind == "wifi" and aps:
                for ssid in aps:
                    out.append(
                        NetworkProfile(name=str(ssid), kind="wifi", ssid=str(ssid),
                                       source="netplan")
                    )  # fmt: skip
            else:
                out.append(NetworkProfile(name=str(iface), kind=kind, source="netplan"))  # type: ignore[arg-type]
    return out


def _netplan_profiles() -> list[NetworkProfile]:
    """Interfaces and Wi-Fi access points configured in /etc/netplan/*.yaml (netplan(5)).

    A file of valid YAML but not netplan's shape (``ethernets: [eth0]``) is skipped with a log
    line, as ``netplan generate`` rejects it: one odd file must not lose the other profiles.
    """
    out: list[NetworkProfile] = []
    for entry in list_dir("/etc/netplan"):
        if not entry.endswith(".yaml"):
            continue
        try:
            doc = yaml.safe_load(read_text(f"/etc/netplan/{entry}"))
        except yaml.YAMLError:
            log.info("unparseable netplan file %s", entry)
            continue
        try:
            out.extend(_netplan_file(entry, doc))
        except ValueError as exc:
            log.info("skipping netplan file %s: %s", entry, exc)
    return out


def saved_profiles() -> list[NetworkProfile]:
    """Saved connection profiles and DHCP leases: evidence of past network use (BMNN-02).

    When one source is unreadable (NetworkManager's directory is root-only) and nothing was found
    elsewhere, the fact is unknown: an empty list would claim "never connected".
    """
    found: list[NetworkProfile] = []
    denied: list[str] = []
    for source in (_nm_profiles, _leases, _wpa_profiles, _netplan_profiles):
        try:
            found.extend(source())
        except FactUnavailable as exc:
            denied.append(exc.reason)
    if denied and not found:
        raise FactUnavailable(denied[0])
    return found
