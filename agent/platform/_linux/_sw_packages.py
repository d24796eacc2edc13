"""Installed packages: dpkg's status database read in-process, or one ``rpm -qa`` call.

Reading /var/lib/dpkg/status directly costs a few milliseconds where ``dpkg-query`` costs a
process start and ~30 ms; the file format is deb822 (dpkg(1) "FILES", deb-control(5)): stanzas
separated by blank lines, continuation lines start with a space.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from agent.errors import FactUnavailable
from agent.platform import _common
from agent.platform._common import have_command, host_path, read_text, run
from agent.report.software import Package, PackageManager

DPKG_STATUS = "/var/lib/dpkg/status"

#: One line per package, tab-separated; %|EPOCH?{...}| prints the epoch only when set (rpm(8)
#: "--queryformat", https://rpm-software-management.github.io/rpm/manual/queryformat.html).
RPM_QUERY = (
    "rpm",
    "-qa",
    "--queryformat",
    "%{NAME}\\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{VENDOR}\\t%{INSTALLTIME}\\n",
)


def manager() -> PackageManager:
    """``dpkg`` when dpkg's database exists, else ``rpm`` when rpm is installed."""
    if host_path(DPKG_STATUS).exists():
        return "dpkg"
    if have_command("rpm"):
        return "rpm"
    raise FactUnavailable("no dpkg database and no rpm command: unsupported package manager")


def dpkg_stanzas(text: str) -> list[dict[str, str]]:
    """Package, Status, Version and Architecture of each stanza of a dpkg status file.

    dpkg writes ``Package`` first in every stanza and continuation lines start with a space, so
    splitting on "\nPackage: " and finding the three other fields with ``str.find`` is exact and
    several times faster than a line-by-line parse (the file is ~1 MB on a desktop).
    """
    out: list[dict[str, str]] = []
    for chunk in ("\n" + text).split("\nPackage: ")[1:]:
        end = chunk.find("\n\n")
        if end >= 0:
            chunk = chunk[:end]
        eol = chunk.find("\n")
        rec = {"Package": (chunk if eol < 0 else chunk[:eol]).strip()}
        for key in ("Status", "Version", "Architecture"):
            i = chunk.find(f"\n{key}:")
            if i >= 0:
                j = chunk.find("\n", i + 1)
                rec[key] = chunk[i + len(key) + 2 : j if j >= 0 else None].strip()
        out.append(rec)
    return out


def dpkg_installed(text: str) -> list[dict[str, str]]:
    """Stanzas whose package is installed: the Status want/error/state triple ends "installed",
    or "triggers-pending"/"triggers-awaiting", which dpkg(1) uses for an installed, configured
    package whose trigger processing has not run yet (common right after an upgrade).

    Packages removed with their configuration kept ("deinstall ok config-files") are not
    installed software and are left out.
    """
    return [
        s for s in dpkg_stanzas(text) if s.get("Status", "").rpartition(" ")[2] in _INSTALLED_STATES
    ]


#: dpkg(1) package states in which the package's files are installed and configured.
_INSTALLED_STATES = frozenset({"installed", "triggers-pending", "triggers-awaiting"})


#: The last parse, keyed by (file, mtime, size): the package list and the input-method check
#: both need it, and the file is the biggest thing the agent reads.
_parsed: dict[tuple[str, int, int], list[dict[str, str]]] = {}


def dpkg_installed_cached() -> list[dict[str, str]]:
    """Installed stanzas of dpkg's status file, parsed once per file version.

    Software, anti-malware, remote tools and updates all need them; the file is the biggest
    thing the agent reads.
    """
    try:
        st = host_path(DPKG_STATUS).stat()
        key = (str(host_path(DPKG_STATUS)), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    if key is not None and key in _parsed:
        return _parsed[key]
    stanzas = dpkg_installed(read_text(DPKG_STATUS))
    _parsed.clear()
    if key is not None:
        _parsed[key] = stanzas
    return stanzas


def _dpkg_packages() -> list[Package]:
    stanzas = dpkg_installed_cached()
    if not stanzas:
        raise FactUnavailable(f"{DPKG_STATUS} lists no installed package")
    # dpkg's own architecture is the native one (dpkg --print-architecture); only foreign
    # (multiarch) packages carry an arch in the report, to keep it small.
    native = next((s.get("Architecture") for s in stanzas if s.get("Package") == "dpkg"), None)
    out: list[Package] = []
    for s in stanzas:
        arch = s.get("Architecture")
        out.append(
            Package(
                name=s.get("Package", "?"),
                version=s.get("Version") or None,
                arch=arch if arch and arch not in ("all", native) else None,
            )
        )
    return out


def rpm_packages(text: str) -> list[Package]:
    """Parse the output of :data:`RPM_QUERY`."""
    rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    if not rows or any(len(r) != 5 for r in rows):
        raise FactUnavailable("rpm -qa returned output in an unexpected format")
    native = next((r[2] for r in rows if r[0] == "rpm"), None)
    out: list[Package] = []
    for name, version, arch, vendor, installed in rows:
        when: date | None = None
        if installed.isdigit():
            when = datetime.fromtimestamp(int(installed), UTC).date()
        out.append(
            Package(
                name=name,
                version=version or None,
                publisher=None if vendor in ("", "(none)") else vendor,
                installed_on=when,
                arch=None if arch in ("noarch", "(none)", native) else arch,
            )
        )
    return out


#: ``rpm -qa`` costs a few hundred milliseconds: one answer serves the package list and the
#: input-method check of the same collection (keyed by the runner in use, for a short time).
_RPM_TTL_SECONDS = 60.0
_rpm_cache: dict[int, tuple[float, list[Package]]] = {}


def _rpm_cached() -> list[Package]:
    key = id(_common.runner)
    hit = _rpm_cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < _RPM_TTL_SECONDS:
        return hit[1]
    pkgs = rpm_packages(run(list(RPM_QUERY)))
    _rpm_cache.clear()
    _rpm_cache[key] = (time.monotonic(), pkgs)
    return pkgs


def packages() -> list[Package]:
    """Installed packages, sorted by name (then arch: multiarch packages appear twice)."""
    pkgs = _dpkg_packages() if manager() == "dpkg" else _rpm_cached()
    return sorted(pkgs, key=lambda p: (p.name, p.arch or ""))


def installed_names(wanted: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """(name, version) of installed packages whose name contains one of ``wanted`` (lower case).

    The dpkg parse is shared with :func:`packages` (same file, same modification time).
    """
    if manager() == "rpm":
        return [(p.name, p.version) for p in _rpm_cached() if any(w in p.name for w in wanted)]
    return [
        (s["Package"], s.get("Version"))
        for s in dpkg_installed_cached()
        if any(w in s["Package"].lower() for w in wanted)
    ]
