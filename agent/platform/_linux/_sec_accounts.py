"""Local accounts and the password/lockout policy on Linux, from shadow-utils and PAM files.

Unprivileged runs cannot read ``/etc/shadow``: account state is then ``None`` (unknown), never
assumed enabled or disabled.
"""

from __future__ import annotations

import logging
import struct
from datetime import UTC, datetime

from agent.errors import FactUnavailable
from agent.platform import _common
from agent.platform._common import read_optional, read_text
from agent.platform._linux import _sec_common as c
from agent.report.security import Accounts, LocalAccount, PasswordPolicy

log = logging.getLogger(__name__)

#: Groups whose members may become root through sudo (Debian "sudo", Red Hat "wheel", Ubuntu
#: before 12.04 "admin").
ADMIN_GROUPS = ("sudo", "wheel", "admin")

_NO_LOGIN_SHELLS = ("nologin", "false", "sync", "shutdown", "halt")


def _login_defs() -> dict[str, str]:
    return c.key_values(["/etc/login.defs"], sep=" ")


def _shadow() -> dict[str, list[str]] | None:
    try:
        text = read_text("/etc/shadow")
    except FactUnavailable as exc:
        log.debug("shadow unreadable: %s", exc.reason)
        return None
    return {f[0]: f for line in text.splitlines() if len(f := line.split(":")) >= 8}


def _can_log_on(entry: list[str] | None, today: int) -> bool | None:
    """shadow(5): an expiry date (days since 1970, field 8) in the past disables the whole
    account. A "!" or "*" password does not: it only blocks password logon, and "the user may
    log in the system by other means" (SSH keys): that is :func:`_password_locked`."""
    if entry is None:
        return None
    expire = c.as_int(entry[7]) if entry[7] else None
    return not (expire is not None and expire <= today)


def _password_locked(entry: list[str] | None) -> bool | None:
    """shadow(5): a password field starting with "!" (passwd -l) or "*" cannot match any
    password."""
    if entry is None:
        return None
    return entry[1].startswith(("!", "*"))


# lastlog(8) record: int32 ll_time, char ll_line[32], char ll_host[256], indexed by uid.
_LASTLOG = struct.Struct("=i32s256s")


def _last_logon(uid: int) -> datetime | None:
    try:
        with _common.host_path("/var/log/lastlog").open("rb") as fh:
            fh.seek(uid * _LASTLOG.size)
            record = fh.read(_LASTLOG.size)
    except OSError:
        return None
    if len(record) < _LASTLOG.size:
        return None
    stamp = _LASTLOG.unpack(record)[0]
    return datetime.fromtimestamp(stamp, UTC) if stamp > 0 else None


def accounts() -> Accounts:
    """Human accounts (UID_MIN..UID_MAX with a login shell), admins, and the guest account."""
    passwd = [f for line in read_text("/etc/passwd").splitlines() if len(f := line.split(":")) >= 7]
    groups = [
        f
        for line in (read_optional("/etc/group") or "").splitlines()
        if len(f := line.split(":")) >= 4
    ]
    defs = _login_defs()
    uid_min = c.as_int(defs.get("UID_MIN")) or 1000
    uid_max = c.as_int(defs.get("UID_MAX")) or 60000
    shadow = _shadow()
    today = int(c.now().timestamp() // 86400)

    admins: set[str] = {f[0] for f in passwd if f[2] == "0"}
    for name, _pw, gid, members in (g[:4] for g in groups):
        if name in ADMIN_GROUPS:
            admins.update(m for m in members.split(",") if m)
            admins.update(f[0] for f in passwd if f[3] == gid)

    users: list[LocalAccount] = []
    guest: bool | None = False
    for name, _pw, uid_text, _gid, _gecos, _home, shell in (f[:7] for f in passwd):
        uid = c.as_int(uid_text)
        if uid is None or not uid_min <= uid <= uid_max:
            continue
        if not shell or shell.rsplit("/", 1)[-1] in _NO_LOGIN_SHELLS:
            continue
        entry = None if shadow is None else shadow.get(name)
        enabled = None if shadow is None else _can_log_on(entry, today)
        users.append(
            LocalAccount(
                name=name,
                enabled=enabled,
                password_locked=_password_locked(entry),
                admin=name in admins,
                last_logon=_last_logon(uid),
            )
        )
        if name == "guest" and guest is False:
            # A guest account is a console logon without a known password: with its password
            # locked and no one holding its keys, nobody walks up and uses it.
            locked = _password_locked(entry)
            guest = False if locked or enabled is False else enabled
    if guest is False and _lightdm_allows_guest():
        guest = True
    return Accounts(users=users, admins=sorted(admins), guest_enabled=guest)


def _lightdm_allows_guest() -> bool:
    # lightdm.conf: the packaged defaults, then /etc drop-ins, then the main file; last wins.
    paths = [
        *c.conf_dir_files("/usr/share/lightdm/lightdm.conf.d"),
        *c.conf_dir_files("/etc/lightdm/lightdm.conf.d"),
        "/etc/lightdm/lightdm.conf",
    ]
    value = c.key_values(paths).get("allow-guest", "false")
    return value.lower() == "true"


# --- password policy ---------------------------------------------------------------------------

_PAM_FILES = ("common-password", "common-auth", "system-auth", "password-auth")


def _pam_modules() -> dict[str, dict[str, str]] | None:
    """Modules used by the system PAM stacks: module name -> its ``key=value`` arguments."""
    modules: dict[str, dict[str, str]] = {}
    seen = False
    for name in _PAM_FILES:
        lines = c.read_lines(f"/etc/pam.d/{name}")
        if lines is None:
            continue
        seen = True
        for line in lines:
            fields = line.split()
            # pam.conf(5): type control module-path args; a [bracketed] control may hold spaces.
            rest = line.split("]", 1)[1].split() if fields[1:2] and "[" in fields[1] else fields[2:]
            if not rest or not rest[0].endswith(".so"):
                continue
            module = rest[0].rsplit("/", 1)[-1].removesuffix(".so")
            args = modules.setdefault(module, {})
            for arg in rest[1:]:
                key, _, value = arg.partition("=")
                args.setdefault(key, value)
    return modules if seen else None


def _int_arg(args: dict[str, str], key: str, conf: dict[str, str], default: int) -> int:
    """A module argument, else the module's config file, else its documented default."""
    for value in (c.as_int(args.get(key)), c.as_int(conf.get(key))):
        if value is not None:
            return value
    return default


def password_policy() -> PasswordPolicy:
    """Length and complexity (pam_pwquality/pam_cracklib or pam_unix), age (login.defs),
    history (pam_pwhistory, pam_unix remember=) and lockout (pam_faillock, pam_tally2)."""
    modules = _pam_modules()
    defs = _login_defs()
    max_age = c.as_int(defs.get("PASS_MAX_DAYS"))
    if modules is None:
        raise FactUnavailable("no system PAM configuration found (/etc/pam.d/common-*)")

    min_length: int | None
    complexity: bool | None
    quality = modules.get("pam_pwquality") or modules.get("pam_cracklib")
    if quality is not None:
        conf: dict[str, str] = {}
        if "pam_pwquality" in modules:
            # pwquality.conf(5): the .d files first in ASCII order, then the main file.
            conf = c.key_values(
                [
                    *c.conf_dir_files("/etc/security/pwquality.conf.d"),
                    "/etc/security/pwquality.conf",
                ]
            )
        # pam_pwquality(8) default minlen 8; pam_cracklib(8) default 9.
        default_len = 8 if "pam_pwquality" in modules else 9
        min_length = _int_arg(quality, "minlen", conf, default_len)
        minclass = _int_arg(quality, "minclass", conf, 0)
        required = sum(
            1
            for credit in ("dcredit", "ucredit", "lcredit", "ocredit")
            if (_int_arg(quality, credit, conf, 0)) < 0
        )
        complexity = max(minclass, required) >= 3
    elif "pam_unix" in modules:
        # pam_unix(8): minlen=n, "The default value is 6"; it checks no character classes.
        min_length = c.as_int(modules["pam_unix"].get("minlen")) or 6
        complexity = False
    else:
        min_length = c.as_int(defs.get("PASS_MIN_LEN"))
        complexity = None

    history = 0
    if "pam_pwhistory" in modules:
        # pam_pwhistory(8): remember defaults to 10; pwhistory.conf (Linux-PAM ≥ 1.5) may set it.
        conf = c.key_values(["/etc/security/pwhistory.conf"])
        history = _int_arg(modules["pam_pwhistory"], "remember", conf, 10)
    elif "pam_unix" in modules and "remember" in modules["pam_unix"]:
        history = c.as_int(modules["pam_unix"]["remember"]) or 0

    threshold = 0
    minutes: int | None = None
    if "pam_faillock" in modules:
        # faillock.conf(5): deny default 3, unlock_time default 600 s (0 = until an admin unlocks).
        conf = c.key_values(["/etc/security/faillock.conf"])
        args = modules["pam_faillock"]
        threshold = _int_arg(args, "deny", conf, 3)
        minutes = _int_arg(args, "unlock_time", conf, 600) // 60
    elif "pam_tally2" in modules and "deny" in modules["pam_tally2"]:
        threshold = c.as_int(modules["pam_tally2"]["deny"]) or 0
        unlock = c.as_int(modules["pam_tally2"].get("unlock_time"))
        minutes = unlock // 60 if unlock is not None else 0

    return PasswordPolicy(
        min_length=min_length,
        complexity=complexity,
        max_age_days=max_age,
        history=history,
        lockout_threshold=threshold,
        lockout_minutes=minutes,
    )
