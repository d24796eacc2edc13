"""The README's first command, run as a newcomer runs it: ``make demo``.

Bounded (``DEMO_ARGS=--smoke``), in a temporary folder (``GOVGUARD_DEMO_DIR``) on a free port
(``GOVGUARD_DEMO_PORT``): it must come up, store this PC's report, the simulated PCs' signed
reports, an SNMP round of the simulated network and the classified computer's sighting, stop
everything and exit 0. Interrupted (SIGINT to its process group, as Ctrl-C in a terminal
sends), it must stop every process it started. tests/support/scheduling.py runs the two tests
one after the other on one worker.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from controller.store.models import Agent, Asset, Finding, MacSighting, Report, Unit

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
#: Hang guards only (the demo is ready in well under a minute on a 2-core machine).
RUN_TIMEOUT_S = 900
READY_TIMEOUT_S = 600
#: Every live normal computer of the example district with a MAC is simulated.
SIMULATED_PCS = 349


@pytest.fixture(scope="session")
def fresh_artifacts() -> None:
    """Overrides the package's: these tests take no screenshot, and under xdist they run on
    another worker than the browser suite, whose screenshots must not be emptied midway."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(demo_dir: Path, port: int) -> dict[str, str]:
    return {**os.environ, "GOVGUARD_DEMO_DIR": str(demo_dir), "GOVGUARD_DEMO_PORT": str(port)}


def _processes_of(demo_dir: Path) -> list[str]:
    """Command lines of running processes that name the demo's folder."""
    mark = str(demo_dir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if mark in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


@pytest.fixture
def demo_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "demo"
    yield folder
    # Whatever the outcome, nothing the demo started may outlive the test.
    left = _processes_of(folder)
    for line in left:
        print("left running:", line)


def test_make_demo_smoke(demo_dir: Path) -> None:
    port = _free_port()
    done = subprocess.run(
        ["make", "demo", "DEMO_ARGS=--smoke"],
        cwd=REPO,
        env=_env(demo_dir, port),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, f"{out[-3000:]}\n{done.stderr[-3000:]}"
    # make ran the README's recipe: this PC's summary first, then the demo.
    assert "govguard-agent once --summary --config examples/agent-demo.yaml\n" in out
    assert "govguard demo --smoke\n" in out
    assert f"dashboard: https://localhost:{port}/  (user: admin, password: " in out
    password = (demo_dir / "admin-password").read_text(encoding="utf-8").strip()
    assert password in out
    assert "smoke check passed" in out
    assert f"simulated PCs reporting: {SIMULATED_PCS}/{SIMULATED_PCS}" in out
    # What Prometheus would scrape counts this PC and every simulated one.
    assert f"/metrics: {SIMULATED_PCS + 1} hosts" in out
    assert "stopped govguard worker, govguard serve, snmpsim" in out
    assert _processes_of(demo_dir) == []

    engine = create_engine(f"sqlite:///{demo_dir / 'controller' / 'govguard.db'}")
    try:
        with Session(engine) as s:
            # This PC and the simulated ones, each with its own key and stored signed reports.
            agents = s.scalars(select(Agent).where(Agent.status == "active")).all()
            assert len(agents) == SIMULATED_PCS + 1
            assert len({a.key_id for a in agents}) == len(agents)
            reporting = s.scalar(select(func.count(func.distinct(Report.agent_id))))
            assert reporting == len(agents)
            # The simulated PCs are the district's assets (linked by hardware identifiers).
            linked = s.scalar(select(func.count()).where(Asset.agent_id.is_not(None)))
            assert linked == SIMULATED_PCS
            # Some comply, some fail rules: findings on some simulated PCs only.
            failing = s.scalar(
                select(func.count(func.distinct(Finding.subject))).where(
                    Finding.subject.like("agent:%"),
                    Finding.status == "open",
                    Finding.rule_id.in_(("ATTT-07", "ATTT-02", "ATTT-12", "ATTT-06")),
                )
            )
            assert failing is not None and 0 < failing < SIMULATED_PCS
            # The SNMP round, and the classified PC it saw on a switch port.
            assert (s.scalar(select(func.count()).select_from(MacSighting)) or 0) > 100
            sighting = s.scalars(
                select(Finding).where(Finding.rule_id == "BMNN-04", Finding.status == "open")
            ).all()
            assert [(f.severity, f.subject.startswith("asset:")) for f in sighting] == [
                ("critical", True)
            ]
            assert sighting[0].evidence[0]["source"] in ("switch", "arp")
            # Labelled demo: every unit's name says so.
            names = s.scalars(select(Unit.name)).all()
            assert names and all(name.endswith("(demo)") for name in names)
    finally:
        engine.dispose()


def _reader(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)
    lines.put(None)


def test_ctrl_c_stops_every_process(demo_dir: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        ["make", "demo"],
        cwd=REPO,
        env=_env(demo_dir, port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while not any("running; Ctrl-C stops" in line for line in seen):
            assert time.monotonic() < deadline, "".join(seen[-40:])
            try:
                line = lines.get(timeout=5)
            except queue.Empty:
                continue
            assert line is not None, f"make demo ended early:\n{''.join(seen[-40:])}"
            seen.append(line)
        running = _processes_of(demo_dir)
        # serve, worker, snmpsim and this PC's agent (and the demo itself).
        for name in ("serve", "worker", "snmpsim-command-responder", "govguard-agent run"):
            assert any(name in line for line in running), (name, running)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    while (line := lines.get(timeout=10)) is not None:
        seen.append(line)
    out = "".join(seen)
    # make passes the interrupt on: 130 from the demo, or make's own death by SIGINT.
    assert code in (0, 130, -signal.SIGINT, 2), out[-3000:]
    assert "demo: SIGINT: stopping" in out
    assert "stopped govguard-agent run, govguard worker, govguard serve, snmpsim" in out
    assert "Traceback" not in out
    assert _processes_of(demo_dir) == []
