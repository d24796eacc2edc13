"""Linux saved network profiles: evidence that a computer was ever connected (BMNN-02).

NetworkManager keyfiles (nm-settings-keyfile(5)), DHCP leases, wpa_supplicant.conf and netplan.
A classified PC must show none; key material is never read into the report.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import yaml

from agent.data import parse_yaml
from agent.errors import FactUnavailable
from agent.platform._common import host_path, list_dir, read_optional, read_text
from agent.report.network import NetworkProfile

log = logging.getLogger(__name__)

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


def _seconds(text: str | None) -> int | None:
    """Whole seconds since the epoch, as NetworkManager writes them; None when not a number."""
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def _ts(value: str | None) -> datetime | None:
    n = _seconds(value)
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
        stamp = _seconds(value)
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
            doc = parse_yaml(read_text(f"/etc/netplan/{entry}"))
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
