"""Anti-malware products and OS updates on Debian-family Linux, from dpkg and apt's own files."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from agent.catalog import ProductSignature
from agent.errors import FactUnavailable
from agent.platform import _portable
from agent.platform._common import list_dir, read_optional
from agent.platform._linux import _sec_common as c
from agent.report.security import AntiMalware, Updates

log = logging.getLogger(__name__)

#: The agent's own view of "current" ClamAV signatures: freshclam checks several times a day, so
#: a week without a new database means updating is broken. The policy decides compliance
#: (ATTT-02 asks ≤ 3–7 days); this only fills ``up_to_date``.
CLAMAV_MAX_AGE_DAYS = 7.0

_CLAMAV_DBS = ("daily", "main", "bytecode")


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text, re.IGNORECASE) is not None
    except re.error:
        return pattern.lower() in text.lower()


def _clamav_signatures(product: AntiMalware) -> None:
    conf = c.key_values(["/etc/clamav/freshclam.conf"], sep=" ")
    directory = conf.get("DatabaseDirectory", "/var/lib/clamav").rstrip("/")
    stamps = [
        m
        for name in _CLAMAV_DBS
        for ext in ("cvd", "cld")
        if (m := c.mtime(f"{directory}/{name}.{ext}")) is not None
    ]
    if not stamps:
        try:
            list_dir(directory)
        except FactUnavailable:
            return  # unreadable: the signature state stays unknown
        # Readable and empty: clamd cannot scan without databases.
        product.up_to_date = False
        return
    now = c.now()
    updated = datetime.fromtimestamp(max(stamps), tz=now.tzinfo)
    age = max((now - updated).total_seconds() / 86400, 0.0)
    product.signature_updated_at = updated
    product.signature_age_days = round(age, 2)
    product.up_to_date = age <= CLAMAV_MAX_AGE_DAYS


def antimalware(catalogue: list[ProductSignature]) -> list[AntiMalware]:
    """Catalogue products installed as a package or a systemd service; state from processes.

    A product is never reported from a process name alone (RULES.md): its process only tells
    whether it runs. ClamAV counts as enabled when clamd (the clamav-daemon scanner) runs; its
    signature age is the newest database file's modification time, which freshclam sets.
    """
    try:
        versions = c.installed_versions()
    except FactUnavailable as exc:
        if c.exists("/usr/bin/dpkg"):
            raise
        log.debug("no dpkg database: %s", exc.reason)
        versions = {}
    packages = sorted(versions)
    units = sorted(c.systemd_units())
    if not packages and not units:
        raise FactUnavailable("neither a dpkg database nor systemd unit files could be read")
    found: list[AntiMalware] = []
    package_lines, unit_lines = "\n".join(packages), "\n".join(units)
    for sig in catalogue:
        package = c.first_match(sig.patterns, package_lines)
        unit = c.first_match(sig.patterns, unit_lines)
        if package is None and unit is None:
            continue
        enabled = c.running(*sig.processes) if sig.processes else None
        product = AntiMalware(
            name=sig.name,
            source="package" if package is not None else "service",
            enabled=enabled,
            version=versions.get(package or "") or None,
        )
        if sig.name == "ClamAV":
            product.enabled = c.running("clamd")
            _clamav_signatures(product)
        for pattern in sig.management:
            agent = c.first_match((pattern,), f"{package_lines}\n{unit_lines}")
            if agent is not None:
                product.management_agent = agent
                product.management_agent_running = _process_matches(pattern)
                break
        found.append(product)
    return found


def _process_matches(pattern: str) -> bool | None:
    try:
        return any(_search(pattern, p) for p in _portable.process_names())
    except FactUnavailable:
        return None


# --- updates ----------------------------------------------------------------------------------

# dpkg.log(5)-style action line: "2026-11-20 10:15:32 upgrade libc6:amd64 2.36-9 2.36-9+deb12u9"
_DPKG_ACTION = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (upgrade|status installed) ")


def _local(stamp: str) -> datetime:
    # dpkg and apt write local time without a zone; the agent runs in the host's zone.
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").astimezone().astimezone(c.now().tzinfo)


def _newest(text: str, action: str) -> str | None:
    """Stamp of the last line with this action; dpkg appends, so the last one is the newest.
    rfind keeps this cheap on a dpkg.log of several MB."""
    end = len(text)
    while (at := text.rfind(action, 0, end)) >= 0:
        start = text.rfind("\n", 0, at) + 1
        if _DPKG_ACTION.match(text, start):
            return text[start : start + 19]
        end = at
    return None


def _last_installed() -> datetime | None:
    """Newest package upgrade in dpkg.log (or its first rotation); a fresh install counts
    through its newest "status installed" line only when no upgrade was ever logged."""
    texts = [t for p in ("/var/log/dpkg.log", "/var/log/dpkg.log.1") if (t := read_optional(p))]
    for action in (" upgrade ", " status installed "):
        stamps = [s for t in texts if (s := _newest(t, action))]
        if stamps:
            return _local(max(stamps))
    history = read_optional("/var/log/apt/history.log") or ""
    ends = re.findall(r"^End-Date: (\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d)$", history, re.M)
    return _local(" ".join(max(ends))) if ends else None


_UPDATES_AVAILABLE = "/var/lib/update-notifier/updates-available"


def _notifier_counts() -> tuple[int | None, int | None] | None:
    """Counts from Ubuntu's update-notifier (apt-check writes them after each apt update)."""
    text = read_optional(_UPDATES_AVAILABLE)
    if text is None:
        return None
    # Formats of Ubuntu 18.04 ("12 packages can be updated. 3 updates are security updates.")
    # to 22.04+ ("12 updates can be applied immediately. 3 of these updates are standard
    # security updates."). Any other text (a translated one) leaves the counts unknown.
    total = re.search(r"(\d+) (?:updates?|packages?) can be (?:applied|updated|installed)", text)
    security = re.search(
        r"(\d+) (?:of these )?updates? (?:is|are) (?:a )?(?:standard )?security update", text
    )
    if total is None:
        return None
    pending = int(total.group(1))
    if security is not None:
        return pending, int(security.group(1))
    return pending, 0 if pending == 0 else None


def _order(char: str) -> int:
    # deb-version(7): "~" sorts before anything, even the end; letters before other characters.
    if char == "~":
        return -1
    if char.isdigit() or not char:
        return 0
    return ord(char) if char.isalpha() else ord(char) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's comparison of an upstream version or a revision (lib/dpkg/version.c verrevcmp)."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i, j = i + 1, j + 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            first_diff = first_diff or ord(a[i]) - ord(b[j])
            i, j = i + 1, j + 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def compare_versions(a: str, b: str) -> int:
    """Negative, zero or positive as Debian version ``a`` is older, equal or newer than ``b``."""

    def split(v: str) -> tuple[int, str, str]:
        epoch, _, rest = v.rpartition(":") if ":" in v else ("0", "", v)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
        return int(epoch) if epoch.isdigit() else 0, upstream, revision

    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    if ea != eb:
        return ea - eb
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


_LISTS = "/var/lib/apt/lists"


def _security_pending(installed: dict[str, str]) -> int:
    """Installed packages with a newer version in the security suite's package index.

    Only the security suite is read: its index is ~1 MB where the main suite's is ~50 MB, and
    it is what ATTT-05 asks about. The count is as of the last ``apt update``.
    """
    names = [n for n in list_dir(_LISTS) if "security" in n and "_binary-" in n]
    plain = [n for n in names if n.endswith("_Packages")]
    if not plain:
        if names:
            raise FactUnavailable(
                "apt keeps its package indexes compressed (Acquire::GzipIndexes or lz4); "
                "pending security updates are not counted"
            )
        raise FactUnavailable("no security suite in apt's package lists (run apt update)")
    pending: set[str] = set()
    for name in plain:
        text = read_optional(f"{_LISTS}/{name}") or ""
        for stanza in text.split("\n\n"):
            stanza = stanza.lstrip("\n")
            if not stanza.startswith("Package: "):
                continue
            package = stanza[9 : stanza.find("\n")].strip()
            current = installed.get(package)
            if current is None or package in pending:
                continue
            version = c.deb_field(stanza, "Version")
            if version and compare_versions(version, current) > 0:
                pending.add(package)
    return len(pending)


def _pending(installed: dict[str, str] | None) -> tuple[int | None, int | None]:
    """Pending and security counts: Ubuntu's update-notifier file when present, else the
    security suite's index compared with dpkg (total pending stays unknown on Debian: the
    alternative, ``apt-get -s upgrade``, costs about one CPU-second, more than the agent's
    whole budget)."""
    counts = _notifier_counts()
    if counts is not None:
        return counts
    if installed is None:
        return None, None
    try:
        return None, _security_pending(installed)
    except FactUnavailable as exc:
        log.debug("pending security updates: %s", exc.reason)
        return None, None


_APT_WORD = re.compile(r'[^\s{};"]+')
_APT_PART = re.compile(r"[A-Za-z0-9_.-]+")


def _apt_tokens(text: str) -> list[str]:
    """Tokens of an apt.conf(5) file: quoted strings (as ``"…``), words, ``{``, ``}``, ``;``.

    Comments are dropped outside quotes: ``//`` and ``#`` to the end of the line, ``/* … */``.
    ``#include``/``#clear`` directives are skipped like comments (they never set a value).
    """
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            tokens.append('"' + text[i + 1 : end])
            i = end + 1
        elif ch == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch in "{};":
            tokens.append(ch)
            i += 1
        else:
            match = _APT_WORD.match(text, i)
            word = match.group(0) if match else ch
            tokens.append(word)
            i += len(word)
    return tokens


def apt_conf_values(text: str) -> dict[str, str]:
    """Scalar settings of one apt.conf(5) file, full names lower-cased (apt matches them
    case-insensitively): ``APT::Periodic::Unattended-Upgrade "1";`` and its scoped form
    ``APT { Periodic { Unattended-Upgrade "1"; }; };`` give the same key. Unbalanced braces or
    stray tokens end or skip a statement, never raise."""
    values: dict[str, str] = {}
    scopes: list[str] = []
    pending: list[str] = []
    for tok in _apt_tokens(text):
        if tok == "{":
            name = pending[0].lstrip('"') if pending else ""
            scopes.append(f"{scopes[-1]}::{name}" if scopes else name)
            pending = []
        elif tok == "}":
            if scopes:
                scopes.pop()
            pending = []
        elif tok == ";":
            if len(pending) >= 2 and not pending[0].startswith('"'):
                key = f"{scopes[-1]}::{pending[0]}" if scopes else pending[0]
                values[key.lower()] = pending[1].lstrip('"')
            pending = []
        else:
            pending.append(tok)
    return values


def _automatic(packages: set[str] | None) -> bool | None:
    if packages is not None and "unattended-upgrades" not in packages:
        return False
    # apt.conf(5): files of apt.conf.d are read in alphanumeric order; the last value wins.
    value: str | None = None
    for path in c.conf_dir_files("/etc/apt/apt.conf.d", suffix=""):
        # apt.conf(5) reads only names of [A-Za-z0-9_.-] with no extension or ".conf"; it
        # ignores the rest (``50unattended-upgrades.ucf-dist``, ``x.dpkg-old``).
        name = path.rsplit("/", 1)[-1]
        if not _APT_PART.fullmatch(name) or ("." in name and not name.endswith(".conf")):
            continue
        found = apt_conf_values(read_optional(path) or "").get("apt::periodic::unattended-upgrade")
        if found is not None:
            value = found
    if value is None:
        return False  # apt's default is 0: never
    return value.strip() not in ("", "0")


def _version_key(release: str) -> list[tuple[int, str]]:
    return [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-+~]", release)]


def _reboot_required() -> bool | None:
    if c.exists("/run/reboot-required") or c.exists("/var/run/reboot-required"):
        return True
    if c.exists("/usr/share/update-notifier/notify-reboot-required"):
        return False  # the hook that would have created the flag file is installed
    running = read_optional("/proc/sys/kernel/osrelease")
    try:
        kernels = [
            n.removeprefix("vmlinuz-") for n in list_dir("/boot") if n.startswith("vmlinuz-")
        ]
    except FactUnavailable:
        kernels = []
    if not running or not kernels:
        return None
    # Without the flag file, a newer installed kernel than the running one is the reboot Debian
    # needs after a kernel update (the common case of ATTT-05).
    newest = max(kernels, key=_version_key)
    return _version_key(newest) > _version_key(running)


def updates() -> Updates:
    """Last upgrade, pending counts (where the OS keeps them), automatic updates, reboot flag."""
    if not c.exists("/var/lib/dpkg/status"):
        raise FactUnavailable("not a dpkg-based distribution (only Debian and Ubuntu supported)")
    try:
        installed: dict[str, str] | None = c.installed_versions()
    except FactUnavailable:
        installed = None
    packages = set(installed) if installed is not None else None
    pending, security = _pending(installed)
    return Updates(
        last_installed_at=_last_installed(),
        pending=pending,
        pending_security=security,
        automatic=_automatic(packages),
        reboot_required=_reboot_required(),
    )
