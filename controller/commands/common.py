"""What every ``govguard`` command shares: the data directory, the database, the actor, tables."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from controller.settings import Settings, load_settings

DATA_DIR_ENV = "GOVGUARD_DATA_DIR"
DEFAULT_DATA_DIR = Path("/var/lib/govguard")

#: Unit ids appear in URLs and file names: lower-case slugs.
UNIT_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
#: Unit kinds are free words (province, commune, department, ...), kept short and plain.
UNIT_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class CliError(Exception):
    """A failure the operator can fix; ``main`` prints the one-line message and exits 1."""


def data_dir(args: argparse.Namespace) -> Path:
    """``--data-dir``, else ``$GOVGUARD_DATA_DIR``, else ``/var/lib/govguard``."""
    given: Path | None = getattr(args, "data_dir", None)
    if given is not None:
        return given
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(env) if env else DEFAULT_DATA_DIR


def settings(args: argparse.Namespace) -> Settings:
    """The settings of the data directory the command works on (SettingsError if invalid)."""
    return load_settings(data_dir(args))


def actor() -> str:
    """Who runs the command, for the audit log: ``cli:<login>``.

    Under sudo the invoking administrator is recorded, not ``root`` or the service account.
    """
    name = os.environ.get("SUDO_USER", "").strip()
    if not name:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):  # no login name in the environment nor in passwd
            name = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"cli:{name}"


def agent_url(current: Settings) -> str:
    """The URL agents enroll with: the first server name and the agents' port."""
    host = current.server_names[0]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"https://{host}:{current.listen.agents.port}"


def now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def database_error(exc: SQLAlchemyError, url: str) -> CliError:
    """One line for a database failure: unreachable, or what the database refused."""
    from controller.store.db import error_line, is_unavailable

    reason = error_line(exc)
    if is_unavailable(exc):
        return CliError(f"cannot reach the database {safe_url(url)}: {reason}")
    return CliError(f"database error on {safe_url(url)}: {reason}")


@contextmanager
def open_engine(current: Settings, *, require_schema: bool = True) -> Iterator[Engine]:
    """An engine on the controller database, disposed of when the block ends.

    For commands that run their own transactions (deliveries, a re-evaluation). Database
    failures become :class:`CliError`; ``require_schema`` refuses a database that ``govguard
    init`` has not prepared, or one at another schema (instead of failing later on a missing
    table).
    """
    from controller.store import db

    url = current.database_url
    try:
        engine = db.make_engine(url)
    except (ArgumentError, ValueError) as exc:
        raise CliError(f"bad database_url in {current.config_path}: {exc}") from exc
    try:
        if require_schema:
            revision = db.current_revision(engine)
            if revision is None:
                raise CliError(
                    f"the database {safe_url(url)} has no govguard tables; "
                    "run `govguard init` first (or check database_url)"
                )
            if revision != (head := db.head_revision()):
                # Queries written for another schema fail in odd ways; say why up front.
                raise CliError(
                    f"the database {safe_url(url)} has schema {revision}, this govguard "
                    f"expects {head} (`govguard serve` upgrades an older database; a newer "
                    "one needs the newer govguard)"
                )
        yield engine
    except SQLAlchemyError as exc:
        raise database_error(exc, url) from exc
    finally:
        engine.dispose()


@contextmanager
def open_store(current: Settings, *, require_schema: bool = True) -> Iterator[Session]:
    """A session on the controller database, committed when the block ends without error.

    Database failures become :class:`CliError`; the schema is checked as by
    :func:`open_engine`.
    """
    from controller.store import db

    with open_engine(current, require_schema=require_schema) as engine:
        try:
            with db.session_factory(engine)() as session:
                # Commands read, then write while agents keep reporting: take SQLite's write
                # lock first, or the upgrade fails at once with "database is locked".
                db.write_session(session)
                yield session
                session.commit()
        except SQLAlchemyError as exc:
            raise database_error(exc, current.database_url) from exc


def older_than(text: str | None, default: timedelta) -> timedelta:
    """The age given by ``--older-than`` (``30d``, ``72h``...), else ``default``."""
    if text is None:
        return default
    from controller import tokens

    try:
        return tokens.parse_duration(text)
    except tokens.TokenError as exc:
        raise CliError(f"--older-than: {exc}") from exc


def when(value: datetime | None) -> str:
    """A timestamp for tables: ``2026-11-28 10:05Z``, ``-`` for none."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> None:
    """Columns aligned to their widest cell; ``empty`` is printed when there are no rows."""
    if not rows:
        print(empty)
        return
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip())


def read_password_file(path: Path) -> str:
    """The first line of ``path`` (``-``: standard input), without its line ending.

    Passwords come from files so they never appear in a command line or the shell's history.
    """
    try:
        if str(path) == "-":
            text = sys.stdin.readline()
        else:
            with path.open(encoding="utf-8") as source:
                text = source.readline()
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text") from exc
    return text.rstrip("\r\n")
