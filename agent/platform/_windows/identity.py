"""Windows identity facts: registry and CIM, never localized command output."""

import socket

from agent.errors import FactUnavailable
from agent.platform._windows import _ps, _registry

_SCRIPT = """
$p = Get-CimInstance Win32_ComputerSystemProduct
$a = @(Get-CimInstance Win32_NetworkAdapter -Filter 'PhysicalAdapter=True' |
       Where-Object MACAddress | ForEach-Object MACAddress)
@{ uuid = $p.UUID; serial = $p.IdentifyingNumber; macs = $a }
"""

_PLACEHOLDER_SERIALS = frozenset(
    {"to be filled by o.e.m.", "default string", "system serial number", "none", "0", "n/a"}
)


def hostname() -> str:
    """NetBIOS/DNS host name."""
    return socket.gethostname()


def fqdn() -> str | None:
    """Host name with the primary DNS suffix from Tcpip parameters, when joined to a domain."""
    params = _registry.values(r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters")
    host, domain = params.get("Hostname"), params.get("Domain")
    return f"{host}.{domain}".lower() if host and domain else None


def machine_id() -> str:
    """MachineGuid, created at Windows setup."""
    guid = _registry.value(r"HKLM\SOFTWARE\Microsoft\Cryptography", "MachineGuid")
    if not guid:
        raise FactUnavailable("MachineGuid is missing from HKLM\\SOFTWARE\\Microsoft\\Cryptography")
    return str(guid).lower()


def system_uuid() -> str:
    """SMBIOS UUID (Win32_ComputerSystemProduct.UUID)."""
    value = _ps.section("identity", _SCRIPT, "uuid")
    if not value or set(str(value)) <= {"0", "-", "F", "f"}:
        raise FactUnavailable("the firmware reports no system UUID")
    return str(value).lower()


def system_serial() -> str:
    """SMBIOS serial (Win32_ComputerSystemProduct.IdentifyingNumber)."""
    value = str(_ps.section("identity", _SCRIPT, "serial") or "").strip()
    if not value or value.lower() in _PLACEHOLDER_SERIALS:
        raise FactUnavailable("the firmware reports no system serial number")
    return value


def physical_macs() -> list[str]:
    """MACs of physical adapters (Win32_NetworkAdapter.PhysicalAdapter), as 'aa:bb:..'."""
    macs = _ps.as_list(_ps.section("identity", _SCRIPT, "macs"))
    return sorted({str(m).lower().replace("-", ":") for m in macs if m})
