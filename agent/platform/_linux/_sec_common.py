"""Small readers the Linux security facts share: config syntaxes, packages, units, processes."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

from agent.errors import FactUnavailable
from agent.platform import _common, _portable
from agent.platform._common import list_dir, read_optional
from agent.platform._linux import _sw_packages


def now() -> datetime:
    """The collection time, UTC (a function so tests can fix it)."""
    return datetime.now(UTC)


def privileged() -> bool:
    """Whether the agent runs as root (tests replace it to replay an unprivileged run)."""
    return os.geteuid() == 0


def exists(path: str) -> bool:
    """Whether a host path exists (follows symlinks)."""
    return _common.host_path(path).exists()


def mtime(path: str) -> float | None:
    """Modification time of a host file (epoch seconds), ``None`` if it cannot be seen."""
    try:
        return _common.host_path(path).stat().st_mtime
    except OSError:
        return None


def read_lines(path: str) -> list[str] | None:
    """Non-empty lines of a host file without comments; ``None`` when absent or unreadable."""
    text = read_optional(path)
    if text is None:
        return None
    lines = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def conf_dir_files(directory: str, suffix: str = ".conf") -> list[str]:
    """Paths of ``*.conf`` drop-ins in a directory, in the C-locale order tools read them."""
    try:
        names = list_dir(directory)
    except FactUnavailable:
        return []
    return [f"{directory}/{n}" for n in sorted(names) if n.endswith(suffix)]


def key_values(paths: list[str], sep: str = "=") -> dict[str, str]:
    """``key = value`` settings merged over files read in order (a later file overrides).

    Used for pwquality.conf, faillock.conf, login.defs (``sep=" "``), journald.conf, ufw.conf.
    Section headers (``[Journal]``) are skipped: every file read this way has one section.
    """
    values: dict[str, str] = {}
    for path in paths:
        for line in read_lines(path) or ():
            if line.startswith("["):
                continue
            if sep == " ":
                key, value = [*line.split(None, 1), ""][:2]
            else:
                key, _, value = line.partition(sep)
            if key.strip():
                values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def as_int(value: str | None) -> int | None:
    """An integer setting, ``None`` when absent or not a number."""
    if value is None:
        return None
    try:
        return int(value.strip(), 0) if value.strip().startswith("0x") else int(value.strip())
    except ValueError:
        return None


# --- packages --------------------------------------------------------------------------------


def deb_field(stanza: str, name: str) -> str | None:
    """A single-line field of a deb-control(5) stanza (not the first one)."""
    at = stanza.find(f"\n{name}: ")
    if at < 0:
        return None
    end = stanza.find("\n", at + 1)
    return stanza[at + len(name) + 3 : end if end >= 0 else None].strip()


def installed_versions() -> dict[str, str]:
    """Installed Debian packages and their versions, from dpkg's status database (no fork).

    Shares the software section's parse (cached per file version).
    """
    return {s["Package"]: s.get("Version", "") for s in _sw_packages.dpkg_installed_cached()}


def installed_packages() -> set[str]:
    """Names of installed Debian packages."""
    return set(installed_versions())


_UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system")


def systemd_units() -> set[str]:
    """Service unit names installed on the host (``clamav-daemon``), from the unit directories.

    Listing the directories is far cheaper than ``systemctl list-unit-files``; ``/lib`` is the
    same directory as ``/usr/lib`` on merged-/usr systems and is read only when it is not.
    """
    dirs = list(_UNIT_DIRS)
    if not _common.host_path("/lib").is_symlink():
        dirs.append("/lib/systemd/system")
    units: set[str] = set()
    for directory in dirs:
        try:
            names = list_dir(directory)
        except FactUnavailable:
            continue
        units.update(n.removesuffix(".service") for n in names if n.endswith(".service"))
    return units


def first_match(patterns: tuple[str, ...], lines: str) -> str | None:
    """The first line of ``lines`` (names joined by newlines) matching a catalogue pattern.

    One regex scan over all names instead of one search per name: the catalogue is matched
    against ~2,000 packages on a desktop.
    """
    joined = "|".join(f"(?:{p})" for p in patterns)
    try:
        match = re.search(joined, lines, re.IGNORECASE)
    except re.error:
        return None
    if match is None:
        return None
    start = lines.rfind("\n", 0, match.start()) + 1
    end = lines.find("\n", match.end())
    return lines[start : end if end >= 0 else len(lines)]


def running(*names: str) -> bool | None:
    """Whether a process with one of these names runs; ``None`` when processes cannot be listed."""
    try:
        procs = _portable.process_names()
    except FactUnavailable:
        return None
    wanted = {n.lower() for n in names}
    # The kernel keeps 15 characters of a name (TASK_COMM_LEN, proc(5) /proc/pid/comm); psutil
    # restores the rest from the command line, except for another user's process when the agent
    # is not root ("systemd-timesyn").
    cut = {n[:15] for n in wanted}
    return any(p.lower() in wanted or (len(p) == 15 and p.lower() in cut) for p in procs)


def dconf_settings() -> tuple[dict[tuple[str, str], str], list[str]]:
    """System dconf defaults from keyfiles: ``(section, key) -> GVariant text`` and the dbs read.

    Only databases named in a dconf profile (``/etc/dconf/profile/*``: ``system-db:local``) take
    effect (dconf(7)); their keyfiles live in ``/etc/dconf/db/<db>.d/``. A database listed first
    in the profile has priority, so its values win.
    """
    dbs: list[str] = []
    for profile in conf_dir_files("/etc/dconf/profile", suffix=""):
        for line in read_lines(profile) or ():
            if line.startswith("system-db:"):
                db = line.split(":", 1)[1].strip()
                if db and db not in dbs:
                    dbs.append(db)
    # Keyfiles take effect only once "dconf update" compiled them into /etc/dconf/db/<db>.
    dbs = [db for db in dbs if _common.host_path(f"/etc/dconf/db/{db}").is_file()]
    settings: dict[tuple[str, str], str] = {}
    for db in reversed(dbs):  # lowest priority first, so higher-priority dbs overwrite
        for path in conf_dir_files(f"/etc/dconf/db/{db}.d", suffix=""):
            if "/locks" in path:
                continue
            section = ""
            for line in read_lines(path) or ():
                if line.startswith("[") and line.endswith("]"):
                    section = line[1:-1].strip().strip("/")
                elif "=" in line and section:
                    key, _, value = line.partition("=")
                    settings[(section, key.strip())] = value.strip()
    return settings, dbs


def gvariant_bool(text: str | None) -> bool | None:
    """A GVariant boolean in text form (``true``), ``None`` otherwise."""
    if text is None:
        return None
    value = text.strip().lower()
    return True if value == "true" else False if value == "false" else None


def gvariant_int(text: str | None) -> int | None:
    """A GVariant integer in text form (``uint32 300``, ``300``), ``None`` otherwise."""
    if text is None:
        return None
    return as_int(text.strip().split()[-1]) if text.strip() else None


_SESSION_DIRS = ("/usr/share/xsessions", "/usr/share/wayland-sessions")


def desktop_sessions() -> list[str]:
    """Graphical session names installed (``gnome``, ``xfce``), from their .desktop files."""
    sessions: list[str] = []
    for directory in _SESSION_DIRS:
        for path in conf_dir_files(directory, suffix=".desktop"):
            sessions.append(path.rsplit("/", 1)[1].removesuffix(".desktop"))
    return sorted(set(sessions))


def gnome_installed() -> bool:
    """GNOME Shell (or another GNOME-settings desktop) is installed."""
    return exists("/usr/bin/gnome-shell") or any(s.startswith("gnome") for s in desktop_sessions())


_SCHEMAS = "/usr/share/glib-2.0/schemas"


def schema_default(schema_file: str, key: str) -> str | None:
    """Default of a GSettings key: a vendor ``*.gschema.override`` (read in lexical order, the
    last wins, glib-compile-schemas(1)), else the installed schema XML (cheap regex, no GLib)."""
    schema_id = schema_file.removesuffix(".gschema.xml")
    override: str | None = None
    for path in conf_dir_files(_SCHEMAS, suffix=".gschema.override"):
        section = ""
        for line in read_lines(path) or ():
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
            elif section == schema_id and line.partition("=")[0].strip() == key:
                override = line.partition("=")[2].strip()
    if override is not None:
        return override
    text = read_optional(f"{_SCHEMAS}/{schema_file}")
    if text is None:
        return None
    match = re.search(
        rf'<key name="{re.escape(key)}"[^>]*>.*?<default>\s*([^<]+?)\s*</default>', text, re.S
    )
    return match.group(1) if match else None
