"""Screen lock, media autorun (GNOME system defaults) and USB mass-storage control on Linux.

The system-wide GNOME values live in dconf keyfiles (``/etc/dconf/db/<db>.d/*``) that an
administrator writes and ``dconf update`` compiles. Per-user values live in each user's binary
dconf database, which the agent does not read: a system default that is not locked
(``/etc/dconf/db/<db>.d/locks/``) can be changed by the user, and ``source`` says so.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from agent.errors import FactUnavailable, note_unknown
from agent.platform._common import list_dir, read_optional
from agent.platform._linux import _sec_common as c
from agent.report.security import AutoRun, ScreenLock, UsbStorage, UsbStorageDevice

_SCREENSAVER = "org/gnome/desktop/screensaver"
_SESSION = "org/gnome/desktop/session"
_MEDIA = "org/gnome/desktop/media-handling"


def _require_gnome() -> None:
    sessions = c.desktop_sessions()
    if c.gnome_installed():
        return
    if not sessions:
        raise FactUnavailable("no graphical session configured")
    raise FactUnavailable(f"desktop not supported yet: {', '.join(sessions)} (only GNOME is)")


def _locked(dbs: list[str], key: str) -> bool:
    """Whether a key is locked against user changes in a system database (dconf(7) locks)."""
    for db in dbs:
        for path in c.conf_dir_files(f"/etc/dconf/db/{db}.d/locks", suffix=""):
            if any(line.strip("/") == key.strip("/") for line in c.read_lines(path) or ()):
                return True
    return False


def _source(dbs: list[str], keys: list[str], where: str) -> str:
    locked = all(_locked(dbs, k) for k in keys)
    return f"GNOME {where}" + (" (locked)" if locked else " (users may change it)")


def screen_lock() -> ScreenLock:
    """GNOME lock-enabled and idle-delay (+ lock-delay) from system dconf, else schema defaults."""
    _require_gnome()
    settings, dbs = c.dconf_settings()
    lock = c.gvariant_bool(settings.get((_SCREENSAVER, "lock-enabled")))
    idle = c.gvariant_int(settings.get((_SESSION, "idle-delay")))
    delay = c.gvariant_int(settings.get((_SCREENSAVER, "lock-delay")))
    keys = [f"/{_SCREENSAVER}/lock-enabled", f"/{_SESSION}/idle-delay"]
    if lock is not None or idle is not None:
        source = _source(dbs, keys, "system dconf " + ",".join(dbs))
    else:
        source = "GNOME schema defaults (users may change them)"
    # Unset keys take the installed schema's default (lock-enabled true, idle-delay 300).
    if lock is None:
        lock = c.gvariant_bool(
            c.schema_default("org.gnome.desktop.screensaver.gschema.xml", "lock-enabled")
        )
    if idle is None:
        idle = c.gvariant_int(
            c.schema_default("org.gnome.desktop.session.gschema.xml", "idle-delay")
        )
    if delay is None:
        delay = c.gvariant_int(
            c.schema_default("org.gnome.desktop.screensaver.gschema.xml", "lock-delay")
        )
    if lock is None or idle is None:
        raise FactUnavailable("GNOME screensaver/session settings schemas are not installed")
    # idle-delay 0 means the session never becomes idle, so it never locks by itself.
    enabled = lock and idle > 0
    timeout = idle + (delay or 0) if enabled else None
    return ScreenLock(enabled=enabled, timeout_seconds=timeout, source=source)


def autorun() -> AutoRun:
    """GNOME ``autorun-never`` (media-handling) from system dconf, else the schema default."""
    _require_gnome()
    settings, dbs = c.dconf_settings()
    never = c.gvariant_bool(settings.get((_MEDIA, "autorun-never")))
    if never is not None:
        source = _source(dbs, [f"/{_MEDIA}/autorun-never"], "autorun-never in system dconf")
    else:
        never = c.gvariant_bool(
            c.schema_default("org.gnome.desktop.media-handling.gschema.xml", "autorun-never")
        )
        source = "GNOME autorun-never schema default (users may change it)"
    if never is None:
        raise FactUnavailable("the GNOME media-handling schema is not installed")
    return AutoRun(disabled=never, source=source)


# --- USB storage -----------------------------------------------------------------------------

_MODPROBE_DIRS = ("/usr/lib/modprobe.d", "/lib/modprobe.d", "/run/modprobe.d", "/etc/modprobe.d")


def _modprobe_block() -> str | None:
    """How modprobe.d(5) stops usb-storage loading, or ``None``. Dashes and underscores are the
    same in module names; "install usb-storage /bin/false" (or /bin/true) also stops an explicit
    modprobe, while "blacklist" stops the automatic loading a plugged device triggers."""
    found: str | None = None
    for directory in _MODPROBE_DIRS:
        for path in c.conf_dir_files(directory):
            for line in c.read_lines(path) or ():
                words = line.replace("_", "-").split()
                if words[:2] == ["blacklist", "usb-storage"]:
                    found = found or f"modprobe blacklist ({path})"
                elif (
                    words[:2] == ["install", "usb-storage"]
                    and words[2:3]
                    and (words[2].endswith(("/false", "/true")))
                ):
                    found = f"modprobe install {words[2]} ({path})"
    return found


def _usbguard_policy() -> tuple[Literal["allow_list"] | None, str | None]:
    """What a running usbguard does with devices no rule names: usbguard-daemon.conf(5)
    ImplicitPolicyTarget (allow, block or reject; the daemon's default is block). ``(None,
    reason)`` when the file cannot be read (it is 0600 root in Debian's package)."""
    path = "/etc/usbguard/usbguard-daemon.conf"
    text = read_optional(path)
    if text is None:
        return None, f"usbguard is running but {path} is unreadable (run as root)"
    target = c.key_values([path]).get("ImplicitPolicyTarget", "block").lower()
    if target == "allow":
        return None, None  # unknown devices are let through: not an allow list
    return "allow_list", None


def _usb_storage_module() -> Literal["absent", "loaded", "builtin"] | None:
    """usb_storage as the kernel has it, from /sys/module (Documentation/ABI/testing/
    sysfs-module): a loadable module has a directory with ``initstate`` while it is loaded; a
    built-in one with parameters (usb_storage has ``delay_use`` and ``quirks``) has a directory
    without ``initstate`` from boot, so it never appears in /proc/modules and no modprobe.d rule
    can stop it. ``None`` when sysfs is not readable."""
    try:
        modules = list_dir("/sys/module")
    except FactUnavailable:
        return None
    if not modules:
        return None
    if "usb_storage" not in modules:
        return "absent"
    return "loaded" if c.exists("/sys/module/usb_storage/initstate") else "builtin"


def usb_storage() -> UsbStorage:
    """Policy from usbguard or modprobe.d, checked against the kernel's modules; kernel-log
    history. A policy that cannot be verified is ``None`` with the reason noted."""
    history, source = _history()
    result = UsbStorage(history=history, history_source=source)
    if c.running("usbguard-daemon"):
        policy, why = _usbguard_policy()
        if policy is not None or why is not None:
            result.policy, result.mechanism = policy, "usbguard"
            if why is not None:
                note_unknown("policy", why)
            return result
        # ImplicitPolicyTarget=allow: storage works unless modprobe.d stops it too.
    block = _modprobe_block()
    if block is None:
        result.policy = "allowed"
        return result
    state = _usb_storage_module()
    if state is None:
        note_unknown(
            "policy",
            f"{block} is configured but /sys/module is unreadable: cannot tell whether "
            "usb_storage is loaded or built into the kernel",
        )
        result.mechanism = block
    elif state == "absent":
        result.policy, result.mechanism = "blocked", block
    elif state == "loaded":
        # The module was loaded before the rule or by hand: storage works until it is removed.
        result.policy, result.mechanism = "allowed", f"{block} but usb_storage is loaded"
    else:
        result.policy = "allowed"
        result.mechanism = f"{block} but usb_storage is built into the kernel"
    return result


_LOGS = ("/var/log/kern.log.1", "/var/log/kern.log")
_STAMP = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d:?\d\d|\w{3} [ \d]\d [\d:]{8})"
)
_NEW = re.compile(r"usb (\d+-[\d.]+): New USB device found, idVendor=(\w+), idProduct=(\w+)")
_STR = re.compile(r"usb (\d+-[\d.]+): (Product|Manufacturer|SerialNumber): (.*)$")
_STORAGE = re.compile(r"usb-storage (\d+-[\d.]+):[\d.]+: USB Mass Storage device detected")


def _when(stamp: str) -> datetime | None:
    now = c.now()
    try:
        if stamp[:4].isdigit():
            return datetime.fromisoformat(stamp).astimezone(now.tzinfo)
        # Traditional syslog stamps carry no year: the latest year not in the future.
        local = datetime.strptime(f"{now.year} {stamp}", "%Y %b %d %H:%M:%S").astimezone()
        if local > now:
            local = local.replace(year=now.year - 1)
        return local.astimezone(now.tzinfo)
    except ValueError:
        return None


def _history() -> tuple[list[UsbStorageDevice], str | None]:
    """USB storage devices from the kernel log that rsyslog keeps (kern.log and its rotation).

    journald-only systems (Debian 12 default) keep the same lines in binary journal files that
    only ``journalctl`` reads; that fork costs more than the agent's budget, so their history is
    reported as not read (``history_source`` None) rather than as empty.
    """
    texts = [(p, t) for p in _LOGS if (t := read_optional(p)) is not None]
    if not texts:
        return [], None
    seen: dict[str, dict[str, str]] = {}
    devices: dict[tuple[str, str, str], UsbStorageDevice] = {}
    for _path, text in texts:
        for line in text.splitlines():
            if "usb" not in line:
                continue
            stamp = _STAMP.match(line)
            when = _when(stamp.group(1)) if stamp else None
            if m := _NEW.search(line):
                seen[m.group(1)] = {"vendor": m.group(2), "product": m.group(3)}
            elif m := _STR.search(line):
                field = {"Product": "product_name", "Manufacturer": "maker"}.get(m[2], "serial")
                seen.setdefault(m.group(1), {})[field] = m.group(3).strip()
            elif (m := _STORAGE.search(line)) and m.group(1) in seen:
                info = seen[m.group(1)]
                key = (info.get("vendor", ""), info.get("product", ""), info.get("serial", ""))
                device = devices.get(key)
                if device is None:
                    device = devices[key] = UsbStorageDevice(
                        vendor=info.get("maker") or info.get("vendor"),
                        product=info.get("product_name") or info.get("product"),
                        serial=info.get("serial"),
                        first_seen=when,
                    )
                device.last_seen = when or device.last_seen
    source = ", ".join(p for p, _ in texts)
    return sorted(devices.values(), key=lambda d: (d.vendor or "", d.serial or "")), source
