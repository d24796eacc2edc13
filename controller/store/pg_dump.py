"""PostgreSQL dumps and restores through ``pg_dump`` and ``pg_restore``.

``pg_dump`` reads in one repeatable-read snapshot, so a dump taken while the controller ingests
is consistent. It must be at least as new as the server (an older one refuses to dump), and a
custom-format archive needs a ``pg_restore`` at least as new as the ``pg_dump`` that wrote it;
both are checked up front, with a message that says which client to install. The password of
``database_url`` travels in ``PGPASSWORD``, never on a command line (the process list shows
those).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from controller.store.db import error_line, make_engine

#: Where distributions install the clients of each major version, ``{major}`` filled in.
_VERSIONED_DIRS = ("/usr/lib/postgresql/{major}/bin", "/usr/pgsql-{major}/bin")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


class PgToolError(Exception):
    """A dump or restore cannot run or failed; the message is one line."""


@dataclass(frozen=True, slots=True)
class Tool:
    """A PostgreSQL client program and its major version."""

    path: Path
    major: int


#: The password file the controller's service account uses (its home is the data directory).
PASSFILE = ".pgpass"


@contextlib.contextmanager
def passfile(data_dir: Path) -> Iterator[None]:
    """Within the block, libpq (psycopg, pg_dump, pg_restore) reads ``<data_dir>/.pgpass``.

    The service account finds it as ``~/.pgpass``; root restoring or backing up from a shell
    has another home. An explicit ``PGPASSFILE`` wins.
    """
    path = data_dir / PASSFILE
    if "PGPASSFILE" in os.environ or not path.is_file():
        yield
        return
    os.environ["PGPASSFILE"] = str(path)
    try:
        yield
    finally:
        os.environ.pop("PGPASSFILE", None)


def server_major(url: str) -> int:
    """The major version of the PostgreSQL server behind ``url`` (15 for 15.4)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            number = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    except SQLAlchemyError as exc:
        raise _unreachable(exc) from exc
    finally:
        engine.dispose()
    return number // 10000


def has_tables(url: str) -> bool:
    """True when the database behind ``url`` holds any table (a restore would replace it)."""
    engine = make_engine(url)
    try:
        return bool(inspect(engine).get_table_names())
    except SQLAlchemyError as exc:
        raise _unreachable(exc) from exc
    finally:
        engine.dispose()


def _unreachable(exc: SQLAlchemyError) -> PgToolError:
    return PgToolError(f"cannot connect to the database: {error_line(exc)}")


def parse_major(version_output: str) -> int | None:
    """The major version in ``pg_dump --version`` output (``pg_dump (PostgreSQL) 15.4``)."""
    match = _VERSION.search(version_output)
    return int(match.group(1)) if match else None


def check_major(name: str, client: int, needed: int, what: str) -> None:
    """Refuse a client older than ``needed`` (the server's, or the dump's ``pg_dump``)."""
    if client < needed:
        raise PgToolError(
            f"{name} {client} cannot handle {what} {needed}: install the PostgreSQL {needed} "
            f"client programs (Debian: postgresql-client-{needed}) or pass --pg-bindir"
        )


def find_tool(name: str, major: int, bindir: Path | None = None) -> Tool:
    """``name`` (pg_dump, pg_restore) for a server of version ``major``.

    Only ``bindir`` when given; otherwise the version's own directory (Debian, RHEL layouts),
    then ``PATH``. The first one found must be at least version ``major``.
    """
    if bindir is not None:
        candidates = [bindir / name]
    else:
        candidates = [Path(folder.format(major=major)) / name for folder in _VERSIONED_DIRS]
        on_path = shutil.which(name)
        if on_path is not None:
            candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            tool = Tool(candidate, _tool_major(candidate))
            check_major(name, tool.major, major, "a PostgreSQL server of version")
            return tool
    where = ", ".join(str(path.parent) for path in candidates) or "PATH"
    raise PgToolError(
        f"{name} not found (looked in {where}): install the PostgreSQL {major} client programs "
        f"(Debian: postgresql-client-{major}) or pass --pg-bindir DIR"
    )


def _tool_major(path: Path) -> int:
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise PgToolError(f"{path}: cannot run: {exc.strerror or exc}") from exc
    major = parse_major(done.stdout)
    if done.returncode != 0 or major is None:
        raise PgToolError(f"{path}: not a PostgreSQL client program ({done.stdout.strip()!r})")
    return major


def dump(tool: Tool, url: str, target: Path) -> None:
    """``pg_dump --format=custom`` of the database behind ``url`` into ``target``."""
    _run(tool, ["--format=custom", "--no-password", f"--file={target}"], url)


def restore(tool: Tool, url: str, source: Path) -> None:
    """``pg_restore`` the custom-format dump ``source`` into the database behind ``url``.

    One transaction: a failure leaves the database as it was. Objects of the dump replace those
    of the same name (``--clean --if-exists``); ownership and grants go to the connecting role.
    """
    _run(
        tool,
        [
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            str(source),
        ],
        url,
    )


def _run(tool: Tool, options: Sequence[str], url: str) -> None:
    conninfo, env = connection_args(url)
    try:
        done = subprocess.run(
            [str(tool.path), *options, f"--dbname={conninfo}"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    except OSError as exc:
        raise PgToolError(f"{tool.path}: cannot run: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise PgToolError(
            f"{tool.path.name} failed (exit {done.returncode}): "
            f"{lines[-1] if lines else 'no message'}"
        )


def connection_args(url: str) -> tuple[str, dict[str, str]]:
    """The libpq connection string of ``url`` (no password) and the environment carrying it."""
    from psycopg.conninfo import make_conninfo

    parsed = make_url(url)
    params: dict[str, str] = {}
    for key, value in parsed.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    if parsed.host:
        params["host"] = parsed.host
    if parsed.port:
        params["port"] = str(parsed.port)
    if parsed.username:
        params["user"] = parsed.username
    if parsed.database:
        params["dbname"] = parsed.database
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return make_conninfo("", **params), env
