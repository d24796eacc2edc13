"""Windows security posture facts, from CIM/cmdlet objects and the registry only.

The PCs run Vietnamese Windows, so nothing here parses command text: one batched PowerShell query
(``_sec_script``) returns cmdlet objects as JSON, and policies come from the registry through
``_registry``. A part that needs administrator rights becomes an unknown with a reason that says
so, never a healthy default. Listening ports, remote tools and sshd_config parsing are shared with
Linux (``agent.platform._portable``).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from agent.catalog import ProductSignature
from agent.errors import FactUnavailable, note_unknown
from agent.platform import _portable
from agent.platform._windows import _ps, _registry
from agent.platform._windows import _sec_common as _c
from agent.platform._windows import _sec_decode as _dec
from agent.platform._windows._sec_policies import (
    audit,
    autorun,
    screen_lock,
    time_sync,
    usb_storage,
)
from agent.report.security import (
    Accounts,
    AntiMalware,
    EncryptedVolume,
    Firewall,
    FirewallProfile,
    ListeningPort,
    LocalAccount,
    PasswordPolicy,
    RemoteTool,
    SshServer,
    Updates,
)

__all__ = [
    "accounts",
    "antimalware",
    "audit",
    "autorun",
    "encryption",
    "firewall",
    "listening_ports",
    "password_policy",
    "remote_tools",
    "screen_lock",
    "ssh_server",
    "time_sync",
    "updates",
    "usb_storage",
]

log = logging.getLogger(__name__)


def firewall() -> Firewall:
    """Windows Defender Firewall profiles, effective policy (ATTT-07)."""
    profiles = [
        FirewallProfile(
            name=str(p.get("Name", "")).lower(),
            enabled=_dec.gpo_boolean(p.get("Enabled")),
            default_inbound=_dec.firewall_action(p.get("DefaultInboundAction")),
        )
        for p in _ps.as_list(_c.part("firewall"))
        if isinstance(p, dict) and p.get("Name")
    ]
    if not profiles:
        raise FactUnavailable("Get-NetFirewallProfile returned no profile")
    names = {p.name for p in profiles}
    states = [p.enabled for p in profiles]
    if False in states:
        enabled: bool | None = False
    elif None in states or not {"domain", "private", "public"} <= names:
        enabled = None
    else:
        enabled = True
    return Firewall(enabled=enabled, product="Windows Defender Firewall", profiles=profiles)


def _defender_entry(status: Any) -> AntiMalware | None:
    if not isinstance(status, dict) or status.get("AMServiceEnabled") is None:
        return None
    realtime = status.get("RealTimeProtectionEnabled")
    av = status.get("AntivirusEnabled")
    enabled = None if realtime is None else bool(realtime) and av is not False
    out_of_date = status.get("DefenderSignaturesOutOfDate")
    age = _dec.as_int(status.get("AntivirusSignatureAge"))
    # Ages that were never set come as all-ones sentinels (FullScanAge 4294967295 in the
    # documented Get-MpComputerStatus example; 65535 is seen for signatures): not real ages.
    age_days = float(age) if age is not None and 0 <= age < 65535 else None
    return AntiMalware(
        name="Microsoft Defender Antivirus",
        source="defender",
        enabled=enabled,
        up_to_date=None if out_of_date is None else not out_of_date,
        signature_updated_at=_ps.parse_datetime(status.get("AntivirusSignatureLastUpdated")),
        signature_age_days=age_days,
        version=status.get("AMProductVersion") or None,
    )


def _management(
    sig: ProductSignature | None,
    installed: list[str],
    services: list[dict[str, Any]] | None,
) -> tuple[str | None, bool | None]:
    """The product's central-management agent and whether its service runs (ATTT-03)."""
    if sig is None or not sig.management:
        return None, None
    pattern = re.compile("|".join(re.escape(m) for m in sig.management), re.IGNORECASE)
    svc = next(
        (
            s
            for s in services or []
            if pattern.search(str(s.get("Name", ""))) or pattern.search(str(s.get("DisplayName")))
        ),
        None,
    )
    pkg = next((n for n in installed if pattern.search(n)), None)
    if svc is not None:
        return pkg or str(svc.get("DisplayName") or svc["Name"]), svc.get("State") == "Running"
    return pkg, None


def antimalware(catalogue: list[ProductSignature]) -> list[AntiMalware]:
    """Anti-malware products: Security Center, Defender status, uninstall registry and services.

    RULES.md: products are found by Security Center and installed-software names against the
    catalogue, never by a process name. Windows Server has no Security Center
    (root/SecurityCenter2 is absent): the other sources are then used alone, and each product's
    ``source`` says where it was found.
    """
    sc = _c.optional("security_center")
    if sc is None:
        log.info(
            "antimalware: no Security Center (Windows Server?); using Defender status, "
            "the uninstall registry and services"
        )
    defender = _defender_entry(_c.optional("defender"))
    try:
        services: list[dict[str, Any]] | None = _c.services()
    except FactUnavailable as exc:
        log.info("antimalware: services unavailable: %s", exc.reason)
        services = None
    installed = _c.installed_names()
    if sc is None and defender is None and services is None and not installed:
        raise FactUnavailable("neither Security Center, Defender status nor services are readable")

    def signature(name: str) -> ProductSignature | None:
        return next((s for s in catalogue if s.matches(name)), None)

    found: list[tuple[AntiMalware, ProductSignature | None]] = []
    seen: set[str] = set()
    if defender is not None:
        sig = signature("Microsoft Defender Antivirus")
        found.append((defender, sig))
        seen.add(sig.name if sig else defender.name)
    for product in _ps.as_list(sc):
        if not isinstance(product, dict) or not product.get("displayName"):
            continue
        name = str(product["displayName"])
        sig = signature(name)
        if (sig.name if sig else name) in seen:
            continue  # Defender's own entry: Get-MpComputerStatus is more precise
        seen.add(sig.name if sig else name)
        enabled, up_to_date = _dec.product_state(product.get("productState"))
        entry = AntiMalware(
            name=name, source="security_center", enabled=enabled, up_to_date=up_to_date
        )
        found.append((entry, sig))
    for sig in catalogue:
        if sig.name in seen:
            continue
        # Service *names* only: Windows' own display names are localized and may contain a
        # product word ("Tường lửa Windows Defender" is the firewall, not an anti-malware).
        svc = next((s for s in services or [] if sig.matches(str(s["Name"]))), None)
        pkg = next((n for n in installed if sig.matches(n)), None)
        if pkg is None and svc is None:
            continue
        seen.add(sig.name)
        if pkg is not None:
            name, source = pkg, "package"
        elif svc is not None:
            name, source = str(svc.get("DisplayName") or svc["Name"]), "service"
        running = None if svc is None else svc.get("State") == "Running"
        entry = AntiMalware(name=name, source=source, enabled=running)  # type: ignore[arg-type]
        found.append((entry, sig))
    result = []
    for entry, sig in found:
        agent, agent_running = _management(sig, installed, services)
        if agent is not None:
            entry.management_agent = agent
            entry.management_agent_running = agent_running
        result.append(entry)
    return result


#: Updates that Windows Update history lists but that are not OS patches (ATTT-05): Defender
#: definitions (KB2267602), the Defender platform (KB4052623), the malicious software removal
#: tool (KB890830), and Defender anti-malware definitions for older clients (KB915597).
_NOT_OS_PATCHES = frozenset({"KB2267602", "KB4052623", "KB890830", "KB915597"})

#: Classifications of OS patches by their fixed GUIDs (not the localized names): Security
#: Updates, Critical Updates, Update Rollups ("WSUS Classification GUIDs",
#: https://learn.microsoft.com/previous-versions/windows/desktop/ff357803(v=vs.85)). Drivers,
#: definition updates, feature packs and tools are not.
_OS_PATCH_CLASSES = frozenset(
    {
        "0fa1201d-4330-4fa8-8ae9-b877473b6441",
        "e6cf1350-c01b-414d-a61f-263d14d133b4",
        "28bc880e-0592-4cbf-8f95-c79b17911d5f",
    }
)
_KB = re.compile(r"KB\d+")


def _history_dates(history: Any) -> list[datetime]:
    """Install dates of OS patches in Windows Update history (IUpdateHistoryEntry2)."""
    dates = []
    for entry in _ps.as_list(history):
        if not isinstance(entry, dict):
            continue
        # IUpdateHistoryEntry: Operation 1 = installation; ResultCode 2 = succeeded,
        # 3 = succeeded with errors (OperationResultCode enumeration, wuapi.h).
        if entry.get("Operation") != 1 or entry.get("ResultCode") not in (2, 3):
            continue
        # No KB number: a driver, a Store app or another product's update, not an OS patch.
        kb = str(entry.get("KB") or "").upper()
        if not _KB.fullmatch(kb) or kb in _NOT_OS_PATCHES:
            continue
        # Categories hold classification and product GUIDs; the history often leaves them
        # empty, and then the KB number alone decides.
        categories = {str(c).lower() for c in _ps.as_list(entry.get("Categories")) if c}
        if categories and not categories & _OS_PATCH_CLASSES:
            continue
        if (when := _ps.parse_datetime(entry.get("Date"))) is not None:
            dates.append(when)
    return dates


def _last_installed() -> datetime | None:
    """Newest OS patch from Windows Update history and Get-HotFix (Win32_QuickFixEngineering,
    which lists only component-based servicing packages: OS updates)."""
    dates: list[datetime] = []
    failures: list[str] = []
    try:
        dates += _history_dates(_c.part("update_history"))
    except FactUnavailable as exc:
        failures.append(exc.reason)
    try:
        hotfixes = _ps.as_list(_c.part("hotfix"))
    except FactUnavailable as exc:
        failures.append(exc.reason)
        hotfixes = []
    for fix in hotfixes:
        if not isinstance(fix, dict) or not _KB.fullmatch(str(fix.get("HotFixID") or "").upper()):
            continue
        if (when := _ps.parse_datetime(fix.get("InstalledOn"))) is not None:
            dates.append(when)
    if len(failures) == 2:
        note_unknown(
            "last_installed_at",
            "neither Windows Update history nor Get-HotFix is readable: " + "; ".join(failures),
        )
    elif not dates:
        why = "no installed OS update (with a KB number) in Windows Update history or Get-HotFix"
        note_unknown("last_installed_at", "; ".join([why, *failures]))
    return max(dates, default=None)


def _automatic_updates() -> bool | None:
    policy = _registry.values(r"HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU")
    try:
        wuauserv = _c.service(_c.services(), "wuauserv")
    except FactUnavailable:
        wuauserv = None
    if _dec.as_int(policy.get("NoAutoUpdate")) == 1:
        return False
    if wuauserv is not None and wuauserv.get("StartMode") == "Disabled":
        return False
    # AUOptions: 2 notify only, 3 download automatically, 4 download and schedule install,
    # 5 local admin chooses, 7 download, notify to install (learn.microsoft.com "Configure
    # Automatic Updates" policy CSP / registry keys for WSUS).
    options = _dec.as_int(policy.get("AUOptions"))
    if options == 2:
        return False
    if options in (3, 4, 5, 7):
        return True
    # No policy: Windows 10/11 update automatically unless the service is disabled.
    return True if wuauserv is not None else None


def updates() -> Updates:
    """Last installed update, reboot pending and automatic updates (ATTT-05).

    ``pending`` stays unknown: only an online Windows Update search knows it, and that can take
    minutes, far beyond the agent's budget.
    """
    wu = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion"
    reboot = "RebootRequired" in _registry.subkeys(rf"{wu}\WindowsUpdate\Auto Update") or (
        "RebootPending" in _registry.subkeys(rf"{wu}\Component Based Servicing")
    )
    why = "only an online Windows Update search knows it; the agent does not run one"
    note_unknown("pending", why)
    note_unknown("pending_security", why)
    return Updates(
        last_installed_at=_last_installed(),
        automatic=_automatic_updates(),
        reboot_required=reboot,
    )


#: Win32_EncryptableVolume.EncryptionMethod values (learn.microsoft.com, GetEncryptionMethod).
_METHODS = {
    1: "AES-128 with diffuser",
    2: "AES-256 with diffuser",
    3: "AES-128",
    4: "AES-256",
    5: "hardware encryption",
    6: "XTS-AES-128",
    7: "XTS-AES-256",
}


def encryption() -> list[EncryptedVolume]:
    """BitLocker state of fixed volumes (ATTT-15); needs administrator rights."""
    try:
        volumes = _ps.as_list(_c.part("bitlocker"))
    except FactUnavailable as exc:
        raise _dec.privileged(exc, "BitLocker status (Win32_EncryptableVolume)") from exc
    system = str(_c.optional("system_drive") or "").upper()
    result = []
    for vol in volumes:
        if not isinstance(vol, dict) or not vol.get("DriveLetter"):
            continue  # recovery and EFI partitions have no letter
        if _dec.as_int(vol.get("VolumeType")) == 2:
            continue  # removable data volume
        method = _dec.as_int(vol.get("EncryptionMethod"))
        status = _dec.as_int(vol.get("ProtectionStatus"))
        letter = str(vol["DriveLetter"]).upper()
        result.append(
            EncryptedVolume(
                volume=letter,
                method=f"bitlocker {_METHODS.get(method, str(method))}" if method else None,
                # ProtectionStatus: 0 off, 1 on, 2 unknown (volume locked).
                protected={0: False, 1: True}.get(status) if status is not None else None,
                system=letter == system,
            )
        )
    return result


def accounts() -> Accounts:
    """Local accounts, members of Administrators (S-1-5-32-544) and Guest (RID 501)."""
    users = [u for u in _ps.as_list(_c.part("users")) if isinstance(u, dict) and u.get("SID")]
    admins = [a for a in _ps.as_list(_c.part("admins")) if isinstance(a, dict)]
    last_logon = {
        str(u.get("SID")): _ps.parse_datetime(u.get("LastLogon"))
        for u in _ps.as_list(_c.optional("local_users"))
        if isinstance(u, dict)
    }
    admin_sids = {str(a.get("SID")) for a in admins}
    guest_enabled = False
    result = []
    for user in users:
        sid = str(user["SID"])
        enabled = not bool(user.get("Disabled"))
        if sid.endswith("-501"):
            guest_enabled = enabled
        # DefaultAccount (503) and WDAGUtilityAccount (504) are system-managed, not people.
        if sid.endswith(("-503", "-504")):
            continue
        result.append(
            LocalAccount(
                name=str(user.get("Name")),
                enabled=enabled,
                admin=sid in admin_sids,
                last_logon=last_logon.get(sid),
            )
        )
    return Accounts(
        users=result,
        admins=sorted(str(a.get("Name")) for a in admins if a.get("Name")),
        guest_enabled=guest_enabled,
    )


def password_policy() -> PasswordPolicy:
    """Local password and lockout policy from ``secedit /export`` (ATTT-09, BMNN-06)."""
    try:
        ini = _c.part("secedit")
    except FactUnavailable as exc:
        raise _dec.privileged(exc, "secedit (local security policy)") from exc
    if not isinstance(ini, dict) or "MinimumPasswordLength" not in ini:
        raise FactUnavailable("secedit export has no [System Access] password settings")
    complexity = _dec.as_int(ini.get("PasswordComplexity"))
    # Security templates write -1 where the policy UI says 0: MaximumPasswordAge -1 = passwords
    # never expire, LockoutDuration -1 = locked until an administrator unlocks. Reported as 0,
    # the UI's (and faillock.conf(5) unlock_time's) convention for the same meaning.
    max_age = _dec.as_int(ini.get("MaximumPasswordAge"))
    lockout = _dec.as_int(ini.get("LockoutDuration"))
    return PasswordPolicy(
        min_length=_dec.as_int(ini.get("MinimumPasswordLength")),
        complexity=None if complexity is None else complexity == 1,
        max_age_days=0 if max_age == -1 else max_age,
        history=_dec.as_int(ini.get("PasswordHistorySize")),
        lockout_threshold=_dec.as_int(ini.get("LockoutBadCount")),
        lockout_minutes=0 if lockout == -1 else lockout,
    )


def listening_ports() -> list[ListeningPort]:
    """Sockets accepting connections, with owning processes (psutil)."""
    return _portable.listening_ports()


def remote_tools(catalogue: list[ProductSignature]) -> list[RemoteTool]:
    """Remote-control tools from uninstall names, services and processes (ATTT-12)."""
    services = _c.services()
    names = [str(s["Name"]) for s in services] + [
        str(s["DisplayName"]) for s in services if s.get("DisplayName")
    ]
    return _portable.find_remote_tools(catalogue, _c.installed_names(), names)


def ssh_server() -> SshServer:
    """OpenSSH Server (service ``sshd``) and its sshd_config."""
    sshd = _c.service(_c.services(), "sshd")
    if sshd is None:
        return SshServer(installed=False)
    running = sshd.get("State") == "Running"
    text = _c.optional("sshd_config")
    if not isinstance(text, str):
        return SshServer(installed=True, running=running)
    settings = _portable.parse_sshd_config(text)
    ports = [int(p) for p in settings.get("port", ["22"]) if p.isdigit()]
    # Defaults from sshd_config(5): PermitRootLogin prohibit-password, PasswordAuthentication yes.
    root = settings.get("permitrootlogin", ["prohibit-password"])[0].lower()
    password = settings.get("passwordauthentication", ["yes"])[0].lower()
    return SshServer(
        installed=True,
        running=running,
        ports=ports,
        permit_root_login=root,
        password_authentication={"yes": True, "no": False}.get(password),
    )
