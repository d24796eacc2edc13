"""Linux network facts from /sys/class/net, /proc/net, resolv.conf, rfkill and saved profiles.

Everything is read in-process through ``_common`` (no ``ip`` or ``nmcli`` fork); interface
addresses come from psutil (getifaddrs(3)) because no /proc file lists IPv4 addresses.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import Any

import psutil

from agent.errors import FactUnavailable
from agent.platform._common import host_path, list_dir, read_optional, read_text
from agent.report.network import Address, Interface, Radio, Route

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


# Saved profiles live in their own module (several formats, ~250 lines); re-exported here so the
# area keeps one public surface.
from agent.platform._linux._net_profiles import saved_profiles  # noqa: E402

__all__ = ["default_routes", "dns_servers", "interfaces", "radios", "saved_profiles"]
