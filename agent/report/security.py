"""Security posture: what the ATTT (baseline) and BMNN (classified) rules are evaluated on.

Every fact is ``None`` when it could not be determined (the reason is in ``unknown``); an empty
list means "looked, found none", which is different.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from agent.report._base import Meta, Record, Section


class FirewallProfile(Record, kw_only=True):
    """One firewall profile (Windows Domain/Private/Public) or the Linux ruleset."""

    name: Annotated[str, Meta(description="domain, private, public, or the Linux tool name.")]
    enabled: Annotated[bool | None, Meta(description="Whether the profile filters traffic.")] = None
    default_inbound: Annotated[
        Literal["allow", "block"] | None, Meta(description="Default action for inbound traffic.")
    ] = None


class Firewall(Record, kw_only=True):
    """Host firewall (ATTT-07)."""

    enabled: Annotated[
        bool | None,
        Meta(description="True when every profile is on (Windows) or a ruleset is active (Linux)."),
    ] = None
    product: Annotated[
        str | None,
        Meta(description="Windows Defender Firewall, ufw, firewalld, nftables, iptables, ..."),
    ] = None
    profiles: Annotated[list[FirewallProfile], Meta(description="State of each profile.")] = []


class AntiMalware(Record, kw_only=True):
    """One anti-malware product found (ATTT-01..04)."""

    name: Annotated[str, Meta(description="Product name as installed or registered.")]
    source: Annotated[
        Literal["security_center", "defender", "package", "service", "process"],
        Meta(description="Where it was found: Windows Security Center, Defender status, ..."),
    ]
    enabled: Annotated[
        bool | None, Meta(description="Real-time protection on (Security Center state, service).")
    ] = None
    up_to_date: Annotated[
        bool | None, Meta(description="Signatures current according to the product.")
    ] = None
    signature_updated_at: Annotated[
        datetime | None, Meta(description="When the signatures were last updated, UTC.")
    ] = None
    signature_age_days: Annotated[
        float | None, Meta(description="Age of the signatures in days at collection time.")
    ] = None
    version: Annotated[str | None, Meta(description="Product or engine version.")] = None
    management_agent: Annotated[
        str | None,
        Meta(
            description="Central-management agent found (Kaspersky Network Agent, ...) (ATTT-03)."
        ),
    ] = None
    management_agent_running: Annotated[
        bool | None, Meta(description="Whether that management agent's service is running.")
    ] = None


class Updates(Record, kw_only=True):
    """OS updates (ATTT-05)."""

    last_installed_at: Annotated[
        datetime | None, Meta(description="When the newest update was installed, UTC.")
    ] = None
    pending: Annotated[int | None, Meta(description="Updates available, not installed.")] = None
    pending_security: Annotated[int | None, Meta(description="Of those, security updates.")] = None
    automatic: Annotated[bool | None, Meta(description="Automatic updates enabled.")] = None
    reboot_required: Annotated[
        bool | None, Meta(description="A reboot is pending to finish installing updates.")
    ] = None


class EncryptedVolume(Record, kw_only=True):
    """Encryption state of one volume (ATTT-15)."""

    volume: Annotated[str, Meta(description="Mount point or drive letter (C:).")]
    method: Annotated[
        str | None, Meta(description="bitlocker, luks, or the device-mapper target.")
    ] = None
    protected: Annotated[
        bool | None, Meta(description="Protection on (BitLocker ProtectionStatus, LUKS open).")
    ] = None
    system: Annotated[bool, Meta(description="The volume holds the operating system.")] = False


class LocalAccount(Record, kw_only=True):
    """A local user account (ATTT-10, BMNN-07)."""

    name: Annotated[str, Meta(description="Account name.")]
    enabled: Annotated[bool | None, Meta(description="Account can log on.")] = None
    password_locked: Annotated[
        bool | None,
        Meta(
            description=(
                "Password logon is blocked while the account stays enabled (Linux shadow "
                "password starting with '!' or '*': SSH keys may still log on). None where "
                "not determined."
            )
        ),
    ] = None
    admin: Annotated[
        bool, Meta(description="Member of Administrators (Windows) or sudo/wheel/root (Linux).")
    ] = False
    last_logon: Annotated[datetime | None, Meta(description="Last logon, UTC, if known.")] = None


class Accounts(Record, kw_only=True):
    """Local accounts and administrators."""

    users: Annotated[list[LocalAccount], Meta(description="Human local accounts.")] = []
    admins: Annotated[
        list[str],
        Meta(description="Members of the local administrators group, including domain ones."),
    ] = []
    guest_enabled: Annotated[bool | None, Meta(description="The Guest account is enabled.")] = None


class PasswordPolicy(Record, kw_only=True):
    """Local password and lockout policy (ATTT-09, BMNN-06)."""

    min_length: Annotated[int | None, Meta(description="Minimum password length.")] = None
    complexity: Annotated[
        bool | None,
        Meta(description="Complexity required (Windows PasswordComplexity; pwquality minclass≥3)."),
    ] = None
    max_age_days: Annotated[
        int | None, Meta(description="Maximum password age, days; 0 means passwords never expire.")
    ] = None
    history: Annotated[int | None, Meta(description="Passwords remembered.")] = None
    lockout_threshold: Annotated[
        int | None, Meta(description="Failed logons before lockout; 0 means never.")
    ] = None
    lockout_minutes: Annotated[
        int | None,
        Meta(description="Lockout duration, minutes; 0 means until an administrator unlocks."),
    ] = None


class ScreenLock(Record, kw_only=True):
    """Automatic screen lock (ATTT-09)."""

    enabled: Annotated[bool | None, Meta(description="The screen locks after inactivity.")] = None
    timeout_seconds: Annotated[
        int | None, Meta(description="Inactivity before the lock, seconds.")
    ] = None
    source: Annotated[
        str | None,
        Meta(description="Where it was read: InactivityTimeoutSecs policy, screensaver, GNOME."),
    ] = None


class UsbStorageDevice(Record, kw_only=True):
    """A USB storage device this computer has seen (BMNN-05)."""

    vendor: Annotated[str | None, Meta(description="Vendor name or id.")] = None
    product: Annotated[str | None, Meta(description="Product name or id.")] = None
    serial: Annotated[str | None, Meta(description="Device serial number.")] = None
    first_seen: Annotated[datetime | None, Meta(description="First connection, UTC.")] = None
    last_seen: Annotated[datetime | None, Meta(description="Last connection, UTC.")] = None


class UsbStorage(Record, kw_only=True):
    """USB mass-storage policy and history (BMNN-05)."""

    policy: Annotated[
        Literal["allowed", "blocked", "allow_list"] | None,
        Meta(description="Whether USB mass storage can be used on this computer."),
    ] = None
    mechanism: Annotated[
        str | None,
        Meta(description="What enforces it: USBSTOR Start=4, Deny_All policy, modprobe, usbguard."),
    ] = None
    history: Annotated[
        list[UsbStorageDevice], Meta(description="USB storage devices seen (USBSTOR, journal).")
    ] = []
    history_source: Annotated[
        str | None,
        Meta(
            description=(
                "Where the history was read (Enum\\USBSTOR, /var/log/kern.log). None means no "
                "history source was readable, so an empty history says nothing about past devices."
            )
        ),
    ] = None


class AutoRun(Record, kw_only=True):
    """AutoRun/AutoPlay of removable media (ATTT-08)."""

    disabled: Annotated[bool | None, Meta(description="AutoRun is off for every drive type.")] = (
        None
    )
    no_drive_type_autorun: Annotated[
        int | None, Meta(description="NoDriveTypeAutoRun value (0xFF = all drives off).")
    ] = None
    source: Annotated[
        str | None, Meta(description="Where it was read (policy key, GNOME autorun-never).")
    ] = None


class ListeningPort(Record, kw_only=True):
    """A socket accepting connections."""

    protocol: Annotated[Literal["tcp", "udp"], Meta(description="Transport protocol.")]
    address: Annotated[str, Meta(description="Local address it listens on.")]
    port: Annotated[int, Meta(description="Local port.")]
    process: Annotated[str | None, Meta(description="Owning process name.")] = None
    pid: Annotated[int | None, Meta(description="Owning process id.")] = None


class RemoteTool(Record, kw_only=True):
    """A remote-control tool found (ATTT-12)."""

    name: Annotated[str, Meta(description="Tool name from the catalogue.")]
    evidence: Annotated[
        list[Literal["installed", "service", "process"]],
        Meta(description="How it was found."),
    ]
    running: Annotated[bool, Meta(description="A process of the tool is running.")] = False
    detail: Annotated[
        str | None, Meta(description="Installed name/version or service name that matched.")
    ] = None


class AuditLogging(Record, kw_only=True):
    """System audit logging (ATTT-11)."""

    enabled: Annotated[
        bool | None,
        Meta(description="Logon, account-management and policy-change events are audited."),
    ] = None
    mechanism: Annotated[str | None, Meta(description="auditd, Windows audit policy.")] = None
    security_log_max_bytes: Annotated[
        int | None, Meta(description="Maximum size of the Security event log, bytes.")
    ] = None
    persistent_journal: Annotated[
        bool | None, Meta(description="journald keeps logs across reboots (Linux).")
    ] = None


class TimeSync(Record, kw_only=True):
    """Clock synchronisation (ATTT-14)."""

    synchronized: Annotated[bool | None, Meta(description="The clock is synchronised.")] = None
    service: Annotated[
        str | None, Meta(description="systemd-timesyncd, chronyd, ntpd, W32Time.")
    ] = None
    server: Annotated[str | None, Meta(description="Time source in use.")] = None
    offset_seconds: Annotated[
        float | None, Meta(description="Last measured offset from the source, seconds.")
    ] = None


class SshServer(Record, kw_only=True):
    """The SSH server, where installed (Linux; OpenSSH Server on Windows)."""

    installed: Annotated[bool, Meta(description="An SSH server is installed.")] = False
    running: Annotated[bool | None, Meta(description="It is running.")] = None
    ports: Annotated[
        list[int] | None,
        Meta(description="Ports it is configured on. None when its configuration is unreadable."),
    ] = []
    permit_root_login: Annotated[
        str | None, Meta(description="PermitRootLogin setting (yes, no, prohibit-password).")
    ] = None
    password_authentication: Annotated[
        bool | None, Meta(description="PasswordAuthentication setting.")
    ] = None


class Security(Section, kw_only=True):
    """Security posture: firewall, anti-malware, updates, encryption, accounts, policies."""

    firewall: Annotated[Firewall | None, Meta(description="Host firewall.")] = None
    antimalware: Annotated[
        list[AntiMalware] | None,
        Meta(description="Anti-malware products found; empty means none found."),
    ] = None
    updates: Annotated[Updates | None, Meta(description="OS updates.")] = None
    encryption: Annotated[
        list[EncryptedVolume] | None, Meta(description="Encryption state of fixed volumes.")
    ] = None
    accounts: Annotated[Accounts | None, Meta(description="Local accounts.")] = None
    password_policy: Annotated[
        PasswordPolicy | None, Meta(description="Password and lockout policy.")
    ] = None
    screen_lock: Annotated[ScreenLock | None, Meta(description="Automatic screen lock.")] = None
    usb_storage: Annotated[UsbStorage | None, Meta(description="USB storage policy/history.")] = (
        None
    )
    autorun: Annotated[AutoRun | None, Meta(description="AutoRun of removable media.")] = None
    listening_ports: Annotated[
        list[ListeningPort] | None, Meta(description="Sockets accepting connections.")
    ] = None
    remote_tools: Annotated[
        list[RemoteTool] | None,
        Meta(description="Remote-control tools found; empty means none found."),
    ] = None
    audit: Annotated[AuditLogging | None, Meta(description="Audit logging.")] = None
    time_sync: Annotated[TimeSync | None, Meta(description="Clock synchronisation.")] = None
    ssh_server: Annotated[SshServer | None, Meta(description="SSH server settings.")] = None
