"""A Linux "test host" that Ansible reaches over SSH, and that cannot change the real machine.

:class:`TestHost` builds a network namespace wired by a veth pair to the root namespace (one
/30 in ``10.231.<120 + worker>.0/24``), and starts a real ``sshd`` inside it *and* inside a
private mount namespace in which ``/etc``, ``/root``, ``/usr``, ``/var`` and ``/opt`` are
overlayfs mounts: the real directories are the lower layers, and every file a playbook writes
lands in the test's own upper directories (:meth:`TestHost.upper`), which the test can read
before and after a run. nftables rulesets and links live in the network namespace, so
``nft`` and ``ip link`` inside change nothing outside either::

    with TestHost(tmp_path / "host") as host:
        host.reachable()                               # True: TCP connect to its sshd
        inventory = host.ansible_inventory(groups=("classified",))
        ...ansible-playbook -i inventory.json ...
        host.run(["nft", "list", "ruleset"]).stdout    # inside both namespaces
        (host.upper("/etc") / "nftables.conf").exists()

Root logs in by a generated Ed25519 key only; the host key is pinned in :attr:`known_hosts`.
Everything (sshd and whatever a session left running, the mounts, the namespace, its veth) is
removed on exit, also after a failure. Needs root, iproute2, util-linux (unshare, nsenter) and
openssh-server.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.netns import IP, NetLab, worker_index
from tests.support.netns import why_not_available as netns_unavailable
from tests.support.sshd import PRIVSEP_DIR, SSHD, keygen

#: The directories a playbook may write to, each made an overlay inside the host (when present).
OVERLAID: tuple[str, ...] = ("/etc", "/root", "/usr", "/var", "/opt")
#: sshd's port inside the namespace: the namespace is the host's own, so the usual one is free.
SSH_PORT = 22
_instances = itertools.count()


def why_not_available() -> str | None:
    """Why a test host cannot be built here, or ``None`` when it can."""
    reason = netns_unavailable()
    if reason is not None:
        return reason
    if not SSHD.exists():
        return f"{SSHD} is not installed (apt install openssh-server)"
    for tool in ("/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/ssh-keygen"):
        if not Path(tool).exists():
            return f"{tool} is not installed"
    if "overlay" not in Path("/proc/filesystems").read_text(encoding="utf-8"):
        return "the kernel has no overlayfs"
    return None


def _root_addresses() -> set[str]:
    """IPv4 addresses on the root namespace's interfaces (to pick a /30 nobody uses)."""
    assert IP is not None
    out = subprocess.run(
        [IP, "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False
    ).stdout
    return {line.split()[3].split("/")[0] for line in out.splitlines() if len(line.split()) > 3}


class TestHost:
    """One namespace host with its sshd; a context manager (see the module docstring)."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, folder: Path, overlaid: Iterable[str] = OVERLAID) -> None:
        self.folder = folder
        self.overlaid = tuple(d for d in overlaid if Path(d).is_dir())
        self.lab = NetLab()
        self.namespace = ""
        self.address = ""
        #: The root namespace's end of the veth (where a controller of the test can listen).
        self.gateway = ""
        self.port = SSH_PORT
        self.key_file = folder / "client_ed25519"
        self.known_hosts = folder / "known_hosts"
        self.host_key = folder / "ssh_host_ed25519_key"
        self.log: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None

    # -- building ----------------------------------------------------------------------------

    def start(self) -> TestHost:
        """Build the namespace, the overlays and sshd; returns self (cleans up on failure)."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.namespace = self.lab.namespace("host")
        self.gateway, self.address = self._pick_subnet()
        self.lab.link_root(f"{self.gateway}/30", self.namespace, f"{self.address}/30")
        keygen(self.host_key, "govguard-test-host")
        keygen(self.key_file, "govguard-test-controller")
        pub = self.host_key.with_name(self.host_key.name + ".pub").read_text().split()
        self.known_hosts.write_text(f"{self.address} {pub[0]} {pub[1]}\n", encoding="utf-8")
        authorized = self.folder / "authorized_keys"
        authorized.write_text(self.key_file.with_name(self.key_file.name + ".pub").read_text())
        config = self.folder / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress {self.address}",
                    f"Port {self.port}",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {authorized}",
                    f"PidFile {self.folder / 'sshd.pid'}",
                    "AllowUsers root",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    # Ansible's modules are run by python over the session; sftp is not needed
                    # (pipelining), but scp/sftp fallbacks are cheap to allow.
                    "Subsystem sftp internal-sftp",
                    "LogLevel VERBOSE",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        assert IP is not None
        # `ip netns exec` enters the network namespace (and a mount namespace of its own);
        # unshare makes a further, private one, so the overlays never propagate to the real
        # machine; the shell mounts them and then *is* sshd (exec), so its pid is the way in.
        argv = [
            IP, "netns", "exec", self.namespace,
            "/usr/bin/unshare", "--mount", "--propagation", "private",
            "/bin/sh", "-c", self._boot_script(config),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        threading.Thread(target=self._read_log, args=(self._proc,), daemon=True).start()
        self._wait_listening()

    def _pick_subnet(self) -> tuple[str, str]:
        """A /30 of this worker's /24 that no root interface uses yet: (root end, host end)."""
        octet = 120 + worker_index()
        used = _root_addresses()
        start = (os.getpid() + next(_instances)) % 64
        for i in range(64):
            block = 4 * ((start + i) % 64)
            root_end, host_end = f"10.231.{octet}.{block + 1}", f"10.231.{octet}.{block + 2}"
            if root_end not in used:
                return root_end, host_end
        raise RuntimeError(f"every /30 of 10.231.{octet}.0/24 is in use")

    def _boot_script(self, config: Path) -> str:
        lines = ["set -e"]
        for directory in self.overlaid:
            upper, work = self.upper(directory), self.folder / "work" / directory.strip("/")
            upper.mkdir(parents=True, exist_ok=True)
            work.mkdir(parents=True, exist_ok=True)
            options = f"lowerdir={directory},upperdir={upper},workdir={work}"
            lines.append(f"mount -t overlay overlay -o {shlex.quote(options)} {directory}")
        if "/root" in self.overlaid:
            # A district PC's root has Debian's shell defaults. This machine's root .bashrc starts
            # pyenv, whose rehash waits up to a minute for its lock on every SSH login (Ansible
            # logs in once per task) and whose shims would win interpreter discovery.
            lines.append("printf '# test host: Debian defaults\\n' > /root/.bashrc")
        lines.append(f"exec {SSHD} -D -e -f {shlex.quote(str(config))}")
        return "\n".join(lines)

    def _read_log(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.log.append(line.decode("utf-8", "replace").rstrip())

    def _wait_listening(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError("the test host's sshd exited: " + " | ".join(self.log[-5:]))
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the test host's sshd did not listen: {self.log[-5:]}")

    # -- using -------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """sshd's process id: the door into the host's network and mount namespaces."""
        if self._proc is None:
            raise RuntimeError("the test host is not running")
        return self._proc.pid

    def upper(self, directory: str) -> Path:
        """The overlay's upper directory for ``directory`` (``"/etc"``): what was written there."""
        return self.folder / "upper" / directory.strip("/")

    def written(self) -> dict[str, bytes | str]:
        """Every path in the upper directories, with file contents or a link target.

        Comparing two of these shows whether anything was written (check mode writes nothing).
        """
        found: dict[str, bytes | str] = {}
        for directory in self.overlaid:
            top = self.upper(directory)
            for path in sorted(top.rglob("*")):
                key = f"{directory}/{path.relative_to(top)}"
                if path.is_symlink():
                    found[key] = f"-> {path.readlink()}"
                elif path.is_file():
                    found[key] = path.read_bytes()
                else:
                    found[key] = f"{path.stat().st_mode:o}"
        return found

    def run(
        self, argv: Sequence[str], timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the host (its network and mount namespaces) and wait for it."""
        return subprocess.run(
            ["/usr/bin/nsenter", "--target", str(self.pid), "--net", "--mount", "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )

    def reachable(self, timeout_s: float = 2.0) -> bool:
        """Whether the host's sshd answers a TCP connection from the root namespace.

        The SSH banner is awaited, not only the connection: where the root namespace's default
        route leads to a proxy that accepts any connection, a bare connect proves nothing.
        """
        if self._proc is None:
            return False  # closed: its address is no longer routed to a namespace of ours
        try:
            with socket.create_connection((self.address, self.port), timeout=timeout_s) as sock:
                sock.settimeout(timeout_s)
                return sock.recv(4).startswith(b"SSH-")
        except OSError:
            return False

    def ansible_host_vars(self) -> dict[str, Any]:
        """The connection variables Ansible needs for this host."""
        ssh_args = [
            f"-o UserKnownHostsFile={self.known_hosts}",
            "-o StrictHostKeyChecking=yes",
            # No ControlMaster: a persisted master would outlive the namespace (and the test).
            "-o ControlMaster=no",
            "-o ControlPath=none",
        ]
        return {
            "ansible_host": self.address,
            "ansible_port": self.port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.key_file),
            "ansible_ssh_common_args": " ".join(ssh_args),
            "ansible_ssh_pipelining": True,
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def ansible_inventory(
        self, name: str = "testhost", groups: Sequence[str] = ()
    ) -> dict[str, Any]:
        """A JSON/YAML inventory with this host as ``name``, also in each of ``groups``."""
        children: dict[str, Any] = {group: {"hosts": {name: {}}} for group in groups}
        return {"all": {"hosts": {name: self.ansible_host_vars()}, "children": children}}

    # -- teardown ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every process of the host, then remove the namespace and its veth."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self.namespace:
            # Sessions sshd started (and anything they left running, e.g. an async task) live
            # on after it; the mounts go when the last of them exits.
            assert IP is not None
            pids = subprocess.run(
                [IP, "netns", "pids", self.namespace], capture_output=True, text=True, check=False
            ).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        self.lab.close()

    def __enter__(self) -> TestHost:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
