"""Linux security posture facts.

One public function per fact (the same names as ``_windows/security.py``). The larger areas live
in private submodules (``_sec_firewall``, ``_sec_packages``, ``_sec_accounts``, ``_sec_desktop``)
and are re-exported here; facts psutil gives identically on every OS come from
``agent.platform._portable``. Everything is read from files and /proc; the only commands forked
are ``nft`` (root, one call) and ``chronyc`` (when chronyd runs).
"""

from __future__ import annotations

import fnmatch
import logging
import re

from agent.catalog import ProductSignature
from agent.errors import FactUnavailable, note_unknown
from agent.platform import _portable
from agent.platform._common import have_command, list_dir, read_optional, read_text, run
from agent.platform._linux import _sec_common as c
from agent.platform._linux._sec_accounts import accounts, password_policy
from agent.platform._linux._sec_desktop import autorun, screen_lock, usb_storage
from agent.platform._linux._sec_firewall import firewall
from agent.platform._linux._sec_packages import antimalware, updates
from agent.report.security import (
    AuditLogging,
    EncryptedVolume,
    ListeningPort,
    RemoteTool,
    SshServer,
    TimeSync,
)

log = logging.getLogger(__name__)

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


# --- encryption --------------------------------------------------------------------------------


def _dm_by_name() -> dict[str, str]:
    """device-mapper names (``/dev/mapper/<name>``) -> kernel names (``dm-0``)."""
    names: dict[str, str] = {}
    for dev in list_dir("/sys/block"):
        dm_name = read_optional(f"/sys/block/{dev}/dm/name") if dev.startswith("dm-") else None
        if dm_name:
            names[dm_name] = dev
    return names


def _crypt_type(kernel_name: str, depth: int = 0) -> str | None:
    """``luks``/``plain``/... when the device or one beneath it (LVM on LUKS) is dm-crypt.

    dm-crypt devices created by cryptsetup carry a dm uuid "CRYPT-<TYPE>-..." (cryptsetup(8),
    libcryptsetup's dm_prepare_uuid): CRYPT-LUKS1, CRYPT-LUKS2, CRYPT-PLAIN, CRYPT-BITLK.
    """
    uuid = read_optional(f"/sys/block/{kernel_name}/dm/uuid") or ""
    if uuid.startswith("CRYPT-"):
        kind = uuid.split("-")[1].lower()
        return "luks" if kind.startswith("luks") else kind
    if depth > 4:
        return None
    for slave in list_dir(f"/sys/class/block/{kernel_name}/slaves"):
        below = _crypt_type(slave, depth + 1)
        if below:
            return below
    return None


def _removable(kernel_name: str) -> bool:
    disk = kernel_name
    if read_optional(f"/sys/class/block/{kernel_name}/partition") is not None:
        # A partition's parent disk is the directory above it in sysfs (/sys/block/sdb/sdb1).
        disk = re.sub(r"p?\d+$", "", kernel_name)
    return read_optional(f"/sys/block/{disk}/removable") == "1"


def encryption() -> list[EncryptedVolume]:
    """Mounted block-device filesystems with their dm-crypt state; the root one is ``system``.

    /boot and the EFI system partition are left out: a standard encrypted install keeps them in
    clear so the boot loader can read them, and they hold no user data.
    """
    mounts = read_text("/proc/mounts")
    dm = _dm_by_name()
    volumes: dict[str, EncryptedVolume] = {}
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3 or not fields[0].startswith("/dev/"):
            continue
        device, mountpoint = fields[0], fields[1].replace("\\040", " ")
        if mountpoint == "/boot" or mountpoint.startswith("/boot/"):
            continue
        if device in volumes:
            continue  # bind mounts repeat the device; the first (usually /) names it
        if device.startswith("/dev/mapper/"):
            kernel = dm.get(device.removeprefix("/dev/mapper/"))
        else:
            kernel = device.removeprefix("/dev/")
            if not c.exists(f"/sys/class/block/{kernel}"):
                kernel = None
        if kernel is not None and (kernel.startswith("loop") or _removable(kernel)):
            continue
        if kernel is None:
            volumes[device] = EncryptedVolume(volume=mountpoint, system=mountpoint == "/")
            continue
        kind = _crypt_type(kernel)
        volumes[device] = EncryptedVolume(
            volume=mountpoint, method=kind, protected=kind is not None, system=mountpoint == "/"
        )
    return sorted(volumes.values(), key=lambda v: (not v.system, v.volume))


# --- ports and remote tools --------------------------------------------------------------------


def listening_ports() -> list[ListeningPort]:
    """Sockets accepting connections, with owning processes (``pid`` None without root)."""
    return _portable.listening_ports()


def remote_tools(catalogue: list[ProductSignature]) -> list[RemoteTool]:
    """Catalogue tools found among dpkg packages, systemd services and running processes."""
    try:
        packages = sorted(c.installed_packages())
    except FactUnavailable as exc:
        log.debug("remote tools without packages: %s", exc.reason)
        packages = []
    # Tools installed from a vendor .tar.gz (AnyDesk, RustDesk) still leave a unit or a process.
    return _portable.find_remote_tools(catalogue, packages, sorted(c.systemd_units()))


# --- audit -------------------------------------------------------------------------------------

_AUDIT_COVERAGE = {
    "logins": re.compile(r"/var/log/(lastlog|faillog|tallylog|wtmp|btmp)|/var/run/faillock|logins"),
    "identity": re.compile(r"/etc/(passwd|shadow|group|gshadow|security/opasswd)\b"),
    "policy": re.compile(r"/etc/(sudoers|audit/|selinux/|apparmor)|MAC-policy|\bscope\b"),
}


def _audit_rules() -> str | None:
    """The persistent audit rules (augenrules(8) merges rules.d/*.rules into audit.rules)."""
    try:
        paths = c.conf_dir_files("/etc/audit/rules.d", suffix=".rules")
        list_dir("/etc/audit")  # /etc/audit is 0750 root: tell "unreadable" from "no rules"
    except FactUnavailable:
        return None
    texts = [read_optional(p) for p in [*paths, "/etc/audit/audit.rules"]]
    return "\n".join(t for t in texts if t)


def _journal_persistent() -> bool:
    # journald.conf(5): Storage=auto (the default) persists only when /var/log/journal exists.
    paths = [
        "/etc/systemd/journald.conf",
        *c.conf_dir_files("/usr/lib/systemd/journald.conf.d"),
        *c.conf_dir_files("/run/systemd/journald.conf.d"),
        *c.conf_dir_files("/etc/systemd/journald.conf.d"),
    ]
    storage = c.key_values(paths).get("Storage", "auto").lower()
    if storage == "persistent":
        return True
    return storage == "auto" and c.exists("/var/log/journal")


def audit() -> AuditLogging:
    """auditd running with persistent rules covering logins, identity files and policy files.

    Enabled needs all three (the CIS Debian benchmark's logins/identity/MAC-policy/scope
    watches); security_log_max_bytes is what auditd keeps: max_log_file MiB × num_logs when it
    rotates (auditd.conf(5)).
    """
    installed = c.exists("/usr/sbin/auditd") or c.exists("/sbin/auditd")
    persistent = _journal_persistent()
    if not installed:
        return AuditLogging(enabled=False, persistent_journal=persistent)
    running = c.running("auditd")
    rules = _audit_rules()
    enabled: bool | None
    if running is False:
        enabled = False
    elif rules is None or running is None:
        enabled = None
    else:
        enabled = all(p.search(rules) for p in _AUDIT_COVERAGE.values())
    conf = c.key_values(["/etc/audit/auditd.conf"])
    size_mib = c.as_int(conf.get("max_log_file"))
    rotates = conf.get("max_log_file_action", "").lower() == "rotate"
    logs = c.as_int(conf.get("num_logs")) if rotates else 1
    max_bytes = size_mib * (logs or 1) * 1024 * 1024 if size_mib else None
    return AuditLogging(
        enabled=enabled,
        mechanism="auditd",
        security_log_max_bytes=max_bytes,
        persistent_journal=persistent,
    )


# --- time --------------------------------------------------------------------------------------


def _first_server(paths: list[str], keys: tuple[str, ...]) -> str | None:
    for path in paths:
        for line in c.read_lines(path) or ():
            words = line.replace("=", " ").split()
            if words and words[0] in keys and len(words) > 1:
                return words[1]
    return None


def _chrony() -> TimeSync:
    server = _first_server(
        ["/etc/chrony/chrony.conf", "/etc/chrony.conf", *c.conf_dir_files("/etc/chrony/sources.d")],
        ("server", "pool"),
    )
    try:
        # chronyc(1) -c: CSV; fields 2 = source name, 6 = last offset (s), 14 = leap status.
        fields = run(["chronyc", "-c", "tracking"], timeout=3.0).strip().split(",")
    except FactUnavailable as exc:
        log.debug("chronyc tracking: %s", exc.reason)
        return TimeSync(service="chronyd", server=server)
    if len(fields) < 14:
        return TimeSync(service="chronyd", server=server)
    try:
        offset: float | None = float(fields[5])
    except ValueError:
        offset = None
    synced = fields[13].strip() != "Not synchronised"
    return TimeSync(
        synchronized=synced,
        service="chronyd",
        server=(fields[1] or server) if synced else server,
        offset_seconds=offset,
    )


def time_sync() -> TimeSync:
    """systemd-timesyncd (its "synchronized" flag file), chronyd (chronyc tracking) or ntpd."""
    if c.running("chronyd") and have_command("chronyc"):
        return _chrony()
    if c.running("chronyd"):
        return TimeSync(service="chronyd")
    if c.running("ntpd", "ntpsec"):
        server = _first_server(["/etc/ntpsec/ntp.conf", "/etc/ntp.conf"], ("server", "pool"))
        return TimeSync(service="ntpd", server=server)
    timesyncd = c.running("systemd-timesyncd")
    if timesyncd is None:
        raise FactUnavailable("cannot list processes to find a time service")
    if timesyncd:
        conf = c.key_values(
            ["/etc/systemd/timesyncd.conf", *c.conf_dir_files("/etc/systemd/timesyncd.conf.d")]
        )
        servers = (conf.get("NTP") or conf.get("FallbackNTP") or "").split()
        # systemd-timesyncd.service(8): the file is touched at each synchronisation (systemd ≥ 239).
        synced = c.exists("/run/systemd/timesync/synchronized")
        return TimeSync(
            synchronized=synced,
            service="systemd-timesyncd",
            server=servers[0] if servers else None,
        )
    return TimeSync(synchronized=False)


# --- SSH server --------------------------------------------------------------------------------


def _expand_includes(path: str, depth: int = 0) -> str:
    """The config text with ``Include`` lines replaced by the files they name (sshd_config(5):
    relative paths are under /etc/ssh, globs expand in lexical order)."""
    lines: list[str] = []
    for raw in read_text(path).splitlines():
        words = raw.strip().split()
        if depth < 8 and words and words[0].lower() == "include":
            for pattern in words[1:]:
                full = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
                directory, _, glob = full.rpartition("/")
                for name in list_dir(directory):
                    if fnmatch.fnmatchcase(name, glob):
                        lines.append(_expand_includes(f"{directory}/{name}", depth + 1))
        else:
            lines.append(raw)
    return "\n".join(lines)


#: Unit directories systemd reads a socket unit from, highest priority first (systemd.unit(5)).
_UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system",
              "/lib/systemd/system")  # fmt: skip
#: Drop-in directories in the order systemd applies them (later ones override): the packaged
#: ones, then the generator's (Ubuntu's sshd-socket-generator writes the sshd_config ports to
#: /run/systemd/generator/ssh.socket.d/addresses.conf), then the administrator's.
_DROPIN_DIRS = ("/usr/lib/systemd/system", "/lib/systemd/system", "/run/systemd/generator",
                "/run/systemd/system", "/etc/systemd/system")  # fmt: skip
_SOCKET_WANTS = ("sockets.target.wants", "multi-user.target.wants")


def _ssh_socket() -> str | None:
    """The enabled socket unit that starts sshd on the first connection (Ubuntu ≥ 22.10 enables
    ssh.socket instead of ssh.service), or ``None``. Enabling links it into a target's wants."""
    for unit in ("ssh.socket", "sshd.socket"):
        for wants in _SOCKET_WANTS:
            if c.exists(f"/etc/systemd/system/{wants}/{unit}"):
                return unit
    return None


def _socket_ports(unit: str) -> list[int] | None:
    """Ports of a socket unit's ``ListenStream=`` lines (systemd.socket(5)): the unit file, then
    its drop-ins in order; an empty assignment resets the list. A bare number, ``addr:port`` and
    ``[v6]:port`` carry a port; a path is a UNIX socket and carries none. ``None`` (the reason
    noted) when the unit file is not found."""
    files = next(([f"{d}/{unit}"] for d in _UNIT_DIRS if c.exists(f"{d}/{unit}")), [])
    if not files:
        note_unknown("ports", f"{unit} is enabled but its unit file was not found")
        return None
    for directory in _DROPIN_DIRS:
        files.extend(c.conf_dir_files(f"{directory}/{unit}.d"))
    values: list[str] = []
    for path in files:
        for line in c.read_lines(path) or ():
            key, sep, value = line.partition("=")
            if sep and key.strip() == "ListenStream":
                value = value.strip()
                values = [*values, value] if value else []
    ports: set[int] = set()
    for value in values:
        port = c.as_int(value.rsplit(":", 1)[-1]) if not value.startswith("/") else None
        if port is not None and 0 < port < 65536:
            ports.add(port)
    return sorted(ports)


def ssh_server() -> SshServer:
    """OpenSSH server: installed, running, and its effective global settings.

    Unset keywords take sshd_config(5)'s documented defaults: Port 22, PermitRootLogin
    prohibit-password (OpenSSH ≥ 7.0), PasswordAuthentication yes. With socket activation
    (an enabled ssh.socket) sshd starts only when a connection comes: systemd itself listens,
    on the socket unit's ``ListenStream=`` ports, so the server counts as running there.
    """
    if not (c.exists("/usr/sbin/sshd") or c.exists("/usr/bin/sshd")):
        return SshServer(installed=False)
    server = SshServer(installed=True)
    socket_unit = _ssh_socket()
    process = c.running("sshd")
    if process or socket_unit is not None:
        server.running = True
    elif process is None:
        note_unknown("running", "cannot list processes to find sshd")
    else:
        server.running = False
    try:
        settings = _portable.parse_sshd_config(_expand_includes("/etc/ssh/sshd_config"))
    except FactUnavailable as exc:
        # Installed and running are still known; the settings are not.
        for field in ("permit_root_login", "password_authentication"):
            note_unknown(field, exc.reason)
        if socket_unit is not None:
            server.ports = _socket_ports(socket_unit)
        else:
            server.ports = None
            note_unknown("ports", exc.reason)
        return server
    ports: list[int] | None = [
        p for p in (c.as_int(v) for v in settings.get("port", ["22"])) if p is not None
    ]
    if socket_unit is not None:
        # sshd started by systemd gets its socket handed over: Port in sshd_config is not used.
        ports = _socket_ports(socket_unit)
    root = settings.get("permitrootlogin", ["prohibit-password"])[0].lower()
    if root == "without-password":
        root = "prohibit-password"  # deprecated alias (sshd_config(5))
    pw_auth = settings.get("passwordauthentication", ["yes"])[0].lower()
    server.ports = sorted(set(ports)) if ports is not None else None
    server.permit_root_login = root
    server.password_authentication = {"yes": True, "no": False}.get(pw_auth)
    return server
