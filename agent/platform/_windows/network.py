"""Windows network facts: NetAdapter/NetTCPIP/DnsClient cmdlet objects and the registry.

Never ``netsh`` or ``ipconfig``: their text is localized (Vietnamese Windows). One batched
PowerShell script returns every cmdlet's objects; saved profiles come from the registry.
"""

from __future__ import annotations

import ipaddress
import logging
import struct
from datetime import UTC, datetime
from typing import Any

from agent.errors import FactUnavailable, note_unknown
from agent.platform._windows import _ps, _registry, _winshared
from agent.report.network import Address, Interface, NetworkProfile, Radio, Route

log = logging.getLogger(__name__)

# Each cmdlet is wrapped so one failure (module missing, access denied) lands under its key
# instead of losing the batch. Enums are cast to int: ConvertTo-Json would otherwise write them
# as numbers on 5.1 and names on 7. Wi-Fi profile XML: only <name> and <SSIDConfig> are read,
# never <sharedKey> (the key material stays encrypted and unread).
_SCRIPT = r"""
$r = @{}
function Q([string]$k, [scriptblock]$b) {
  try { $r[$k] = @(& $b) } catch { $r[$k] = @{ error = $_.Exception.Message } }
}
Q adapters { Get-NetAdapter | ForEach-Object { @{
  Name = $_.Name; InterfaceDescription = $_.InterfaceDescription; ifIndex = [int]$_.ifIndex;
  MacAddress = $_.MacAddress; Status = [string]$_.Status; AdminStatus = [int]$_.AdminStatus;
  MediaConnectionState = [int]$_.MediaConnectionState; ReceiveLinkSpeed = $_.ReceiveLinkSpeed;
  MtuSize = $_.MtuSize; InterfaceType = [int]$_.InterfaceType;
  NdisPhysicalMedium = [int]$_.NdisPhysicalMedium; PhysicalMediaType = $_.PhysicalMediaType;
  Virtual = [bool]$_.Virtual; HardwareInterface = [bool]$_.HardwareInterface } } }
Q addresses { Get-NetIPAddress | ForEach-Object { @{
  ifIndex = [int]$_.InterfaceIndex; InterfaceAlias = $_.InterfaceAlias;
  IPAddress = $_.IPAddress; PrefixLength = [int]$_.PrefixLength;
  AddressFamily = [int]$_.AddressFamily } } }
# ActiveStore: the routes in use; the default also lists persistent routes of adapters that
# are disconnected (https://learn.microsoft.com/powershell/module/nettcpip/get-netroute).
# Filtered with Where-Object, not -DestinationPrefix: a prefix that matches nothing is then an
# empty result instead of a "no matching MSFT_NetRoute objects" error, and any error that does
# come (access denied, WMI broken) reaches Q as an error object, never as "no default route".
Q routes { Get-NetRoute -PolicyStore ActiveStore |
  Where-Object { $_.DestinationPrefix -eq '0.0.0.0/0' -or $_.DestinationPrefix -eq '::/0' } |
  ForEach-Object { @{ ifIndex = [int]$_.ifIndex; InterfaceAlias = $_.InterfaceAlias;
  NextHop = $_.NextHop; RouteMetric = [int]$_.RouteMetric;
  AddressFamily = [int]$_.AddressFamily } } }
Q dns { Get-DnsClientServerAddress | ForEach-Object { @{
  InterfaceAlias = $_.InterfaceAlias; ifIndex = [int]$_.InterfaceIndex;
  AddressFamily = [int]$_.AddressFamily; ServerAddresses = @($_.ServerAddresses) } } }
# Get-PnpDevice -Class reports "no matching Win32_PnPEntity objects" as an error when a PC has
# no Bluetooth; the same class queried with Get-CimInstance returns nothing instead, so no error
# has to be silenced (and a real one is not). Same properties: Get-PnpDevice's FriendlyName and
# InstanceId are Win32_PnPEntity's Name and PNPDeviceID.
Q bluetooth { Get-CimInstance Win32_PnPEntity -Filter "PNPClass='Bluetooth'" |
  ForEach-Object { @{ FriendlyName = $_.Name; Status = [string]$_.Status;
  InstanceId = $_.PNPDeviceID; Present = [bool]$_.Present } } }
# Denied (not elevated) must be an error, not "no profiles": only absence is silent.
Q wlan_profiles {
  $dir = Join-Path $env:ProgramData 'Microsoft\Wlansvc\Profiles\Interfaces'
  if (Test-Path -LiteralPath $dir) {
    Get-ChildItem -LiteralPath $dir -Filter *.xml -Recurse -ErrorAction Stop | ForEach-Object {
      # One corrupt or unreadable profile file is skipped with its reason; the others survive.
      $f = $_
      try {
        $x = [xml](Get-Content -LiteralPath $f.FullName -Raw -Encoding UTF8)
        @{ name = $x.WLANProfile.name; ssid = $x.WLANProfile.SSIDConfig.SSID.name;
           modified = $f.LastWriteTimeUtc.ToString('o') }
      } catch { @{ skipped = $f.Name; reason = $_.Exception.Message } } }
  } }
$r
"""

# NDIS_PHYSICAL_MEDIUM (ntddndis.h) and IANA ifType values.
_MEDIUM_WIFI = 9  # NdisPhysicalMediumNative802_11
_MEDIUM_WWAN = 8  # NdisPhysicalMediumWirelessWan
_MEDIUM_BLUETOOTH = 10
_MEDIUM_WIRELESS_LAN = 1
_IF_LOOPBACK = 24
_IF_ETHERNET = 6
_IF_WIFI = 71
_IF_WWAN = (243, 244)
_IF_TUNNEL = 131
_AF_INET = 2
_AF_INET6 = 23


def _data(key: str) -> list[dict[str, Any]]:
    rows = _ps.as_list(_winshared.part("network", _SCRIPT, key))
    return [d for d in rows if isinstance(d, dict)]


def _kind(a: dict[str, Any]) -> str:
    """From NdisPhysicalMedium/InterfaceType (MSFT_NetAdapter, learn.microsoft.com)."""
    medium, iftype = a.get("NdisPhysicalMedium"), a.get("InterfaceType")
    if iftype == _IF_LOOPBACK:
        return "loopback"
    if medium in (_MEDIUM_WIFI, _MEDIUM_WIRELESS_LAN) or iftype == _IF_WIFI:
        return "wifi"
    if medium == _MEDIUM_WWAN or iftype in _IF_WWAN:
        return "wwan"
    if medium == _MEDIUM_BLUETOOTH or "bluetooth" in str(a.get("PhysicalMediaType", "")).lower():
        return "bluetooth"
    if a.get("Virtual") or a.get("HardwareInterface") is False or iftype == _IF_TUNNEL:
        return "virtual"
    if iftype == _IF_ETHERNET:
        return "wired"
    return "other"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _mac(value: Any) -> str | None:
    text = str(value or "").strip().lower().replace("-", ":")
    return text if text and text != "00:00:00:00:00:00" else None


def interfaces() -> list[Interface]:
    """Adapters (Get-NetAdapter) with their addresses (Get-NetIPAddress)."""
    adapters = _data("adapters")
    try:
        addrs = _data("addresses")
    except FactUnavailable as exc:
        log.info("no addresses: %s", exc.reason)
        addrs = []
    by_index: dict[int, list[Address]] = {}
    for a in addrs:
        ip = str(a.get("IPAddress") or "").partition("%")[0]
        try:
            parsed = ipaddress.ip_address(ip)
        except ValueError:
            continue
        by_index.setdefault(int(a.get("ifIndex") or 0), []).append(
            Address(
                address=ip,
                family="ipv4" if parsed.version == 4 else "ipv6",
                prefix=_int(a.get("PrefixLength")),
                link_local=parsed.is_link_local,
            )
        )
    out: list[Interface] = []
    for a in adapters:
        status = str(a.get("Status") or "")
        media = a.get("MediaConnectionState")  # 1 Connected, 2 Disconnected, 0 Unknown
        speed = a.get("ReceiveLinkSpeed")
        kind = _kind(a)
        out.append(
            Interface(
                name=str(a.get("Name") or ""),
                description=str(a["InterfaceDescription"])
                if a.get("InterfaceDescription")
                else None,
                kind=kind,  # type: ignore[arg-type]
                loopback=kind == "loopback",
                mac=_mac(a.get("MacAddress")),
                up=status == "Up" if status else None,
                # AdminStatus: 1 Up, 2 Down (MSFT_NetAdapter); Status "Disabled" says the same.
                admin_up=a.get("AdminStatus") == 1 if a.get("AdminStatus") else None,
                carrier=media == 1 if media in (1, 2) else None,
                speed_mbps=int(speed) // 1_000_000 if isinstance(speed, int) and speed else None,
                mtu=_int(a.get("MtuSize")),
                addresses=by_index.get(int(a.get("ifIndex") or 0), []),
            )
        )
    return out


def default_routes() -> list[Route]:
    """Routes to 0.0.0.0/0 and ::/0 (Get-NetRoute); an empty list means no default route."""
    out: list[Route] = []
    for r in _data("routes"):
        hop = str(r.get("NextHop") or "")
        family = "ipv6" if r.get("AddressFamily") == _AF_INET6 or ":" in hop else "ipv4"
        # On-link routes have NextHop 0.0.0.0 / :: (MSFT_NetRoute).
        gateway = hop if hop not in ("", "0.0.0.0", "::") else None  # noqa: S104
        out.append(
            Route(
                family=family,  # type: ignore[arg-type]
                gateway=gateway,
                interface=str(r["InterfaceAlias"]) if r.get("InterfaceAlias") else None,
                interface_index=_int(r.get("ifIndex")),
                metric=_int(r.get("RouteMetric")),
            )
        )
    return out


def dns_servers() -> list[str]:
    """Server addresses of every interface (Get-DnsClientServerAddress), without duplicates.

    Windows still lists fec0:0:0:ffff::1..3 on IPv6 interfaces without DNS: the deprecated
    site-local default (RFC 3879), never a configured server.
    """
    seen: list[str] = []
    for entry in _data("dns"):
        for server in _ps.as_list(entry.get("ServerAddresses")):
            text = str(server)
            if text.lower().startswith("fec0:0:0:ffff::") or text in seen:
                continue
            seen.append(text)
    return seen


def radios() -> list[Radio]:
    """Physical Wi-Fi/WWAN adapters (enabled unless Disabled) and Bluetooth radios (PnP)."""
    found: list[Radio] = []
    for a in _data("adapters"):
        kind = _kind(a)
        if kind not in ("wifi", "wwan") or a.get("Virtual"):
            continue
        status = str(a.get("Status") or "")
        found.append(
            Radio(
                kind=kind,  # type: ignore[arg-type]
                name=str(a.get("Name") or ""),
                enabled=status != "Disabled" if status else None,
                source="NetAdapter",
            )
        )
    for dev in _data("bluetooth"):
        iid = str(dev.get("InstanceId") or "")
        # Only the radios themselves: USB/PCI adapters, not the BTHENUM/BTHLE child services.
        if iid.upper().startswith(("BTHENUM\\", "BTHLE\\", "BTHLEDEVICE\\", "BTH\\")):
            continue
        if dev.get("Present") is False:
            continue
        status = str(dev.get("Status") or "")
        found.append(
            Radio(
                kind="bluetooth",
                name=str(dev.get("FriendlyName") or iid),
                enabled=status == "OK" if status else None,
                source="PnpDevice",
            )
        )
    return found


_PROFILES = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\NetworkList\Profiles"
_NAME_TYPE = {6: "wired", 71: "wifi", 243: "wwan", 23: "vpn"}
_CATEGORY = {0: "public", 1: "private", 2: "domain"}


def _systemtime(value: Any) -> datetime | None:
    """Decode a 16-byte SYSTEMTIME (minwinbase.h: year, month, weekday, day, h, m, s, ms).

    Layout of the NetworkList values as documented in forensic write-ups (RegRipper
    networklist plugin; cfed-ttf.blogspot.com 2009/08): eight little-endian 16-bit words.

    NetworkList stores DateCreated/DateLastConnected as local time; without the zone of that
    moment it is reported as if UTC (off by the UTC offset, +7 h in Vietnam, at most).
    """
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            return None
    elif isinstance(value, list):
        value = bytes(value)
    if not isinstance(value, bytes) or len(value) != 16:
        return None
    year, month, _wd, day, hour, minute, second, _ms = struct.unpack("<8H", value)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def saved_profiles() -> list[NetworkProfile]:
    """NetworkList profiles (every network ever connected) and Wi-Fi profile names (BMNN-02)."""
    out: list[NetworkProfile] = []
    for guid in _registry.subkeys(_PROFILES):
        v = _registry.values(f"{_PROFILES}\\{guid}")
        out.append(
            NetworkProfile(
                name=str(v.get("ProfileName") or guid),
                kind=_NAME_TYPE.get(v.get("NameType") or -1, "other"),  # type: ignore[arg-type]
                source="networklist",
                category=_CATEGORY.get(v.get("Category") or 0) if "Category" in v else None,
                first_connected=_systemtime(v.get("DateCreated")),
                last_connected=_systemtime(v.get("DateLastConnected")),
            )
        )
    try:
        wlan = _data("wlan_profiles")
    except FactUnavailable as exc:
        if not out:
            raise
        log.info("Wi-Fi profiles unavailable: %s", exc.reason)
        wlan = []
    skipped = [f"{p.get('skipped')} ({p.get('reason')})" for p in wlan if "skipped" in p]
    if skipped:
        log.info("unreadable Wi-Fi profile files: %s", skipped)
        note_unknown("wlan_profiles", f"unreadable Wi-Fi profile files: {'; '.join(skipped)}")
    for p in wlan:
        if "skipped" in p:
            continue
        # A profile may list several <SSID> elements: ConvertTo-Json then gives an array.
        ssids = [str(x) for x in _ps.as_list(p.get("ssid")) if x]
        name = str(p.get("name") or (ssids[0] if ssids else ""))
        if not name:
            continue
        out.append(
            NetworkProfile(
                name=name,
                kind="wifi",
                ssid=ssids[0] if ssids else name,
                source="wlan_profile",
                last_connected=_ps.parse_datetime(p.get("modified")),
            )
        )
    return out
