"""One agentless collection: run the commands over SSH, build the report, store it as ingest does.

The host gets an agent row of source ``ssh`` (key id ``ssh:<host>:<port>``) the first time, and
its report goes through the same writer as an online report
(:class:`controller.findings.FindingsWriter`): stored with source ``ssh``, host facts updated,
the classified tripwire checked and the policies evaluated, in the caller's transaction.

The network part (:func:`gather`) holds no database session, and the database part
(:func:`store_collection`) sends nothing over the network, so a slow host never keeps a
transaction open.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.orm import Session, sessionmaker

from agent.envelope import new_report_id
from agent.report import Report, encode
from controller.discovery.ssh import Endpoint, SshError, endpoint, run_commands
from controller.discovery.ssh_commands import COMMANDS, Command
from controller.discovery.ssh_report import build_report
from controller.enrollment import new_agent_id
from controller.findings.assets import link_agents, match_asset
from controller.settings import Settings
from controller.store import agents as agent_store
from controller.store import audit
from controller.store import ssh_targets as target_store
from controller.store import units as unit_store
from controller.store.db import write_session
from controller.store.models import Agent
from controller.store.reports import NewReport, outcomes

log = logging.getLogger(__name__)

#: The ingest writer: stores a batch (and evaluates it) and returns the (agent, seq) inserted.
Writer = Callable[[Session, Sequence[NewReport], datetime], set[tuple[str, int]]]
#: ``Agent.agent_version`` of the rows this module makes.
AGENT_VERSION = "ssh"


def key_file(settings: Settings) -> Path:
    """The controller's SSH private key (``ssh.key_file``, else ``<data_dir>/ssh/id_ed25519``)."""
    return settings.ssh.key_file or settings.data_dir / "ssh" / "id_ed25519"


def known_hosts(settings: Settings) -> Path:
    """The pinned host keys (``ssh.known_hosts``, else ``<data_dir>/ssh/known_hosts``)."""
    return settings.ssh.known_hosts or settings.data_dir / "ssh" / "known_hosts"


def key_id(target: Endpoint) -> str:
    """The agent row's key id for a host: ``ssh:<host>:<port>``."""
    return f"ssh:{target.host}:{target.port}"


def gather(
    settings: Settings,
    target: Endpoint,
    at: datetime,
    *,
    private_key: Path | None = None,
    commands: Sequence[Command] = COMMANDS,
) -> Report:
    """Log in to ``target``, run the commands and build the report (raises :class:`SshError`).

    A command that fails or overruns leaves its facts unknown (or its section missing); only a
    session that cannot be opened, or output without a host name, fails the collection.
    """
    outputs = run_commands(
        target,
        commands,
        key_file=private_key or key_file(settings),
        known_hosts=known_hosts(settings),
        connect_timeout_s=settings.ssh.connect_timeout_s,
        command_timeout_s=settings.ssh.command_timeout_s,
    )
    report = build_report(outputs, at)
    if report.identity is None:
        reason = next((e.message for e in report.errors if e.collector == "identity"), "")
        raise SshError("protocol", f"{target.host} did not say who it is: {reason}")
    return report


@dataclass(frozen=True)
class Stored:
    """What :func:`store_collection` did."""

    agent_id: str
    seq: int
    unit_id: str
    #: True when this collection made the host's agent row.
    new_agent: bool


def _unusable_public_key() -> bytes:
    """A valid Ed25519 public key whose private key is thrown away at once.

    An ``ssh`` agent row is never meant to sign anything; with this key nobody can, so a
    report or bundle sent in its name fails the signature check like any forged one (a fixed
    key such as 32 zero bytes is a small-order point that lets signatures be forged).
    """
    return (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def _unit_for(s: Session, report: Report, agent: Agent | None, unit: str | None) -> str:
    """--unit, else the unit of the organisation file's asset this host is, else the unit the
    host was stored under before."""
    if unit is not None:
        if unit_store.get_unit(s, unit) is None:
            raise SshError("invalid", f"no unit {unit!r} (see `govguard units list`)")
        return unit
    ident = report.identity
    assert ident is not None  # noqa: S101 - gather() refuses a report without one
    probe = Agent(
        machine_id=ident.machine_id,
        system_uuid=ident.system_uuid,
        system_serial=ident.system_serial,
        macs=list(ident.macs),
    )
    asset = match_asset(s, probe)
    if asset is not None:
        return asset.unit_id
    if agent is not None:
        return agent.unit_id
    raise SshError(
        "invalid",
        f"{ident.hostname} matches no asset of the organisation file by machine id, serial or "
        "MAC; say which unit it belongs to with --unit",
    )


def store_collection(
    s: Session,
    writer: Writer,
    target: Endpoint,
    report: Report,
    at: datetime,
    *,
    actor: str,
    unit: str | None = None,
) -> Stored:
    """Store one collected report in ``s`` (the caller commits); raises :class:`SshError`.

    Refused: a host that is enrolled with a govguard agent already (it reports by itself), the
    same computer reached by another name or port, and a host whose ``ssh`` row an
    administrator revoked.
    """
    ident = report.identity
    if ident is None:
        raise SshError("protocol", "the report has no identity section")
    same = agent_store.find_same_hardware(
        s, ident.machine_id, ident.system_uuid, ident.system_serial
    )
    enrolled = [other for other in same if other.source != "ssh"]
    if enrolled:
        raise SshError(
            "invalid",
            f"{ident.hostname} is enrolled with a govguard agent already (agent "
            f"{enrolled[0].id}); it reports by itself",
        )
    # One computer, one row: the same host reached by another name, address or port.
    elsewhere = [other for other in same if other.key_id != key_id(target)]
    if elsewhere:
        raise SshError(
            "invalid",
            f"{ident.hostname} is collected already as {elsewhere[0].key_id} (agent "
            f"{elsewhere[0].id}); collect it under that name",
        )
    agent = agent_store.get_agent_by_key(s, key_id(target))
    if agent is not None and agent.status == "revoked":
        raise SshError(
            "invalid", f"agent {agent.id} of {target.host} is revoked; its reports are refused"
        )
    unit_id = _unit_for(s, report, agent, unit)
    new = agent is None
    if agent is None:
        agent = agent_store.add_agent(
            s,
            id=new_agent_id(s),
            key_id=key_id(target),
            public_key=_unusable_public_key(),
            status="active",
            unit_id=unit_id,
            hostname=ident.hostname,
            os="linux",
            agent_version=AGENT_VERSION,
            created_at=at,
            approved_at=at,
            source="ssh",
        )
        audit.record(
            s,
            actor,
            "agent.ssh_added",
            f"agent:{agent.id}",
            {
                "host": target.host,
                "port": target.port,
                "hostname": ident.hostname,
                "unit_id": unit_id,
            },
            at=at,
        )
    agent.hostname = ident.hostname
    agent.machine_id = ident.machine_id
    agent.system_uuid = ident.system_uuid
    agent.system_serial = ident.system_serial
    agent.macs = list(ident.macs)
    agent.unit_id = unit_id
    s.flush()
    link_agents(s, [agent.id])
    seq = agent.last_seq + 1
    item = NewReport(
        agent_id=agent.id,
        seq=seq,
        report_id=new_report_id(),
        kind="full",
        sent_at=at,
        received_at=at,
        collected_at=report.collected_at,
        clock_skew_s=None,
        body=gzip.compress(encode(report), compresslevel=6, mtime=0),
        source="ssh",
    )
    inserted = writer(s, [item], at)
    if outcomes(s, [item], inserted) != ["stored"]:
        raise SshError("protocol", f"report {seq} of agent {agent.id} is stored already")
    target_store.save_success(
        s,
        host=target.host,
        port=target.port,
        username=target.username,
        unit_id=unit_id,
        agent_id=agent.id,
        at=at,
    )
    audit.record(
        s,
        actor,
        "ssh.collected",
        f"agent:{agent.id}",
        {
            "host": target.host,
            "port": target.port,
            "seq": seq,
            "sections": [name for name in _SECTIONS if getattr(report, name) is not None],
            "errors": [e.collector for e in report.errors],
        },
        at=at,
    )
    return Stored(agent_id=agent.id, seq=seq, unit_id=unit_id, new_agent=new)


_SECTIONS = ("identity", "hardware", "os", "software", "network", "security")


def record_failure(
    s: Session,
    target: Endpoint,
    error: SshError,
    at: datetime,
    *,
    actor: str,
    unit: str | None = None,
) -> None:
    """Keep a failed collection on record: an audit entry and the target's ``last_error``.

    A changed host key is the one to look at first (a reinstalled host, or someone in the
    middle): its audit entry carries both fingerprints.
    """
    details: dict[str, object] = {
        "host": target.host,
        "port": target.port,
        "code": error.code,
        "message": error.message[:500],
    }
    if error.fingerprint:
        details["fingerprint"] = error.fingerprint
    if error.expected:
        details["expected"] = error.expected
    audit.record(s, actor, f"ssh.{error.code}", f"ssh:{target.host}:{target.port}", details, at=at)
    if unit is not None and unit_store.get_unit(s, unit) is None:
        unit = None
    target_store.save_failure(
        s,
        host=target.host,
        port=target.port,
        username=target.username,
        unit_id=unit,
        error=f"{error.code}: {error.message}"[:1000],
        at=at,
    )


def collect_one(
    sessions: sessionmaker[Session],
    settings: Settings,
    target: Endpoint,
    writer: Writer,
    *,
    actor: str,
    unit: str | None = None,
    private_key: Path | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[Report, Stored]:
    """Collect ``target`` and store its report in a transaction of its own; on any
    :class:`SshError` the failure is recorded (another transaction) and the error raised again.

    No transaction is open while the host is being asked.
    """
    try:
        report = gather(settings, target, clock(), private_key=private_key)
        with sessions() as s:
            write_session(s)
            stored = store_collection(s, writer, target, report, clock(), actor=actor, unit=unit)
            s.commit()
        return report, stored
    except SshError as exc:
        with sessions() as s:
            write_session(s)
            record_failure(s, target, exc, clock(), actor=actor, unit=unit)
            s.commit()
        raise


def collect_known(
    sessions: sessionmaker[Session],
    settings: Settings,
    writer: Writer,
    *,
    actor: str,
) -> dict[str, Stored | SshError]:
    """Collect every host of ``ssh_targets`` again (for a scheduled round), one after the other;
    what became of each host, by host. One host's failure never stops the others."""
    with sessions() as s:
        known = [
            (target.host, target.port, target.username)
            for target, _ in target_store.list_targets(s)
        ]
    results: dict[str, Stored | SshError] = {}
    for host, port, username in known:
        try:
            where = endpoint(host, port, username)
            results[host] = collect_one(sessions, settings, where, writer, actor=actor)[1]
        except SshError as exc:
            log.warning("ssh collection of %s failed: %s: %s", host, exc.code, exc.message)
            results[host] = exc
    return results
