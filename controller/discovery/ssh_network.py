"""The network and security sections of an SSH report.

Where the agent reads the same text, its parsers are reused (nftables and iptables rulesets,
sshd_config, resolv.conf) and its decisions repeated (interface kinds, firewall state).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Literal

from agent.collectors.base import Facts
from agent.errors import FactUnavailable, note_unknown
from agent.platform._linux._sec_firewall import _iptables_profile, _nft_profile
from agent.platform._linux.network import _DEVTYPE_KIND, _nameservers
from agent.platform._portable import parse_sshd_config
from agent.report.network import Address, Interface, Network, Route
from agent.report.security import (
    Firewall,
    FirewallProfile,
    ListeningPort,
    Security,
    SshServer,
    TimeSync,
)
from controller.discovery.ssh_outputs import NOT_COLLECTED, Collected, load_json

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
