"""``govguard users add|passwd|disable|enable|list``: dashboard and API accounts (docs/accounts.md).

The checks and the audit entries are :mod:`controller.auth.accounts`'s, shared with the
dashboard's Users page; this module reads passwords and prints.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from controller.auth import accounts
from controller.commands.common import (
    CliError,
    actor,
    now,
    open_store,
    print_table,
    read_password_file,
    settings,
    when,
)

#: A password given to a script without a file (e.g. from a secret store); never on argv,
#: where every local user could read it in the process list.
PASSWORD_ENV = "GOVGUARD_PASSWORD"  # noqa: S105 - a variable name, not a password
SOURCE = "cli"
EXIT_USAGE = 2


class NoPasswordError(Exception):
    """No password source: not a failure of the command but of how it was called (exit 2)."""


def _read_password(args: argparse.Namespace, username: str) -> str:
    """``--password-file`` (``-``: stdin), else ``$GOVGUARD_PASSWORD``, else asked twice."""
    path: Path | None = args.password_file
    if path is not None:
        return read_password_file(path)
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    if not _stdin_is_terminal():
        raise NoPasswordError(
            "no password given: use --password-file FILE (- for stdin) or set "
            f"{PASSWORD_ENV} when not at a terminal"
        )
    try:
        password = getpass.getpass(f"Password for {username!r}: ")
        again = getpass.getpass("Repeat the password: ")
    except EOFError as exc:
        raise NoPasswordError("no password given") from exc
    if password != again:
        raise CliError("the two passwords differ; nothing was changed")
    return password


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdin
        return False


def _usage_error(exc: NoPasswordError) -> int:
    print(f"govguard: error: {exc}", file=sys.stderr)
    return EXIT_USAGE


def add(args: argparse.Namespace) -> int:
    """Create an account; its password comes from a file, the environment or the terminal."""
    current = settings(args)
    try:
        # Check what needs no database first: a bad name must not cost a password prompt.
        name = accounts.check_username(args.username)
    except accounts.AccountError as exc:
        raise CliError(str(exc)) from exc
    try:
        password = _read_password(args, name)
    except NoPasswordError as exc:
        return _usage_error(exc)
    with open_store(current) as session:
        try:
            user = accounts.add_user(
                session,
                actor=actor(),
                source=SOURCE,
                username=name,
                password=password,
                role=args.role,
                unit_id=args.unit,
                locale=args.locale,
                full_name=args.name,
                now=now(),
            )
        except accounts.AccountError as exc:
            raise CliError(str(exc)) from exc
        where = user.unit_id or "the whole district"
        text = f"added {user.role} {user.username} ({where})"
    print(text)
    return 0


def passwd(args: argparse.Namespace) -> int:
    """Set an account's password; its open dashboard sessions end."""
    current = settings(args)
    try:
        password = _read_password(args, args.username)
    except NoPasswordError as exc:
        return _usage_error(exc)
    with open_store(current) as session:
        try:
            user = accounts.set_password(
                session,
                actor=actor(),
                source=SOURCE,
                username=args.username,
                password=password,
                now=now(),
            )
        except accounts.AccountError as exc:
            raise CliError(str(exc)) from exc
        text = f"password of {user.username} changed; its sessions were ended"
    print(text)
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    with open_store(settings(args)) as session:
        try:
            user = accounts.set_disabled(
                session,
                actor=actor(),
                source=SOURCE,
                username=args.username,
                disabled=disabled,
                now=now(),
            )
        except accounts.AccountError as exc:
            raise CliError(str(exc)) from exc
        text = f"{'disabled' if disabled else 'enabled'} {user.username}"
    print(text)
    return 0


def disable(args: argparse.Namespace) -> int:
    """Disable an account: it cannot log in and its sessions end at once."""
    return _set_disabled(args, True)


def enable(args: argparse.Namespace) -> int:
    """Enable a disabled account again."""
    return _set_disabled(args, False)


def list_(args: argparse.Namespace) -> int:
    """Every account (never a password hash), as a table or ``--json``."""
    with open_store(settings(args)) as session:
        found = accounts.list_users(session, None)
        records: list[dict[str, object]] = []
        if args.json:
            records = [
                {
                    "username": user.username,
                    "role": user.role,
                    "unit_id": user.unit_id,
                    "locale": user.locale,
                    "full_name": user.full_name,
                    "disabled": user.disabled,
                    "created_at": _iso(user.created_at),
                    "last_login_at": _iso(user.last_login_at),
                }
                for user in found
            ]
        rows = [
            (
                user.username,
                user.role,
                user.unit_id or "-",
                user.locale,
                "disabled" if user.disabled else "enabled",
                when(user.last_login_at),
                user.full_name or "",
            )
            for user in found
        ]
    if args.json:
        print(json.dumps(records, ensure_ascii=False, indent=2))
        return 0
    headers = ("USERNAME", "ROLE", "UNIT", "LANG", "STATE", "LAST LOGIN", "NAME")
    print_table(headers, rows, "no users")
    return 0


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
