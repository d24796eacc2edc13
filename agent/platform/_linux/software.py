"""Linux software facts: packages, systemd services, autostart entries, Vietnamese text support.

Everything is read from files (the dpkg database, unit directories, cgroups, .desktop files,
crontabs, font directories); the only command ever run is ``rpm -qa`` on RPM systems.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import PurePosixPath

from agent.errors import FactUnavailable
from agent.platform import _catalogs
from agent.platform._common import host_path, list_dir, read_optional
from agent.platform._linux import _sw_packages as _pk
from agent.report.software import (
    AutostartEntry,
    Package,
    PackageManager,
    Service,
    StartMode,
    VietnameseText,
)

log = logging.getLogger(__name__)

#: systemd.unit(5) "Unit File Load Path", system instance, highest precedence first. On merged-/usr
#: systems /lib is a symlink to /usr/lib; names are de-duplicated so that costs nothing.
UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)

#: Where systemd keeps a service's cgroup: unified (v2), hybrid, legacy (v1 named hierarchy).
CGROUP_SLICES = (
    "/sys/fs/cgroup/system.slice",
    "/sys/fs/cgroup/unified/system.slice",
    "/sys/fs/cgroup/systemd/system.slice",
)

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
USER_FONT_DIRS = (".local/share/fonts", ".fonts")


def package_manager() -> PackageManager:
    """The package database the package list comes from (dpkg or rpm)."""
    return _pk.manager()


def packages() -> list[Package]:
    """Installed packages (dpkg status file in-process, or ``rpm -qa``), sorted by name."""
    return _pk.packages()


def _link_target(path: str) -> str | None:
    try:
        return str(host_path(path).readlink())
    except OSError:
        return None


def _enabled_units() -> dict[str, str]:
    """Unit name -> the .wants/.requires directory that enables it (systemctl enable)."""
    enabled: dict[str, str] = {}
    for base in ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"):
        for sub in list_dir(base):
            if sub.endswith((".wants", ".requires")):
                for unit in list_dir(f"{base}/{sub}"):
                    # Vendor presets under /usr/lib/.../X.wants are part of the unit graph too,
                    # but only /etc is the administrator's choice; keep the first seen (/etc).
                    enabled.setdefault(unit, f"{base}/{sub}")
    return enabled


def _admin_enabled_units() -> dict[str, str]:
    return {u: d for u, d in _enabled_units().items() if d.startswith("/etc/")}


def _running_units() -> set[str] | None:
    """Service units with live processes, from systemd's cgroups; None when not knowable.

    A service's cgroup exists while the unit is active and ``cgroup.procs`` lists its processes
    (systemd.resource-control(5)); reading it avoids a ``systemctl`` fork. Without systemd as
    PID 1 (containers, SysV init) nothing tells, so the state is unknown rather than "stopped".
    """
    if read_optional("/proc/1/comm") != "systemd":
        return None
    for root in CGROUP_SLICES:
        if not host_path(root).is_dir():
            continue
        running: set[str] = set()
        dirs = [root]
        dirs += [f"{root}/{d}" for d in list_dir(root) if d.endswith(".slice")]
        for d in dirs:
            for name in list_dir(d):
                if name.endswith(".service") and read_optional(f"{d}/{name}/cgroup.procs"):
                    running.add(name)
        return running
    return None


def services() -> list[Service]:
    """systemd service units: enabled/masked from unit directories, running from cgroups."""
    units: dict[str, StartMode] = {}
    found_dir = False
    for base in UNIT_DIRS:
        if not host_path(base).is_dir():
            continue
        found_dir = True
        for name in list_dir(base):
            if not name.endswith(".service") or name.endswith("@.service") or name in units:
                continue
            target = _link_target(f"{base}/{name}")
            if target == "/dev/null":
                units[name] = "disabled"  # masked (systemctl mask)
            elif target is not None and PurePosixPath(target).name != name:
                continue  # an alias (Alias=) of another unit, listed under its own name
            else:
                units[name] = "manual"
    if not found_dir:
        raise FactUnavailable("no systemd unit directory: services are not managed by systemd")
    for unit in _enabled_units():
        if unit.endswith(".service") and units.get(unit) != "disabled":
            units[unit] = "auto"
    running = _running_units()
    if running is not None:
        for unit in running:
            units.setdefault(unit, "manual")  # template instances (getty@tty1.service)
    return [
        Service(
            name=name,
            start_mode=mode,
            running=None if running is None else name in running,
        )
        for name, mode in sorted(units.items())
    ]


def _homes() -> list[tuple[str, str]]:
    """(user, home) for /root and each directory under /home."""
    homes = [("root", "/root")] if host_path("/root").is_dir() else []
    try:
        homes += [(u, f"/home/{u}") for u in list_dir("/home")]
    except FactUnavailable:
        log.debug("cannot list /home", exc_info=True)
    return homes


def _desktop_entry(text: str) -> dict[str, str]:
    """Keys of the [Desktop Entry] group (Desktop Entry Specification, "Basic format")."""
    out: dict[str, str] = {}
    in_group = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            in_group = line == "[Desktop Entry]"
        elif in_group and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), value.strip())
    return out


def _xdg_entries(folder: str, user: str | None) -> list[AutostartEntry]:
    out: list[AutostartEntry] = []
    try:
        names = list_dir(folder)
    except FactUnavailable:
        log.debug("cannot list %s", folder, exc_info=True)
        return out
    for name in names:
        if not name.endswith(".desktop"):
            continue
        entry = _desktop_entry(read_optional(f"{folder}/{name}") or "")
        # Hidden=true means "deleted" (XDG Autostart Specification, "Autostart Of Applications").
        if entry.get("Hidden", "").lower() == "true":
            continue
        out.append(
            AutostartEntry(
                name=name.removesuffix(".desktop"),
                command=entry.get("Exec") or None,
                kind="xdg",
                location=folder,
                user=user,
            )
        )
    return out


def _cron_reboot(path: str, system: bool, user: str | None) -> list[AutostartEntry]:
    """``@reboot`` lines; system crontabs have a user field before the command (crontab(5))."""
    text = read_optional(path)
    if not text:
        return []
    out: list[AutostartEntry] = []
    for line in text.splitlines():
        parts = line.split(None, 2 if system else 1)
        if len(parts) < 2 or parts[0] != "@reboot":
            continue
        who, command = (
            (parts[1], parts[2] if len(parts) > 2 else "") if system else (user, parts[1])
        )
        out.append(
            AutostartEntry(name="@reboot", command=command, kind="cron", location=path, user=who)
        )
    return out


def autostart() -> list[AutostartEntry]:
    """XDG autostart files, enabled systemd units and cron ``@reboot`` lines."""
    entries = _xdg_entries("/etc/xdg/autostart", None)
    for user, home in _homes():
        entries += _xdg_entries(f"{home}/.config/autostart", user)
    for unit, where in sorted(_admin_enabled_units().items()):
        entries.append(AutostartEntry(name=unit, kind="systemd", location=where))
    entries += _cron_reboot("/etc/crontab", system=True, user=None)
    try:
        cron_d = list_dir("/etc/cron.d")
    except FactUnavailable:
        cron_d = []
    for name in cron_d:
        entries += _cron_reboot(f"/etc/cron.d/{name}", system=True, user=None)
    # Per-user crontabs are readable by root only; unprivileged, they are skipped (logged).
    try:
        spool = list_dir("/var/spool/cron/crontabs")
    except FactUnavailable:
        log.info("per-user crontabs not readable (run as root)")
        spool = []
    for user in spool:
        entries += _cron_reboot(f"/var/spool/cron/crontabs/{user}", system=False, user=user)
    return entries


def _font_files() -> list[str]:
    """File names of every font in the system and users' font directories."""
    roots = list(FONT_DIRS)
    for _user, home in _homes():
        roots += [f"{home}/{d}" for d in USER_FONT_DIRS]
    names: list[str] = []
    for root in roots:
        for _dir, _subdirs, files in os.walk(host_path(root)):
            names += [f for f in files if f.lower().endswith((".ttf", ".otf", ".ttc"))]
    return names


def vietnamese_text() -> VietnameseText:
    """Unicode fonts (Times New Roman), legacy TCVN3/VNI fonts and Vietnamese input methods.

    Font directories are scanned for file names instead of running fc-list (a fork that also
    builds the fontconfig cache when it is stale).
    """
    cat = _catalogs.vietnamese()
    files = set(_font_files())
    lowered = {n.lower() for n in files}
    families = [f.family for f in cat.unicode_fonts if lowered & {n.lower() for n in f.files}]
    legacy = sorted({PurePosixPath(n).stem for n in files if _catalogs.legacy_font(n)})
    wanted = tuple(p.strip("^$").lower() for s in cat.input_methods for p in s.patterns)
    installed = _pk.installed_names(wanted)
    keyboard = read_optional("/etc/default/keyboard")
    layout = re.search(r'^XKBLAYOUT="?([^"\n]*)', keyboard or "", re.MULTILINE)
    return VietnameseText(
        times_new_roman="Times New Roman" in families,
        unicode_fonts=families,
        legacy_fonts=legacy,
        # Processes are not scanned on Linux: the engine package is what CQĐT-07 needs, and a
        # /proc walk costs more CPU than the rest of this fact together.
        input_methods=_catalogs.input_methods(installed, None),
        vietnamese_keyboard=None if layout is None else "vn" in layout.group(1).split(","),
    )
