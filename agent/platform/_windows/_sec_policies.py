"""Windows security policies read from the registry: screen lock, USB storage, AutoRun, audit
logging and time synchronisation (the public functions are re-exported by ``security``)."""

from __future__ import annotations

from typing import Any

from agent.errors import FactUnavailable, note_unknown
from agent.platform._windows import _ps, _registry
from agent.platform._windows import _sec_common as _c
from agent.platform._windows import _sec_decode as _dec
from agent.report.security import (
    AuditLogging,
    AutoRun,
    ScreenLock,
    TimeSync,
    UsbStorage,
    UsbStorageDevice,
)

_DESKTOP_POLICY = r"Software\Policies\Microsoft\Windows\Control Panel\Desktop"


def _user_screen_lock(hive: str) -> ScreenLock:
    policy = _registry.values(f"{hive}\\{_DESKTOP_POLICY}")
    user = _registry.values(f"{hive}\\Control Panel\\Desktop")

    def pick(name: str) -> Any:
        return policy[name] if name in policy else user.get(name)

    active = _dec.as_int(pick("ScreenSaveActive")) == 1
    secure = _dec.as_int(pick("ScreenSaverIsSecure")) == 1
    timeout = _dec.as_int(pick("ScreenSaveTimeOut"))
    where = "user policy" if policy else "user setting"
    return ScreenLock(
        enabled=active and secure and bool(timeout and timeout > 0),
        timeout_seconds=timeout,
        source=f"password-protected screensaver ({where}, {hive.split(chr(92))[-1]})",
    )


def screen_lock() -> ScreenLock:
    """Inactivity lock: machine InactivityTimeoutSecs, else each loaded user's screensaver."""
    machine = _dec.as_int(
        _registry.value(
            r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System",
            "InactivityTimeoutSecs",
        )
    )
    if machine is not None and machine > 0:
        return ScreenLock(
            enabled=True, timeout_seconds=machine, source="machine policy InactivityTimeoutSecs"
        )
    hives = _c.user_hives()
    if not hives:
        raise FactUnavailable(
            "no InactivityTimeoutSecs machine policy and no user logged on to read the "
            "screensaver settings of"
        )
    locks = [_user_screen_lock(hive) for hive in hives]
    # The weakest user decides: a user without a lock, else the longest timeout.
    return min(locks, key=lambda s: (bool(s.enabled), -(s.timeout_seconds or 0)))


_USBSTOR_ENUM = r"HKLM\SYSTEM\CurrentControlSet\Enum\USBSTOR"
_RSD = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\RemovableStorageDevices"
#: GUID_DEVINTERFACE_DISK, the removable-disks class of the RemovableStorageDevices policy.
_DISK_CLASS = "{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}"


def _usb_policy() -> tuple[str | None, str | None]:
    start = _dec.as_int(_registry.value(r"HKLM\SYSTEM\CurrentControlSet\Services\USBSTOR", "Start"))
    deny_all = _dec.as_int(_registry.value(_RSD, "Deny_All")) == 1
    disk = _registry.values(f"{_RSD}\\{_DISK_CLASS}")
    deny_read = _dec.as_int(disk.get("Deny_Read")) == 1
    deny_write = _dec.as_int(disk.get("Deny_Write")) == 1
    restrictions = _registry.values(
        r"HKLM\SOFTWARE\Policies\Microsoft\Windows\DeviceInstall\Restrictions"
    )
    # An allow-list works only together with "prevent installation of devices not described by
    # other policy settings" (DenyUnspecified).
    allow_list = (
        _dec.as_int(restrictions.get("AllowDeviceIDs")) == 1
        and _dec.as_int(restrictions.get("DenyUnspecified")) == 1
    )
    if start == 4:
        return "blocked", "USBSTOR Start=4"
    if allow_list:
        extra = " + RemovableStorageDevices Deny_All" if deny_all else ""
        return "allow_list", f"DeviceInstall AllowDeviceIDs allow-list{extra}"
    if deny_all:
        return "blocked", "RemovableStorageDevices Deny_All policy"
    if deny_read:
        return "blocked", "RemovableStorageDevices removable disks Deny_Read policy"
    if start is None:
        return None, None
    mechanism = f"USBSTOR Start={start}" + (" (write blocked: Deny_Write)" if deny_write else "")
    return "allowed", mechanism


def usb_storage() -> UsbStorage:
    """USB mass-storage policy and the USBSTOR history of devices seen (BMNN-05)."""
    policy, mechanism = _usb_policy()
    dates = {
        str(d.get("InstanceId", "")).upper(): d
        for d in _ps.as_list(_c.optional("usb_dates"))
        if isinstance(d, dict)
    }
    history = []
    for device in _registry.subkeys(_USBSTOR_ENUM):
        for instance in _registry.subkeys(f"{_USBSTOR_ENUM}\\{device}"):
            vendor, product, serial = _dec.usbstor_ids(device, instance)
            friendly = _registry.value(f"{_USBSTOR_ENUM}\\{device}\\{instance}", "FriendlyName")
            seen = dates.get(f"USBSTOR\\{device}\\{instance}".upper(), {})
            history.append(
                UsbStorageDevice(
                    vendor=vendor,
                    product=product or (str(friendly) if friendly else None),
                    serial=serial,
                    first_seen=_ps.parse_datetime(seen.get("FirstInstallDate")),
                    last_seen=_ps.parse_datetime(seen.get("LastArrivalDate")),
                )
            )
    if policy is None:
        why = "USBSTOR service key has no Start value and no removable-storage policy is set"
        if not history:
            raise FactUnavailable(why)
        note_unknown("policy", why)
    return UsbStorage(
        policy=policy,  # type: ignore[arg-type]  # values are the Literal's
        mechanism=mechanism,
        history=history,
        history_source=r"HKLM\SYSTEM\CurrentControlSet\Enum\USBSTOR",
    )


_EXPLORER_POLICY = r"Software\Microsoft\Windows\CurrentVersion\Policies\Explorer"


def _autorun_at(hive: str) -> AutoRun | None:
    values = _registry.values(f"{hive}\\{_EXPLORER_POLICY}")
    mask = _dec.as_int(values.get("NoDriveTypeAutoRun"))
    no_autorun = _dec.as_int(values.get("NoAutorun"))
    if mask is None and no_autorun is None:
        return None
    all_drives_off = mask is not None and mask & 0xFF == 0xFF
    what = "NoAutorun=1" if no_autorun == 1 and not all_drives_off else "NoDriveTypeAutoRun"
    return AutoRun(
        disabled=all_drives_off or no_autorun == 1,
        no_drive_type_autorun=mask,
        source=f"{hive} policy {what}",
    )


def autorun() -> AutoRun:
    """AutoRun policy: the machine policy wins; else every loaded user must have it off."""
    machine = _autorun_at("HKLM")
    if machine is not None:
        return machine
    users = [a for hive in _c.user_hives() if (a := _autorun_at(hive)) is not None]
    off = [a for a in users if not a.disabled]
    if off:
        return off[0]
    if users and len(users) == len(_c.user_hives()):
        return users[0]
    # Not configured: Windows' default NoDriveTypeAutoRun (0x91) leaves AutoPlay on for
    # removable and fixed drives.
    return AutoRun(disabled=False, source="not configured (Windows default)")


def _security_log_max_bytes() -> int | None:
    # The "Maximum log size (KB)" Group Policy (EventLog.admx) overrides the service's own value
    # in bytes.
    policy_kb = _dec.as_int(
        _registry.value(r"HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\Security", "MaxSize")
    )
    if policy_kb is not None and policy_kb > 0:
        return policy_kb * 1024
    return _dec.as_int(
        _registry.value(r"HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Security", "MaxSize")
    )


def audit() -> AuditLogging:
    """Advanced audit policy of Logon, User Account Management, Audit Policy Change (ATTT-11).

    Settings are compared by subcategory GUID and numeric ``Setting Value`` from
    ``auditpol /backup``; the Inclusion Setting text is localized and never read.
    """
    max_bytes = _security_log_max_bytes()
    try:
        rows = _ps.as_list(_c.part("audit_policy"))
    except FactUnavailable as exc:
        reason = _dec.privileged(exc, "auditpol (audit policy)").reason
        if max_bytes is None:
            raise FactUnavailable(reason) from exc
        note_unknown("enabled", reason)
        return AuditLogging(
            mechanism="Windows advanced audit policy", security_log_max_bytes=max_bytes
        )
    settings = {str(r.get("Guid", "")).upper(): r.get("Value") for r in rows if isinstance(r, dict)}
    if not settings:
        raise FactUnavailable("auditpol /backup returned no subcategory settings")
    enabled = all(_dec.audit_success_on(settings.get(guid)) for guid in _dec.REQUIRED_AUDIT)
    return AuditLogging(
        enabled=enabled,
        mechanism="Windows advanced audit policy",
        security_log_max_bytes=max_bytes,
    )


#: Event 260 is written periodically; an older one no longer tells the current state.
_TIME_STATUS_MAX_AGE_SECONDS = 2 * 86400


def time_sync() -> TimeSync:
    """W32Time configuration and its last periodic status event (ATTT-14).

    ``w32tm /query /status`` is localized text, so the state comes from the W32time
    Operational event 260 fields (LeapIndicator 3 = not synchronized, LastSyncError,
    PhaseOffset), which have fixed names.
    """
    params = _registry.values(r"HKLM\SYSTEM\CurrentControlSet\Services\W32Time\Parameters")
    sync_type = str(params.get("Type") or "") or None
    server = None
    if sync_type == "NT5DS":
        server = "domain hierarchy (NT5DS)"
    elif params.get("NtpServer"):
        # "time.windows.com,0x9 pool.ntp.org,0x9": flags after the comma.
        server = str(params["NtpServer"]).split()[0].split(",")[0] or None
    status = _c.optional("time_status")
    synchronized: bool | None = None
    offset = None
    if isinstance(status, dict) and isinstance(status.get("Data"), dict):
        created = _ps.parse_datetime(status.get("TimeCreated"))
        fresh = created is not None and (
            (_c.now() - created).total_seconds() < _TIME_STATUS_MAX_AGE_SECONDS
        )
        data = status["Data"]
        if fresh:
            leap = _dec.as_int(data.get("LeapIndicator"))
            error = _dec.as_int(data.get("LastSyncError"))
            if leap is not None and error is not None:
                synchronized = leap != 3 and error == 0
            offset = _dec.phase_offset(data.get("PhaseOffset")) if synchronized else None
    if sync_type == "NoSync":
        synchronized = False
    if sync_type is None and status is None:
        raise FactUnavailable("W32Time has no configuration and no status event")
    if synchronized is None:
        note_unknown(
            "synchronized",
            "no W32Time status event (Time-Service Operational 260) from the last "
            f"{_TIME_STATUS_MAX_AGE_SECONDS // 86400} days",
        )
    return TimeSync(
        synchronized=synchronized, service="W32Time", server=server, offset_seconds=offset
    )
