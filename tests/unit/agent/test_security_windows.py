"""Windows security facts on hand-made fixtures of Vietnamese Windows 10/11 PCs.

The fixtures (tests/fixtures/windows/security/*/README.md) follow the documented ConvertTo-Json
shapes of each cmdlet and CIM class. psutil is replaced by fakes: nothing here reads this machine.
"""

from __future__ import annotations

import json
import socket
from collections import namedtuple
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import psutil
import pytest

from agent import catalog, platform
from agent.collectors.base import Facts
from agent.collectors.security import SecurityCollector
from agent.config import AgentConfig
from agent.errors import FactUnavailable, collecting_fact
from agent.platform import _portable
from agent.platform._windows import _ps, _registry, _sec_common, _sec_script
from agent.platform._windows import _sec_decode as dec
from agent.platform._windows import security as win
from agent.report.security import ListeningPort, UsbStorageDevice
from tests.support.windows import PsReplay, RegistryReplay

WELL = "security/win11-pro-well-configured"
POOR = "security/win10-22h2-poorly-configured"
NO_ADMIN = "security/win11-not-elevated"
#: When the fixtures were "collected" (their README): event ages are measured from here.
COLLECTED_AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)

Addr = namedtuple("Addr", "ip port")
Conn = namedtuple("Conn", "fd family type laddr raddr status pid")


class FakeProcess:
    """psutil.Process stand-in: names by pid."""

    NAMES: ClassVar[dict[int, str]] = {}

    def __init__(self, pid: int) -> None:
        if pid not in self.NAMES:
            raise psutil.NoSuchProcess(pid)
        self.pid = pid
        self.info = {"name": self.NAMES[pid]}

    def name(self) -> str:
        return self.NAMES[self.pid]


@pytest.fixture
def fake_psutil(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Replace psutil's process and socket tables with the given ones."""

    def use(processes: dict[int, str], conns: list[Conn] | None = None) -> None:
        monkeypatch.setattr(FakeProcess, "NAMES", processes)
        monkeypatch.setattr(psutil, "Process", FakeProcess)
        monkeypatch.setattr(
            psutil, "process_iter", lambda attrs=None: [FakeProcess(p) for p in processes]
        )
        monkeypatch.setattr(_portable, "list_process_names", _portable.psutil_process_names)
        monkeypatch.setattr(psutil, "net_connections", lambda kind="inet": list(conns or []))

    _portable.clear_cache()
    use({})
    yield use
    _portable.clear_cache()


@pytest.fixture
def host(
    windows_host: Callable[[str], PsReplay],
    monkeypatch: pytest.MonkeyPatch,
    fake_psutil: Callable[..., None],
) -> Callable[[str], PsReplay]:
    """A fixture machine with the clock pinned to its collection time."""
    monkeypatch.setattr(_sec_common, "now", lambda: COLLECTED_AT)
    return windows_host


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# ----------------------------------------------------------------------------- firewall


@pytest.mark.parametrize(
    ("case", "enabled", "public"),
    [
        pytest.param(WELL, True, (True, "block"), id="all three profiles on"),
        pytest.param(POOR, False, (False, None), id="Public profile off"),
    ],
)
def test_firewall(host: Any, case: str, enabled: bool, public: tuple[Any, Any]) -> None:
    host(case)
    fw = win.firewall()
    assert fw.enabled is enabled
    assert fw.product == "Windows Defender Firewall"
    assert [p.name for p in fw.profiles] == ["domain", "private", "public"]
    assert (fw.profiles[2].enabled, fw.profiles[2].default_inbound) == public


# ----------------------------------------------------------------------------- anti-malware


def _av(case: str, host: Any) -> dict[str, Any]:
    host(case)
    return {a.name: a for a in win.antimalware(catalog.antimalware([]))}


def test_antimalware_bkav_with_defender_passive(host: Any) -> None:
    found = _av(WELL, host)
    assert set(found) == {"Bkav Pro", "Microsoft Defender Antivirus"}
    bkav = found["Bkav Pro"]
    assert (bkav.source, bkav.enabled, bkav.up_to_date) == ("security_center", True, True)
    assert bkav.management_agent == "Bkav Endpoint Agent"
    assert bkav.management_agent_running is True
    defender = found["Microsoft Defender Antivirus"]
    # Passive: installed and current, but not the active real-time protection.
    assert (defender.source, defender.enabled, defender.up_to_date) == ("defender", False, True)
    assert defender.signature_updated_at == _utc(2026, 11, 19, 22, 5, 10)
    assert defender.version == "4.18.24090.11"


def test_antimalware_defender_signatures_twenty_days_old(host: Any) -> None:
    found = _av(POOR, host)
    assert list(found) == ["Microsoft Defender Antivirus"]
    defender = found["Microsoft Defender Antivirus"]
    assert defender.enabled is True
    assert defender.up_to_date is False
    assert defender.signature_age_days == 20.0
    assert defender.signature_updated_at == _utc(2026, 10, 31, 2, 9, 41)
    assert defender.management_agent is None


def test_antimalware_kaspersky_network_agent(host: Any) -> None:
    found = _av(NO_ADMIN, host)
    kes = found["Kaspersky Endpoint Security for Windows"]
    assert (kes.enabled, kes.up_to_date) == (True, True)
    assert kes.management_agent == "Kaspersky Security Center Network Agent"
    assert kes.management_agent_running is True
    assert found["Microsoft Defender Antivirus"].enabled is False


def _patched_batch(monkeypatch: pytest.MonkeyPatch, case: str, **changes: Any) -> None:
    """Replay ``case`` with some parts of the batch replaced (``None`` removes a part)."""
    path = Path(__file__).resolve().parents[2] / "fixtures" / "windows" / case / "ps"
    data = json.loads((path / "security.json").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    _ps.clear_cache()
    monkeypatch.setattr(_ps, "runner", lambda name, script: json.dumps(data))


def test_antimalware_without_security_center_falls_back(
    host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host(NO_ADMIN)
    # Windows Server: root/SecurityCenter2 does not exist.
    _patched_batch(
        monkeypatch,
        NO_ADMIN,
        security_center={"error": "ObjectNotFound: Không gian tên không hợp lệ "},
        defender={"error": "ObjectNotFound: Get-MpComputerStatus không được nhận dạng"},
    )
    found = {a.name: a for a in win.antimalware(catalog.antimalware([]))}
    kes = found["Kaspersky Endpoint Security for Windows"]
    assert kes.source == "package"
    assert kes.enabled is None  # no service named after the product: state not claimed
    assert kes.management_agent == "Kaspersky Security Center Network Agent"
    assert kes.management_agent_running is True
    # The firewall service's localized display name contains "Windows Defender": not a product.
    assert set(found) == {"Kaspersky Endpoint Security for Windows"}


def test_antimalware_nothing_readable_is_unknown(
    host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host(NO_ADMIN)
    monkeypatch.setattr(_registry.backend, "keys", {})
    error = {"error": "NotSpecified: RPC server unavailable"}
    _patched_batch(monkeypatch, NO_ADMIN, security_center=error, defender=error, services=error)
    with pytest.raises(FactUnavailable, match="neither Security Center"):
        win.antimalware(catalog.antimalware([]))


# ----------------------------------------------------------------------------- updates


@pytest.mark.parametrize(
    ("case", "last", "automatic", "reboot"),
    [
        pytest.param(WELL, _utc(2026, 11, 12, 4, 31, 2), True, False, id="policy AUOptions=4"),
        pytest.param(POOR, _utc(2026, 6, 10, 3, 45), False, True, id="wuauserv disabled"),
        pytest.param(NO_ADMIN, _utc(2026, 11, 13, 2), True, False, id="no policy, default"),
    ],
)
def test_updates(host: Any, case: str, last: datetime, automatic: bool, reboot: bool) -> None:
    host(case)
    upd = win.updates()
    # Defender definition updates (KB2267602) are newer but are not OS patches.
    assert upd.last_installed_at == last
    assert upd.automatic is automatic
    assert upd.reboot_required is reboot
    assert upd.pending is None  # only an online search knows


SECURITY_UPDATES = "0fa1201d-4330-4fa8-8ae9-b877473b6441"
DRIVERS = "ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0"


def _history(kb: str, categories: list[str], day: int) -> dict[str, Any]:
    """One successful installation in Windows Update history, in November 2026."""
    when = int(_utc(2026, 11, day, 3).timestamp() * 1000)
    return {
        "Date": f"/Date({when})/",
        "ResultCode": 2,
        "Operation": 1,
        "KB": kb,
        "Categories": categories,
    }


@pytest.mark.parametrize(
    ("history", "hotfix", "last"),
    [
        pytest.param(
            [_history("", [DRIVERS], 19), _history("KB5046617", [SECURITY_UPDATES], 12)],
            None,
            _utc(2026, 11, 12, 3),
            id="driver without KB ignored",
        ),
        pytest.param(
            [_history("KB5048001", [DRIVERS], 19), _history("KB5046617", [], 12)],
            None,
            _utc(2026, 11, 12, 3),
            id="KB classified Drivers ignored, no categories: KB decides",
        ),
        pytest.param(
            [_history("KB5048685", ["E6CF1350-C01B-414D-A61F-263D14D133B4"], 19)],
            None,
            _utc(2026, 11, 19, 3),
            id="Critical Updates by GUID, any case",
        ),
        pytest.param(
            {"error": "NotSpecified: 0x8024402C"},
            {"HotFixID": "KB5046617", "InstalledOn": "/Date(1794416400000)/"},
            _utc(2026, 11, 11, 17),  # local midnight of 12 November in Vietnam (UTC+7)
            id="history unreadable: Get-HotFix alone",
        ),
    ],
)
def test_last_installed_update_counts_only_os_patches(
    host: Any,
    monkeypatch: pytest.MonkeyPatch,
    history: Any,
    hotfix: Any,
    last: datetime,
) -> None:
    host(WELL)
    _patched_batch(monkeypatch, WELL, update_history=history, hotfix=hotfix or [])
    assert win.updates().last_installed_at == last


@pytest.mark.parametrize(
    ("history", "hotfix", "reason"),
    [
        pytest.param(
            {"error": "NotSpecified: 0x8024402C"},
            {"error": "InvalidOperation: RPC server unavailable"},
            "neither Windows Update history nor Get-HotFix is readable",
            id="both sources fail",
        ),
        pytest.param(
            [_history("", [DRIVERS], 19)],
            [],
            "no installed OS update",
            id="only a driver update",
        ),
    ],
)
def test_last_installed_update_unknown_has_a_reason(
    host: Any, monkeypatch: pytest.MonkeyPatch, history: Any, hotfix: Any, reason: str
) -> None:
    host(WELL)
    _patched_batch(monkeypatch, WELL, update_history=history, hotfix=hotfix)
    unknown: dict[str, str] = {}
    with collecting_fact(unknown, "updates"):
        upd = win.updates()
    assert upd.last_installed_at is None
    assert reason in unknown["updates.last_installed_at"]


# ----------------------------------------------------------------------------- encryption


def test_encryption_marks_the_system_drive(host: Any) -> None:
    host(WELL)
    vols = win.encryption()
    assert [(v.volume, v.protected, v.system, v.method) for v in vols] == [
        ("C:", True, True, "bitlocker XTS-AES-128"),
        ("D:", True, False, "bitlocker XTS-AES-128"),
    ]


def test_encryption_off(host: Any) -> None:
    host(POOR)
    [vol] = win.encryption()
    assert (vol.volume, vol.protected, vol.method, vol.system) == ("C:", False, None, True)


# ----------------------------------------------------------------------------- accounts


def test_accounts_poorly_configured(host: Any) -> None:
    host(POOR)
    acc = win.accounts()
    assert acc.guest_enabled is True
    users = {u.name: u for u in acc.users}
    assert set(users) == {"Administrator", "Guest", "ketoan", "Lê Thị Mai"}
    assert users["Lê Thị Mai"].admin is True
    assert users["Lê Thị Mai"].last_logon == _utc(2026, 11, 19, 23, 55)
    assert users["Guest"].enabled is True and users["Guest"].admin is False
    assert "PC-KETOAN-02\\Lê Thị Mai" in acc.admins


def test_accounts_found_by_sid_with_domain_admins(host: Any) -> None:
    host(NO_ADMIN)
    acc = win.accounts()
    assert acc.guest_enabled is False
    assert acc.admins == ["PC-VANTHU-03\\Administrator", "UBND-HUYEN\\Domain Admins"]
    users = {u.name: u for u in acc.users}
    assert users["Phạm Quốc Huy"].admin is False
    assert "WDAGUtilityAccount" not in users and "DefaultAccount" not in users


# ----------------------------------------------------------------------------- password policy


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param(WELL, (8, True, 90, 5, 5, 15), id="8 chars, complexity, lockout"),
        pytest.param(POOR, (0, False, 0, 0, 0, None), id="no policy, never expires"),
    ],
)
def test_password_policy(host: Any, case: str, expected: tuple[Any, ...]) -> None:
    host(case)
    p = win.password_policy()
    got = (
        p.min_length,
        p.complexity,
        p.max_age_days,
        p.history,
        p.lockout_threshold,
        p.lockout_minutes,
    )
    assert got == expected


# ----------------------------------------------------------------------------- screen lock


@pytest.mark.parametrize(
    ("case", "enabled", "timeout", "source"),
    [
        pytest.param(WELL, True, 600, "machine policy InactivityTimeoutSecs", id="machine"),
        pytest.param(POOR, False, 900, "user setting", id="screensaver without password"),
        pytest.param(NO_ADMIN, True, 300, "user policy", id="user policy over user setting"),
    ],
)
def test_screen_lock(host: Any, case: str, enabled: bool, timeout: int, source: str) -> None:
    host(case)
    lock = win.screen_lock()
    assert (lock.enabled, lock.timeout_seconds) == (enabled, timeout)
    assert lock.source is not None and source in lock.source


# ----------------------------------------------------------------------------- USB storage


def test_usb_storage_blocked_by_usbstor(host: Any) -> None:
    host(WELL)
    usb = win.usb_storage()
    assert (usb.policy, usb.mechanism, usb.history) == ("blocked", "USBSTOR Start=4", [])
    assert usb.history_source is not None


def test_usb_storage_history(host: Any) -> None:
    host(POOR)
    usb = win.usb_storage()
    assert (usb.policy, usb.mechanism) == ("allowed", "USBSTOR Start=3")
    assert usb.history[0] == UsbStorageDevice(
        vendor="Kingston",
        product="DataTraveler 3.0",
        serial="60A44C3FACC93110E9590E5A",
        first_seen=_utc(2025, 3, 14, 2, 21, 7),
        last_seen=_utc(2026, 11, 18, 8, 40, 55),
    )
    assert (usb.history[1].vendor, usb.history[1].serial) == ("Generic", None)


def test_usb_storage_allow_list(host: Any) -> None:
    host(NO_ADMIN)
    usb = win.usb_storage()
    assert usb.policy == "allow_list"
    assert usb.mechanism is not None and "AllowDeviceIDs" in usb.mechanism


def test_usb_storage_policy_unknown_without_start_value(
    host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host(POOR)
    backend = _registry.backend
    assert isinstance(backend, RegistryReplay)
    backend.keys["hklm\\system\\currentcontrolset\\services\\usbstor"] = {"values": {}}
    unknown: dict[str, str] = {}
    with collecting_fact(unknown, "usb_storage"):
        usb = win.usb_storage()
    assert (usb.policy, usb.mechanism) == (None, None)
    assert len(usb.history) == 2  # the devices seen are still reported
    assert "no Start value" in unknown["usb_storage.policy"]


# ----------------------------------------------------------------------------- autorun


@pytest.mark.parametrize(
    ("case", "disabled", "value", "source"),
    [
        pytest.param(WELL, True, 0xFF, "HKLM policy", id="machine 0xFF"),
        pytest.param(POOR, False, None, "not configured", id="not configured"),
        pytest.param(NO_ADMIN, True, 0xFF, "HKU\\S-1-5-21-", id="user policy"),
    ],
)
def test_autorun(host: Any, case: str, disabled: bool, value: int | None, source: str) -> None:
    host(case)
    ar = win.autorun()
    assert (ar.disabled, ar.no_drive_type_autorun) == (disabled, value)
    assert ar.source is not None and ar.source.startswith(source)


# ----------------------------------------------------------------------------- ports and tools


def test_listening_ports_from_psutil(host: Any, fake_psutil: Callable[..., None]) -> None:
    host(WELL)
    fake_psutil(
        {1204: "svchost.exe", 4420: "BkavService.exe"},
        [
            Conn(-1, socket.AF_INET, socket.SOCK_STREAM, Addr("0.0.0.0", 135), (), "LISTEN", 1204),
            Conn(-1, socket.AF_INET, socket.SOCK_STREAM, Addr("10.0.0.5", 50123),
                 Addr("10.0.0.1", 443), "ESTABLISHED", 4420),
        ],
    )  # fmt: skip
    assert win.listening_ports() == [
        ListeningPort(protocol="tcp", address="0.0.0.0", port=135, process="svchost.exe", pid=1204)
    ]


def test_remote_tools(host: Any, fake_psutil: Callable[..., None]) -> None:
    host(POOR)
    fake_psutil({3120: "UltraViewer_Desktop.exe", 2210: "TeamViewer_Service.exe"})
    tools = {t.name: t for t in win.remote_tools(catalog.remote_tools([]))}
    assert set(tools) == {"UltraViewer", "TeamViewer"}
    assert tools["UltraViewer"].evidence == ["installed", "service", "process"]
    assert tools["UltraViewer"].detail is not None
    assert "UltraViewer version 6.6.94" in tools["UltraViewer"].detail
    assert tools["TeamViewer"].evidence == ["service", "process"]
    assert tools["TeamViewer"].running is True


def test_no_remote_tools(host: Any) -> None:
    host(WELL)
    assert win.remote_tools(catalog.remote_tools([])) == []


# ----------------------------------------------------------------------------- audit, time, ssh


@pytest.mark.parametrize(
    ("case", "enabled", "max_bytes"),
    [
        pytest.param(WELL, True, 192 * 1024 * 1024, id="all three audited"),
        pytest.param(POOR, False, 20 * 1024 * 1024, id="account management not audited"),
        pytest.param(NO_ADMIN, None, 192 * 1024 * 1024, id="no admin: policy unknown, GPO size"),
    ],
)
def test_audit(host: Any, case: str, enabled: bool | None, max_bytes: int) -> None:
    host(case)
    a = win.audit()
    assert (a.enabled, a.security_log_max_bytes) == (enabled, max_bytes)


@pytest.mark.parametrize(
    ("case", "synced", "server", "offset"),
    [
        pytest.param(WELL, True, "0.vn.pool.ntp.org", 0.0012345, id="synchronised"),
        pytest.param(POOR, False, "time.windows.com", None, id="leap indicator 3"),
        pytest.param(NO_ADMIN, None, "domain hierarchy (NT5DS)", None, id="no status event"),
    ],
)
def test_time_sync(
    host: Any, case: str, synced: bool | None, server: str, offset: float | None
) -> None:
    host(case)
    t = win.time_sync()
    assert (t.synchronized, t.server, t.offset_seconds, t.service) == (
        synced,
        server,
        offset,
        "W32Time",
    )


def test_time_sync_stale_event_is_not_trusted(host: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    host(WELL)
    monkeypatch.setattr(_sec_common, "now", lambda: _utc(2026, 12, 20))
    facts = Facts()
    sync = facts.get("time_sync", win.time_sync)
    assert sync is not None and sync.synchronized is None
    assert "no W32Time status event" in facts.unknown["time_sync.synchronized"]


def test_ssh_server(host: Any) -> None:
    host(NO_ADMIN)
    ssh = win.ssh_server()
    assert (ssh.installed, ssh.running, ssh.ports) == (True, True, [2222])
    assert (ssh.permit_root_login, ssh.password_authentication) == ("no", False)


def test_no_ssh_server(host: Any) -> None:
    host(WELL)
    assert win.ssh_server().installed is False


# ----------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("fact", "reason"),
    [
        pytest.param(win.encryption, "BitLocker status", id="BitLocker access denied"),
        pytest.param(win.password_policy, "secedit", id="secedit access denied"),
    ],
)
def test_not_elevated_facts_are_unknown(host: Any, fact: Callable[[], Any], reason: str) -> None:
    host(NO_ADMIN)
    with pytest.raises(FactUnavailable, match=rf"{reason}.*needs administrator rights"):
        fact()


def test_collector_without_admin_records_reasons(
    host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host(NO_ADMIN)
    monkeypatch.setattr(platform, "security", win)
    section = SecurityCollector(AgentConfig()).collect()
    assert set(section.unknown) == {
        "encryption",
        "password_policy",
        "audit.enabled",
        "updates.pending",
        "updates.pending_security",
        "time_sync.synchronized",
    }
    assert "online Windows Update search" in section.unknown["updates.pending"]
    assert "run as SYSTEM" in section.unknown["encryption"]
    assert section.firewall is not None and section.firewall.enabled is True
    assert section.accounts is not None and section.ssh_server is not None
    assert section.audit is not None and section.audit.enabled is None


def test_garbage_output_makes_facts_unknown(host: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    host(WELL)
    _ps.clear_cache()
    monkeypatch.setattr(_ps, "runner", lambda name, script: "Lỗi: không thể tải mô-đun")
    for fact in (win.firewall, win.encryption, win.accounts, win.password_policy, win.ssh_server):
        with pytest.raises(FactUnavailable, match="invalid JSON"):
            fact()
    # Registry-only facts still answer.
    assert win.autorun().disabled is True
    assert win.screen_lock().timeout_seconds == 600


def test_powershell_missing(host: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    host(WELL)
    _ps.clear_cache()

    def missing(name: str, script: str) -> str:
        raise FactUnavailable("command not found: powershell.exe")

    monkeypatch.setattr(_ps, "runner", missing)
    with pytest.raises(FactUnavailable, match=r"powershell\.exe"):
        win.firewall()
    # Updates fall back to the registry alone (policy AUOptions=4); the install date is unknown.
    upd = win.updates()
    assert (upd.last_installed_at, upd.automatic, upd.reboot_required) == (None, True, False)


def test_registry_denied_is_unknown(host: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    host(POOR)
    backend = _registry.backend
    assert isinstance(backend, RegistryReplay)
    backend.keys["hklm\\system\\currentcontrolset\\enum\\usbstor"] = {"denied": True}
    with pytest.raises(FactUnavailable, match="run as SYSTEM"):
        win.usb_storage()


ENTRA_SID = "S-1-12-1-2948417283-1162460372-3917616540-3525129467"


def test_entra_id_user_hive_is_read(host: Any) -> None:
    host(POOR)
    backend = _registry.backend
    assert isinstance(backend, RegistryReplay)
    # Only an Entra ID (Azure AD) account is logged on.
    backend.keys["hku"] = {"subkeys": [".DEFAULT", "S-1-5-18", ENTRA_SID, f"{ENTRA_SID}_Classes"]}
    backend.keys[f"hku\\{ENTRA_SID.lower()}\\control panel\\desktop"] = {
        "values": {"ScreenSaveActive": "1", "ScreenSaverIsSecure": "1", "ScreenSaveTimeOut": "300"}
    }
    lock = win.screen_lock()
    assert (lock.enabled, lock.timeout_seconds) == (True, 300)
    assert lock.source is not None and ENTRA_SID in lock.source


def test_partial_part_output_is_not_a_complete_list(
    host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host(WELL)
    # What the old Part wrapper streamed when Get-NetFirewallProfile failed after one profile.
    partial = [
        {"Name": "Domain", "Enabled": 1, "DefaultInboundAction": 4},
        {"error": "NotSpecified: Lỗi nhà cung cấp WMI"},
    ]
    _patched_batch(monkeypatch, WELL, firewall=partial)
    with pytest.raises(FactUnavailable, match="partial result discarded"):
        win.firewall()


def _script_part(key: str) -> str:
    """The text of the security script that fills ``$r.<key>``."""
    after = _sec_script.SCRIPT.split(f"$r.{key} = ", 1)[1]
    return after.split("\n$r.", 1)[0]


def test_script_part_collects_before_emitting() -> None:
    wrapper = _sec_script.SCRIPT.split("function Part", 1)[1].split("function NeedAdmin", 1)[0]
    # Collected into $o inside the try, emitted only after it: never output then an error.
    assert "$o = @(& $Block)" in wrapper
    assert "try { & $Block }" not in wrapper


@pytest.mark.parametrize(
    ("key", "program"),
    [pytest.param("secedit", "secedit.exe", id="secedit"),
     pytest.param("audit_policy", "auditpol.exe", id="auditpol")],
)  # fmt: skip
def test_script_runs_programs_by_full_path(key: str, program: str) -> None:
    part = _script_part(key)
    assert f"& (Join-Path $sys32 '{program}')" in part
    assert f"& {program}" not in part
    assert "$sys32 = Join-Path $env:SystemRoot 'System32'" in _sec_script.SCRIPT


def test_script_admins_fallback_reads_only_the_local_group() -> None:
    assert "SID='S-1-5-32-544' AND LocalAccount=True" in _script_part("admins")


def test_script_asks_usb_dates_in_one_call() -> None:
    part = _script_part("usb_dates")
    assert part.count("Get-PnpDeviceProperty") == 1
    assert "-InstanceId $ids" in part  # every instance at once, not one call per device


# ----------------------------------------------------------------------------- decoders


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(266240, (True, True), id="0x41000 on, current"),
        pytest.param(266256, (True, False), id="0x41010 on, out of date"),
        pytest.param(393472, (False, True), id="0x60100 Defender off"),
        pytest.param(397584, (True, False), id="0x61110 Defender on, out of date"),
        pytest.param(401664, (False, True), id="0x62100 snoozed"),
        pytest.param("266240", (None, None), id="string is not trusted"),
        pytest.param(None, (None, None), id="missing"),
    ],
)
def test_product_state(state: Any, expected: tuple[Any, Any]) -> None:
    assert dec.product_state(state) == expected


@pytest.mark.parametrize(
    ("raw", "enabled", "action"),
    [
        pytest.param(1, True, "block", id="PS 5.1 numbers"),
        pytest.param("True", True, "block", id="enum names"),
        pytest.param(2, None, None, id="NotConfigured"),
        pytest.param(0, False, "allow", id="off, allow"),
    ],
)
def test_firewall_enums(raw: Any, enabled: bool | None, action: str | None) -> None:
    raw_action = {1: 4, "True": "Block", 2: 0, 0: 2}[raw]
    assert dec.gpo_boolean(raw) is enabled
    assert dec.firewall_action(raw_action) == action


@pytest.mark.parametrize(
    ("device", "instance", "expected"),
    [
        pytest.param(
            "Disk&Ven_SanDisk&Prod_Cruzer_Blade&Rev_1.00",
            "4C530001230925113453&0",
            ("SanDisk", "Cruzer Blade", "4C530001230925113453"),
            id="serial",
        ),
        pytest.param(
            "Disk&Ven_&Prod_USB_DISK_2.0&Rev_PMAP",
            "070B2D4A8E6F1234&0",
            (None, "USB DISK 2.0", "070B2D4A8E6F1234"),
            id="empty vendor",
        ),
        pytest.param("CdRom&Ven_Generic", "6&1f2e3d&0&000000", ("Generic", None, None), id="no sn"),
    ],
)
def test_usbstor_ids(device: str, instance: str, expected: tuple[Any, ...]) -> None:
    assert dec.usbstor_ids(device, instance) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("0.0012345s", 0.0012345, id="positive"),
        pytest.param("-0.5000000s", -0.5, id="negative"),
        pytest.param("0,0012345s", None, id="comma decimal not guessed"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_phase_offset(text: Any, seconds: float | None) -> None:
    assert dec.phase_offset(text) == seconds


def test_privileged_keeps_other_reasons() -> None:
    other = FactUnavailable("bitlocker: ObjectNotFound: Lớp không hợp lệ")
    assert dec.privileged(other, "BitLocker") is other
    denied = dec.privileged(FactUnavailable("x: PermissionDenied: Truy cập bị từ chối"), "X")
    assert denied.reason == "X needs administrator rights (run as SYSTEM)"


@pytest.mark.parametrize(
    ("secedit", "expected"),
    [
        pytest.param(
            {"MinimumPasswordLength": "14", "PasswordComplexity": "1", "MaximumPasswordAge": "-1",
             "LockoutBadCount": "3", "LockoutDuration": "-1"},
            (14, True, 0, 3, 0),
            id="never expires, locked until an admin unlocks",
        ),
        pytest.param({"Unicode": "yes"}, None, id="export without System Access keys"),
        pytest.param(
            {"error": "OperationStopped: secedit exit code 3"}, None, id="secedit failed"
        ),
    ],
)  # fmt: skip
def test_password_policy_edge_cases(
    host: Any, monkeypatch: pytest.MonkeyPatch, secedit: dict[str, str], expected: Any
) -> None:
    host(WELL)
    _patched_batch(monkeypatch, WELL, secedit=secedit)
    if expected is None:
        with pytest.raises(FactUnavailable, match="secedit"):
            win.password_policy()
        return
    p = win.password_policy()
    got = (p.min_length, p.complexity, p.max_age_days, p.lockout_threshold, p.lockout_minutes)
    assert got == expected


def test_bitlocker_namespace_missing_keeps_its_reason(
    host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host(WELL)
    _patched_batch(
        monkeypatch, WELL, bitlocker={"error": "InvalidType: Không gian tên không hợp lệ"}
    )
    with pytest.raises(FactUnavailable, match="InvalidType") as info:
        win.encryption()
    assert "administrator" not in info.value.reason
