"""Windows software facts: uninstall keys, services, autostart entries, Vietnamese text support.

Installed programs and Run keys come from the registry; services, startup commands, Startup
folders and process names from one batched PowerShell query (CIM objects, never localized text).
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

from agent.errors import FactUnavailable, note_unknown
from agent.platform import _catalogs
from agent.platform._windows import _ps, _registry, _winshared
from agent.report.software import (
    AutostartEntry,
    Package,
    PackageManager,
    Service,
    StartMode,
    VietnameseText,
)

log = logging.getLogger(__name__)

UNINSTALL = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
RUN_KEYS = (
    (r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run", "run_key"),
    (r"SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnce", "run_once_key"),
)
FONTS = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Fonts"
#: Vietnamese keyboard layout id (KLID) in Keyboard Layout\Preload: "Keyboard Identifiers and
#: Input Method Editors for Windows", learn.microsoft.com/windows-hardware/manufacture/desktop/
#: windows-language-pack-default-values.
VIETNAMESE_KLID = "0000042a"

#: Each cmdlet in its own try so that one failure (WMI repository damaged, access denied) keeps
#: the rest of the batch; Win32_Service, Win32_StartupCommand (learn.microsoft.com/windows/win32/
#: cimwin32prov/win32-service, .../win32-startupcommand).
_SCRIPT = r"""
$r = @{}
try { $r.services = @(Get-CimInstance Win32_Service |
  Select-Object Name, DisplayName, State, StartMode, PathName, StartName) }
catch { $r.services = @{error = $_.Exception.Message} }
try { $r.startup_commands = @(Get-CimInstance Win32_StartupCommand |
  Select-Object Name, Command, Location, User) }
catch { $r.startup_commands = @{error = $_.Exception.Message} }
# Profiles are wherever ProfileList says (another drive, a renamed C:\Users), people's SIDs
# only (local/domain S-1-5-21-*, Entra ID S-1-12-1-*); GetValue expands REG_EXPAND_SZ.
# https://learn.microsoft.com/en-us/windows/win32/shell/knownfolderid (FOLDERID_Startup)
# One unreadable user folder is skipped with its reason; the other folders survive.
try {
  $pl = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList'
  $dirs = @("$env:ProgramData\Microsoft\Windows\Start Menu\Programs\StartUp") +
    @(Get-ChildItem -LiteralPath $pl | Where-Object PSChildName -match '^S-1-(5-21|12-1)-' |
      ForEach-Object { $_.GetValue('ProfileImagePath') } | Where-Object { $_ } |
      ForEach-Object {
        Join-Path $_ 'AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup' })
  $r.startup_folders = @(foreach ($d in $dirs) {
    try {
      if (Test-Path -LiteralPath $d) {
        Get-ChildItem -LiteralPath $d -File -Force | Where-Object Name -ne 'desktop.ini' |
          Select-Object Name, DirectoryName }
    } catch { @{ skipped = $d; reason = $_.Exception.Message } } })
} catch { $r.startup_folders = @{error = $_.Exception.Message} }
try { $r.processes = @(Get-Process | ForEach-Object ProcessName | Sort-Object -Unique) }
catch { $r.processes = @{error = $_.Exception.Message} }
$r
"""


def _batch(key: str) -> list[Any]:
    return _ps.as_list(_winshared.part("software", _SCRIPT, key))


def _user_sids() -> list[str]:
    """SIDs of the loaded user hives under HKU (local, domain and Entra ID accounts).

    Well-known service SIDs (S-1-5-18/19/20), .DEFAULT and the *_Classes hives are left out.
    """
    return [s for s in _registry.subkeys("HKU") if _winshared.is_user_sid(s)]


def package_manager() -> PackageManager:
    """Installed programs come from the uninstall registry keys."""
    return "windows"


def _install_date(raw: Any) -> date | None:
    """InstallDate is a REG_SZ yyyymmdd (Uninstall Registry Key, learn.microsoft.com/windows/
    win32/msi/uninstall-registry-key); some installers write other formats, which are dropped."""
    text = str(raw or "").strip()
    if not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _text(raw: Any) -> str | None:
    text = str(raw).strip() if raw is not None else ""
    return text or None


def _uninstall_entries(path: str, view: int, arch: str | None, sid: str | None) -> list[Package]:
    out = []
    for sub in _registry.subkeys(path, view):
        try:
            v = _registry.values(f"{path}\\{sub}", view)
        except FactUnavailable:
            log.debug("cannot read %s\\%s", path, sub)
            continue
        name = str(v.get("DisplayName") or "").strip()
        # Programs and Features hides system components and updates of a parent product.
        if not name or v.get("SystemComponent") == 1 or v.get("ParentKeyName"):
            continue
        out.append(
            Package(
                name=name,
                version=_text(v.get("DisplayVersion")),
                publisher=_text(v.get("Publisher")),
                installed_on=_install_date(v.get("InstallDate")),
                arch=arch,
                user=sid,
            )
        )
    return out


def packages() -> list[Package]:
    """Programs of the uninstall keys: HKLM 64- and 32-bit views, then each loaded user hive.

    The same program registered in several places (both views, machine and user) is kept once.
    """
    found = _uninstall_entries(f"HKLM\\{UNINSTALL}", _registry.VIEW_64, None, None)
    found += _uninstall_entries(f"HKLM\\{UNINSTALL}", _registry.VIEW_32, "x86", None)
    for sid in _user_sids():
        found += _uninstall_entries(f"HKU\\{sid}\\{UNINSTALL}", _registry.VIEW_64, None, sid)
    seen: set[tuple[str, str | None]] = set()
    out = []
    for p in found:
        key = (p.name.lower(), p.version)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return sorted(out, key=lambda p: (p.name.lower(), p.version or ""))


_START_MODES: dict[str, StartMode] = {
    "boot": "boot",
    "system": "system",
    "auto": "auto",
    "manual": "manual",
    "disabled": "disabled",
}


def services() -> list[Service]:
    """Win32_Service: name, display name, state, start mode, command line, account."""
    out = []
    for s in _batch("services"):
        name = str(s.get("Name") or "")
        if not name:
            continue
        mode = str(s.get("StartMode") or "").lower()
        display = s.get("DisplayName")
        state = s.get("State")
        out.append(
            Service(
                name=name,
                display_name=display if display and display != name else None,
                running=None if not state else state == "Running",
                start_mode=_START_MODES.get(mode),
                path=s.get("PathName") or None,
                account=s.get("StartName") or None,
            )
        )
    return sorted(out, key=lambda s: s.name.lower())


def _run_keys() -> list[AutostartEntry]:
    out = []
    places: list[tuple[str, str, int, str | None]] = [
        (f"HKLM\\{p}", k, v, None) for p, k in RUN_KEYS for v in (64, 32)
    ]
    places += [(f"HKU\\{sid}\\{p}", k, 64, sid) for sid in _user_sids() for p, k in RUN_KEYS]
    for path, kind, view, sid in places:
        view_flag = _registry.VIEW_32 if view == 32 else _registry.VIEW_64
        for name, command in _registry.values(path, view_flag).items():
            if not name:
                continue  # the key's (Default) value is not an entry
            location = path if view == 64 else f"{path} (32-bit)"
            out.append(
                AutostartEntry(
                    name=name,
                    command=str(command),
                    kind=kind,  # type: ignore[arg-type]
                    location=location,
                    user=sid,
                )
            )
    return out


def autostart() -> list[AutostartEntry]:
    """Run/RunOnce keys (HKLM both views, HKU per user), Startup folders, Win32_StartupCommand.

    Win32_StartupCommand repeats most Run-key and Startup-folder entries; a repeat (same name and
    command) is kept once, from the registry or folder where it was read directly.
    """
    entries = _run_keys()
    failures: list[str] = []
    try:
        folders = _batch("startup_folders")
        skipped = [f"{f.get('skipped')} ({f.get('reason')})" for f in folders if "skipped" in f]
        if skipped:
            log.info("unreadable Startup folders: %s", skipped)
            note_unknown("startup_folders", f"unreadable Startup folders: {'; '.join(skipped)}")
        for f in folders:
            if "skipped" in f:
                continue
            entries.append(
                AutostartEntry(
                    name=str(f.get("Name")), kind="startup_folder", location=f.get("DirectoryName")
                )
            )
    except FactUnavailable as exc:
        failures.append(exc.reason)
    try:
        known = {(e.name.lower(), (e.command or "").lower()) for e in entries}
        for c in _batch("startup_commands"):
            name, command = str(c.get("Name") or ""), str(c.get("Command") or "")
            if not name or (name.lower(), command.lower()) in known:
                continue
            if any(
                e.kind == "startup_folder" and e.name.lower().startswith(name.lower())
                for e in entries
            ):
                continue  # a Startup-folder shortcut: its Name lacks the .lnk extension
            entries.append(
                AutostartEntry(
                    name=name,
                    command=command or None,
                    kind="startup_command",
                    location=c.get("Location") or None,
                    user=c.get("User") or None,
                )
            )
    except FactUnavailable as exc:
        failures.append(exc.reason)
    if failures and not entries:
        raise FactUnavailable("; ".join(failures))
    return entries


def _font_names() -> list[tuple[str, str]]:
    """(font name without " (TrueType)", file) of machine fonts and per-user fonts (1809+)."""
    out: list[tuple[str, str]] = []
    paths = [f"HKLM\\{FONTS}"] + [f"HKU\\{sid}\\{FONTS}" for sid in _user_sids()]
    for path in paths:
        for name, file in _registry.values(path).items():
            clean = re.sub(r"\s*\((TrueType|OpenType)\)$", "", str(name)).strip()
            out.append((clean, str(file).rsplit("\\", 1)[-1]))
    if not out:
        raise FactUnavailable(f"HKLM\\{FONTS} lists no font")
    return out


def _keyboard_vietnamese() -> bool | None:
    """A user has the Vietnamese layout in Keyboard Layout\\Preload (values "1", "2", ...).

    Layouts are per user: with no user hive loaded (nobody logged on) nothing was checked, so the
    answer is unknown, not "no".
    """
    sids = _user_sids()
    if not sids:
        note_unknown(
            "vietnamese_keyboard",
            "no user is logged on: keyboard layouts are per user (HKU\\<SID>\\Keyboard Layout)",
        )
        return None
    for sid in sids:
        preload = _registry.values(f"HKU\\{sid}\\Keyboard Layout\\Preload")
        if any(str(v).lower() == VIETNAMESE_KLID for v in preload.values()):
            return True
    return False


def vietnamese_text() -> VietnameseText:
    """Fonts registered under ...\\Windows NT\\CurrentVersion\\Fonts, input methods, keyboard.

    UniKey is often a portable executable that no installer registered, so a running process or
    an autostart command naming its executable counts too.
    """
    cat = _catalogs.vietnamese()
    fonts = _font_names()
    lowered = [(n.lower(), f.lower()) for n, f in fonts]
    families = [
        fam.family
        for fam in cat.unicode_fonts
        if any(n.startswith(r.lower()) for n, _ in lowered for r in fam.registry)
        or any(f in {x.lower() for x in fam.files} for _, f in lowered)
    ]
    legacy = sorted({n for n, f in fonts if _catalogs.legacy_font(n) or _catalogs.legacy_font(f)})
    installed = [(p.name, p.version) for p in packages()]
    try:
        procs = {f"{p}.exe".lower() for p in _batch("processes") if p}
    except FactUnavailable:
        log.info("process list unavailable; input methods judged from installed programs only")
        procs = set()
    try:
        commands = " ".join((e.command or "").lower() for e in _run_keys())
    except FactUnavailable:
        commands = ""
    for sig in cat.input_methods:
        for exe in sig.processes:
            if exe.lower() in commands:
                installed.append((f"{sig.name} (autostart {exe})", None))
    methods = _catalogs.input_methods(installed, procs)
    return VietnameseText(
        times_new_roman="Times New Roman" in families,
        unicode_fonts=families,
        legacy_fonts=legacy,
        input_methods=methods,
        vietnamese_keyboard=_keyboard_vietnamese(),
    )
