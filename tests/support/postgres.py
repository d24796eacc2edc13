"""Find or start a PostgreSQL server for tests, and make throwaway databases on it.

:func:`shared_server` answers "where is PostgreSQL?": the server on 127.0.0.1:5432 when one
answers (user ``postgres``, trust auth, as CI and the dev machines run it), otherwise a private
cluster started from Debian's ``postgresql`` binaries for the rest of the test run. Tests never
stop the shared server; a test that must stop or restart PostgreSQL (ingest during a database
restart) starts its own :class:`TempCluster`::

    with TempCluster() as cluster:
        engine = make_engine(cluster.url("postgres"))
        ...
        cluster.restart()

``initdb`` refuses to run as root, so as root the cluster runs as the ``postgres`` system user
(or ``nobody``) through ``runuser``. It listens on 127.0.0.1 only, on a free port, with its
socket inside its own temporary folder and trust authentication.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

__all__ = [
    "PostgresUnavailableError",
    "Server",
    "TempCluster",
    "create_database",
    "drop_database",
    "shared_server",
    "throwaway_name",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5432
SUPERUSER = "postgres"
# Generous: initdb plus the first start take a few seconds on a loaded CI machine.
START_TIMEOUT_S = 60


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server answers and none could be started."""


@dataclass(frozen=True)
class Server:
    """Where a PostgreSQL server listens (trust auth for ``user``)."""

    host: str
    port: int
    user: str = SUPERUSER

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3) of a database on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string of a database on this server."""
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def answers(self, timeout_s: float = 3.0) -> bool:
        """True when the server accepts a connection now."""
        try:
            with psycopg.connect(self.conninfo(), connect_timeout=max(1, round(timeout_s))):
                return True
        except psycopg.Error:
            return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((DEFAULT_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _bin_dir() -> Path:
    def version(initdb: Path) -> int:
        name = initdb.parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version)
    if not found:
        raise PostgresUnavailableError(
            "no PostgreSQL server answers on 127.0.0.1:5432 and the postgresql binaries "
            "(/usr/lib/postgresql/*/bin/initdb) are not installed: install the postgresql "
            "package or start a server on 127.0.0.1:5432 (trust auth, user postgres)"
        )
    return found[-1].parent


def _run_as() -> str | None:
    """The system user to run PostgreSQL as: None when not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in (SUPERUSER, "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailableError("running as root and neither user postgres nor nobody exists")


class TempCluster:
    """A private PostgreSQL cluster in a temporary folder, which its owner may stop and restart.

    ``start()`` runs initdb the first time; ``stop()`` keeps the data (``start()`` again brings
    the same databases back on the same port); ``cleanup()`` stops and deletes everything.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.host = DEFAULT_HOST
        self._bin = _bin_dir()
        self._user = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="gg-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log_file = self.root / "postgres.log"
        self.running = False
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def server(self) -> Server:
        """Connection details of this cluster."""
        return Server(self.host, self.port)

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL of a database in this cluster."""
        return self.server.url(dbname)

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
            cwd=self.root,
        )
        if done.returncode != 0:
            log = ""
            with contextlib.suppress(OSError):
                log = self.log_file.read_text(errors="replace")[-2000:]
            raise PostgresUnavailableError(
                f"{args[0]} failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}\n{log}"
            )

    def start(self) -> TempCluster:
        """Create the cluster if needed and start it; returns self once it accepts connections."""
        if self.running:
            return self
        if not self.data_dir.exists():
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            )
            self._mkdir_owned(self.socket_dir)
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-o",
            # Loopback only, socket in our own folder (not /var/run/postgresql). fsync=off only
            # skips flushing the OS cache, which an immediate stop (a crash of the server, not of
            # the machine) keeps; commits stay synchronous so acknowledged data survive it.
            f"-h {self.host} -p {self.port} -k {self.socket_dir} -c fsync=off "
            "-c full_page_writes=off",
            "start",
        )
        self.running = True
        return self

    def _mkdir_owned(self, path: Path) -> None:
        path.mkdir(exist_ok=True)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: smart, fast or immediate); the data stay."""
        if not self.running:
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")
        self.running = False

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again on the same port."""
        self.stop(mode)
        self.start()

    def cleanup(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TempCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


_lock = threading.Lock()
_shared: Server | None = None


def shared_server() -> Server:
    """The PostgreSQL server every test shares; never stop it.

    127.0.0.1:5432 when it answers, else a private cluster started once for this process and
    removed when the process exits. Raises :class:`PostgresUnavailableError` with the reason
    when neither works.
    """
    global _shared
    with _lock:
        if _shared is None:
            default = Server(DEFAULT_HOST, DEFAULT_PORT)
            if default.answers():
                _shared = default
            else:
                cluster = TempCluster()
                try:
                    cluster.start()
                except BaseException:
                    cluster.cleanup()
                    raise
                atexit.register(cluster.cleanup)
                _shared = cluster.server
        return _shared


def throwaway_name(prefix: str = "gg_") -> str:
    """A fresh database name such as ``gg_3f9a0c12d4e5``."""
    return f"{prefix}{secrets.token_hex(6)}"


def create_database(server: Server, name: str | None = None, *, template: str | None = None) -> str:
    """Create a database on ``server``, empty or a copy of ``template``; returns its name."""
    name = name or throwaway_name()
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(statement)
    return name


def drop_database(server: Server, name: str) -> None:
    """Drop a database even while connections are open (PostgreSQL 13+ ``WITH (FORCE)``)."""
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
