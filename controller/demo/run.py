"""``govguard demo``: the example district on this machine, in one command.

1. ``govguard init`` of ``<demo dir>/controller`` (SQLite, CA, TLS certificate, the ``admin``
   account with a generated password in ``<demo dir>/admin-password``), once;
2. the simulated network (:mod:`controller.demo.network`) and the demo's copy of the example
   district imported (``govguard inventory import``), its SNMP secrets in the data directory;
3. snmpsim on a loopback UDP port, ``govguard serve`` on ``https://localhost:<port>``,
   ``govguard worker`` (its first SNMP round sees the classified computer on a switch port);
4. this PC's agent enrolled (``govguard-agent enroll``) and one collection delivered;
5. the simulated PCs (:mod:`controller.demo.fleet`) enrolled and reporting, then again every
   ``fleet_interval_s``; this PC's agent keeps running (``govguard-agent run``);
6. the dashboard's address and login printed; Ctrl-C (or SIGTERM) stops every child process.

With ``smoke`` the run is bounded: it waits until the dashboard answers, this PC's report, every
simulated PC's report, an SNMP round and the classified sighting's finding are stored, says so,
stops everything and returns 0 (1 with the reason on failure or timeout).
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TypeVar

import yaml

from controller.demo.fleet import Fleet, RoundResult, plan_fleet
from controller.demo.network import DemoNetwork, prepare_network, snmp_answers, write_secrets
from controller.demo.processes import Children, DemoError
from controller.store.demo import DemoProgress

_T = TypeVar("_T")

#: The unit this PC's agent enrolls into.
LOCAL_UNIT = "ubnd-huyen-cho-moi"
#: Seconds between SNMP rounds of the demo's worker (the product's default is 900).
SNMP_INTERVAL_S = 300
#: How long the controller and snmpsim may take to answer after they start.
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class DemoOptions:
    """What ``govguard demo`` was asked for."""

    demo_dir: Path
    port: int
    organisation: Path
    agent_config: Path
    smoke: bool = False
    #: Bounded run: the longest wait for everything to be stored.
    timeout_s: float = 600.0
    fleet_interval_s: float = 300.0


class _InterruptedError(Exception):
    """SIGINT or SIGTERM."""


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise _InterruptedError(signal.Signals(signum).name)


def _need(value: _T | None, what: str) -> _T:
    """``value``, which the run set up before it is needed."""
    if value is None:
        raise DemoError(f"{what} is not set up yet")
    return value


def _say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def _tool(name: str) -> str:
    """A command installed beside this Python (the venv's ``govguard``, snmpsim...)."""
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        hint = " (pip install -e '.[dev]'; `make setup` does)" if "snmpsim" in name else ""
        raise DemoError(f"{path} is missing{hint}")
    return str(path)


def _cli(*args: str) -> str:
    """``govguard ARGS`` in this process; its output, or DemoError with its error."""
    from controller.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    if code != 0:
        raise DemoError(f"govguard {args[0]} {args[1]} failed: {err.getvalue().strip()}")
    return out.getvalue()


class Demo:
    """One run of the demo (see the module's docstring)."""

    def __init__(self, options: DemoOptions) -> None:
        self.o = options
        self.dir = options.demo_dir.resolve()
        self.data = self.dir / "controller"
        self.url = f"https://localhost:{options.port}"
        self.children = Children(self.dir / "pids")
        self.stop = threading.Event()
        self.local_agent_id: str | None = None
        self.network: DemoNetwork | None = None
        self.fleet: Fleet | None = None
        self.last_round: RoundResult | None = None
        self._fleet_thread: threading.Thread | None = None

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        """Set up, start, and wait for Ctrl-C (or, bounded, for the checks); the exit status."""
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._start()
            if self.o.smoke:
                return self._smoke()
            self._serve_forever()
            return 0
        except _InterruptedError as why:
            _say(f"{why}: stopping")
            return 130 if str(why) == "SIGINT" else 0
        except DemoError as exc:
            print(f"demo: error: {exc}", file=sys.stderr, flush=True)
            return 1
        finally:
            # A second Ctrl-C must not cut the clean-up short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start(self) -> None:
        for path in (self.o.organisation, self.o.agent_config):
            if not path.is_file():
                raise DemoError(f"{path} not found: run the demo from the repository's folder")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._init()
        started = time.monotonic()
        self.network = prepare_network(self.o.organisation, self.dir / "network")
        write_secrets(self.data, self.network)
        imported = _cli(
            "inventory", "import", str(self.network.organisation), "--data-dir", str(self.data)
        )
        (self.dir / "inventory.log").write_text(imported, encoding="utf-8")
        _say(imported.strip().splitlines()[-1] if imported.strip() else "district imported")
        self._start_snmpsim(self.network)
        self._start_controller()
        self.children.start(
            "govguard worker",
            [_tool("govguard"), "worker", "--data-dir", str(self.data)],
            self.dir / "worker.log",
        )
        _say(f"worker started: SNMP rounds every {SNMP_INTERVAL_S} s (log: {self.dir}/worker.log)")
        self._local_agent()
        self._start_fleet()
        self._wait_first_round()
        _say(f"ready in {time.monotonic() - started:.0f} s")
        self._print_login()

    def _init(self) -> None:
        password_file = self.dir / "admin-password"
        if not (self.data / "config.yaml").exists():
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(15) + "\n")
            out_text = _cli(
                "init",
                "--data-dir",
                str(self.data),
                "--server-name",
                "localhost",
                "--server-name",
                "127.0.0.1",
                "--admin",
                "admin",
                "--password-file",
                str(password_file),
                "--unit-id",
                "tinh-thai-nguyen",
                "--unit-name",
                "Tỉnh Thái Nguyên (demo)",
                "--unit-kind",
                "province",
            )
            (self.dir / "init.log").write_text(out_text, encoding="utf-8")
            _say(f"controller initialised in {self.data} (admin password in {password_file})")
        self._configure()

    def _configure(self) -> None:
        """Listen on loopback at the demo's port; SNMP rounds every few minutes."""
        path = self.data / "config.yaml"
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        wanted = {"agents": {"host": "127.0.0.1", "port": self.o.port}, "admin": None}
        snmp = {**(config.get("snmp") or {}), "interval_s": SNMP_INTERVAL_S}
        if config.get("listen") != wanted or config.get("snmp") != snmp:
            config["listen"], config["snmp"] = wanted, snmp
            path.write_text(
                yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )

    def _start_snmpsim(self, network: DemoNetwork) -> None:
        cache = self.dir / "network" / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        # snmpsim refuses to run as root unless told so; it only binds a loopback port here.
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        child = self.children.start(
            "snmpsim",
            [
                _tool("snmpsim-command-responder"),
                f"--data-dir={network.recordings}",
                f"--cache-dir={cache}",
                f"--agent-udpv4-endpoint=127.0.0.1:{network.port}",
                "--log-level=error",
            ],
            self.dir / "snmpsim.log",
            env,
        )
        community = next(iter(network.communities))
        self._wait("snmpsim", lambda: snmp_answers(network.port, community))
        devices = len(network.manifest["devices"])
        _say(
            f"snmpsim on udp://127.0.0.1:{network.port}: {devices} simulated switches, "
            f"routers and printers (pid {child.proc.pid})"
        )

    def _start_controller(self) -> None:
        self.children.start(
            "govguard serve",
            [_tool("govguard"), "serve", "--data-dir", str(self.data)],
            self.dir / "controller.log",
        )
        self._wait("the controller", self._dashboard_answers)
        _say(f"controller listening on {self.url} (log: {self.dir}/controller.log)")

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            self.children.check()
            if time.monotonic() > deadline:
                raise DemoError(f"{what} did not answer within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.2)

    def _dashboard_answers(self) -> bool:
        """The login page answers 200 over TLS verified against the demo's CA."""
        context = ssl.create_default_context(cafile=str(self.data / "tls" / "ca.crt"))
        try:
            with urllib.request.urlopen(f"{self.url}/login", context=context, timeout=2) as r:  # noqa: S310 - our https URL
                return int(r.status) == 200
        except (OSError, urllib.error.URLError):
            return False

    def _metrics_hosts(self) -> int | None:
        """The hosts ``/metrics`` counts (what Prometheus would scrape), None when unanswered."""
        from prometheus_client.parser import text_string_to_metric_families

        context = ssl.create_default_context(cafile=str(self.data / "tls" / "ca.crt"))
        try:
            with urllib.request.urlopen(f"{self.url}/metrics", context=context, timeout=5) as r:  # noqa: S310 - our https URL
                text = r.read().decode()
        except (OSError, urllib.error.URLError):
            return None
        return sum(
            int(sample.value)
            for family in text_string_to_metric_families(text)
            if family.name == "govguard_hosts"
            for sample in family.samples
        )

    def _local_agent(self) -> None:
        """Enroll this PC (once), deliver one collection, keep its agent running."""
        agent = self.dir / "agent"
        identity = agent / "identity.json"
        if not identity.exists():
            token = self.dir / "token"
            _cli(
                "tokens",
                "create",
                "--unit",
                LOCAL_UNIT,
                "--expires",
                "1h",
                "--uses",
                "1",
                "--out",
                str(token),
                "--data-dir",
                str(self.data),
            )
            try:
                self._step(
                    "enroll",
                    "--controller",
                    self.url,
                    "--token-file",
                    str(token),
                    "--state-dir",
                    str(agent),
                )
            finally:
                token.unlink(missing_ok=True)
        self._step(
            "run", "--state-dir", str(agent), "--config", str(self.o.agent_config), "--once-cycle"
        )
        from agent.state import load_state

        state = load_state(agent)
        self.local_agent_id = state.agent_id if state else None
        _say(f"this PC's agent {self.local_agent_id} enrolled and reported")
        if not self.o.smoke:
            self.children.start(
                "govguard-agent run",
                [
                    _tool("govguard-agent"),
                    "run",
                    "--state-dir",
                    str(agent),
                    "--config",
                    str(self.o.agent_config),
                ],
                self.dir / "agent.log",
            )

    def _step(self, *args: str) -> None:
        """``govguard-agent ARGS`` in the foreground; its output logged, DemoError if it fails."""
        log = self.dir / "agent-steps.log"
        with log.open("ab") as out:
            done = subprocess.run(
                [_tool("govguard-agent"), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-10:])
            raise DemoError(f"govguard-agent {args[0]} failed ({done.returncode}):\n{tail}")

    # -- the simulated PCs -----------------------------------------------------------------

    def _start_fleet(self) -> None:
        from controller.inventory.document import load_inventory

        network = _need(self.network, "the network")
        assets = load_inventory(network.organisation).records["assets"]
        pcs = plan_fleet(assets)

        def token_for(unit: str) -> str:
            count = sum(1 for pc in pcs if pc.unit_id == unit)
            return _cli(
                "tokens",
                "create",
                "--unit",
                unit,
                "--expires",
                "1h",
                "--uses",
                str(count),
                "--note",
                "demo: simulated PCs",
                "--data-dir",
                str(self.data),
            ).strip()

        self.fleet = Fleet(pcs, self.dir / "fleet", self.url, token_for)
        failing = sum(1 for pc in pcs if not pc.compliant)
        _say(
            f"{len(pcs)} simulated PCs of the district ({len(pcs) - failing} without faults, "
            f"{failing} with one to three) enroll and report..."
        )
        self._fleet_thread = threading.Thread(
            target=self._fleet_loop, name="demo-fleet", daemon=True
        )
        self._fleet_thread.start()

    def _fleet_loop(self) -> None:
        fleet = _need(self.fleet, "the fleet")
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                result = fleet.run_round(self.stop)
            except Exception as exc:  # a broken round must not end the demo
                result = RoundResult(0, 0, len(fleet.pcs), (repr(exc),))
            result = RoundResult(
                result.enrolled,
                result.delivered,
                result.failed,
                result.errors,
                time.monotonic() - started,
            )
            if self.last_round is not None and result.failed and not self.stop.is_set():
                # Later rounds are quiet unless something went wrong.
                _say(
                    f"simulated PCs: {result.failed} of {len(fleet.pcs)} failed to report: "
                    + "; ".join(result.errors)
                )
            self.last_round = result
            if self.stop.wait(self.o.fleet_interval_s):
                return

    def _wait_first_round(self) -> None:
        while self.last_round is None:
            self.children.check()
            time.sleep(0.2)
        r = self.last_round
        _say(
            f"simulated PCs: {r.enrolled} enrolled, {r.delivered} reports delivered, "
            f"{r.failed} failed, in {r.seconds:.0f} s; again every {self.o.fleet_interval_s:.0f} s"
        )
        for error in r.errors:
            _say(f"  {error}")

    # -- output and checks -----------------------------------------------------------------

    def _print_login(self) -> None:
        password = (self.dir / "admin-password").read_text(encoding="utf-8").strip()
        if self.local_agent_id:
            print(
                _cli(
                    "findings", "list", "--agent", self.local_agent_id, "--data-dir", str(self.data)
                ),
                flush=True,
            )
        _say(f"dashboard: {self.url}/  (user: admin, password: {password})")
        _say(
            f"the browser warns about the certificate: it is signed by the demo's own CA "
            f"({self.data}/tls/ca.crt); import that file into the browser to trust it."
        )
        _say(
            f"Prometheus metrics: {self.url}/metrics (no token in the demo; "
            "packaging/prometheus/prometheus.yml is a scrape job, docs/metrics.md)"
        )
        _say("every unit's name ends in '(demo)': the district, its PCs and network are simulated.")

    def progress(self) -> DemoProgress:
        """What the database holds now (for the bounded run and the sighting notice)."""
        from controller.discovery.rounds import JOB
        from controller.findings.tripwire import RULE
        from controller.settings import load_settings
        from controller.store import db
        from controller.store.demo import demo_progress

        network, fleet = _need(self.network, "the network"), _need(self.fleet, "the fleet")
        engine = db.make_engine(load_settings(self.data).database_url)
        try:
            with db.session_factory(engine)() as s:
                return demo_progress(
                    s,
                    self.local_agent_id,
                    fleet.agent_ids(),
                    network.classified,
                    snmp_job=JOB,
                    tripwire_rule=RULE,
                )
        finally:
            engine.dispose()

    def _serve_forever(self) -> None:
        _say("running; Ctrl-C stops the controller, the worker, snmpsim and the agents.")
        told = False
        while True:
            self.children.check()
            if not told:
                done = self.progress()
                if done.sighting_finding is not None:
                    told = True
                    network = _need(self.network, "the network")
                    _say(
                        f"SNMP round done ({done.mac_sightings} MACs on switch ports): the "
                        f"classified computer {network.classified} is on a switch port, "
                        f"critical finding BMNN-04 #{done.sighting_finding} "
                        f"({self.url}/findings/{done.sighting_finding})"
                    )
            time.sleep(3)

    def _smoke(self) -> int:
        fleet = _need(self.fleet, "the fleet")
        deadline = time.monotonic() + self.o.timeout_s
        expected = len(fleet.pcs)
        while True:
            self.children.check()
            done = self.progress()
            missing = []
            if not self._dashboard_answers():
                missing.append("the dashboard's login page")
            if done.local_reports < 1:
                missing.append("this PC's report")
            if done.fleet_reporting < expected:
                missing.append(f"reports of simulated PCs ({done.fleet_reporting}/{expected})")
            if not done.snmp_round_done:
                missing.append("an SNMP round")
            if done.sighting_finding is None:
                missing.append("the classified sighting's BMNN-04 finding")
            hosts = self._metrics_hosts()
            if hosts is None or hosts < expected + 1:
                missing.append(f"/metrics counting every host ({hosts or 0}/{expected + 1})")
            if not missing:
                _say(
                    f"smoke check passed: dashboard 200, this PC's reports: {done.local_reports}, "
                    f"simulated PCs reporting: {done.fleet_reporting}/{expected} "
                    f"({done.fleet_reports} reports), SNMP round: {done.mac_sightings} MAC "
                    f"sightings, classified sighting: critical finding #{done.sighting_finding}, "
                    f"/metrics: {hosts} hosts"
                )
                return 0
            if time.monotonic() > deadline:
                raise DemoError(
                    f"smoke check timed out after {self.o.timeout_s:.0f} s; "
                    f"missing: {', '.join(missing)}"
                )
            time.sleep(1)

    def _shutdown(self) -> None:
        self.stop.set()
        if self._fleet_thread is not None:
            self._fleet_thread.join(timeout=60)
        stopped = self.children.stop_all()
        if stopped:
            _say(f"stopped {', '.join(stopped)}; data kept in {self.dir}")
