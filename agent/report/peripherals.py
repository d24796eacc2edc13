"""Printers, USB devices, smart-card readers, signing certificates and middleware.

Printers count toward CQĐT-08 ("each office has a computer and a printer"), so each one says
whether it is a real local/USB or network printer or a virtual one (Print to PDF). Certificates
and the signing middleware's local ports feed CQĐT-05 and CQĐT-06.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from agent.report._base import Meta, Record, Section

#: How a printer is reached; virtual queues (Print to PDF) are not physical printers.
Connection = Literal["usb", "network", "local", "virtual", "other"]


class Printer(Record, kw_only=True):
    """A printer queue configured on this computer."""

    name: Annotated[str, Meta(description="Queue name (Windows Name, CUPS printer name).")]
    connection: Annotated[
        Connection,
        Meta(
            description=(
                "usb, network (TCP/IP, WSD, IPP, shared queue), local (LPT/COM), virtual "
                "(PDF/XPS/OneNote/fax: not a physical printer), other."
            )
        ),
    ]
    port: Annotated[
        str | None,
        Meta(description="Windows PortName or CUPS DeviceURI (credentials removed)."),
    ] = None
    driver: Annotated[str | None, Meta(description="Windows DriverName or CUPS MakeModel.")] = None
    description: Annotated[str | None, Meta(description="CUPS Info text.")] = None
    location: Annotated[str | None, Meta(description="CUPS Location text.")] = None
    default: Annotated[bool, Meta(description="The default printer.")] = False
    shared: Annotated[bool, Meta(description="Shared with other computers.")] = False
    offline: Annotated[bool, Meta(description="Windows WorkOffline is set.")] = False
    accepting: Annotated[
        bool | None, Meta(description="CUPS Accepting: the queue accepts jobs.")
    ] = None
    status: Annotated[
        str | None,
        Meta(description="idle, printing, stopped, offline, warming_up, other, unknown."),
    ] = None


class UsbDevice(Record, kw_only=True):
    """A USB device currently connected (hubs and root hubs left out)."""

    vendor_id: Annotated[str | None, Meta(description="idVendor, 4 lower-case hex digits.")] = None
    product_id: Annotated[str | None, Meta(description="idProduct, 4 lower-case hex digits.")] = (
        None
    )
    manufacturer: Annotated[str | None, Meta(description="Manufacturer string.")] = None
    product: Annotated[
        str | None, Meta(description="Product string (Windows: the device Name).")
    ] = None
    serial: Annotated[str | None, Meta(description="Serial number string, if any.")] = None
    device_class: Annotated[
        str | None, Meta(description="bDeviceClass, 2 hex digits (Windows: PNPClass name).")
    ] = None
    interface_classes: Annotated[
        list[str], Meta(description="bInterfaceClass of each interface, 2 hex digits (Linux).")
    ] = []


class SmartCardReader(Record, kw_only=True):
    """A smart-card reader or USB signing token (CCID, class 0x0B)."""

    name: Annotated[str, Meta(description="Device name or USB product string.")]
    vendor: Annotated[
        str | None, Meta(description="Token vendor from the shipped list (Feitian, SafeNet).")
    ] = None
    vendor_id: Annotated[str | None, Meta(description="USB idVendor.")] = None
    product_id: Annotated[str | None, Meta(description="USB idProduct.")] = None
    status: Annotated[
        str | None, Meta(description="Windows device Status (OK, Error, Degraded).")
    ] = None


class Certificate(Record, kw_only=True):
    """A personal certificate with a private key (a signing certificate, CQĐT-05)."""

    subject: Annotated[str, Meta(description="Subject distinguished name.")]
    issuer: Annotated[str, Meta(description="Issuer distinguished name.")]
    not_before: Annotated[datetime | None, Meta(description="Start of validity, UTC.")] = None
    not_after: Annotated[datetime | None, Meta(description="End of validity, UTC.")] = None
    thumbprint: Annotated[str | None, Meta(description="SHA-1 thumbprint, upper-case hex.")] = None
    serial: Annotated[str | None, Meta(description="Serial number, upper-case hex.")] = None
    store: Annotated[
        str,
        Meta(
            description=(
                "Where it was found: CurrentUser\\My, LocalMachine\\My, or the NSS database "
                "directory (Linux)."
            )
        ),
    ]
    days_to_expiry: Annotated[
        int | None, Meta(description="Whole days from collection to not_after (negative: expired).")
    ] = None
    issuer_kind: Annotated[
        Literal["government_specialised", "public_ca"] | None,
        Meta(
            description=(
                "government_specialised: Ban Cơ yếu Chính phủ's specialised CA; public_ca: a "
                "licensed public CA (VNPT, Viettel, BKAV, FPT, ...); null: not a known "
                "Vietnamese signing CA."
            )
        ),
    ] = None
    issuer_marker: Annotated[str | None, Meta(description="The issuer marker that matched.")] = None


class SigningPort(Record, kw_only=True):
    """A local port of signing middleware (VGCA Sign Service 8987, VNPT-CA plugin 4433)."""

    port: Annotated[int, Meta(description="TCP port checked on the loopback interface.")]
    name: Annotated[str | None, Meta(description="Middleware expected on this port.")] = None
    listening: Annotated[
        bool, Meta(description="Something listens on 127.0.0.1 at this port (or on all addresses).")
    ] = False
    address: Annotated[str | None, Meta(description="Local address the listener is bound to.")] = (
        None
    )


class Peripherals(Section, kw_only=True):
    """Printers, USB devices, smart-card readers, signing certificates and middleware."""

    printers: Annotated[
        list[Printer] | None, Meta(description="Printer queues; empty means none configured.")
    ] = None
    usb_devices: Annotated[list[UsbDevice] | None, Meta(description="Connected USB devices.")] = (
        None
    )
    smart_card_readers: Annotated[
        list[SmartCardReader] | None,
        Meta(description="Smart-card readers and signing tokens connected."),
    ] = None
    certificates: Annotated[
        list[Certificate] | None,
        Meta(description="Personal certificates with a private key."),
    ] = None
    signing_ports: Annotated[
        list[SigningPort] | None, Meta(description="Signing middleware's local ports.")
    ] = None
