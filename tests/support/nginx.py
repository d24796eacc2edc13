"""Real nginx in front of controller processes, with the shipped ``packaging/nginx/govguard.conf``.

The shipped ``stream {}`` block is used as it is, with only what a site changes anyway: its
``server`` lines point at the test's ``govguard serve`` processes and it listens on a free
loopback port. An access log of the upstream each connection went to is added, so a test sees
how nginx spread the agents::

    with nginx_balancer([("127.0.0.1", 8443), ("127.0.0.1", 8444)], tmp_path / "nginx") as lb:
        lb.port              # where agents connect
    lb.connections()         # {"127.0.0.1:8443": 12, "127.0.0.1:8444": 11}

nginx must be installed (Debian: ``nginx`` and ``libnginx-mod-stream``, in the Makefile's
TEST_APT); it runs in the foreground as a child of the test, binds to loopback only and is
stopped at the end of the block.
"""

from __future__ import annotations

import collections
import contextlib
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "packaging" / "nginx" / "govguard.conf"
LOOPBACK = "127.0.0.1"
#: Where Debian installs the dynamic stream module (``libnginx-mod-stream``).
STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
#: Hang guard for nginx to listen (it takes milliseconds).
START_TIMEOUT_S = 30.0

_SERVER_LINE = re.compile(r"^\s*server \S+:\d+ [^;]*;\n", re.MULTILINE)


class NginxError(RuntimeError):
    """nginx is missing, refused the configuration, or did not start."""


@dataclass
class Nginx:
    """A running nginx and its files."""

    port: int
    folder: Path

    def connections(self) -> dict[str, int]:
        """Connections nginx closed so far, by the upstream ``host:port`` they went to."""
        log = self.folder / "upstreams.log"
        lines = log.read_text(encoding="utf-8").split() if log.exists() else []
        return dict(collections.Counter(lines))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def site_config(upstreams: Sequence[tuple[str, int]], port: int, log: Path) -> str:
    """The shipped configuration with the test's upstreams, port and upstream log."""
    text = SHIPPED.read_text(encoding="utf-8")
    servers = _SERVER_LINE.findall(text)
    if not servers:
        raise NginxError(f"{SHIPPED}: no `server host:port ...;` line to replace")
    options = servers[0].strip().split(" ", 2)[2]  # e.g. "max_fails=2 fail_timeout=10s;"
    ours = "".join(f"        server {host}:{p} {options}\n" for host, p in upstreams)
    text = _SERVER_LINE.sub("", text, count=len(servers) - 1)
    text = _SERVER_LINE.sub(ours, text, count=1)
    text = text.replace("        listen [::]:8443;\n", "")
    text = text.replace("listen 8443;", f"listen {LOOPBACK}:{port};")
    text = re.sub(
        r"^stream \{$",
        "stream {\n    log_format upstreams '$upstream_addr';",
        text,
        count=1,
        flags=re.MULTILINE,
    )
    text = text.replace(
        "proxy_pass govguard_agents;",
        f"proxy_pass govguard_agents;\n        access_log {log} upstreams;",
        1,
    )
    if f"listen {LOOPBACK}:{port};" not in text or "log_format" not in text or str(log) not in text:
        raise NginxError(f"{SHIPPED}: the listen or proxy_pass line changed; update {__file__}")
    return text


@contextlib.contextmanager
def nginx_balancer(upstreams: Sequence[tuple[str, int]], folder: Path) -> Iterator[Nginx]:
    """Run nginx with the shipped stream block in front of ``upstreams``, files in ``folder``."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        raise NginxError("nginx is not installed (apt install nginx libnginx-mod-stream)")
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    (folder / "govguard.conf").write_text(
        site_config(upstreams, port, folder / "upstreams.log"), encoding="utf-8"
    )
    module = f"load_module {STREAM_MODULE};\n" if STREAM_MODULE.exists() else ""
    main = folder / "nginx.conf"
    main.write_text(
        f"{module}pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} warn;\n"
        f"events {{}}\ninclude {folder / 'govguard.conf'};\n",
        encoding="utf-8",
    )
    args = [binary, "-p", str(folder), "-c", str(main)]
    checked = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise NginxError(f"nginx -t refused the configuration:\n{checked.stderr}")
    proc = subprocess.Popen(
        [*args, "-g", "daemon off;"], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise NginxError(
                    f"nginx exited: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 1):
                break
            if time.monotonic() > deadline:
                raise NginxError(f"nginx did not listen within {START_TIMEOUT_S:g} s")
            time.sleep(0.05)
        yield Nginx(port, folder)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful: open connections end, logs are written
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
