"""SSH client for agentless collection: the only module that imports paramiko.

Rules (docs/discovery.md, "Agentless SSH collection"):

- key authentication only: no password, no SSH agent, no keys found lying around;
- strict host keys: the host key must be pinned in the controller's own known_hosts file
  (``govguard ssh trust``). An unknown key is refused with its fingerprint; a key that differs
  from the pinned one is refused too. Nothing is ever trusted on first use;
- the connection, the handshake and each command have a deadline; a command that overruns is
  cut and the others still run;
- what the host sends is hostile: every output is capped, and decoded with replacement.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import os
import re
import select
import socket
import stat
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from controller.discovery.ssh_commands import STDERR_MAX_BYTES, Command, CommandResult

log = logging.getLogger(__name__)
# paramiko's transport thread logs every failed handshake with a traceback at ERROR; each one
# is already turned into one SshError line here, so its own records would only repeat it.
logging.getLogger("paramiko").setLevel(logging.CRITICAL)

SSH_PORT = 22
#: Commands run at once on one connection (below sshd's default MaxSessions of 10).
CHANNELS = 4
#: RFC 1123 host name labels; an IP address is checked by :mod:`ipaddress`.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
#: A login name as useradd(8) accepts it (never starting with '-').
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


class SshError(Exception):
    """A collection that could not happen; ``code`` is one of :data:`ERROR_CODES`.

    ``fingerprint`` is the host key the host presented (unknown and changed keys), ``expected``
    the pinned one (changed keys).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        fingerprint: str | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fingerprint = fingerprint
        self.expected = expected


#: Every :attr:`SshError.code`.
ERROR_CODES = (
    "invalid",
    "unreachable",
    "refused",
    "timeout",
    "auth",
    "unknown_host_key",
    "changed_host_key",
    "protocol",
    "key_file",
    "known_hosts",
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to log in: a validated host, port and user name."""

    host: str
    port: int = SSH_PORT
    username: str = "root"

    @property
    def known_hosts_name(self) -> str:
        """The host's name in known_hosts: ``host``, or ``[host]:port`` off port 22 (sshd(8))."""
        return self.host if self.port == SSH_PORT else f"[{self.host}]:{self.port}"

    def __str__(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"


def endpoint(host: str, port: int = SSH_PORT, username: str = "root") -> Endpoint:
    """A checked :class:`Endpoint`; raises :class:`SshError` (``invalid``) with the reason."""
    return Endpoint(check_host(host), check_port(port), check_username(username))


def check_host(host: str) -> str:
    """A DNS name or an IP address, never anything a command line or a known_hosts line
    could read otherwise (spaces, brackets, commas, a leading '-')."""
    text = host.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    name = text.rstrip(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(p) for p in name.split(".")):
        raise SshError("invalid", f"{host!r} is not a host name or an IP address")
    return name.lower()


def check_port(port: int) -> int:
    """A TCP port number."""
    if not 1 <= port <= 65535:
        raise SshError("invalid", f"port {port} is not between 1 and 65535")
    return port


def check_username(name: str) -> str:
    """A login name as useradd(8) accepts it."""
    if not _USER.fullmatch(name):
        raise SshError("invalid", f"{name!r} is not a valid login name")
    return name


def check_fingerprint(text: str) -> str:
    """``SHA256:`` and 43 base64 characters, as ``ssh-keygen -lf`` prints it."""
    value = text.strip()
    if not _FINGERPRINT.fullmatch(value):
        raise SshError(
            "invalid", f"{text!r} is not a SHA256 fingerprint (SHA256: and 43 characters)"
        )
    return value


def fingerprint(key: paramiko.PKey) -> str:
    """The key's SHA256 fingerprint in OpenSSH's form (``SHA256:`` + unpadded base64)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# --- keys -------------------------------------------------------------------------------------


def generate_key(path: Path, comment: str = "govguard") -> str:
    """Write a new Ed25519 private key (OpenSSH format, mode 0600) and return its public line.

    Refuses to overwrite an existing file: hosts already trust the key that is there.
    """
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    line = f"{public.decode()} {comment}\n"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise SshError("key_file", f"{path} exists already; it is kept") from exc
    except OSError as exc:
        raise SshError("key_file", f"cannot write {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    path.with_name(path.name + ".pub").write_text(line, encoding="ascii")
    return line


def load_private_key(path: Path) -> paramiko.PKey:
    """The controller's private key; refused when others may read it (as ssh(1) does)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise SshError(
            "key_file", f"no SSH key at {path} (create one with `govguard ssh keygen`)"
        ) from exc
    except OSError as exc:
        raise SshError("key_file", f"cannot read {path}: {exc.strerror or exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SshError(
            "key_file", f"{path} is readable by other users (mode {mode & 0o777:o}); chmod 600 it"
        )
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException as exc:
        raise SshError("key_file", f"{path} is protected by a passphrase (not supported)") from exc
    except (paramiko.SSHException, OSError, ValueError) as exc:
        raise SshError("key_file", f"{path} is not a usable private key: {exc}") from exc


def public_line(key: paramiko.PKey) -> str:
    """``<type> <base64>`` of a key, as authorized_keys and known_hosts hold it."""
    return f"{key.get_name()} {key.get_base64()}"


def read_public_key(path: Path) -> paramiko.PKey:
    """A host's public key from a ``.pub`` file (``ssh-ed25519 AAAA... comment``)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise SshError("invalid", f"cannot read {path}: {exc.strerror or exc}") from exc
    fields = text.split()
    if len(fields) < 2:
        raise SshError("invalid", f"{path} is not a public key file (type and base64)")
    try:
        key = paramiko.PKey.from_type_string(fields[0], base64.b64decode(fields[1]))
    except (paramiko.SSHException, ValueError, TypeError) as exc:
        raise SshError("invalid", f"{path} is not a usable public key: {exc}") from exc
    return key


# --- known hosts ------------------------------------------------------------------------------


def _host_keys(path: Path) -> paramiko.HostKeys:
    keys = paramiko.HostKeys()
    if path.exists():
        try:
            keys.load(str(path))
        except (OSError, paramiko.SSHException, ValueError) as exc:
            raise SshError("known_hosts", f"cannot read {path}: {exc}") from exc
    return keys


def pinned_key(known_hosts: Path, target: Endpoint) -> paramiko.PKey | None:
    """The host key pinned for ``target`` (the first one, whatever its type), or None."""
    entry = _host_keys(known_hosts).lookup(target.known_hosts_name)
    if not entry:
        return None
    return next(iter(entry.values()))


def pin_host_key(known_hosts: Path, target: Endpoint, key: paramiko.PKey) -> paramiko.PKey | None:
    """Pin ``key`` as the host key of ``target``, replacing any pinned before; returns the one
    it replaced (None if none or the same). The file is written mode 0600."""
    keys = _host_keys(known_hosts)
    name = target.known_hosts_name
    previous = keys.lookup(name)
    old = next(iter(previous.values())) if previous else None
    # One key per host: a replaced key of another type must not stay trusted beside it.
    while keys.lookup(name) is not None:
        del keys[name]
    keys.add(name, key.get_name(), key)
    known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = known_hosts.with_name(known_hosts.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    keys.save(str(tmp))
    tmp.replace(known_hosts)
    return None if old is None or old == key else old


def pinned_hosts(known_hosts: Path) -> dict[str, str]:
    """Every pinned host name with its key's fingerprint."""
    keys = _host_keys(known_hosts)
    out: dict[str, str] = {}
    for name in list(keys.keys()):
        entry = keys.lookup(name)
        if entry:
            out.setdefault(name, fingerprint(next(iter(entry.values()))))
    return out


# --- connecting -------------------------------------------------------------------------------


class _UnknownHostKeyError(Exception):
    def __init__(self, key: paramiko.PKey) -> None:
        super().__init__("unknown host key")
        self.key = key


class _Refuse(paramiko.RejectPolicy):  # type: ignore[misc]  # paramiko is untyped
    """paramiko's RejectPolicy, keeping the refused key so that its fingerprint can be shown."""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        """Refuse the connection (raises)."""
        raise _UnknownHostKeyError(key)


def trust_command(target: Endpoint, key_fingerprint: str) -> str:
    """The command an operator runs after checking the fingerprint with the host's owner."""
    port = f" --port {target.port}" if target.port != SSH_PORT else ""
    return f"govguard ssh trust {target.host}{port} --fingerprint {key_fingerprint}"


def _connect_error(exc: BaseException, target: Endpoint, timeout_s: float) -> SshError:
    """One :class:`SshError` for whatever connecting raised."""
    if isinstance(exc, _UnknownHostKeyError):
        fp = fingerprint(exc.key)
        return SshError(
            "unknown_host_key",
            f"the host key of {target.known_hosts_name} ({exc.key.get_name()} {fp}) is not "
            f"pinned; check it with the host's administrator (ssh-keygen -lf "
            f"/etc/ssh/ssh_host_*_key.pub on the host), then run: {trust_command(target, fp)}",
            fingerprint=fp,
        )
    if isinstance(exc, paramiko.BadHostKeyException):
        got, expected = fingerprint(exc.key), fingerprint(exc.expected_key)
        return SshError(
            "changed_host_key",
            f"the host key of {target.known_hosts_name} changed: pinned {expected}, presented "
            f"{got}; refused (a reinstalled host, or someone in the middle). Once the "
            f"administrator has confirmed the new key, run: {trust_command(target, got)}",
            fingerprint=got,
            expected=expected,
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return SshError(
            "auth",
            f"{target} refused the controller's key ({exc}); add the public key "
            f"(`govguard ssh keygen` printed it) to ~{target.username}/.ssh/authorized_keys",
        )
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return SshError("refused", f"{target.host}:{target.port} refused the connection")
    if isinstance(exc, TimeoutError | socket.timeout):
        return SshError("timeout", f"{target.host}:{target.port} did not answer in {timeout_s:g} s")
    if isinstance(exc, socket.gaierror):
        return SshError("unreachable", f"cannot resolve {target.host}: {exc.strerror or exc}")
    if isinstance(exc, paramiko.SSHException):
        text = str(exc)
        cause = exc.__cause__ or exc.__context__
        banner = "banner" in text.lower() and (
            isinstance(cause, TimeoutError | socket.timeout) or "timed out" in text.lower()
        )
        # start_client() returns at its deadline without an error while the banner is still
        # awaited; the next step then finds "No existing session".
        if banner or text == "No existing session":
            return SshError(
                "timeout",
                f"{target.host}:{target.port} accepted the connection but did not complete the "
                f"SSH handshake (no banner) in {timeout_s:g} s (not an SSH server?)",
            )
        return SshError("protocol", f"SSH with {target.host}:{target.port} failed: {text}")
    if isinstance(exc, ConnectionRefusedError):
        return SshError("refused", f"{target.host}:{target.port} refused the connection")
    if isinstance(exc, EOFError | ConnectionError):
        return SshError("protocol", f"{target.host}:{target.port} closed the connection")
    if isinstance(exc, OSError):
        reason = exc.strerror or exc
        return SshError("unreachable", f"cannot reach {target.host}:{target.port}: {reason}")
    return SshError("protocol", f"SSH with {target.host}:{target.port} failed: {exc}")


@contextmanager
def connect(
    target: Endpoint,
    *,
    key: paramiko.PKey,
    known_hosts: Path,
    timeout_s: float,
) -> Iterator[paramiko.SSHClient]:
    """An authenticated SSH session to ``target``, closed when the block ends.

    Raises :class:`SshError`. The host key is checked against ``known_hosts`` only (never the
    user's ~/.ssh/known_hosts), before authentication.
    """
    client = paramiko.SSHClient()
    keys = _host_keys(known_hosts)
    for name, entry in keys.items():
        for key_type, host_key in entry.items():
            client.get_host_keys().add(name, key_type, host_key)
    client.set_missing_host_key_policy(_Refuse())
    try:
        client.connect(
            target.host,
            port=target.port,
            username=target.username,
            pkey=key,
            allow_agent=False,
            look_for_keys=False,
            timeout=timeout_s,
            banner_timeout=timeout_s,
            auth_timeout=timeout_s,
            channel_timeout=timeout_s,
        )
    except Exception as exc:
        client.close()
        raise _connect_error(exc, target, timeout_s) from exc
    try:
        yield client
    finally:
        client.close()


def fetch_host_key(target: Endpoint, timeout_s: float) -> paramiko.PKey:
    """The host key ``target`` presents (a key exchange, no authentication)."""
    try:
        sock = socket.create_connection((target.host, target.port), timeout=timeout_s)
    except Exception as exc:
        raise _connect_error(exc, target, timeout_s) from exc
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout_s
    try:
        transport.start_client(timeout=timeout_s)
        return transport.get_remote_server_key()
    except Exception as exc:
        raise _connect_error(exc, target, timeout_s) from exc
    finally:
        transport.close()


# --- commands ---------------------------------------------------------------------------------


def _decode(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


def run_command(client: paramiko.SSHClient, command: Command, timeout_s: float) -> CommandResult:
    """Run one command on its own channel, reading at most ``command.max_bytes`` of output.

    A command that runs past ``timeout_s`` or prints more than its limit is cut (its channel is
    closed) and comes back with ``error`` set; the connection stays usable for the next one.
    """
    transport = client.get_transport()
    if transport is None or not transport.is_active():
        return CommandResult(error="the SSH connection was closed")
    deadline = time.monotonic() + timeout_s
    try:
        channel = transport.open_session(timeout=timeout_s)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return CommandResult(error=f"cannot open a channel: {exc}")
    out, err = bytearray(), bytearray()
    error: str | None = None
    try:
        channel.exec_command(command.line)
        channel.shutdown_write()
        while True:
            while channel.recv_ready() and len(out) <= command.max_bytes:
                out += channel.recv(65536)
            # Standard error past its limit is read and dropped, a few chunks per turn so that
            # a flood of it still meets the deadline check below.
            for _ in range(16):
                if not channel.recv_stderr_ready():
                    break
                chunk = channel.recv_stderr(65536)
                if len(err) < STDERR_MAX_BYTES:
                    err += chunk[: STDERR_MAX_BYTES - len(err)]
            if len(out) > command.max_bytes:
                error = f"output larger than {command.max_bytes} bytes: cut"
                break
            if channel.exit_status_ready() and not (
                channel.recv_ready() or channel.recv_stderr_ready()
            ):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                error = f"no end within {timeout_s:g} s: cut"
                break
            select.select([channel], [], [], min(remaining, 0.2))
    except (paramiko.SSHException, OSError, EOFError) as exc:
        error = f"the channel failed: {exc}"
    status = channel.recv_exit_status() if error is None else None
    channel.close()
    if error is not None:
        log.info("ssh %s: %s: %s", client, command.name, error)
        return CommandResult(stdout="", stderr=_decode(err), exit_status=None, error=error)
    return CommandResult(stdout=_decode(out), stderr=_decode(err), exit_status=status)


def run_commands(
    target: Endpoint,
    commands: Sequence[Command],
    *,
    key_file: Path,
    known_hosts: Path,
    connect_timeout_s: float,
    command_timeout_s: float,
) -> dict[str, CommandResult]:
    """Log in to ``target`` once and run ``commands``, :data:`CHANNELS` at a time.

    Raises :class:`SshError` when the session cannot be opened; a command that fails or hangs
    only marks its own result.
    """
    key = load_private_key(key_file)
    # A few channels at once: starting a session costs the host a fork and a shell (a few
    # hundred milliseconds on a busy one), and sshd allows ten per connection (MaxSessions).
    with (
        connect(target, key=key, known_hosts=known_hosts, timeout_s=connect_timeout_s) as client,
        ThreadPoolExecutor(max_workers=CHANNELS, thread_name_prefix="ssh") as pool,
    ):
        done = pool.map(lambda c: run_command(client, c, command_timeout_s), commands)
        return {command.name: result for command, result in zip(commands, done, strict=True)}
