"""Prometheus scrapes a real controller: ``govguard serve`` over HTTPS with its own CA, agents
enrolled and reporting through the real agent code, Debian's ``prometheus`` and ``promtool``.

The Prometheus configuration is the shipped example (packaging/prometheus/prometheus.yml) with
only its paths, target and intervals replaced, and it loads the shipped alert rules.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.controller_proc import (
    REPO,
    Controller,
    enroll_agents,
    free_port,
    init_controller,
)
from tests.support.prometheus import prometheus, promtool

pytestmark = pytest.mark.integration

ALERTS = REPO / "packaging" / "prometheus" / "alerts.yml"
EXAMPLE = REPO / "packaging" / "prometheus" / "prometheus.yml"
RULE_TESTS = REPO / "tests" / "fixtures" / "prometheus" / "alerts_test.yml"
AGENTS = 3


def get(
    ctl: Controller, path: str, token: str | None = None, port: int | None = None
) -> tuple[int, bytes]:
    """``GET path`` over verified TLS (the controller's CA), with a bearer token if given."""
    context = ssl.create_default_context(cafile=str(ctl.ca_file))
    conn = http.client.HTTPSConnection(ctl.host, port or ctl.port, context=context, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def protect(ctl: Controller) -> tuple[str, Path]:
    """Give the controller a metrics token file (relative to its data directory)."""
    token = secrets.token_hex(32)
    path = ctl.data_dir / "metrics-token"
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    with (ctl.data_dir / "config.yaml").open("a", encoding="utf-8") as config:
        config.write("\nmetrics:\n  token_file: metrics-token\n")
    return token, path


def report(ctl: Controller, base: Path) -> None:
    """Enroll :data:`AGENTS` agents and have each deliver one report with the real daemon."""
    for agent in enroll_agents(ctl, base, AGENTS):
        daemon = agent.daemon(agent.transport())
        try:
            assert daemon.cycle().acked == [1]
        finally:
            daemon.close()


def scrape_config(ctl: Controller, token_file: Path) -> dict[str, Any]:
    """The shipped example, pointed at ``ctl`` and at this test's files."""
    config: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(ALERTS)]
    (job,) = config["scrape_configs"]
    job["scrape_interval"] = job["scrape_timeout"] = "1s"
    # The target is an address; the name checked is another one of the certificate's names.
    job["tls_config"] = {"ca_file": str(ctl.ca_file), "server_name": "localhost"}
    job["authorization"]["credentials_file"] = str(token_file)
    job["static_configs"] = [{"targets": [f"127.0.0.1:{ctl.port}"]}]
    return config


def test_prometheus_scrapes_the_controller(tmp_path: Path) -> None:
    ctl = init_controller(tmp_path / "ctl")
    token, token_file = protect(ctl)
    with ctl:
        report(ctl, tmp_path / "agents")

        status, body = get(ctl, "/metrics")
        assert status == 401, body
        status, body = get(ctl, "/metrics", token="wrong-" + token[6:])
        assert status == 401, body
        status, body = get(ctl, "/metrics", token=token)
        assert status == 200, body
        text = body.decode("utf-8")
        assert re.search(r'^govguard_hosts\{state="online",unit="root"\} 3\.0$', text, re.M), text
        assert re.search(r'^govguard_ingest_requests_total\{outcome="stored"\} 3\.0$', text, re.M)

        checked = promtool("check", "metrics", stdin=body)
        assert checked.returncode == 0, checked.stdout + checked.stderr

        with prometheus(scrape_config(ctl, token_file), tmp_path / "prom") as prom:
            assert prom.wait_for("up", lambda v: v == 1) == 1
            assert prom.wait_for("sum(govguard_hosts)", lambda v: v == AGENTS) == AGENTS
            assert prom.query('sum(govguard_hosts{state="online"})')[0][1] == AGENTS
            assert prom.query("govguard_up")[0][1] == 1
            # The shipped rules are loaded and evaluated; nothing is wrong in this district.
            (group,) = prom.api("rules")["groups"]
            assert group["name"] == "govguard"
            assert len(group["rules"]) == 11
            assert all(rule["health"] == "ok" for rule in group["rules"]), group["rules"]
            assert prom.api("alerts")["alerts"] == []


def test_metrics_are_served_on_the_admin_listener_only(tmp_path: Path) -> None:
    ctl = init_controller(tmp_path / "ctl")
    admin_port = free_port()
    config = ctl.data_dir / "config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("  admin: null", f"  admin: {{host: 127.0.0.1, port: {admin_port}}}", 1),
        encoding="utf-8",
    )
    with ctl:
        report(ctl, tmp_path / "agents")
        status, _ = get(ctl, "/metrics")
        assert status == 404  # the agents' port faces every office LAN
        status, body = get(ctl, "/metrics", port=admin_port)
        assert status == 200
        # The admin listener serves what the agents' listener counted (one registry).
        text = body.decode("utf-8")
        assert re.search(r'^govguard_ingest_requests_total\{outcome="stored"\} 3\.0$', text, re.M)


def test_worker_processes_sum_their_counters(tmp_path: Path) -> None:
    """With GOVGUARD_WORKERS=2 any worker may answer a scrape: each shows all reports."""
    ctl = init_controller(tmp_path / "ctl")
    before = set(Path(tempfile.gettempdir()).glob("govguard-metrics-*"))
    log = ctl.log_path.open("ab")
    try:
        ctl.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "controller.cli",
                "-v",
                "serve",
                "--data-dir",
                str(ctl.data_dir),
            ],
            cwd=REPO,
            env={**os.environ, "GOVGUARD_WORKERS": "2", "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()
    try:
        ctl.wait_listening()
        agents = 6
        for agent in enroll_agents(ctl, tmp_path / "agents", agents):
            daemon = agent.daemon(agent.transport())  # a new connection: either worker
            try:
                assert daemon.cycle().acked == [1]
            finally:
                daemon.close()
        stored = re.compile(
            rf'^govguard_ingest_requests_total\{{outcome="stored"\}} {agents}\.0$', re.M
        )
        for _ in range(8):  # each on a new connection, answered by either worker
            status, body = get(ctl, "/metrics")
            assert status == 200
            assert stored.search(body.decode("utf-8")), body.decode("utf-8")
            assert promtool("check", "metrics", stdin=body).returncode == 0
        # Both workers keep their counters in the directory of this serve, one file each.
        (shared,) = set(Path(tempfile.gettempdir()).glob("govguard-metrics-*")) - before
        assert len(list(shared.glob("counter_*.db"))) == 2
    finally:
        ctl.stop()
    assert not shared.exists()  # removed by the supervisor when it stops


def test_a_missing_token_file_stops_serve_with_one_line(tmp_path: Path) -> None:
    ctl = init_controller(tmp_path / "ctl")
    with (ctl.data_dir / "config.yaml").open("a", encoding="utf-8") as config:
        config.write("\nmetrics:\n  token_file: secrets/metrics-token\n")
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli", "serve", "--data-dir", str(ctl.data_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "metrics.token_file: cannot read" in done.stderr
    assert "secrets/metrics-token" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_promtool_accepts_the_shipped_rules_and_their_tests() -> None:
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 11 rules found" in checked.stdout
    tested = promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
