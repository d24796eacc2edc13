"""Build throw-away network namespaces joined by veth pairs, for the connectivity scenarios.

Needs root and iproute2. Every name carries the test process id, and :class:`NetLab` removes
everything it created on exit, also after a failure (a namespace's veth ends go with it)::

    with NetLab() as lab:
        pc, gw = lab.namespace("pc"), lab.namespace("gw")
        lab.link(pc, "10.231.1.2/24", gw, "10.231.1.1/24")
        lab.run(pc, ["ip", "route", "add", "default", "via", "10.231.1.1"])
        lab.resolv_conf(pc, ["10.231.1.1"])   # bind-mounted over /etc/resolv.conf by ip netns exec

Only private 10.231.0.0/16 addresses are used, and only inside these namespaces.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

_counter = itertools.count()

IP = shutil.which("ip")


def worker_index() -> int:
    """0 in a plain pytest run or on xdist's worker ``gw0``, 1 on ``gw1``, and so on.

    Namespaces and veths carry the process id already; what lives in the root namespace and is
    not named after the process (a subnet on a veth end there) takes this instead, so that two
    workers running at once never put the same subnet on two interfaces.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    digits = worker.removeprefix("gw")
    return int(digits) if digits.isdigit() else 0


def why_not_available() -> str | None:
    """Why the namespace tests cannot run here, or ``None`` when they can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces exist only on Linux"
    if os.geteuid() != 0:
        return "building network namespaces needs root (run the integration tests as root)"
    if IP is None:
        return "the ip command (iproute2) is not installed"
    return None


class NetLab:
    """Namespaces, veth pairs and /etc/netns files made for one test, all removed on exit."""

    def __init__(self) -> None:
        self.tag = f"{os.getpid() % 100000}x{next(_counter)}"
        self.namespaces: list[str] = []
        self.veths: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    # -- building ----------------------------------------------------------------------------

    def ip(self, *args: str) -> str:
        """Run ``ip ARGS`` and return its output; raise with ip's message on failure."""
        assert IP is not None
        proc = subprocess.run([IP, *args], capture_output=True, text=True, timeout=20, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def namespace(self, role: str) -> str:
        """A new namespace with its loopback up; returns its name."""
        name = f"gg-{role}-{self.tag}"
        self.ip("netns", "add", name)
        self.namespaces.append(name)
        self.ip("-n", name, "link", "set", "lo", "up")
        return name

    def link(self, ns_a: str, addr_a: str, ns_b: str, addr_b: str) -> tuple[str, str]:
        """A veth pair between two namespaces, both ends up with the given address/prefix."""
        n = len(self.veths)
        end_a, end_b = f"gv{self.tag}a{n}"[:15], f"gv{self.tag}b{n}"[:15]
        self.veths.append(end_a)
        self.ip("link", "add", end_a, "type", "veth", "peer", "name", end_b)
        self.ip("link", "set", end_a, "netns", ns_a)
        self.ip("link", "set", end_b, "netns", ns_b)
        for ns, end, addr in ((ns_a, end_a, addr_a), (ns_b, end_b, addr_b)):
            self.ip("-n", ns, "addr", "add", addr, "dev", end)
            self.ip("-n", ns, "link", "set", end, "up")
        return end_a, end_b

    def link_root(self, addr_root: str, ns: str, addr_ns: str) -> None:
        """A veth pair between this (root) namespace and ``ns``, both ends up with addresses.

        For a service of the test that runs here (a controller) and a PC in a namespace.
        """
        n = len(self.veths)
        end_root, end_ns = f"gv{self.tag}r{n}"[:15], f"gv{self.tag}n{n}"[:15]
        self.veths.append(end_root)
        self.ip("link", "add", end_root, "type", "veth", "peer", "name", end_ns)
        self.ip("link", "set", end_ns, "netns", ns)
        self.ip("addr", "add", addr_root, "dev", end_root)
        self.ip("link", "set", end_root, "up")
        self.ip("-n", ns, "addr", "add", addr_ns, "dev", end_ns)
        self.ip("-n", ns, "link", "set", end_ns, "up")

    def run(
        self, ns: str, argv: Sequence[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside a namespace and wait for it."""
        assert IP is not None
        return subprocess.run(
            [IP, "netns", "exec", ns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def forward(self, ns: str) -> None:
        """Turn the namespace into a router (net.ipv4.ip_forward is per namespace)."""
        code = "open('/proc/sys/net/ipv4/ip_forward', 'w').write('1')"
        proc = self.run(ns, [sys.executable, "-c", code])
        if proc.returncode != 0:
            raise RuntimeError(f"cannot enable forwarding in {ns}: {proc.stderr.strip()}")

    def resolv_conf(self, ns: str, servers: Sequence[str]) -> None:
        """/etc/netns/<ns>/resolv.conf, which ``ip netns exec`` mounts over /etc/resolv.conf."""
        folder = Path("/etc/netns") / ns
        folder.mkdir(parents=True, exist_ok=True)
        text = "# govguard test namespace\n" + "".join(f"nameserver {s}\n" for s in servers)
        (folder / "resolv.conf").write_text(text, encoding="utf-8")

    def spawn(self, ns: str, argv: Sequence[str], cwd: Path, ready: bytes = b"ready") -> None:
        """Start a long-running program in a namespace and wait for its ``ready`` line.

        The program must exit by itself (``--lifetime``); it is also terminated on exit.
        """
        assert IP is not None
        env = {**os.environ, "PYTHONPATH": str(cwd)}
        proc = subprocess.Popen(
            [IP, "netns", "exec", ns, *argv],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.processes.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the program prints "ready" or dies
        if ready not in line:
            proc.kill()
            _out, err = proc.communicate(timeout=5)
            raise RuntimeError(f"{argv[0]} did not start in {ns}: {err.decode()[-500:]}")

    # -- teardown ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop spawned programs, delete namespaces (their veths go too) and /etc/netns files."""
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for ns in self.namespaces:
            subprocess.run([IP or "ip", "netns", "del", ns], capture_output=True, check=False)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        with contextlib.suppress(OSError):  # only when empty: others may use it too
            Path("/etc/netns").rmdir()
        for veth in self.veths:  # only left in the root namespace if a move failed
            subprocess.run([IP or "ip", "link", "del", veth], capture_output=True, check=False)

    def __enter__(self) -> NetLab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
