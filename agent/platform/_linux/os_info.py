"""Linux operating-system facts: os-release(5), /proc, timezone and locale files, psutil."""

from __future__ import annotations

import platform
from datetime import UTC, date, datetime

from agent.errors import FactUnavailable
from agent.platform import _inventory
from agent.platform._common import host_path, read_optional, read_text
from agent.report.os_info import InstallDate, Locale, LoggedInUser, OsSupport, OsVersion


def _unquote(raw: str) -> str | None:
    """One shell-style value as os-release(5) defines it; ``None`` when malformed.

    Inside double quotes a backslash escapes only ``\\ " $ `` and backtick (sh(1), "Double
    Quotes"), and is kept before anything else; inside single quotes everything is literal;
    outside quotes a backslash escapes the next character. An unterminated quote makes the value
    unreadable rather than a guess. shlex is not used: it does not unescape ``\\$`` or backtick.
    """
    out: list[str] = []
    quote: str | None = None
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if quote == "'":
            if c == "'":
                quote = None
            else:
                out.append(c)
        elif quote == '"':
            if c == '"':
                quote = None
            elif c == "\\" and i + 1 < n and raw[i + 1] in '\\"$`':
                i += 1
                out.append(raw[i])
            else:
                out.append(c)
        elif c in "\"'":
            quote = c
        elif c == "\\":
            if i + 1 < n:
                i += 1
                out.append(raw[i])
        else:
            out.append(c)
        i += 1
    return None if quote else "".join(out)


def _env_file(text: str) -> dict[str, str]:
    """KEY=value lines with shell-style quoting (os-release(5), locale.conf(5)).

    Malformed lines (no ``=``, an unterminated quote) are skipped, never an exception.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        value = _unquote(raw.strip())
        if value is not None and key.strip():
            out[key.strip()] = value
    return out


def version() -> OsVersion:
    """Distribution name and version from /etc/os-release (or /usr/lib/os-release)."""
    # os-release(5): /etc/os-release takes precedence; /usr/lib/os-release is the fallback.
    text = read_optional("/etc/os-release") or read_optional("/usr/lib/os-release")
    if not text:
        raise FactUnavailable("neither /etc/os-release nor /usr/lib/os-release exists")
    rel = _env_file(text)
    name = rel.get("PRETTY_NAME") or " ".join(filter(None, (rel.get("NAME"), rel.get("VERSION"))))
    return OsVersion(
        family="linux",
        name=name or None,
        id=rel.get("ID") or None,
        version=rel.get("VERSION_ID") or None,
        display_version=rel.get("VERSION_CODENAME") or None,
        edition=rel.get("VARIANT_ID") or None,
    )


def kernel() -> str:
    """Kernel release, as platform.release() (uname -r) gives it."""
    # Read from procfs rather than uname(2) so that tests replay a recorded machine.
    value = read_text("/proc/sys/kernel/osrelease").strip()
    if not value:
        raise FactUnavailable("/proc/sys/kernel/osrelease is empty")
    return value


def architecture() -> str:
    """Machine architecture (uname -m: x86_64, aarch64)."""
    value = platform.machine()
    if not value:
        raise FactUnavailable("uname reports no machine architecture")
    return value


def _mtime(path: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(host_path(path).stat().st_mtime, tz=UTC).replace(
            microsecond=0
        )
    except OSError:
        return None


def _birth(path: str) -> datetime | None:
    # st_birthtime exists only where the platform's stat reports it (not Linux on Python 3.11,
    # which has no statx); a zero birth time means the filesystem does not record it.
    try:
        birth = getattr(host_path(path).stat(), "st_birthtime", None)
    except OSError:
        return None
    if not birth:
        return None
    return datetime.fromtimestamp(birth, tz=UTC).replace(microsecond=0)


def install_date() -> InstallDate:
    """Best evidence of the installation date, naming which one was used."""
    if (when := _birth("/")) is not None:
        return InstallDate(installed_at=when, source="root filesystem birth time")
    # Written by the Debian/Ubuntu installer (d-i) and Anaconda (RHEL family) during setup.
    for log_file in ("/var/log/installer/syslog", "/var/log/anaconda/anaconda.log"):
        if (when := _mtime(log_file)) is not None:
            return InstallDate(installed_at=when, source=f"{log_file} mtime")
    # machine-id(5) is written on first boot; images copied to many PCs keep the image's date.
    if (when := _mtime("/etc/machine-id")) is not None:
        return InstallDate(installed_at=when, source="/etc/machine-id mtime (first boot)")
    raise FactUnavailable("no installer log, root birth time or /etc/machine-id to date it")


def boot_time() -> datetime:
    """Last boot, UTC."""
    return _inventory.boot_time()


def timezone() -> str:
    """IANA time zone: the /etc/localtime symlink target, else /etc/timezone (Debian)."""
    # timedatectl set-timezone rewrites the symlink (localtime(5)); /etc/timezone is a Debian
    # leftover that can lag behind it, so the symlink wins.
    try:
        target = str(host_path("/etc/localtime").readlink())
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1]
    value = (read_optional("/etc/timezone") or "").strip()
    if value:
        return value
    raise FactUnavailable("/etc/localtime is not a zoneinfo link and /etc/timezone is missing")


def _bcp47(posix: str) -> str | None:
    """vi_VN.UTF-8 -> vi-VN; C and POSIX are no language."""
    base = posix.split(".", 1)[0].split("@", 1)[0]
    if not base or base in ("C", "POSIX"):
        return None
    return base.replace("_", "-")


def locale() -> Locale:
    """System locale (LANG) from /etc/default/locale (Debian) or /etc/locale.conf (systemd)."""
    for path in ("/etc/locale.conf", "/etc/default/locale"):
        text = read_optional(path)
        if text is None:
            continue
        env = _env_file(text)
        lang = env.get("LANG")
        if not lang:
            continue
        languages = [_bcp47(x) for x in env.get("LANGUAGE", "").split(":") if x] or [_bcp47(lang)]
        return Locale(locale=lang, ui_languages=[x for x in languages if x])
    raise FactUnavailable("no LANG in /etc/locale.conf or /etc/default/locale")


def users() -> list[LoggedInUser]:
    """Open user sessions (utmp through psutil)."""
    return _inventory.logged_in_users()


def support(today: date) -> OsSupport:
    """Vendor support on ``today`` from the shipped end-of-life table (ATTT-06)."""
    return _inventory.support(version(), today)
