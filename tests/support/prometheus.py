"""A real Prometheus server (Debian's ``/usr/bin/prometheus``) on a free loopback port, and
``promtool``, for the metrics tests::

    with prometheus(config, tmp_path / "prom") as prom:   # config: the prometheus.yml as a dict
        prom.wait_for("sum(govguard_hosts)", lambda v: v == 3)
        prom.query('sum(govguard_hosts{state="online"})')   # [(labels, value), ...]

The server runs with temporary storage in its own process group and is stopped on exit; the
``with`` body starts once it answers ``/-/ready``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.controller_proc import LOOPBACK, free_port

__all__ = ["Prometheus", "PrometheusError", "prometheus", "promtool"]

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
#: Hang guard for a start or a wait (a healthy start takes a second or two).
TIMEOUT_S = 60.0

Sample = tuple[dict[str, str], float]


class PrometheusError(RuntimeError):
    """Prometheus did not start, or a query failed; the message carries its log."""


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``promtool ARGS`` (never raises on a non-zero exit: the caller asserts)."""
    return subprocess.run(
        [PROMTOOL, *args],
        input=stdin.decode("utf-8") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


@dataclass
class Prometheus:
    """A running Prometheus and its HTTP API."""

    url: str
    log_path: Path
    proc: subprocess.Popen[bytes]

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>`` and its ``data`` member."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as reply:
            body = json.load(reply)
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, promql: str) -> list[Sample]:
        """An instant query's vector as ``[(labels, value), ...]``."""
        data = self.api("query", query=promql)
        return [(item["metric"], float(item["value"][1])) for item in data["result"]]

    def wait_for(self, promql: str, accept: Callable[[float], bool]) -> float:
        """Wait until ``promql`` gives one sample whose value ``accept`` takes; that value."""
        deadline = time.monotonic() + TIMEOUT_S
        last: list[Sample] = []
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PrometheusError(f"prometheus exited:\n{self.log_tail()}")
            last = self.query(promql)
            if len(last) == 1 and accept(last[0][1]):
                return last[0][1]
            time.sleep(0.2)
        targets = self.api("targets")["activeTargets"]
        raise PrometheusError(
            f"{promql} never matched (last {last}); targets {targets}\n{self.log_tail()}"
        )

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log."""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""


@contextlib.contextmanager
def prometheus(config: dict[str, Any], work_dir: Path) -> Iterator[Prometheus]:
    """Prometheus with ``config`` and storage in ``work_dir``, on 127.0.0.1 (a free port)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = work_dir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    checked = promtool("check", "config", str(config_path))
    if checked.returncode != 0:
        raise PrometheusError(f"promtool check config: {checked.stdout}{checked.stderr}")
    port = free_port()
    log_path = work_dir / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={work_dir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            cwd=work_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Prometheus(f"http://{LOOPBACK}:{port}", log_path, proc)
    try:
        _wait_ready(server)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _wait_ready(server: Prometheus) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        if server.proc.poll() is not None:
            raise PrometheusError(f"prometheus exited at start:\n{server.log_tail()}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{server.url}/-/ready", timeout=5) as reply,
        ):
            if reply.status == 200:
                return
        if time.monotonic() > deadline:
            raise PrometheusError(f"prometheus not ready in {TIMEOUT_S:g} s:\n{server.log_tail()}")
        time.sleep(0.1)
