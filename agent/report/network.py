"""Network interfaces, addresses, routes, DNS, radios and saved network profiles.

What BMNN-01 (no network connection), BMNN-02 (never connected) and BMNN-03 (no enabled radio)
are evaluated on for classified PCs. ``None`` means not determined (reason in ``unknown``); an
empty list means "looked, found none".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from agent.report._base import Meta, Record, Section

InterfaceKind = Literal["wired", "wifi", "bluetooth", "wwan", "virtual", "loopback", "other"]


class Address(Record, kw_only=True):
    """One IP address of an interface."""

    address: Annotated[str, Meta(description="The address, without prefix or zone.")]
    family: Annotated[Literal["ipv4", "ipv6"], Meta(description="Address family.")]
    prefix: Annotated[int | None, Meta(description="Prefix length (24, 64).")] = None
    link_local: Annotated[
        bool, Meta(description="169.254.0.0/16 or fe80::/10: not a routed connection.")
    ] = False


class Interface(Record, kw_only=True):
    """A network interface (Linux) or adapter (Windows)."""

    name: Annotated[str, Meta(description="Interface name (eth0, wlp2s0, Ethernet, Wi-Fi).")]
    description: Annotated[
        str | None, Meta(description="Adapter description (Windows InterfaceDescription).")
    ] = None
    kind: Annotated[
        InterfaceKind | None,
        Meta(
            description=(
                "wired, wifi, bluetooth, wwan (mobile broadband), virtual (bridge, tun, veth, "
                "VPN, hypervisor), loopback, other."
            )
        ),
    ] = None
    loopback: Annotated[bool, Meta(description="The loopback interface.")] = False
    mac: Annotated[
        str | None, Meta(description="Hardware address, lower case, colon separated.")
    ] = None
    up: Annotated[
        bool | None,
        Meta(description="Operationally up (Linux operstate up; Windows Status Up)."),
    ] = None
    admin_up: Annotated[
        bool | None,
        Meta(description="Enabled by the administrator (Linux IFF_UP; Windows not Disabled)."),
    ] = None
    carrier: Annotated[
        bool | None, Meta(description="Link detected (cable plugged, associated to Wi-Fi).")
    ] = None
    speed_mbps: Annotated[int | None, Meta(description="Link speed, Mbit/s.")] = None
    mtu: Annotated[int | None, Meta(description="MTU, bytes.")] = None
    addresses: Annotated[list[Address], Meta(description="IP addresses on the interface.")] = []


class Route(Record, kw_only=True):
    """A default route (0.0.0.0/0 or ::/0)."""

    family: Annotated[Literal["ipv4", "ipv6"], Meta(description="Address family.")]
    gateway: Annotated[
        str | None, Meta(description="Next hop; None for an on-link (point-to-point) route.")
    ] = None
    interface: Annotated[str | None, Meta(description="Outgoing interface name.")] = None
    interface_index: Annotated[
        int | None, Meta(description="Outgoing interface index (the zone of a link-local hop).")
    ] = None
    metric: Annotated[int | None, Meta(description="Route metric; lower wins.")] = None


class Radio(Record, kw_only=True):
    """A radio transmitter: Wi-Fi, Bluetooth or mobile broadband (BMNN-03)."""

    kind: Annotated[
        Literal["wifi", "bluetooth", "wwan", "other"], Meta(description="What the radio is.")
    ]
    name: Annotated[str, Meta(description="rfkill name (phy0, hci0) or adapter name.")]
    enabled: Annotated[
        bool | None,
        Meta(
            description="Able to transmit: not blocked (Linux rfkill) / enabled and OK (Windows)."
        ),
    ] = None
    soft_blocked: Annotated[
        bool | None, Meta(description="Turned off in software (rfkill soft).")
    ] = None
    hard_blocked: Annotated[
        bool | None, Meta(description="Turned off by a hardware switch (rfkill hard).")
    ] = None
    source: Annotated[
        str, Meta(description="Where it was seen: rfkill, sysfs, NetAdapter, PnpDevice.")
    ]


class NetworkProfile(Record, kw_only=True):
    """Evidence the computer was configured for, or connected to, a network (BMNN-02)."""

    name: Annotated[str, Meta(description="Profile, connection or SSID name.")]
    kind: Annotated[
        Literal["wired", "wifi", "wwan", "vpn", "other"] | None,
        Meta(description="Kind of network the profile is for."),
    ] = None
    ssid: Annotated[str | None, Meta(description="Wi-Fi network name, when known.")] = None
    source: Annotated[
        Literal[
            "networkmanager",
            "networkmanager_lease",
            "dhclient_lease",
            "wpa_supplicant",
            "netplan",
            "networklist",
            "wlan_profile",
        ],
        Meta(
            description=(
                "networkmanager (system-connections), networkmanager_lease / dhclient_lease "
                "(a DHCP lease was obtained), wpa_supplicant, netplan, networklist (Windows "
                "NetworkList\\Profiles), wlan_profile (Windows Wlansvc profile)."
            )
        ),
    ]
    category: Annotated[
        str | None, Meta(description="Windows network category: public, private, domain.")
    ] = None
    first_connected: Annotated[
        datetime | None, Meta(description="When it was first connected, UTC, if recorded.")
    ] = None
    last_connected: Annotated[
        datetime | None, Meta(description="When it was last connected or leased, UTC.")
    ] = None


class Network(Section, kw_only=True):
    """Network interfaces, addresses, routes, DNS, radios and saved network profiles."""

    interfaces: Annotated[
        list[Interface] | None, Meta(description="Every network interface, loopback included.")
    ] = None
    default_routes: Annotated[
        list[Route] | None,
        Meta(description="Default routes (IPv4 and IPv6); empty when there is none."),
    ] = None
    dns_servers: Annotated[
        list[str] | None,
        Meta(
            description=(
                "DNS servers the system resolver uses (systemd-resolved's upstream servers "
                "instead of its 127.0.0.53 stub)."
            )
        ),
    ] = None
    radios: Annotated[
        list[Radio] | None, Meta(description="Wi-Fi, Bluetooth and WWAN radios and their state.")
    ] = None
    profiles: Annotated[
        list[NetworkProfile] | None,
        Meta(
            description=(
                "Saved network profiles and DHCP leases: evidence of past connections (BMNN-02). "
                "Never contains keys or passwords."
            )
        ),
    ] = None
