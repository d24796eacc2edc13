"""``govguard init``: a new data directory with its CA, TLS certificate, database and admin.

Everything that can be checked is checked before the first file is written (names, ids, the
password), and a step that fails afterwards removes what this run wrote, so a retry starts from
a clean directory instead of "already exists".
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import shutil
import sys
from pathlib import Path

from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError

from controller import pki
from controller.auth import accounts
from controller.commands.common import (
    UNIT_ID,
    UNIT_KIND,
    CliError,
    actor,
    agent_url,
    data_dir,
    database_error,
    now,
    open_store,
    read_password_file,
    safe_url,
)
from controller.passwords import PasswordPolicyError, check_password_policy
from controller.settings import (
    CONFIG_FILE,
    ControllerConfig,
    Settings,
    default_config_text,
    load_settings,
)
from controller.store import audit, db, units, users


def run(args: argparse.Namespace) -> int:
    """Create and initialise a data directory; prints the next steps."""
    target = data_dir(args)
    names = _server_names(args.server_name)
    database_url: str | None = args.database_url
    if database_url is not None:
        try:
            ControllerConfig(database_url=database_url)
        except ValueError as exc:
            raise CliError(f"--database-url: {exc}") from exc
    try:
        admin = accounts.check_username(args.admin)
    except accounts.AccountError as exc:
        raise CliError(f"--admin: {exc}") from exc
    if not UNIT_ID.fullmatch(args.unit_id):
        raise CliError(
            f"--unit-id: {args.unit_id!r} is not a valid unit id "
            "(lower-case letters, digits and '-', at most 64)"
        )
    if not UNIT_KIND.fullmatch(args.unit_kind):
        raise CliError(f"--unit-kind: {args.unit_kind!r} is not a valid kind (e.g. commune)")
    if not args.unit_name.strip():
        raise CliError("--unit-name must not be empty")
    _check_target(target)
    password = _read_password(args.password_file, admin)

    created = not target.exists()
    try:
        current = _write_files(target, names, database_url)
        _prepare_database(
            current, admin, password, args.unit_id, args.unit_name.strip(), args.unit_kind
        )
    except BaseException:
        _clean_up(target, remove_dir=created)
        raise
    fingerprint = pki.ca_fingerprint(current.ca_cert.read_bytes())
    args.admin = admin  # as stored (case-folded)
    print(_next_steps(current, args, fingerprint))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # The packaged service runs as "govguard" and could not read root's 0600 keys.
        print(
            f"\nNote: the files belong to root. If the service runs as user govguard:\n"
            f"  chown -R govguard:govguard {current.data_dir}\n"
            f"Lưu ý: các tệp thuộc quyền root. Nếu dịch vụ chạy bằng người dùng govguard:\n"
            f"  chown -R govguard:govguard {current.data_dir}"
        )
    return 0


def _server_names(given: list[str]) -> list[str]:
    names: list[str] = []
    for name in given:
        try:
            names.append(pki.check_server_name(name))
        except pki.PkiError as exc:
            raise CliError(f"--server-name: {exc}") from exc
    return list(dict.fromkeys(names))


def _check_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise CliError(f"{target}: exists and is not a directory")
    if target.is_dir():
        try:
            occupied = any(target.iterdir())
        except OSError as exc:
            raise CliError(f"{target}: cannot read: {exc.strerror or exc}") from exc
        if occupied:
            raise CliError(
                f"{target}: already exists and is not empty; govguard init never overwrites "
                "a data directory (choose another --data-dir, or move the old one away)"
            )


def _read_password(password_file: Path | None, username: str) -> str:
    """The admin's password: first line of the file (``-`` = stdin), or asked twice."""
    if password_file is not None:
        password = read_password_file(password_file)
    else:
        if not _stdin_is_terminal():
            # getpass would fall back to reading stdin, warn about echoing and fail on EOF:
            # three confusing lines for what is one mistake.
            raise CliError(
                "no terminal to ask for the administrator's password: "
                "use --password-file FILE (or --password-file - to read it from stdin)"
            )
        try:
            password = getpass.getpass(f"Password for the administrator {username!r}: ")
            again = getpass.getpass("Repeat the password: ")
        except EOFError as exc:
            raise CliError(
                "no password given (use --password-file when not at a terminal)"
            ) from exc
        if password != again:
            raise CliError("the two passwords differ; nothing was written")
    try:
        check_password_policy(password)
    except PasswordPolicyError as exc:
        raise CliError(f"administrator password refused: {exc}") from exc
    return password


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdin
        return False


def _write_files(target: Path, names: list[str], database_url: str | None) -> Settings:
    try:
        # 0700: the directory holds the CA key and, with SQLite, every report.
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.chmod(0o700)
        config = target / CONFIG_FILE
        # 0600 too: a PostgreSQL URL may carry a password.
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(default_config_text(names, database_url))
        current = load_settings(target)
        current.tls_dir.mkdir(mode=0o700)
        ca_cert, ca_key = pki.create_ca(f"govguard CA {names[0]}")
        server_cert, server_key = pki.issue_server_cert(ca_cert, ca_key, names)
        pki.write_private(current.ca_key, ca_key)
        pki.write_private(current.tls_key, server_key)
        current.ca_cert.write_bytes(ca_cert)
        current.tls_cert.write_bytes(server_cert)
    except OSError as exc:
        where = exc.filename or target
        raise CliError(f"{where}: cannot write: {exc.strerror or exc}") from exc
    return current


def _prepare_database(
    current: Settings, username: str, password: str, unit_id: str, unit_name: str, unit_kind: str
) -> None:
    url = current.database_url
    try:
        engine = db.make_engine(url)
    except ValueError as exc:
        raise CliError(f"--database-url: {exc}") from exc
    try:
        db.upgrade(engine)
    except SQLAlchemyError as exc:
        raise database_error(exc, url) from exc
    except CommandError as exc:
        # e.g. the database was migrated by a newer govguard than this one.
        raise CliError(f"cannot prepare the database {safe_url(url)}: {exc}") from exc
    finally:
        engine.dispose()
    who = actor()
    with open_store(current) as session:
        existing = users.count_users(session)
        if existing:
            raise CliError(
                f"the database already holds a govguard installation ({existing} user(s)); "
                "use an empty database for a new controller"
            )
        units.ensure_unit(session, unit_id, unit_name, None, unit_kind)
        fingerprint = pki.ca_fingerprint(current.ca_cert.read_bytes())
        audit.record(
            session,
            who,
            "controller.initialized",
            str(current.data_dir),
            {"server_names": current.server_names, "ca_fingerprint": fingerprint},
        )
        audit.record(
            session, who, "unit.created", f"unit:{unit_id}", {"name": unit_name, "kind": unit_kind}
        )
        # The same checks and audit entry as `govguard users add`.
        try:
            accounts.add_user(
                session,
                actor=who,
                source="cli",
                username=username,
                password=password,
                role="admin",
                unit_id=None,
                now=now(),
            )
        except accounts.AccountError as exc:
            raise CliError(f"administrator refused: {exc}") from exc


def _clean_up(target: Path, *, remove_dir: bool) -> None:
    """Remove what this run wrote: the whole directory if it created it, else its contents."""
    with contextlib.suppress(OSError):
        if remove_dir:
            shutil.rmtree(target)
            return
        for child in target.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


def _next_steps(current: Settings, args: argparse.Namespace, fingerprint: str) -> str:
    dd = "" if args.data_dir is None else f" --data-dir {current.data_dir}"
    url = agent_url(current)
    unit = args.unit_id
    serve = f"govguard serve{dd}"
    token = f"govguard tokens create{dd} --unit {unit} --expires 72h --out token.txt"
    enroll = f"govguard-agent enroll --controller {url} --token-file token.txt"
    return f"""\
govguard is ready in {current.data_dir}
  administrator:       {args.admin}
  root unit:           {unit} ({args.unit_name.strip()})
  database:            {safe_url(current.database_url)}
  CA fingerprint:      {fingerprint}

Next steps:
  1. Start the controller:   {serve}
     (as a service: systemctl enable --now govguard-controller)
  2. Create an enrollment token (add units first with `govguard units add` if needed):
       {token}
  3. Copy token.txt to the PC and enroll it (as root / Administrator):
       {enroll}
  4. See the agents:         govguard agents list{dd}

Các bước tiếp theo:
  1. Khởi động máy chủ quản lý:   {serve}
     (chạy như dịch vụ: systemctl enable --now govguard-controller)
  2. Tạo mã đăng ký (token) cho một đơn vị (thêm đơn vị bằng `govguard units add` nếu cần):
       {token}
  3. Chép tệp token.txt sang máy tính cần quản lý và đăng ký (quyền root / Administrator):
       {enroll}
  4. Xem danh sách máy đã đăng ký: govguard agents list{dd}"""
