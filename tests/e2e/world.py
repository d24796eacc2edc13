"""The district the browser suite looks at: one real controller and what agents told it.

Built once per test session through the product's own entry points: ``govguard init`` (SQLite),
``govguard inventory import`` of the example district, accounts of every role, enrollment tokens
of two communes, simulated agents enrolled with the real enrollment code and reporting through
the real daemon (signed, queued, delivered), one computer enrolled again with a new key (so one
agent is *pending*), one classified computer enrolled by carried files whose signed bundle
waits to be uploaded through the dashboard, and two remediation jobs stored as the worker leaves
them (the world runs no worker).

Several agents carry hostile strings in their host name or software list: reports are hostile
input, and the pages must show them as text. The browser suite's trap (``window.__xss``) is set
by every payload here, so any payload that runs is caught.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from agent.bundle import export_bundle
from agent.config import AgentConfig
from agent.enrollment import enroll
from agent.offline import accept_response, fingerprint, stage_request
from agent.report import SCHEMA_VERSION, Identity, Report
from agent.report.software import Package, Software
from agent.state import AgentState, load_key, state_paths
from tests.support.controller_proc import ADMIN_PASSWORD, REPO, Controller, init_controller

__all__ = [
    "ADMIN",
    "COMMUNE_A",
    "COMMUNE_B",
    "DISTRICT",
    "HOSTILE_HOSTNAMES",
    "HOSTILE_SOFTWARE",
    "Account",
    "Host",
    "World",
    "build_world",
    "identity_for",
]

DISTRICT = "huyen-cho-moi"
#: The commune the scoped accounts belong to, and another one they must never see.
COMMUNE_A = "xa-yen-dinh"
COMMUNE_B = "xa-nhu-co"
EXAMPLE_DISTRICT = REPO / "inventory" / "example-district.yaml"

#: Host names that are markup or template code: each sets ``window.__xss`` if it ever runs.
HOSTILE_HOSTNAMES = (
    "<script>window.__xss=1</script>",
    "{{7*7}}",
    '"><img src=x onerror="window.__xss=2">',
)
#: A software name that would run if a page put it into the DOM as markup.
HOSTILE_SOFTWARE = "<svg/onload=window.__xss=3>Bộ gõ {{ 7*7 }}"

#: Every account's password (at least 10 characters, as the password policy asks).
PASSWORD = "mật khẩu thử nghiệm 2026"  # noqa: S105 - throwaway test accounts


@dataclass(frozen=True)
class Account:
    """One dashboard account of the test district."""

    username: str
    role: str
    #: None: the whole district.
    unit: str | None
    password: str = PASSWORD


#: The administrator ``govguard init`` creates (its password is the test helper's).
ADMIN = Account("admin", "admin", None, ADMIN_PASSWORD)

ACCOUNTS = (
    ADMIN,
    Account("huyen-admin", "admin", DISTRICT),
    Account("huyen-operator", "operator", DISTRICT),
    Account("huyen-auditor", "auditor", DISTRICT),
    Account("xa-operator", "operator", COMMUNE_A),
    Account("xa-auditor", "auditor", COMMUNE_A),
    # Only the login-throttling test uses this one: its failed logins must not lock anyone else.
    Account("throttled", "auditor", DISTRICT),
)


@dataclass
class Host:
    """A simulated computer the controller knows."""

    hostname: str
    unit: str
    agent_id: str
    mac: str
    software: tuple[str, ...] = ()
    #: The open ATTT-07 finding (no firewall fact) its report raised.
    finding_id: int = 0


@dataclass
class World:
    """Everything the tests need to know about the running controller's data."""

    controller: Controller
    accounts: dict[str, Account]
    hosts: list[Host]
    #: The agent waiting for an administrator's approval (a known computer with a new key).
    pending_agent_id: str
    pending_hostname: str
    #: A signed bundle of an offline (classified) computer, not yet imported.
    bundle: Path
    bundle_agent_id: str
    tmp: Path = field(repr=False)
    #: Remediation jobs stored as the worker leaves them (:func:`_remediation_jobs`): one on
    #: commune A's last computer awaiting approval, one on commune B's last computer not fixed;
    #: their diff, output and evidence carry the hostile strings.
    a_job: int = 0
    b_job: int = 0

    @property
    def url(self) -> str:
        """The dashboard's base URL."""
        return self.controller.url

    def account(self, username: str) -> Account:
        """The account called ``username``."""
        return self.accounts[username]

    def hosts_in(self, unit: str) -> list[Host]:
        """The simulated hosts of ``unit``."""
        return [host for host in self.hosts if host.unit == unit]

    def host(self, hostname: str) -> Host:
        """The simulated host called ``hostname``."""
        return next(host for host in self.hosts if host.hostname == hostname)

    @contextlib.contextmanager
    def db(self) -> Iterator[Session]:
        """A read session on the controller's database (to check what an action changed)."""
        from controller.store.db import make_engine

        engine = make_engine(self.controller.database_url)
        try:
            with Session(engine) as session:
                yield session
        finally:
            engine.dispose()

    def finding_status(self, finding_id: int) -> str:
        """The stored status of a finding."""
        from controller.store.findings import get_finding

        with self.db() as session:
            finding = get_finding(session, finding_id)
            assert finding is not None, f"no finding {finding_id}"
            return finding.status

    def agent_status(self, agent_id: str) -> str:
        """The stored status of an agent."""
        from controller.store.models import Agent

        with self.db() as session:
            agent = session.get(Agent, agent_id)
            assert agent is not None, f"no agent {agent_id}"
            return agent.status


def identity_for(tag: str, hostname: str) -> Identity:
    """A distinct, stable hardware identity for ``tag``."""
    digits = hashlib.sha256(f"e2e-{tag}".encode()).hexdigest()
    return Identity(
        hostname=hostname,
        machine_id=digits[:32],
        system_uuid=f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-8{digits[17:20]}-{digits[20:32]}",
        system_serial=f"SN-{digits[:12].upper()}",
        macs=[f"52:54:00:{digits[0:2]}:{digits[2:4]}:{digits[4:6]}"],
    )


def _report(identity: Identity, software: tuple[str, ...]) -> Report:
    """A small schema-valid full report; no firewall fact, so ATTT-07 opens a finding."""
    packages = [Package(name=name, version="1.0") for name in software]
    return Report(
        schema_version=SCHEMA_VERSION,
        kind="full",
        agent_version="0.1.0",
        collected_at=datetime.now(UTC).replace(microsecond=0),
        identity=identity,
        software=Software(packages=packages) if packages else None,
    )


def _deliver(state_dir: Path, state: AgentState, report: Report, timeout_s: float = 30.0) -> None:
    """Queue ``report`` and deliver it with the real daemon (signing, outbox, retries)."""
    from agent.daemon import Daemon
    from agent.outbox import Outbox
    from agent.transport import Transport
    from tests.support.controller_proc import drain

    paths = state_paths(state_dir)
    daemon = Daemon(
        state_dir,
        state=state,
        key=load_key(state_dir),
        outbox=Outbox(paths.outbox),
        sender=Transport(state.controller_url, paths.ca, timeout_s=10.0),
        collect=lambda _config: report,
    )
    try:
        daemon.cycle()
        drain(daemon, time.monotonic() + timeout_s)
        left = daemon.outbox.stats().queued
    finally:
        daemon.close()
    if left:
        raise RuntimeError(f"{state.agent_id}: {left} report(s) not delivered")


def _cli(controller: Controller, *args: str) -> str:
    """``govguard ARGS --data-dir DIR`` run in this process (a subprocess costs ~1 s here).

    Returns what it printed; raises with its error output when it fails.
    """
    from controller.cli import main

    out, err = io.StringIO(), io.StringIO()
    full = [*args, "--data-dir", str(controller.data_dir)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(full)
    if code != 0:
        raise RuntimeError(f"govguard {' '.join(args)} failed ({code}): {err.getvalue().strip()}")
    return out.getvalue()


def _create_accounts(controller: Controller, base: Path) -> None:
    """Accounts of every role, made with ``govguard users add``."""
    for account in ACCOUNTS:
        if account is ADMIN:
            continue  # made by `govguard init`
        secret = base / f"{account.username}.password"
        secret.write_text(account.password + "\n", encoding="utf-8")
        args = ["users", "add", account.username, "--role", account.role]
        args += ["--password-file", str(secret)]
        if account.unit is not None:
            args += ["--unit", account.unit]
        _cli(controller, *args)


def _token(controller: Controller, unit: str, uses: int) -> str:
    """A new enrollment token of ``unit`` (``govguard tokens create``)."""
    token = _cli(controller, "tokens", "create", "--unit", unit, "--uses", str(uses)).strip()
    if not token.startswith("gg1."):
        raise RuntimeError(f"govguard tokens create printed no token: {token!r}")
    return token


#: (tag, unit, host name, software names) of the online computers.
_ONLINE: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("a1", COMMUNE_A, "XA-YEN-DINH-PC01", ("LibreOffice", "Unikey")),
    ("a2", COMMUNE_A, HOSTILE_HOSTNAMES[0], ("Firefox",)),
    ("a3", COMMUNE_A, HOSTILE_HOSTNAMES[1], (HOSTILE_SOFTWARE,)),
    ("b1", COMMUNE_B, "XA-NHU-CO-PC01", ("LibreOffice",)),
    ("b2", COMMUNE_B, HOSTILE_HOSTNAMES[2], (HOSTILE_SOFTWARE, "Zalo")),
)


def build_world(base: Path) -> World:
    """Make and start the controller with the whole test district; the caller stops it."""
    controller = init_controller(base / "ctl")
    _cli(controller, "inventory", "import", str(EXAMPLE_DISTRICT), "--lang", "en")
    _create_accounts(controller, base)
    controller.start()
    try:
        return _populate(controller, base)
    except BaseException:
        controller.stop()
        raise


def _populate(controller: Controller, base: Path) -> World:
    tokens = {unit: _token(controller, unit, 10) for unit in (COMMUNE_A, COMMUNE_B)}
    hosts: list[Host] = []
    for tag, unit, hostname, software in _ONLINE:
        identity = identity_for(tag, hostname)
        state_dir = base / "agents" / tag
        state = enroll(controller.url, tokens[unit], state_dir, identity=identity)
        _deliver(state_dir, state, _report(identity, software))
        hosts.append(Host(hostname, unit, state.agent_id, identity.macs[0], software))
    _wait_findings(controller, hosts)

    # The first computer of commune A comes back with a new key (reinstalled): pending.
    again = identity_for("a1", "XA-YEN-DINH-PC01")
    pending = enroll(controller.url, tokens[COMMUNE_A], base / "agents" / "a1-new", identity=again)
    if pending.status != "pending":
        raise RuntimeError(f"the re-enrolled computer is {pending.status}, not pending")

    bundle, bundle_agent = _offline_bundle(controller, base)
    a_job, b_job = _remediation_jobs(controller, hosts)
    return World(
        controller=controller,
        accounts={account.username: account for account in ACCOUNTS},
        hosts=hosts,
        pending_agent_id=pending.agent_id,
        pending_hostname=again.hostname,
        bundle=bundle,
        bundle_agent_id=bundle_agent,
        tmp=base,
        a_job=a_job,
        b_job=b_job,
    )


def _remediation_jobs(controller: Controller, hosts: list[Host]) -> tuple[int, int]:
    """Two jobs as the workflow and the worker store them (the world runs no worker): commune
    A's last computer awaiting approval after a preview whose diff and output are hostile, and
    commune B's last computer not fixed, with hostile evidence."""
    from controller.store.db import make_engine
    from controller.store.models import (
        RemediationEvent,
        RemediationJob,
        RemediationRun,
        RemediationTarget,
    )

    at = datetime.now(UTC).replace(microsecond=0)
    a_host = [h for h in hosts if h.unit == COMMUNE_A][-1]
    b_host = [h for h in hosts if h.unit == COMMUNE_B][-1]
    engine = make_engine(controller.database_url)
    made: list[int] = []
    try:
        with Session(engine) as session, session.begin():
            for host, status in ((a_host, "awaiting_approval"), (b_host, "not_fixed")):
                job = RemediationJob(
                    playbook="enable_firewall.yml", rule_id="ATTT-07", status=status,
                    approval="required", origin="cli", requested_by="user:admin",
                    requested_at=at, finding_id=host.finding_id,
                    finished_at=at if status == "not_fixed" else None,
                )  # fmt: skip
                session.add(job)
                session.flush()
                name = f"agent-{host.agent_id}"
                session.add(
                    RemediationTarget(
                        job_id=job.id, host=name, agent_id=host.agent_id, unit_id=host.unit,
                        state="changed" if status == "not_fixed" else "pending",
                        verification="not_fixed" if status == "not_fixed" else None,
                        evidence={"reason": {"code": "check_failed", "values": {}},
                                  "evidence": [{"found": HOSTILE_HOSTNAMES[0]}]}
                        if status == "not_fixed" else None,
                    )
                )  # fmt: skip
                run = RemediationRun(
                    job_id=job.id, mode="check", state="succeeded", hosts=[name],
                    created_at=at, started_at=at, finished_at=at, timeout_s=600,
                )  # fmt: skip
                session.add(run)
                session.flush()
                session.add(
                    RemediationEvent(
                        run_id=run.id, seq=1, at=at, event="runner_on_ok", host=name,
                        task="Enable the firewall", changed=True,
                        stdout=f"changed: {HOSTILE_SOFTWARE}",
                        diff=f"-ENABLED=no\n+ENABLED=yes\n+{HOSTILE_HOSTNAMES[2]}\n",
                    )
                )  # fmt: skip
                made.append(job.id)
    finally:
        engine.dispose()
    return made[0], made[1]


def _wait_findings(controller: Controller, hosts: list[Host], timeout_s: float = 30.0) -> None:
    """Wait until every host's report raised its open ATTT-07 finding; note their ids."""
    from controller.store.db import make_engine
    from controller.store.findings import list_findings

    engine = make_engine(controller.database_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with Session(engine) as session:
                found = {
                    f.agent_id: f.id
                    for f in list_findings(session, status=["open"], rule_id="ATTT-07")
                }
            if all(host.agent_id in found for host in hosts):
                for host in hosts:
                    host.finding_id = found[host.agent_id]
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"no ATTT-07 finding for some hosts after {timeout_s:g} s")
            time.sleep(0.1)
    finally:
        engine.dispose()


def _offline_bundle(controller: Controller, base: Path) -> tuple[Path, str]:
    """Enroll a classified computer of commune B by carried files; export one bundle."""

    state_dir = base / "agents" / "offline"
    usb = base / "usb"
    usb.mkdir()
    identity = identity_for("offline", "XA-NHU-CO-MAT-01")
    staged = stage_request(state_dir, usb / "request.json", identity=identity)
    public = base64.b64decode(staged.request.public_key)
    _cli(
        controller,
        "agents",
        "accept-offline",
        str(usb / "request.json"),
        "--unit",
        COMMUNE_B,
        "--fingerprint",
        fingerprint(public),
        "--out",
        str(usb / "response.json"),
        "--lang",
        "en",
    )
    state = accept_response(state_dir, usb / "response.json")
    exported = export_bundle(
        state_dir, usb, AgentConfig(), report=_report(identity, ("Microsoft Office 2016",))
    )
    return exported.path, state.agent_id
