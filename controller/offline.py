"""Offline enrollment on the controller: register a classified computer from its request file.

The computer never touches a network (Law 29/2018 Art. 5): an officer carries its request file
(:class:`agent.offline.OfflineRequest`) here, compares the key fingerprint aloud with the one
the computer printed, and carries the response back (docs/bundles.md). The agent registered is
active at once (an officer vouched for it) and marked ``offline``: only its bundles are accepted,
never an HTTPS report. Any other key of the same computer is revoked: one computer, one key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from agent import keys
from agent.envelope import utc_stamp
from agent.offline import REQUEST_FORMAT, RESPONSE_FORMAT, OfflineRequest, OfflineResponse
from controller.enrollment import EnrollmentRefused, new_agent_id, public_key_bytes, request_text
from controller.findings.assets import link_agents
from controller.store import agents as agent_store
from controller.store import audit
from controller.store.models import Agent
from controller.store.units import get_unit


class OfflineRefused(Exception):  # noqa: N818 - what the officer is told
    """The request cannot be accepted; ``str()`` is the one-line reason."""


@dataclass(frozen=True)
class Acceptance:
    """What :func:`accept_request` did."""

    response: OfflineResponse
    #: False: the key was accepted before; the same response is issued again.
    created: bool
    revoked: list[Agent] = field(default_factory=list)


def check_request(request: OfflineRequest) -> bytes:
    """The request's raw public key after checking the request's form; OfflineRefused else."""
    if request.format != REQUEST_FORMAT:
        raise OfflineRefused(f"unsupported request format {request.format[:40]!r}")
    try:
        public = public_key_bytes(request.public_key)
        for name in ("hostname", "machine_id", "system_uuid", "system_serial", "os"):
            request_text(name, getattr(request, name), required=name == "hostname")
        for mac in request.macs:
            request_text("macs", mac)
    except EnrollmentRefused as exc:
        raise OfflineRefused(f"the request is not valid: {exc.message}") from exc
    if keys.key_id(public) != request.key_id:
        raise OfflineRefused("the request's key id does not belong to its public key (altered)")
    return public


def accept_request(
    s: Session, request: OfflineRequest, unit_id: str, ca_fingerprint: str, at: datetime, actor: str
) -> Acceptance:
    """Register the requesting computer as an active offline agent of ``unit_id`` (in ``s``)."""
    public = check_request(request)
    if s.get_bind().dialect.name == "postgresql":
        # Two acceptances of one computer at once are decided one after the other. SQLite:
        # the caller's transaction holds the write lock from its start (db.write_session).
        agent_store.lock_hardware(s, request.machine_id, request.system_uuid, request.system_serial)
    if get_unit(s, unit_id) is None:
        raise OfflineRefused(f"no unit {unit_id!r} (see `govguard units list`)")
    existing = agent_store.get_agent_by_key(s, request.key_id)
    if existing is not None:
        if not existing.offline or existing.status != "active" or existing.unit_id != unit_id:
            raise OfflineRefused(
                f"this key is already agent {existing.id} ({existing.status}, unit "
                f"{existing.unit_id}); make a new request on the computer"
            )
        return Acceptance(_response(existing, ca_fingerprint, at), created=False)
    same = agent_store.find_same_hardware(
        s, request.machine_id, request.system_uuid, request.system_serial
    )
    agent = agent_store.add_agent(
        s,
        id=new_agent_id(s),
        key_id=request.key_id,
        public_key=public,
        status="active",
        unit_id=unit_id,
        replaces=same[-1].id if same else None,
        hostname=request.hostname.strip(),
        machine_id=request_text("machine_id", request.machine_id),
        system_uuid=request_text("system_uuid", request.system_uuid),
        system_serial=request_text("system_serial", request.system_serial),
        macs=[m.strip() for m in request.macs if m.strip()],
        os=request.os,
        agent_version=request.agent_version,
        created_at=at,
        approved_at=at,
        offline=True,
    )
    for old in same:
        agent_store.revoke_agent(s, old.id, at)
        audit.record(s, actor, "agent.revoked", f"agent:{old.id}",
                     {"hostname": old.hostname, "reason": f"replaced by offline agent {agent.id}"},
                     at=at)  # fmt: skip
    details = {"hostname": agent.hostname, "key_id": agent.key_id, "unit_id": unit_id}
    audit.record(s, actor, "agent.enrolled_offline", f"agent:{agent.id}", details, at=at)
    link_agents(s, [agent.id])  # its classified asset in the organisation file
    return Acceptance(_response(agent, ca_fingerprint, at), created=True, revoked=same)


def _response(agent: Agent, ca_fingerprint: str, at: datetime) -> OfflineResponse:
    return OfflineResponse(
        format=RESPONSE_FORMAT,
        agent_id=agent.id,
        key_id=agent.key_id,
        ca_fingerprint=ca_fingerprint,
        unit=agent.unit_id,
        created_at=utc_stamp(at),
    )
