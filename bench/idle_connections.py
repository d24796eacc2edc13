"""Memory held by idle kept-alive agent connections, against the bare endpoint.

The controller keeps each agent's HTTPS connection open across the heartbeat interval
(controller.server.keep_alive_s) so a heartbeat does not pay a TLS handshake; this measures what
that costs. It starts ``govguard serve`` (SQLite) and, in the same run, the bare endpoint of
bench/ingest.py (``bench/_bare_app.py``, FastAPI under the same uvicorn and TLS certificate),
opens N TLS connections to each, sends one request on every connection (the controller's
``POST /api/v1/reports`` without an envelope, answered 401; the same request to the bare
endpoint, answered 204) and leaves them idle. The resident set (``VmRSS``) of the server process
before and after, divided by N, is the cost of one idle connection; the difference to the bare
endpoint is what the controller adds to uvicorn, TLS and FastAPI.

    .venv/bin/python bench/idle_connections.py               # 2000 connections
    .venv/bin/python bench/idle_connections.py --connections 500
"""

from __future__ import annotations

import argparse
import resource
import socket
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import (  # noqa: E402
    Controller,
    bare_argv,
    free_port,
    init_controller,
    running,
    serve_argv,
)

#: Seconds the server gets to settle (allocator, garbage collector) before RSS is read.
SETTLE_S = 2.0
#: A request the controller refuses cheaply (no envelope): the connection stays open.
REQUEST = b"POST /api/v1/reports HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}"


@dataclass
class Held:
    """RSS of one server before and with its idle connections."""

    name: str
    before_mib: float
    after_mib: float
    connections: int

    @property
    def per_connection_kib(self) -> float:
        """KiB of resident memory per idle connection."""
        return (self.after_mib - self.before_mib) * 1024 / self.connections


def rss_mib(pid: int) -> float:
    """``VmRSS`` of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for process {pid}")


def open_idle(port: int, ca_file: Path) -> ssl.SSLSocket:
    """A TLS connection that sent one request, read its answer's head and now stays idle."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    sock = ctx.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="localhost"
    )
    sock.sendall(REQUEST)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit(f"port {port} closed the connection instead of answering")
        head += chunk
    if b"connection: close" in head.lower():
        raise SystemExit(f"port {port} does not keep connections alive: {head[:200]!r}")
    return sock


def measure(name: str, pid: int, port: int, ca_file: Path, count: int) -> Held:
    """Open ``count`` idle connections to ``port`` and read the server's RSS before and after."""
    for _ in range(20):  # warm up: first TLS handshakes, imports on first request
        open_idle(port, ca_file).close()
    time.sleep(SETTLE_S)
    before = rss_mib(pid)
    held = []
    for done in range(count):
        held.append(open_idle(port, ca_file))
        if (done + 1) % 500 == 0:
            print(f"[{name}] {done + 1}/{count} connections open", file=sys.stderr)
    time.sleep(SETTLE_S)
    after = rss_mib(pid)
    for sock in held:
        sock.close()
    return Held(name, before, after, count)


def raise_fd_limit(needed: int) -> None:
    """Raise this process's open-file limit to hold ``needed`` sockets (servers inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + 256
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise SystemExit(f"the open-file limit ({hard}) is below {want}; lower --connections")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--connections", type=int, default=2000, help="idle connections per server (default 2000)"
    )
    args = parser.parse_args(argv)
    if not 100 <= args.connections <= 50000:
        parser.error("--connections must be from 100 to 50000")
    raise_fd_limit(args.connections)
    rows: list[Held] = []
    with tempfile.TemporaryDirectory(prefix="gg-bench-idle-") as tmp:
        work = Path(tmp)
        ctl: Controller = init_controller(work, "sqlite", None)
        with running(serve_argv(ctl), ctl.port, work / "serve.log", ctl.env) as pid:
            rows.append(measure("govguard serve", pid, ctl.port, ctl.ca_file, args.connections))
        port = free_port()
        with running(bare_argv(ctl, port, 1), port, work / "bare.log", ctl.env) as pid:
            rows.append(measure("bare endpoint", pid, port, ctl.ca_file, args.connections))
    print(f"{'server':<16}{'connections':>12}{'RSS before MiB':>16}{'with them MiB':>15}"
          f"{'KiB each':>10}")  # fmt: skip
    for row in rows:
        print(
            f"{row.name:<16}{row.connections:>12}{row.before_mib:>16.1f}{row.after_mib:>15.1f}"
            f"{row.per_connection_kib:>10.1f}"
        )
    ours, bare = rows
    print(
        f"ours / bare per connection: {ours.per_connection_kib / bare.per_connection_kib:.2f}; "
        f"3000 agents kept alive: about {ours.per_connection_kib * 3000 / 1024:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
