"""Enrollment of an agent: a token, a public key and a hardware identity become an agent row.

Nothing is ever auto-accepted or silently replaced: a computer that is already enrolled (same
machine id, system UUID or serial) and comes back with a new key gets a *pending* row that
names the agent it would replace, and an administrator decides (``govguard agents approve``).
The old key keeps working until then. Either way the token use is consumed, atomically, so
two PCs racing for the last use of a token cannot both win.

An agent whose answer was lost sends the same request again; it gets the same answer (same
agent, no further token use). Enrollments of one computer are serialised on its hardware
identity (:func:`controller.store.agents.lock_hardware`), so two keys of one PC racing each
other end as one active and one pending agent, never two active ones.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from agent import keys
from agent.token import TokenFormatError, parse_token, secret_hash, secrets_equal
from agent.wire import AgentSettings, EnrollReply, EnrollRequest
from controller.findings.assets import link_agents
from controller.findings.incremental import OnOpened
from controller.findings.tripwire import (
    ClassifiedIndex,
    Sighting,
    offline_agents_matching,
    raise_sightings,
)
from controller.settings import Settings
from controller.store import agents as agent_store
from controller.store import audit
from controller.store import tokens as token_store
from controller.store.models import Agent, EnrollmentToken

log = logging.getLogger(__name__)

#: HTTP status of each refusal code (the API renders them; the domain only names them).
STATUS: Final[dict[str, int]] = {
    "token_invalid": 401,
    "token_unknown": 401,
    "token_revoked": 401,
    "token_expired": 401,
    "token_used": 401,
    "key_exists": 409,
    "classified_computer": 403,
    "invalid_request": 422,
}

_MAX_TEXT = 256  # hostnames, hardware ids, versions: generous, but bounded
_MAX_MACS = 64

PENDING_MESSAGE = (
    "This computer is already enrolled with another key; an administrator must approve "
    "this enrollment (govguard agents approve {agent_id}) before its reports are accepted."
)


class EnrollmentRefused(Exception):  # noqa: N818 - the name is the API contract's
    """Enrollment refused: a stable ``code`` (see :data:`STATUS`) and an English sentence.

    ``sightings`` is set when the computer is a registered classified asset: the caller
    records them (critical findings) in a transaction of their own, since this one rolls back.
    """

    def __init__(self, code: str, message: str, sightings: Sequence[Sighting] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.sightings = tuple(sightings)

    @property
    def status(self) -> int:
        """The HTTP status the API answers with."""
        return STATUS.get(self.code, 400)


@dataclass(frozen=True)
class EnrollOutcome:
    """A new agent row: active (201) or pending an administrator's approval (202)."""

    agent_id: str
    key_id: str
    status: Literal["active", "pending"]
    settings: AgentSettings
    replaces: str | None = None
    #: True when this answers a repeated request (the agent lost the first answer).
    repeated: bool = False

    @property
    def http_status(self) -> int:
        """201 for an active agent, 202 for a pending one."""
        return 201 if self.status == "active" else 202

    def reply(self) -> EnrollReply:
        """The body sent back to the agent."""
        return EnrollReply(
            agent_id=self.agent_id,
            key_id=self.key_id,
            status=self.status,
            settings=self.settings,
            message=PENDING_MESSAGE.format(agent_id=self.agent_id)
            if self.status == "pending"
            else None,
        )


def _invalid(message: str) -> EnrollmentRefused:
    return EnrollmentRefused("invalid_request", message)


def request_text(name: str, value: str | None, *, required: bool = False) -> str | None:
    """A bounded, NUL-free text field; empty optional values become None."""
    if value is None or not value.strip():
        if required:
            raise _invalid(f"{name} must not be empty.")
        return None
    if len(value) > _MAX_TEXT:
        raise _invalid(f"{name} is longer than {_MAX_TEXT} characters.")
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
        raise _invalid(f"{name} contains a NUL character.")
    return value.strip()


def public_key_bytes(text: str) -> bytes:
    """The raw 32-byte Ed25519 key from its standard base64 text; 422 otherwise."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("public_key is not base64 text.") from exc
    if len(raw) != keys.PUBLIC_KEY_BYTES:
        raise _invalid(
            f"public_key must be a raw {keys.PUBLIC_KEY_BYTES}-byte Ed25519 key, got {len(raw)}."
        )
    return raw


def _find_token(session: Session, token_text: str) -> EnrollmentToken:
    """The token the text names, if its secret is right; refused as invalid or unknown."""
    try:
        parsed = parse_token(token_text)
    except TokenFormatError as exc:
        raise EnrollmentRefused("token_invalid", "The enrollment token is not valid.") from exc
    token = token_store.get_token(session, parsed.token_id)
    # A wrong secret is reported like an unknown token: it must not confirm that the id exists.
    if token is None or not secrets_equal(token.secret_hash, secret_hash(parsed.secret)):
        raise EnrollmentRefused("token_unknown", "The enrollment token is not known here.")
    return token


def _check_usable(token: EnrollmentToken, now: datetime) -> None:
    """Checks in a fixed order: revoked, expired, used."""
    if token.revoked_at is not None:
        raise EnrollmentRefused("token_revoked", "The enrollment token has been revoked.")
    if token.expires_at <= now:
        raise EnrollmentRefused("token_expired", "The enrollment token has expired.")
    if token.uses >= token.max_uses:
        raise EnrollmentRefused("token_used", "The enrollment token has been used up.")


def new_agent_id(session: Session) -> str:
    """A new random agent id (16 hex digits) not taken yet (also for offline enrollment)."""
    # 64 random bits: a collision is astronomically rare, but checking costs one lookup.
    while True:
        agent_id = secrets.token_hex(8)
        if agent_store.get_agent(session, agent_id) is None:
            return agent_id


def _replaced(same: list[Agent]) -> Agent:
    """Which existing row a new key of the same computer would replace: the newest active one."""
    active = [agent for agent in same if agent.status == "active"]
    return (active or same)[-1]


def _repeated(
    session: Session,
    existing: Agent,
    token_id: str,
    hardware: tuple[str | None, str | None, str | None],
    now: datetime,
    settings: Settings,
) -> EnrollOutcome:
    """The answer to an enrollment whose key is already registered.

    An agent whose 201/202 was lost on the way sends the very same request again (same key,
    token and computer): it gets the same answer, and no further token use is consumed. Any
    other request with a registered key (another token, another computer, a revoked agent) is
    refused: a key identifies one enrollment.
    """
    same = (
        existing.token_id == token_id
        and (existing.machine_id, existing.system_uuid, existing.system_serial) == hardware
        and existing.status in ("active", "pending")
    )
    if not same:
        raise EnrollmentRefused("key_exists", "This public key is already enrolled.")
    status: Literal["active", "pending"] = "active" if existing.status == "active" else "pending"
    audit.record(
        session,
        f"agent:{existing.id}",
        "agent.enroll_repeated",
        f"agent:{existing.id}",
        {"key_id": existing.key_id, "token_id": token_id, "status": status},
        at=now,
    )
    log.info("agent %s repeated its enrollment: %s", existing.id, status)
    return EnrollOutcome(
        agent_id=existing.id,
        key_id=existing.key_id,
        status=status,
        settings=settings.agent_settings(),
        replaces=existing.replaces,
        repeated=True,
    )


CLASSIFIED_MESSAGE = (
    "This computer is registered as a classified (state-secret) computer and must never be "
    "connected to a network. Disconnect it now and tell the IT officer; the attempt has been "
    "reported."
)


def _refuse_classified(
    session: Session,
    hostname: str | None,
    machine_id: str | None,
    system_uuid: str | None,
    system_serial: str | None,
    macs: Sequence[str],
) -> None:
    index = ClassifiedIndex(ttl_s=0)
    index.refresh(session)
    matched = index.match(macs=macs, serials=[system_serial], machine_ids=[machine_id, system_uuid])
    detail = {"hostname": hostname}
    sightings = [
        Sighting(asset_id, unit_id, "enrollment", ids, None, detail)
        for asset_id, (unit_id, ids) in sorted(matched.items())
    ]
    # A computer enrolled by carried files is classified even if no asset lists it yet.
    for agent_id, unit_id, asset_id, ids in offline_agents_matching(
        session, serial=system_serial, machine_ids=[machine_id, system_uuid]
    ):
        if asset_id is None or asset_id not in matched:
            sightings.append(Sighting(asset_id, unit_id, "enrollment", ids, agent_id, detail))
    if sightings:
        raise EnrollmentRefused("classified_computer", CLASSIFIED_MESSAGE, sightings)


def enroll(
    session: Session, request: EnrollRequest, now: datetime, settings: Settings
) -> EnrollOutcome:
    """Enroll an agent in ``session`` (the caller commits); raises :class:`EnrollmentRefused`.

    The outcome carries ``settings.agent_settings()``, what the new agent is told to do. A
    repeated request (same key, token and hardware: the agent lost the answer) gets the
    existing agent back without using the token again.
    """
    public_key = public_key_bytes(request.public_key)
    hostname = request_text("hostname", request.hostname, required=True)
    machine_id = request_text("machine_id", request.machine_id)
    system_uuid = request_text("system_uuid", request.system_uuid)
    system_serial = request_text("system_serial", request.system_serial)
    os_name = request_text("os", request.os) or ""
    agent_version = request_text("agent_version", request.agent_version) or ""
    if len(request.macs) > _MAX_MACS:
        raise _invalid(f"macs has more than {_MAX_MACS} entries.")
    macs = [mac for i, m in enumerate(request.macs) if (mac := request_text(f"macs[{i}]", m))]

    # First statement of the transaction: the same computer enrolling twice at once (two
    # tokens, or a retry racing the first request) is decided one after the other.
    agent_store.lock_hardware(session, machine_id, system_uuid, system_serial)
    # Before the token: any attempt of a classified computer to go online is the alarm, with
    # a valid token or not (Law 29/2018 Art. 5).
    _refuse_classified(session, hostname, machine_id, system_uuid, system_serial, macs)
    token = _find_token(session, request.token)
    token_id, unit_id = token.id, token.unit_id
    key_id = keys.key_id(public_key)
    existing = agent_store.get_agent_by_key(session, key_id)
    if existing is not None:
        # Checked before the token's state: the first request may have used the last use, or
        # the token may have expired since, and the retry must still get its answer.
        hardware = (machine_id, system_uuid, system_serial)
        return _repeated(session, existing, token_id, hardware, now, settings)
    _check_usable(token, now)
    if not token_store.consume_token(session, token_id, now):
        # Another enrollment took the last use (or an administrator revoked it) just now.
        raise EnrollmentRefused("token_used", "The enrollment token has been used up.")

    same = agent_store.find_same_hardware(session, machine_id, system_uuid, system_serial)
    replaces = _replaced(same).id if same else None
    status: Literal["active", "pending"] = "pending" if replaces else "active"
    agent_id = new_agent_id(session)
    agent_store.add_agent(
        session,
        id=agent_id,
        key_id=key_id,
        public_key=public_key,
        status=status,
        unit_id=unit_id,
        token_id=token_id,
        replaces=replaces,
        hostname=hostname,
        machine_id=machine_id,
        system_uuid=system_uuid,
        system_serial=system_serial,
        macs=macs,
        os=os_name,
        agent_version=agent_version,
        created_at=now,
        approved_at=now if status == "active" else None,
    )
    details: dict[str, object] = {
        "hostname": hostname,
        "key_id": key_id,
        "token_id": token_id,
        "unit_id": unit_id,
    }
    if replaces:
        details["replaces"] = replaces
    action = "agent.enrolled" if status == "active" else "agent.pending"
    audit.record(session, f"agent:{agent_id}", action, f"agent:{agent_id}", details, at=now)
    if status == "active":
        link_agents(session, [agent_id])  # its asset in the organisation file, if one matches
    log.info("agent %s (%s) enrolled: %s", agent_id, hostname, status)
    return EnrollOutcome(
        agent_id=agent_id,
        key_id=key_id,
        status=status,
        settings=settings.agent_settings(),
        replaces=replaces,
    )


def enroll_committed(
    sessions: sessionmaker[Session],
    request: EnrollRequest,
    now: datetime,
    settings: Settings,
    on_opened: OnOpened | None = None,
) -> EnrollOutcome:
    """:func:`enroll` in its own transaction, committed before returning (blocking)."""
    try:
        with sessions() as session, session.begin():
            return enroll(session, request, now, settings)
    except EnrollmentRefused as refused:
        if refused.sightings:
            # The enrollment rolled back; the alarm must not.
            with sessions() as session, session.begin():
                opened = raise_sightings(session, refused.sightings, now)
                if opened and on_opened is not None:
                    on_opened(session, opened, now)
            log.critical(
                "classified computer %s tried to enroll online",
                ", ".join(s.subject for s in refused.sightings),
            )
        raise
    except IntegrityError:
        # Two requests with the same new key raced past the lookup (a computer without hardware
        # ids takes no lock); the unique key_id index let only one in. Asked again, the loser
        # sees that row: the same enrollment repeated gets its answer, anything else 409.
        try:
            key_id = keys.key_id(public_key_bytes(request.public_key))
            with sessions() as session:
                taken = agent_store.get_agent_by_key(session, key_id) is not None
        except Exception:
            taken = False
        if not taken:
            raise
        with sessions() as session, session.begin():
            return enroll(session, request, now, settings)
