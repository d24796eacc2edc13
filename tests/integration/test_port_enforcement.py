"""A classified PC's switch port shut down and switched back on by a real SNMP SET.

snmpsim (on a loopback port) serves the authored access switch, whose ifAdminStatus is
writable (writecache variation): a SET is kept and read back. The store is seeded as a poll
would have left it (no poll here: the poller has its own tests): the switch, its access port 7
where the classified PC's MAC is learnt and its uplink 49 that sees the MAC too. Then: the
tripwire's sighting → a proposal on port 7 only → nothing is sent before an approval → approval
→ ``apply_approved`` → net-snmp's ``snmpget`` reads ifAdminStatus down(2) → undo → up(1), with
the audit trail. Also: a switch that does not answer fails the action with the reason, two
processes applying at once send one SET, and ``govguard ports approve --apply-now`` with the
data directory's secrets file.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from controller.cli import main
from controller.discovery import enforcement
from controller.discovery.credentials import Credential
from controller.settings import ControllerConfig, Settings, SnmpConfig, load_settings, settings_for
from controller.store.db import make_engine, session_factory
from controller.store.models import AuditEntry, NetInterface, PortAction
from tests.support.port_network import T0, see_mac, seed_classified, seed_switch, seed_units, sight
from tests.support.snmpsim import FIXTURES, Simulator, snmpsim

pytestmark = pytest.mark.integration

#: The authored switch (tests/fixtures/snmp/generate.py): the classified PC on access port 7,
#: the uplink to the core switch on 49.
CLASSIFIED_PC = "52:54:00:c1:a5:51"
ACCESS, UPLINK = 7, 49
COMMUNITY = "access-switch"
CREDENTIAL = "sim-v2c"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
PORTS = ((ACCESS, "Gi1/0/7", None), (5, "Gi1/0/5", None), (UPLINK, "Te1/0/1", "lldp"))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A fresh simulator per test: its write cache starts with every port up."""
    with snmpsim(FIXTURES) as running:
        yield running


def admin_status(sim: Simulator, if_index: int, community: str = COMMUNITY) -> str:
    """ifAdminStatus of the port as net-snmp's snmpget reads it (1 up, 2 down)."""
    done = subprocess.run(
        [
            "snmpget",
            "-v2c",
            "-c",
            community,
            "-Oqve",
            "-t",
            "2",
            "-r",
            "1",
            f"{sim.host}:{sim.port}",
            f"{IF_ADMIN_STATUS}.{if_index}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def _settings(tmp_path: Path) -> Settings:
    snmp = SnmpConfig(enforce_units=["xa-a"], timeout_s=1.0, retries=0)
    return settings_for(tmp_path, ControllerConfig(snmp=snmp))


def _credentials(community: str = COMMUNITY) -> dict[str, Credential]:
    return {CREDENTIAL: Credential(name=CREDENTIAL, version="v2c", community=community)}


def _seed(s: Session, sim: Simulator, settings: Settings) -> int:
    """The switch, the sighting and its proposal; returns the proposal's id."""
    seed_units(s)
    seed_switch(s, "sw-01", "xa-a-vp", PORTS, ip=f"{sim.host}:{sim.port}", credential=CREDENTIAL)
    seed_classified(s, CLASSIFIED_PC)
    for if_index in (ACCESS, UPLINK):
        see_mac(s, "sw-01", if_index, CLASSIFIED_PC, T0)
    seeded = sight(s, T0, mac=CLASSIFIED_PC, device_id="sw-01", if_index=ACCESS)
    (proposal,) = enforcement.propose_for_sightings(s, settings, [seeded.sighting], T0)
    assert (proposal.if_index, proposal.state) == (ACCESS, "pending")
    return proposal.id


def _port_up(s: Session) -> bool | None:
    s.rollback()
    port = s.get(NetInterface, ("sw-01", ACCESS), populate_existing=True)
    assert port is not None
    return port.admin_up


def _trail(s: Session) -> list[tuple[str, str, str]]:
    s.rollback()
    rows = s.scalars(
        select(AuditEntry).where(AuditEntry.action.like("port.%")).order_by(AuditEntry.id)
    )
    return [(e.action, e.actor, e.target) for e in rows]


def test_shutdown_approved_applied_and_undone(
    engine: Engine, session: Session, sim: Simulator, tmp_path: Path
) -> None:
    proposal = _seed(session, sim, _settings(tmp_path))
    session.commit()
    factory = session_factory(engine)
    settings = _settings(tmp_path)

    # Never applied without an approval.
    assert enforcement.apply_approved(factory, settings, _credentials()) == []
    assert admin_status(sim, ACCESS) == "1"

    enforcement.approve(session, proposal, "user:op-a", datetime.now(UTC), source="192.0.2.7")
    session.commit()
    (applied,) = enforcement.apply_approved(factory, settings, _credentials())
    assert (applied.id, applied.state, applied.error) == (proposal, "applied", None)
    assert admin_status(sim, ACCESS) == "2"
    assert admin_status(sim, UPLINK) == "1"  # the uplink untouched
    assert _port_up(session) is False
    assert enforcement.apply_approved(factory, settings, _credentials()) == []

    up = enforcement.undo(session, proposal, "user:op-a", datetime.now(UTC))
    session.commit()
    (switched_on,) = enforcement.apply_approved(factory, settings, _credentials())
    assert (switched_on.id, switched_on.action, switched_on.state) == (up.id, "up", "applied")
    assert admin_status(sim, ACCESS) == "1"
    assert _port_up(session) is True

    down, back = f"port_action:{proposal}", f"port_action:{up.id}"
    assert _trail(session) == [
        ("port.proposed", "controller:tripwire", down),
        ("port.approved", "user:op-a", down),
        ("port.applied", "controller:worker", down),
        ("port.undo", "user:op-a", back),
        ("port.applied", "controller:worker", back),
    ]


def test_a_switch_that_does_not_answer_fails_the_action(
    engine: Engine, session: Session, sim: Simulator, tmp_path: Path
) -> None:
    """A wrong community: snmpsim, like a real agent, drops the request without a word."""
    proposal = _seed(session, sim, _settings(tmp_path))
    enforcement.approve(session, proposal, "user:op", T0)
    session.commit()
    factory = session_factory(engine)
    (failed,) = enforcement.apply_approved(
        factory, _settings(tmp_path), _credentials("n0t-the-c0mmunity")
    )
    assert failed.state == "failed"
    assert failed.error is not None and "Timeout" in failed.error
    assert "n0t-the-c0mmunity" not in failed.error  # a secret never in a message
    assert admin_status(sim, ACCESS) == "1"
    assert _trail(session)[-1] == ("port.failed", "controller:worker", f"port_action:{proposal}")
    # Approved again, with the right credential this time, it goes through.
    enforcement.approve(session, proposal, "user:op", T0)
    session.commit()
    (retried,) = enforcement.apply_approved(factory, _settings(tmp_path), _credentials())
    assert retried.state == "applied"
    assert admin_status(sim, ACCESS) == "2"


def test_a_device_without_credential_fails_without_traffic(
    engine: Engine, session: Session, sim: Simulator, tmp_path: Path
) -> None:
    proposal = _seed(session, sim, _settings(tmp_path))
    enforcement.approve(session, proposal, "user:op", T0)
    session.commit()
    (failed,) = enforcement.apply_approved(session_factory(engine), _settings(tmp_path), {})
    assert failed.state == "failed"
    assert failed.error is not None and failed.error.startswith("config: no secret")
    assert admin_status(sim, ACCESS) == "1"


def test_two_processes_applying_at_once_send_one_set(
    engine: Engine, session: Session, sim: Simulator, tmp_path: Path
) -> None:
    proposal = _seed(session, sim, _settings(tmp_path))
    enforcement.approve(session, proposal, "user:op", T0)
    session.commit()
    settings = _settings(tmp_path)
    results: list[list[PortAction]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        # Each "process" with its own engine, as two controller processes would have.
        own = make_engine(engine.url.render_as_string(hide_password=False))
        try:
            start.wait()
            results.append(
                enforcement.apply_approved(session_factory(own), settings, _credentials())
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    applied = [row for batch in results for row in batch]
    assert [(row.id, row.state) for row in applied] == [(proposal, "applied")]
    assert admin_status(sim, ACCESS) == "2"
    assert [a for a, _, _ in _trail(session)].count("port.applied") == 1


def test_cli_approve_apply_now_with_the_secrets_file(
    data_dir: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = data_dir / "secrets"
    secrets.mkdir(exist_ok=True)
    path = secrets / "snmp.yaml"
    path.write_text(yaml.safe_dump({CREDENTIAL: {"version": "v2c", "community": COMMUNITY}}))
    path.chmod(0o600)
    engine = make_engine(load_settings(data_dir).database_url)
    try:
        with session_factory(engine)() as s:
            proposal = _seed(s, sim, _settings(data_dir))
            s.commit()
    finally:
        engine.dispose()
    argv = ["ports", "approve", str(proposal), "--apply-now", "--data-dir", str(data_dir)]
    assert main(argv) == 0, capsys.readouterr().err
    assert f"port action {proposal}: sw-01 port {ACCESS} shut down" in capsys.readouterr().out
    assert admin_status(sim, ACCESS) == "2"
    assert main(["ports", "undo", str(proposal), "--apply-now", "--data-dir", str(data_dir)]) == 0
    assert "switched on" in capsys.readouterr().out
    assert admin_status(sim, ACCESS) == "1"
