"""Windows peripherals: printers, USB devices, smart-card readers, certificates, signing ports.

One batched PowerShell query per collection (CIM objects and the Cert: drive serialised with
ConvertTo-Json); nothing here parses localized text.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from agent.errors import FactUnavailable, note_unknown
from agent.platform import _catalogs
from agent.platform._windows import _ps, _winshared
from agent.report.peripherals import (
    Certificate,
    Connection,
    Printer,
    SigningPort,
    SmartCardReader,
    UsbDevice,
)

log = logging.getLogger(__name__)

#: Win32_Printer (learn.microsoft.com/windows/win32/cimwin32prov/win32-printer), Win32_PnPEntity
#: (.../win32-pnpentity), the Cert: drive (about_Certificate_Provider) and Get-NetTCPConnection
#: (learn.microsoft.com/powershell/module/nettcpip/get-nettcpconnection). Listeners are asked for
#: on every loopback/any address and filtered here, so the script never depends on the config.
_SCRIPT = r"""
$r = @{}
try { $r.printers = @(Get-CimInstance Win32_Printer | Select-Object Name, DriverName, PortName,
  Network, Local, Shared, Default, WorkOffline, PrinterStatus) }
catch { $r.printers = @{error = $_.Exception.Message} }
try { $r.usb = @(Get-CimInstance Win32_PnPEntity -Filter "PNPDeviceID LIKE 'USB\\%'" |
  Select-Object Name, Manufacturer, PNPDeviceID, PNPClass, Status, Service, CompatibleID) }
catch { $r.usb = @{error = $_.Exception.Message} }
try { $r.smartcards = @(Get-CimInstance Win32_PnPEntity -Filter "PNPClass='SmartCardReader'" |
  Select-Object Name, Manufacturer, PNPDeviceID, Status) }
catch { $r.smartcards = @{error = $_.Exception.Message} }
try { $r.certificates = @(foreach ($s in 'CurrentUser', 'LocalMachine') {
  Get-ChildItem "Cert:\$s\My" | Where-Object HasPrivateKey | Select-Object Subject, Issuer,
    NotBefore, NotAfter, Thumbprint, SerialNumber, @{n='Store'; e={"$s\My"}} }) }
catch { $r.certificates = @{error = $_.Exception.Message} }
# Whose Cert:\CurrentUser is read: as SYSTEM (S-1-5-18) it is not any person's store.
try { $r.account_sid = [Security.Principal.WindowsIdentity]::GetCurrent().User.Value }
catch { $r.account_sid = @{error = $_.Exception.Message} }
# Nothing listening is reported as an ObjectNotFound error ("No MSFT_NetTCPConnection objects
# found"): that is a valid empty answer, so errors are collected instead of thrown and only the
# other categories (access denied, CIM broken) are raised again.
try {
  $l = @(Get-NetTCPConnection -State Listen -ErrorAction SilentlyContinue -ErrorVariable lerr)
  $bad = @($lerr | Where-Object { $_.CategoryInfo.Category -ne 'ObjectNotFound' })
  if ($bad.Count -gt 0) { throw $bad[0].Exception }
  $r.listeners = @($l | Where-Object LocalAddress -in '127.0.0.1', '0.0.0.0', '::', '::1' |
    Select-Object LocalAddress, LocalPort) }
catch { $r.listeners = @{error = $_.Exception.Message} }
$r
"""


def _batch(key: str) -> list[Any]:
    return _ps.as_list(_winshared.part("peripherals", _SCRIPT, key))


#: Win32_Printer.PrinterStatus values (the class documentation's table).
_PRINTER_STATUS = {
    1: "other",
    2: "unknown",
    3: "idle",
    4: "printing",
    5: "warming_up",
    6: "stopped",
    7: "offline",
}
_VIRTUAL_PORTS = ("portprompt:", "nul:", "xpsport:", "shrfax:", "file:", "microsoft.office.")
_VIRTUAL_DRIVERS = ("print to pdf", "xps document writer", "fax", "onenote")


def _printer_connection(port: str, driver: str, network: bool) -> Connection:
    """usb, network, local, virtual or other, from the port name, driver and Network flag."""
    p, d = port.lower(), driver.lower()
    if p.startswith(_VIRTUAL_PORTS) or any(v in d for v in _VIRTUAL_DRIVERS):
        return "virtual"
    if (
        network
        or p.startswith(("\\\\", "ip_", "wsd", "http", "ipp"))
        or re.match(r"^\d{1,3}(\.\d{1,3}){3}", p)
    ):
        return "network"
    if p.startswith(("usb", "dot4")):
        return "usb"
    if p.startswith(("lpt", "com")):
        return "local"
    return "other"


def printers() -> list[Printer]:
    """Win32_Printer queues with their port and whether they are local/USB, network or virtual."""
    out = []
    for p in _batch("printers"):
        name = str(p.get("Name") or "")
        if not name:
            continue
        port, driver = str(p.get("PortName") or ""), str(p.get("DriverName") or "")
        status = p.get("PrinterStatus")
        out.append(
            Printer(
                name=name,
                connection=_printer_connection(port, driver, p.get("Network") is True),
                port=port or None,
                driver=driver or None,
                default=p.get("Default") is True,
                shared=p.get("Shared") is True,
                offline=p.get("WorkOffline") is True,
                status=_PRINTER_STATUS.get(status) if isinstance(status, int) else None,
            )
        )
    return out


_USB_ID = re.compile(r"^USB\\VID_([0-9A-F]{4})&PID_([0-9A-F]{4})(&MI_[0-9A-F]{2})?\\(.*)$", re.I)


def _usb_entities() -> list[tuple[dict[str, Any], str, str, bool, str]]:
    """(entity, vid, pid, is_interface, instance) of USB\\VID_xxxx&PID_yyyy entities."""
    out = []
    for e in _batch("usb"):
        m = _USB_ID.match(str(e.get("PNPDeviceID") or ""))
        if m:
            out.append((e, m.group(1).lower(), m.group(2).lower(), bool(m.group(3)), m.group(4)))
    return out


#: USB class code 09 (hub) in a compatible id: USB\Class_09&SubClass_00&Prot_02 and its shorter
#: forms ("Standard USB identifiers", learn.microsoft.com/windows-hardware/drivers/install/
#: standard-usb-identifiers).
_HUB_COMPATIBLE_ID = re.compile(r"^USB\\CLASS_09(&|$)", re.I)
#: Windows' own hub drivers (usbhub.sys for USB 2, USBHUB3.sys for USB 3): service names are not
#: localized, unlike the device's Name ("Bộ chia USB chung" on Vietnamese Windows).
_HUB_SERVICES = frozenset({"usbhub", "usbhub3"})


def _is_hub(entity: dict[str, Any]) -> bool:
    """A hub by its compatible ids or its driver service, never by its localized name."""
    if any(_HUB_COMPATIBLE_ID.match(str(c)) for c in _ps.as_list(entity.get("CompatibleID"))):
        return True
    return str(entity.get("Service") or "").lower() in _HUB_SERVICES


def usb_devices() -> list[UsbDevice]:
    """Win32_PnPEntity under USB\\: devices with their interfaces' PnP classes; hubs left out.

    The instance part of the device id is the device's serial number when it has one, and a
    generated id containing "&" otherwise (Device Instance IDs, learn.microsoft.com/windows-
    hardware/drivers/install/device-instance-ids).
    """
    entities = _usb_entities()
    classes: dict[tuple[str, str], set[str]] = {}
    for e, vid, pid, iface, _inst in entities:
        if iface and e.get("PNPClass"):
            classes.setdefault((vid, pid), set()).add(str(e["PNPClass"]))
    out = []
    for e, vid, pid, iface, inst in entities:
        if iface or _is_hub(e):
            continue
        out.append(
            UsbDevice(
                vendor_id=vid,
                product_id=pid,
                manufacturer=e.get("Manufacturer") or None,
                product=e.get("Name") or None,
                serial=inst if inst and "&" not in inst else None,
                device_class=e.get("PNPClass") or None,
                interface_classes=sorted(classes.get((vid, pid), set())),
            )
        )
    return out


def smart_card_readers() -> list[SmartCardReader]:
    """PnP devices of class SmartCardReader, plus USB devices of a known token vendor."""
    vendors = _catalogs.token_vendors()
    out: list[SmartCardReader] = []
    seen: set[tuple[str | None, str | None]] = set()
    for e in _batch("smartcards"):
        m = _USB_ID.match(str(e.get("PNPDeviceID") or ""))
        vid, pid = (m.group(1).lower(), m.group(2).lower()) if m else (None, None)
        seen.add((vid, pid))
        out.append(
            SmartCardReader(
                name=str(e.get("Name") or "smart-card reader"),
                vendor=vendors.get(vid or "") or e.get("Manufacturer") or None,
                vendor_id=vid,
                product_id=pid,
                status=e.get("Status") or None,
            )
        )
    try:
        entities = _usb_entities()
    except FactUnavailable:
        entities = []
    for e, vid, pid, iface, _inst in entities:
        if iface or vid not in vendors or (vid, pid) in seen:
            continue
        seen.add((vid, pid))
        out.append(
            SmartCardReader(
                name=str(e.get("Name") or f"USB {vid}:{pid}"),
                vendor=vendors[vid],
                vendor_id=vid,
                product_id=pid,
                status=e.get("Status") or None,
            )
        )
    return out


def certificates() -> list[Certificate]:
    """Certificates with a private key in Cert:\\CurrentUser\\My and Cert:\\LocalMachine\\My.

    CurrentUser is the account the agent runs as; run as SYSTEM (a service) it holds no person's
    certificates, so users' stores are recorded as not looked at: an empty list then does not
    mean "nobody has a certificate".
    """
    out = []
    for c in _batch("certificates"):
        subject, issuer = c.get("Subject"), c.get("Issuer")
        if not subject and not issuer:
            continue
        out.append(
            Certificate(
                subject=str(subject or ""),
                issuer=str(issuer or ""),
                not_before=_ps.parse_datetime(c.get("NotBefore")),
                not_after=_ps.parse_datetime(c.get("NotAfter")),
                thumbprint=str(c.get("Thumbprint") or "").upper() or None,
                serial=str(c.get("SerialNumber") or "").upper() or None,
                store=str(c.get("Store") or "My"),
            )
        )
    try:
        account = _winshared.part("peripherals", _SCRIPT, "account_sid")
    except FactUnavailable as exc:
        account, why = None, exc.reason
    else:
        why = f"the agent runs as {account}, not as a logged-on person"
    if not _winshared.is_user_sid(account):
        note_unknown(
            "user_stores",
            f"users' Cert:\\CurrentUser\\My stores were not read ({why}); only the agent's "
            "own and the machine's store were",
        )
    return out


#: Addresses a client of 127.0.0.1 reaches; "::" is dual-stack on Windows by default.
_LOOPBACK = ("127.0.0.1", "0.0.0.0", "::", "::1", "::ffff:127.0.0.1")  # noqa: S104


def signing_ports(ports: list[int]) -> list[SigningPort]:
    """Get-NetTCPConnection -State Listen on each signing-middleware port (no connection made)."""
    names = _catalogs.signing_port_names()
    found: dict[int, str] = {}
    for c in _batch("listeners"):
        addr, port = str(c.get("LocalAddress") or ""), c.get("LocalPort")
        if isinstance(port, int) and port in ports and addr in _LOOPBACK:
            found.setdefault(port, addr)
    return [
        SigningPort(port=p, name=names.get(p), listening=p in found, address=found.get(p))
        for p in ports
    ]
