"""A real OpenSSH server on a loopback port for the agentless collection tests.

``Sshd(folder).start()`` generates an Ed25519 host key and a client key with ssh-keygen, writes
an sshd_config that accepts only that client key (no password, no PAM) for the current user,
and runs ``/usr/sbin/sshd -D -e`` on 127.0.0.1 and a port the kernel picked.
:meth:`Sshd.new_host_key` restarts it with another host key (a reinstalled host, or a
man in the middle).
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
#: OpenSSH's privilege separation directory; sshd refuses to start without it.
PRIVSEP_DIR = Path("/run/sshd")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def keygen(path: Path, comment: str) -> None:
    """An Ed25519 key pair without a passphrase (``path`` and ``path.pub``)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


class Sshd:
    """One sshd process and its files under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.user = getpass.getuser()
        self.host_key = folder / "ssh_host_ed25519_key"
        self.client_key = folder / "client_ed25519"
        self.authorized_keys = folder / "authorized_keys"
        self.config = folder / "sshd_config"
        self.log: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> str | None:
        """Why sshd cannot run here, or None."""
        if not SSHD.exists():
            return f"{SSHD} is not installed (apt install openssh-server)"
        if shutil.which("ssh-keygen") is None:
            return "ssh-keygen is not installed (apt install openssh-client)"
        return None

    def start(self) -> Sshd:
        """Generate the keys (once) and start the server; returns self."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.host_key.exists():
            keygen(self.host_key, "test-host")
        if not self.client_key.exists():
            keygen(self.client_key, "govguard-test")
            self.authorized_keys.write_text(
                (self.client_key.with_name(self.client_key.name + ".pub")).read_text()
            )
        self.config.write_text(
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"Port {self.port}",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    f"PidFile {self.folder / 'sshd.pid'}",
                    f"AllowUsers {self.user}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    "StrictModes no",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        self._proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        threading.Thread(target=self._read_log, args=(self._proc,), daemon=True).start()
        self._wait_listening()
        return self

    def _read_log(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.log.append(line.decode("utf-8", "replace").rstrip())

    def _wait_listening(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError("sshd exited: " + " | ".join(self.log[-5:]))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen on port {self.port}: {self.log[-5:]}")

    def host_public_key(self) -> Path:
        """The host key's ``.pub`` file."""
        return self.host_key.with_name(self.host_key.name + ".pub")

    def fingerprint(self) -> str:
        """``SHA256:...`` of the current host key, as ssh-keygen prints it."""
        out = subprocess.run(
            ["ssh-keygen", "-l", "-f", str(self.host_public_key())],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return out.split()[1]

    def new_host_key(self) -> None:
        """Restart with a freshly generated host key on the same port."""
        self.stop()
        for path in (self.host_key, self.host_public_key()):
            path.unlink()
        self.start()

    def stop(self) -> None:
        """Stop the server (and wait for it)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class SilentListener:
    """A TCP listener that accepts connections and never says a word (not an SSH server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port: int = self.sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        """Stop listening and drop the held connections."""
        self.sock.close()
        for conn in self._held:
            conn.close()
