"""Peripherals section: printers, USB devices, tokens, signing certificates and middleware ports.

Linux cases: ``peripherals/debian12-vm`` recorded from the project's Debian 12 VM; the desktop and
NSS cases are hand-made. Windows cases are hand-made following the documented CIM/cmdlet output
(see each fixture's README.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agent import platform
from agent.collectors.peripherals import PeripheralsCollector, ca_markers, classify, fold
from agent.config import AgentConfig
from agent.errors import FactUnavailable, collecting_fact
from agent.platform._linux import _x509
from agent.platform._linux import peripherals as lin
from agent.platform._windows import _ps
from agent.platform._windows import peripherals as win
from agent.report.peripherals import Certificate, Printer, SigningPort, SmartCardReader, UsbDevice
from tests.support.replay import FIXTURES

Host = Callable[[str], Any]

DEBIAN = "peripherals/debian12-vm"
DESKTOP = "peripherals/desktop-office"
WIN11 = "peripherals/win11-vi-office"
#: When the hand-made fixtures were "collected"; days to expiry are counted from here.
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)

AN_SUBJECT = "CN=Nguyễn Văn An, O=UBND xã Tân Lập, L=Thái Nguyên, C=VN"
VGCA_ISSUER = "CN=CA phục vụ các cơ quan Nhà nước, O=Ban Cơ yếu Chính phủ, C=VN"


def _collector(config: AgentConfig | None = None) -> PeripheralsCollector:
    return PeripheralsCollector(config or AgentConfig(), now=lambda: NOW)


# --- Linux ---------------------------------------------------------------------------------------


def test_debian_vm_has_no_printer_usb_bus_or_certificate(linux_host: Host) -> None:
    linux_host(DEBIAN)
    section = _collector().collect()
    assert section.printers == []  # no CUPS: nothing can print
    assert section.certificates == []  # no NSS database
    assert section.usb_devices is None and section.smart_card_readers is None
    assert "does not exist" in section.unknown["usb_devices"]
    assert section.signing_ports == [
        SigningPort(port=8987, name="VGCA Sign Service", listening=False),
        SigningPort(port=4433, name="VNPT-CA Plugin", listening=False),
    ]


def test_cups_printers_with_default_connection_and_no_password(linux_host: Host) -> None:
    linux_host(DESKTOP)
    printers = {p.name: p for p in lin.printers()}
    assert printers["Canon_LBP2900"] == Printer(
        name="Canon_LBP2900",
        connection="usb",
        port="usb://Canon/LBP2900?serial=0000A1B2C3D4",
        driver="Canon LBP2900 - CUPS+Gutenprint v5.3.3",
        description="Máy in Canon LBP2900 phòng Văn phòng",
        location="Phòng Văn phòng - UBND xã Tân Lập",
        default=True,
        accepting=True,
        status="idle",
    )
    hp = printers["HP_LaserJet_M402_Tai_chinh"]
    assert (hp.connection, hp.status, hp.accepting, hp.shared, hp.default) == (
        "network",
        "stopped",
        False,
        True,
        False,
    )
    shared = printers["May_in_chung"]
    assert shared.port == "smb://192.168.10.5/MayInChung"
    assert b"MatKhau" not in msgspec.json.encode(list(printers.values()))
    assert printers["PDF"].connection == "virtual"


def test_unreadable_printers_conf_asks_for_root(
    linux_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_host(DESKTOP)
    real = Path.read_text

    def denied(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name == "printers.conf":
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(FactUnavailable, match=r"printers.conf \(run as root\)"):
        lin.printers()


def test_usb_devices_from_sysfs_without_hubs(linux_host: Host) -> None:
    linux_host(DESKTOP)
    devices = lin.usb_devices()
    assert [(d.vendor_id, d.product_id) for d in devices] == [
        ("04a9", "2676"),
        ("096e", "0807"),
        ("046d", "c31c"),
        ("0529", "0620"),
    ]
    assert devices[1] == UsbDevice(
        vendor_id="096e",
        product_id="0807",
        manufacturer="FT",
        product="ePass2003",
        serial="2A1B3C4D5E6F7A8B",
        device_class="00",
        interface_classes=["0b"],
    )
    assert devices[2].interface_classes == ["03"]  # two HID interfaces, one class


def test_tokens_by_ccid_class_or_known_vendor(linux_host: Host) -> None:
    linux_host(DESKTOP)
    assert lin.smart_card_readers() == [
        SmartCardReader(name="ePass2003", vendor="Feitian", vendor_id="096e", product_id="0807"),
        SmartCardReader(
            name="Token JC", vendor="SafeNet (Aladdin)", vendor_id="0529", product_id="0620"
        ),
    ]


def test_nss_user_certificate_read_through_certutil(linux_host: Host) -> None:
    runner = linux_host(DESKTOP)
    [cert] = lin.certificates()
    assert cert == Certificate(
        subject=AN_SUBJECT,
        issuer=VGCA_ISSUER,
        not_before=datetime(2024, 12, 16, 2, 0, tzinfo=UTC),
        not_after=datetime(2026, 12, 16, 2, 0, tzinfo=UTC),
        thumbprint="F6F643BD886B60B55834C2DBB528C7B0AB8B7737",
        serial="5404FFFEB7033FB316D672201B7BA4FE",
        store="/home/an/.pki/nssdb",
    )
    # The CA certificate (trust CT,C,C: no private key) is not exported.
    assert len(runner.calls) == 2


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        pytest.param(
            "peripherals/nssdb-no-certutil", "certutil is not installed", id="certutil missing"
        ),
        pytest.param("peripherals/nssdb-garbage", "unreadable certificate", id="garbage PEM"),
    ],
)
def test_nss_failures_are_unknown(linux_host: Host, case: str, reason: str) -> None:
    linux_host(case)
    with pytest.raises(FactUnavailable, match=reason):
        lin.certificates()


def test_homes_that_cannot_be_entered_make_certificates_unknown(
    linux_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    linux_host(DEBIAN)  # no database anywhere; now pretend /root cannot be entered
    real = Path.exists

    def exists(self: Path, *args: Any, **kwargs: Any) -> bool:
        if "/root/" in str(self) and ".pki" in str(self):
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    with pytest.raises(FactUnavailable, match=r"cannot look into /root \(run as root\)"):
        lin.certificates()


def test_signing_port_listening_only_when_in_listen_state(linux_host: Host) -> None:
    linux_host(DESKTOP)
    assert lin.signing_ports([8987, 4433, 631]) == [
        SigningPort(port=8987, name="VGCA Sign Service", listening=True, address="127.0.0.1"),
        # 4433 only has an ESTABLISHED socket: nothing accepts connections there.
        SigningPort(port=4433, name="VNPT-CA Plugin", listening=False),
        SigningPort(port=631, listening=True, address="0.0.0.0"),
    ]


def test_linux_collector_classifies_the_vgca_certificate(linux_host: Host) -> None:
    linux_host(DESKTOP)
    collector = _collector()
    section = collector.collect()
    assert section.unknown == {}
    [cert] = section.certificates or []
    assert (cert.issuer_kind, cert.issuer_marker, cert.days_to_expiry) == (
        "government_specialised",
        "Ban Cơ yếu Chính phủ",
        18,
    )
    lines = dict(collector.summary(section))
    assert lines["Signing certificates"] == "Ban Cơ yếu Chính phủ (18 days left)"
    assert lines["Signing middleware"] == "8987 listening, 4433 closed"
    assert lines["Printers"].startswith("Canon_LBP2900 (usb), HP_LaserJet_M402_Tai_chinh (network)")


# --- Windows -------------------------------------------------------------------------------------


def test_windows_printers_local_network_and_virtual(windows_host: Host) -> None:
    windows_host(WIN11)
    printers = {p.name: p for p in win.printers()}
    assert printers["Máy in Canon LBP2900 phòng Văn phòng"] == Printer(
        name="Máy in Canon LBP2900 phòng Văn phòng",
        connection="usb",
        port="USB001",
        driver="Canon LBP2900",
        default=True,
        status="idle",
    )
    finance = printers["Máy in phòng Tài chính"]
    assert (finance.connection, finance.offline, finance.shared, finance.status) == (
        "network",
        True,
        True,
        "offline",
    )
    assert printers["\\\\VANTHU-PC\\Máy in chung"].connection == "network"
    virtual = {n for n, p in printers.items() if p.connection == "virtual"}
    assert virtual == {"Microsoft Print to PDF", "OneNote (Desktop)", "Fax"}


def test_windows_usb_devices_group_interfaces(windows_host: Host) -> None:
    windows_host(WIN11)
    devices = {(d.vendor_id, d.product_id): d for d in win.usb_devices()}
    # The generic hub (05e3:0608, "Bộ chia USB chung" on Vietnamese Windows) is left out by its
    # compatible id USB\Class_09; the headset adapter whose name says "Hub" is kept.
    assert set(devices) == {("096e", "0807"), ("04a9", "2676"), ("046d", "c31c"), ("0b0e", "2475")}
    assert devices[("0b0e", "2475")].product == "Jabra Link 380 Hub Audio"
    token = devices[("096e", "0807")]
    assert token.serial == "2A1B3C4D5E6F7A8B"
    assert token.interface_classes == ["SmartCardReader"]
    keyboard = devices[("046d", "c31c")]
    assert keyboard.serial is None  # generated instance id, not a serial
    assert keyboard.interface_classes == ["HIDClass"]


def test_windows_smart_card_reader_not_repeated_by_vendor(windows_host: Host) -> None:
    windows_host(WIN11)
    assert win.smart_card_readers() == [
        SmartCardReader(
            name="Microsoft Usbccid Smartcard Reader (WUDF)",
            vendor="Feitian",
            vendor_id="096e",
            product_id="0807",
            status="OK",
        )
    ]


def test_windows_certificates_classified_with_expiry(
    windows_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_host(WIN11)
    monkeypatch.setattr(platform, "peripherals", win)
    section = _collector().collect()
    certs = {c.subject: c for c in section.certificates or []}
    an = certs[AN_SUBJECT]
    assert an.not_after == datetime(2026, 12, 16, 2, 0, tzinfo=UTC)
    assert (an.issuer_kind, an.days_to_expiry, an.store) == (
        "government_specialised",
        18,
        "CurrentUser\\My",
    )
    org = certs["CN=UBND XÃ TÂN LẬP, L=Thái Nguyên, C=VN"]
    assert org.not_after == datetime(2027, 6, 30, 2, 0, tzinfo=UTC)  # ISO with +07:00
    assert (org.issuer_kind, org.issuer_marker) == ("public_ca", "VNPT Certification Authority")
    assert org.thumbprint == "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
    assert org.serial == "5404FFFEB7033FB3A1"
    local = certs["CN=localhost"]
    assert local.issuer_kind is None and local.days_to_expiry == -516
    # Run as SYSTEM: the people's own stores were not read, and the report says so.
    assert "S-1-5-18" in section.unknown["certificates.user_stores"]
    assert section.signing_ports == [
        SigningPort(port=8987, name="VGCA Sign Service", listening=True, address="127.0.0.1"),
        SigningPort(port=4433, name="VNPT-CA Plugin", listening=False),
    ]


def _patched_batch(monkeypatch: pytest.MonkeyPatch, case: str, **changes: Any) -> None:
    """Replay ``case`` with some keys of the peripherals batch replaced."""
    path = FIXTURES / "windows" / case / "ps" / "peripherals.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    _ps.clear_cache()
    monkeypatch.setattr(_ps, "runner", lambda name, script: json.dumps(data))


def test_windows_listener_query_treats_nothing_listening_as_empty() -> None:
    script = win._SCRIPT
    block = script[script.index("Get-NetTCPConnection") :]
    block = block[: block.index("$r.listeners = @{error")]
    # "No MSFT_NetTCPConnection objects found" (ObjectNotFound) is an empty answer; any other
    # error is thrown again so that it reaches the catch.
    assert "-ErrorAction SilentlyContinue -ErrorVariable lerr" in block
    assert "$_.CategoryInfo.Category -ne 'ObjectNotFound'" in block
    assert "throw $bad[0].Exception" in block


def test_windows_nothing_listening_means_not_listening(
    windows_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_host(WIN11)
    _patched_batch(monkeypatch, WIN11, listeners=[])
    assert win.signing_ports([8987, 4433]) == [
        SigningPort(port=8987, name="VGCA Sign Service", listening=False),
        SigningPort(port=4433, name="VNPT-CA Plugin", listening=False),
    ]


@pytest.mark.parametrize(
    ("account", "noted"),
    [
        pytest.param("S-1-5-18", True, id="SYSTEM: users' stores not read"),
        pytest.param({"error": "Truy cập bị từ chối."}, True, id="account unknown"),
        pytest.param("S-1-5-21-3623811015-3361044348-30300820-1001", False, id="local user"),
        pytest.param("S-1-12-1-2948417283-1162460372-3917616540-3525129467", False, id="Entra ID"),
    ],
)
def test_windows_certificates_say_when_user_stores_were_not_read(
    windows_host: Host, monkeypatch: pytest.MonkeyPatch, account: Any, noted: bool
) -> None:
    windows_host(WIN11)
    _patched_batch(monkeypatch, WIN11, account_sid=account)
    unknown: dict[str, str] = {}
    with collecting_fact(unknown, "certificates"):
        certs = win.certificates()
    assert len(certs) == 3  # the list itself is kept either way
    assert ("certificates.user_stores" in unknown) is noted
    if noted:
        assert "CurrentUser" in unknown["certificates.user_stores"]


def test_windows_hub_found_by_its_driver_service_without_compatible_ids(
    windows_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_host(WIN11)
    hub = {
        "Name": "Bộ chia USB chung",
        "Manufacturer": "(Bộ chia USB chuẩn)",
        "PNPDeviceID": "USB\\VID_2109&PID_2813\\6&3A1B2C3D&0&1",
        "PNPClass": "USB",
        "Status": "OK",
        "Service": "USBHUB3",
        "CompatibleID": None,
    }
    _patched_batch(monkeypatch, WIN11, usb=[hub])
    assert win.usb_devices() == []


def test_windows_partial_cmdlet_output_is_not_a_complete_list(
    windows_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_host(WIN11)
    path = FIXTURES / "windows" / WIN11 / "ps" / "peripherals.json"
    usb = json.loads(path.read_text(encoding="utf-8"))["usb"][:3]
    _patched_batch(monkeypatch, WIN11, usb=[*usb, {"error": "Lỗi nhà cung cấp WMI"}])
    with pytest.raises(FactUnavailable, match="usb: Lỗi nhà cung cấp WMI"):
        win.usb_devices()


@pytest.mark.parametrize(
    ("case", "expected_unknown"),
    [
        pytest.param(
            "peripherals/win10-broken",
            dict.fromkeys(
                ["printers", "usb_devices", "smart_card_readers", "certificates", "signing_ports"],
                "PowerShell query peripherals returned invalid JSON",
            ),
            id="garbage instead of JSON",
        ),
        pytest.param(
            "peripherals/win10-partial",
            {
                "printers": "printers: Dịch vụ Print Spooler không chạy.",
                "certificates": "certificates: Access is denied.",
                "signing_ports": (
                    "listeners: The term 'Get-NetTCPConnection' is not recognized as the name "
                    "of a cmdlet"
                ),
            },
            id="some cmdlets failed",
        ),
    ],
)
def test_windows_failures_are_unknown_never_a_crash(
    windows_host: Host,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    expected_unknown: dict[str, str],
) -> None:
    windows_host(case)
    monkeypatch.setattr(platform, "peripherals", win)
    section = _collector().collect()
    assert section.unknown == expected_unknown
    if "usb_devices" not in expected_unknown:
        assert section.usb_devices == [] and section.smart_card_readers == []


# --- Issuer markers ------------------------------------------------------------------------------


def _cert(issuer: str, not_after: datetime | None = None) -> Certificate:
    return Certificate(subject="CN=Trần Thị Bình", issuer=issuer, store="My", not_after=not_after)


@pytest.mark.parametrize(
    ("issuer", "extra", "kind", "marker"),
    [
        pytest.param(
            "CN=CA phuc vu cac co quan Nha nuoc, O=Ban Co yeu Chinh phu, C=VN",
            [],
            "government_specialised",
            "Ban Cơ yếu Chính phủ",
            id="issuer without diacritics",
        ),
        pytest.param(
            "CN=Viettel-CA SHA-256, O=Viettel Group, C=VN",
            [],
            "public_ca",
            "Viettel-CA",
            id="Viettel",
        ),
        pytest.param("CN=BKAV-CA, O=BKAV Corporation, C=VN", [], "public_ca", "BKAV-CA", id="BKAV"),
        pytest.param(
            "CN=ĐẠI HỌC THÁI NGUYÊN CA, C=VN",
            ["Đại học Thái Nguyên CA"],
            "public_ca",
            "Đại học Thái Nguyên CA",
            id="marker added in the agent config",
        ),
        pytest.param("CN=localhost", [], None, None, id="unknown issuer"),
    ],
)
def test_issuer_markers(
    issuer: str, extra: list[str], kind: str | None, marker: str | None
) -> None:
    got = classify(_cert(issuer), ca_markers(extra), NOW)
    assert (got.issuer_kind, got.issuer_marker, got.days_to_expiry) == (kind, marker, None)


def test_fold_removes_vietnamese_diacritics() -> None:
    assert fold("Cơ quan chứng thực số chuyên dùng Chính phủ") == (
        "co quan chung thuc so chuyen dung chinh phu"
    )
    assert fold("ĐẠI HỌC") == "dai hoc"


def test_x509_parser_rejects_garbage() -> None:
    with pytest.raises(ValueError, match=r"not an X\.509 certificate"):
        _x509.parse_der(b"\x30\x03\x02\x01")
