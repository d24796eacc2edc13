"""Windows security posture facts (being implemented: every function raises until done)."""

from agent.catalog import ProductSignature
from agent.errors import FactUnavailable
from agent.report.security import (
    Accounts,
    AntiMalware,
    AuditLogging,
    AutoRun,
    EncryptedVolume,
    Firewall,
    ListeningPort,
    PasswordPolicy,
    RemoteTool,
    ScreenLock,
    SshServer,
    TimeSync,
    Updates,
    UsbStorage,
)

_TODO = "not implemented yet on this OS"


def firewall() -> Firewall:
    """Host firewall state (ATTT-07)."""
    raise FactUnavailable(_TODO)


def antimalware(catalogue: list[ProductSignature]) -> list[AntiMalware]:
    """Anti-malware products found, matched against the catalogue (ATTT-01..04)."""
    raise FactUnavailable(_TODO)


def updates() -> Updates:
    """OS update state (ATTT-05)."""
    raise FactUnavailable(_TODO)


def encryption() -> list[EncryptedVolume]:
    """Encryption of fixed volumes (ATTT-15)."""
    raise FactUnavailable(_TODO)


def accounts() -> Accounts:
    """Local accounts, administrators and Guest (ATTT-10, BMNN-07)."""
    raise FactUnavailable(_TODO)


def password_policy() -> PasswordPolicy:
    """Password and lockout policy (ATTT-09, BMNN-06)."""
    raise FactUnavailable(_TODO)


def screen_lock() -> ScreenLock:
    """Automatic screen lock (ATTT-09)."""
    raise FactUnavailable(_TODO)


def usb_storage() -> UsbStorage:
    """USB mass-storage policy and history (BMNN-05)."""
    raise FactUnavailable(_TODO)


def autorun() -> AutoRun:
    """AutoRun of removable media (ATTT-08)."""
    raise FactUnavailable(_TODO)


def listening_ports() -> list[ListeningPort]:
    """Sockets accepting connections, with owning processes."""
    raise FactUnavailable(_TODO)


def remote_tools(catalogue: list[ProductSignature]) -> list[RemoteTool]:
    """Remote-control tools found, matched against the catalogue (ATTT-12)."""
    raise FactUnavailable(_TODO)


def audit() -> AuditLogging:
    """Audit logging (ATTT-11)."""
    raise FactUnavailable(_TODO)


def time_sync() -> TimeSync:
    """Clock synchronisation (ATTT-14)."""
    raise FactUnavailable(_TODO)


def ssh_server() -> SshServer:
    """SSH server settings."""
    raise FactUnavailable(_TODO)
