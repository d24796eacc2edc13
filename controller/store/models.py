"""The controller's tables as SQLAlchemy 2 typed ORM classes.

Every timestamp is an aware UTC :class:`~datetime.datetime`. PostgreSQL keeps them in
``timestamptz`` columns; SQLite has no time zones, so :class:`UTCDateTime` stores UTC without an
offset and puts ``UTC`` back on the way out. The Alembic migrations in ``migrations/versions``
must describe exactly these tables (a test compares them).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Constraint and index names are fixed so that migrations written by hand and the models agree.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: SQLite only auto-increments an ``INTEGER PRIMARY KEY`` (the rowid alias), not ``BIGINT``.
BigIntegerPK = BigInteger().with_variant(Integer(), "sqlite")

AGENT_STATUSES = ("active", "pending", "revoked")
USER_ROLES = ("admin", "operator", "auditor")
REPORT_KINDS = ("full", "heartbeat")
NOTIFICATION_STATUSES = ("queued", "sending", "sent", "failed")
NOTIFICATION_CHANNELS = ("email", "webhook")


def utcnow() -> datetime:
    """The current time, aware UTC (the default of every ``created_at``)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that only accepts and always returns aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive time is ambiguous (local? UTC?); refusing it keeps the column honest.
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite stores text; without the offset every value has the same format, so text
            # comparison (expires_at > now, received_at < before) orders correctly.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """A JSON value kept as text (portable, readable with plain SQL tools on both databases)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)


class Base(DeclarativeBase):
    """Declarative base of every govguard table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Unit(Base):
    """An organisational unit: the district, a commune, a department (slug ids)."""

    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    name: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String, default="unit")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The rest comes from the organisation file (controller/inventory); units made by `init` or
    # `units add` have inventory_managed False, so an import never retires them.
    code: Mapped[str | None] = mapped_column(String)
    headcount_can_bo: Mapped[int | None] = mapped_column(Integer)
    headcount_cong_chuc: Mapped[int | None] = mapped_column(Integer)
    headcount_vien_chuc: Mapped[int | None] = mapped_column(Integer)
    org_cert_issuer: Mapped[str | None] = mapped_column(String)
    org_cert_serial: Mapped[str | None] = mapped_column(String)
    org_cert_expires_on: Mapped[date | None] = mapped_column(Date)
    inventory_managed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Users, tokens and agents point at units.id: a unit leaves the organisation by retiring.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class User(Base):
    """A person who uses the dashboard or the API; ``unit_id`` None means the whole district."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String, unique=True)
    password_hash: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The dashboard's language for this user ("vi" or "en").
    locale: Mapped[str] = mapped_column(String, default="vi", server_default="vi")
    full_name: Mapped[str | None] = mapped_column(String)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A dashboard session; only the SHA-256 of the cookie's secret is stored.

    Sessions live in the database, not in one process's memory, so any controller process behind
    the reverse proxy can serve any request, and disabling a user ends their sessions at once.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (Index(None, "user_id"),)

    id_hash: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The synchronizer token every state-changing request of this session must carry.
    csrf_token: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    address: Mapped[str | None] = mapped_column(String)
    user_agent: Mapped[str | None] = mapped_column(String)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginAttempt(Base):
    """One login attempt, kept for throttling (per account and per address) and for audit."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index(None, "username", "at"), Index(None, "address", "at"))

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    username: Mapped[str] = mapped_column(String)
    address: Mapped[str] = mapped_column(String)
    ok: Mapped[bool] = mapped_column(Boolean)


class EnrollmentToken(Base):
    """An enrollment token; only the SHA-256 of its secret is stored."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    created_by: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)


class Agent(Base):
    """One enrolled key of one computer (re-enrolling the same computer adds a row)."""

    __tablename__ = "agents"
    __table_args__ = (
        Index(None, "machine_id"),
        Index(None, "system_uuid"),
        Index(None, "system_serial"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    key_id: Mapped[str] = mapped_column(String, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[str] = mapped_column(String, default="active")
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    token_id: Mapped[str | None] = mapped_column(ForeignKey("enrollment_tokens.id"))
    replaces: Mapped[str | None] = mapped_column(String)
    hostname: Mapped[str] = mapped_column(String)
    machine_id: Mapped[str | None] = mapped_column(String)
    system_uuid: Mapped[str | None] = mapped_column(String)
    system_serial: Mapped[str | None] = mapped_column(String)
    macs: Mapped[list[str]] = mapped_column(JSONText(), default=list)
    os: Mapped[str] = mapped_column(String)
    agent_version: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    #: Enrolled by carried files (``govguard agents accept-offline``): reports come as bundles.
    offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: ``agent`` (a govguard agent's key) or ``ssh`` (collected agentless, :class:`SshTarget`).
    source: Mapped[str] = mapped_column(String, default="agent", server_default="agent")
    #: A remediation asked this agent for a fresh report (issue 8); the next ingest reply says
    #: ``report_now`` and clears it.
    report_now_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Bundle(Base):
    """One imported report bundle of an offline agent (``govguard import``)."""

    __tablename__ = "bundles"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: SHA-256 (hex) of the bundle file, and of the previous one as the agent named it.
    digest: Mapped[str] = mapped_column(String)
    prev_digest: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reports: Mapped[int] = mapped_column(Integer)
    #: Bundle numbers missing before this one (0: it follows the last one imported).
    gap: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


class Report(Base):
    """One stored report, its body kept exactly as received (gzip JSON, signed digest)."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("agent_id", "seq"),
        Index(None, "received_at"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    report_id: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    clock_skew_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    #: ``agent`` (online), ``bundle`` (imported from USB) or ``ssh`` (agentless collection).
    source: Mapped[str] = mapped_column(String, default="agent", server_default="agent")


class HostFacts(Base):
    """The newest known state of one agent's computer, written by ingest without reading."""

    __tablename__ = "host_facts"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_report_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_full_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seq: Mapped[int] = mapped_column(BigInteger)
    clock_skew_s: Mapped[float | None] = mapped_column(Float)
    full_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    heartbeat: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Searched and sorted by the dashboard's hosts page (controller/store/host_index.py).
    os_name: Mapped[str | None] = mapped_column(String)
    os_version: Mapped[str | None] = mapped_column(String)
    last_user: Mapped[str | None] = mapped_column(String)
    serial: Mapped[str | None] = mapped_column(String)
    lan_ok: Mapped[bool | None] = mapped_column(Boolean)
    internet_ok: Mapped[bool | None] = mapped_column(Boolean)


class ComplianceDaily(Base):
    """Passing and failing rule states of one unit's hosts on one day (the overview's trend).

    Written by :func:`controller.store.dashboard.snapshot_compliance` after each periodic
    re-evaluation; the last run of a day wins.
    """

    __tablename__ = "compliance_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), primary_key=True)
    passing: Mapped[int] = mapped_column(Integer)
    failing: Mapped[int] = mapped_column(Integer)


class AuditEntry(Base):
    """Who did what to which object, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    target: Mapped[str] = mapped_column(String)
    details: Mapped[Any] = mapped_column(JSONText(), nullable=True)
    #: Where the action came from: the client address of a dashboard/API request, "cli", ...
    source: Mapped[str | None] = mapped_column(String)


FINDING_STATUSES = ("open", "acknowledged", "exempted", "resolved")


class RuleState(Base):
    """The current outcome of one rule on one agent's computer, written only when it changes.

    Evaluating a host compares each outcome with this row: an unchanged outcome costs no write,
    so thousands of heartbeats an hour touch this table only when something really changed.
    """

    __tablename__ = "rule_states"
    __table_args__ = (Index(None, "rule_id", "outcome"),)

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String, primary_key=True)
    outcome: Mapped[str] = mapped_column(String)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The reason (``{"code": ..., "values": {...}}``) and the evidence of the outcome.
    reason: Mapped[Any] = mapped_column(JSONText())
    evidence: Mapped[Any] = mapped_column(JSONText(), nullable=True)


class Finding(Base):
    """A rule that failed on a host: open → acknowledged → resolved, or exempted until a date.

    ``open_key`` (``subject|rule``) is set while the finding is not resolved and unique, so one
    subject never has two live findings for one rule, even with several controller processes.
    ``subject`` is ``agent:<id>`` for a computer that reports, ``asset:<id>`` for one known only
    from the organisation file or the network (the classified-PC tripwire).
    """

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("open_key"),
        Index(None, "status", "severity"),
        Index(None, "unit_id"),
        Index(None, "agent_id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    open_key: Mapped[str | None] = mapped_column(String)
    subject: Mapped[str] = mapped_column(String)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    rule_id: Mapped[str] = mapped_column(String)
    severity: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String, default="open")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[Any] = mapped_column(JSONText())
    evidence: Mapped[Any] = mapped_column(JSONText(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exempt_reason: Mapped[str | None] = mapped_column(Text)
    exempted_by: Mapped[str | None] = mapped_column(String)
    exempt_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Job(Base):
    """A periodic job that exactly one controller process runs at a time (a lease).

    ``requested_at`` later than ``finished_at`` asks for a run now (a policy or organisation
    change); otherwise the job runs when its interval has passed since ``finished_at``.
    """

    __tablename__ = "jobs"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    holder: Mapped[str | None] = mapped_column(String)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_result: Mapped[Any] = mapped_column(JSONText(), nullable=True)


class JobRun(Base):
    """One leased run of a periodic job: who ran it, when, and how it ended (``govguard periodic
    runs``). Written when the run finishes or fails; old rows are pruned as new ones come."""

    __tablename__ = "job_runs"
    __table_args__ = (Index(None, "name", "started_at"),)

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String)
    #: The lease holder: ``<host>:<pid>:<thread>`` of the process that ran it.
    holder: Mapped[str] = mapped_column(String)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: ``ok``; ``failed`` (the work raised); ``lost`` (another process had taken the lease over
    #: by the end: the run outlived a lease it could not renew).
    outcome: Mapped[str] = mapped_column(String)
    #: The run's figures (``last_result`` of the job) or the error, capped.
    result: Mapped[str | None] = mapped_column(Text)


class Office(Base):
    """A room or section of a unit (``vp-mot-cua`` of a commune); its id is unique in the unit."""

    __tablename__ = "offices"

    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    headcount_can_bo: Mapped[int | None] = mapped_column(Integer)
    headcount_cong_chuc: Mapped[int | None] = mapped_column(Integer)
    headcount_vien_chuc: Mapped[int | None] = mapped_column(Integer)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Official(Base):
    """A person of the roster: key officials, signing leaders, clerks (for the readiness report)."""

    __tablename__ = "officials"
    __table_args__ = (Index(None, "unit_id"),)

    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    office_id: Mapped[str | None] = mapped_column(String)
    position: Mapped[str | None] = mapped_column(String)
    category: Mapped[str | None] = mapped_column(String)
    roles: Mapped[list[str]] = mapped_column(JSONText(), default=list)
    cert_status: Mapped[str | None] = mapped_column(String)
    cert_issuer: Mapped[str | None] = mapped_column(String)
    cert_serial: Mapped[str | None] = mapped_column(String)
    cert_expires_on: Mapped[date | None] = mapped_column(Date)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Asset(Base):
    """An expected machine of the organisation file (computer, printer, copier, ...)."""

    __tablename__ = "assets"
    __table_args__ = (
        Index(None, "unit_id"),
        Index(None, "serial"),
        Index(None, "machine_id"),
        Index(None, "hostname"),
        # Reports and the classified-PC status join agents to their asset on every computer.
        Index(None, "agent_id"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    office_id: Mapped[str | None] = mapped_column(String)
    hostname: Mapped[str | None] = mapped_column(String)
    serial: Mapped[str | None] = mapped_column(String)
    machine_id: Mapped[str | None] = mapped_column(String)
    model: Mapped[str | None] = mapped_column(String)
    assigned_user: Mapped[str | None] = mapped_column(ForeignKey("officials.id"))
    classification: Mapped[str] = mapped_column(String, default="normal")
    state: Mapped[str] = mapped_column(String, default="in_use")
    tags: Mapped[list[str]] = mapped_column(JSONText(), default=list)
    for_secret_use: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    security_plan_ref: Mapped[str | None] = mapped_column(String)
    security_plan_approved_at: Mapped[date | None] = mapped_column(Date)
    security_plan_reviewed_at: Mapped[date | None] = mapped_column(Date)
    sanitisation_ref: Mapped[str | None] = mapped_column(String)
    purchased_at: Mapped[date | None] = mapped_column(Date)
    # Filled by the findings work when an enrolled agent is matched to this asset.
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: How Ansible reaches it (the organisation file's ``connection:``, issue 8):
    #: ``{"address", "port", "user", "transport"}``, None: not reachable for remediation.
    connection: Mapped[dict[str, Any] | None] = mapped_column(JSONText(), nullable=True)


class AssetMac(Base):
    """One expected MAC of an asset, lower-case ``aa:bb:cc:dd:ee:ff`` (indexed for the tripwire)."""

    __tablename__ = "asset_macs"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    mac: Mapped[str] = mapped_column(String, primary_key=True, index=True)


class SnmpCredential(Base):
    """The name of an SNMP credential; its secret lives in the data directory, never here."""

    __tablename__ = "snmp_credentials"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    version: Mapped[str] = mapped_column(String)
    description: Mapped[str | None] = mapped_column(String)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NetworkDevice(Base):
    """A switch, router, network printer, ... polled over SNMP with a named credential."""

    __tablename__ = "network_devices"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    office_id: Mapped[str | None] = mapped_column(String)
    hostname: Mapped[str | None] = mapped_column(String)
    ip: Mapped[str | None] = mapped_column(String)
    macs: Mapped[list[str]] = mapped_column(JSONText(), default=list)
    serial: Mapped[str | None] = mapped_column(String)
    model: Mapped[str | None] = mapped_column(String)
    snmp_credential: Mapped[str | None] = mapped_column(ForeignKey("snmp_credentials.name"))
    for_secret_use: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Notification(Base):
    """One delivery of one notice to one recipient (an e-mail address or a named webhook).

    ``dedupe_key`` is the notice's key plus the channel and recipient: enqueuing the same notice
    again adds nothing. Rows are claimed (status ``sending``, ``claimed_by``, ``claimed_until``)
    by one controller process at a time; a claim that outlives ``claimed_until`` is taken over.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String, unique=True)
    event_key: Mapped[str] = mapped_column(String)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    severity: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    channel: Mapped[str] = mapped_column(String)
    recipient: Mapped[str] = mapped_column(String)
    language: Mapped[str] = mapped_column(String)
    subject: Mapped[dict[str, str]] = mapped_column(JSONText())
    body: Mapped[dict[str, str]] = mapped_column(JSONText())
    data: Mapped[Any] = mapped_column(JSONText(), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: True: waits for the daily digest; False: sent at once (critical notices).
    digest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RuleDaily(Base):
    """Passing and failing hosts of one rule in one unit on one day (the security report's trend).

    Written next to ``compliance_daily`` after each periodic re-evaluation; the last run of a day
    wins. Only units with hosts appear.
    """

    __tablename__ = "rule_daily"
    __table_args__ = (Index(None, "unit_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String, primary_key=True)
    passing: Mapped[int] = mapped_column(Integer)
    failing: Mapped[int] = mapped_column(Integer)


class DeclaredFigure(Base):
    """A figure the system cannot observe (documents signed, trainings, ISO, online dossiers...),
    entered per unit and period; reports label it *declared*, never *measured*.

    ``metric`` is a readiness metric key (``egov.16``...); a rate has a denominator, a count
    does not. One value per (unit, period, metric): entering it again replaces it.
    """

    __tablename__ = "declared_figures"
    __table_args__ = (UniqueConstraint("unit_id", "period", "metric"),)

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    #: A period label (``2026``, ``2026-Q4``, ``2026-11``): the one the figure was declared for.
    period: Mapped[str] = mapped_column(String)
    metric: Mapped[str] = mapped_column(String)
    numerator: Mapped[float] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    #: Where the figure comes from (the QLVB system's report, the HR office's list...).
    source: Mapped[str | None] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReportSchedule(Base):
    """A report generated on a schedule and e-mailed to its recipients.

    ``cadence`` is daily, weekly, monthly or quarterly: each run reports on the last whole
    period (on 1 December a monthly schedule reports November). ``last_period`` is the label of
    the last period generated, so a period is never sent twice, even with several processes.
    """

    __tablename__ = "report_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report: Mapped[str] = mapped_column(String)
    #: The root unit of the report (None: the whole organisation).
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    cadence: Mapped[str] = mapped_column(String)
    format: Mapped[str] = mapped_column(String)
    language: Mapped[str] = mapped_column(String, default="vi", server_default="vi")
    recipients: Mapped[list[str]] = mapped_column(JSONText(), default=list)
    show_locations: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_by: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_period: Mapped[str | None] = mapped_column(String)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class ReportArchive(Base):
    """One generated report file kept in the data directory's archive, with its SHA-256.

    Kept for ``reports.archive_days`` of config.yaml, then purged (row and file).
    """

    __tablename__ = "report_archive"
    __table_args__ = (Index(None, "generated_at"),)

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    report: Mapped[str] = mapped_column(String)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    period: Mapped[str] = mapped_column(String)
    format: Mapped[str] = mapped_column(String)
    language: Mapped[str] = mapped_column(String)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    generated_by: Mapped[str] = mapped_column(String)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("report_schedules.id"))
    #: Relative to the data directory's ``reports/`` folder.
    path: Mapped[str] = mapped_column(String)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String)


class NetDeviceState(Base):
    """The last SNMP poll of one network device of the organisation file (issue 7)."""

    __tablename__ = "net_device_state"

    device_id: Mapped[str] = mapped_column(ForeignKey("network_devices.id"), primary_key=True)
    polled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The last poll that answered (None: never); ``error`` is the last poll's failure, if any.
    ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    elapsed_s: Mapped[float | None] = mapped_column(Float)
    profile: Mapped[str | None] = mapped_column(String)
    sys_name: Mapped[str | None] = mapped_column(String)
    sys_descr: Mapped[str | None] = mapped_column(Text)
    sys_object_id: Mapped[str | None] = mapped_column(String)
    uptime_s: Mapped[int | None] = mapped_column(BigInteger)
    #: The serial number the device reports (ENTITY-MIB), to compare with the register's.
    serial: Mapped[str | None] = mapped_column(String)
    #: Values received in the last round (a measure of the device's size and of the poll's cost).
    values: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class NetInterface(Base):
    """One interface (port) of a polled device, as of the last poll that answered."""

    __tablename__ = "net_interfaces"

    device_id: Mapped[str] = mapped_column(ForeignKey("network_devices.id"), primary_key=True)
    if_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String)
    alias: Mapped[str | None] = mapped_column(String)
    descr: Mapped[str | None] = mapped_column(String)
    if_type: Mapped[int | None] = mapped_column(Integer)
    mac: Mapped[str | None] = mapped_column(String)
    admin_up: Mapped[bool | None] = mapped_column(Boolean)
    oper_up: Mapped[bool | None] = mapped_column(Boolean)
    speed_mbps: Mapped[int | None] = mapped_column(BigInteger)
    in_errors: Mapped[int | None] = mapped_column(BigInteger)
    out_errors: Mapped[int | None] = mapped_column(BigInteger)
    #: MAC addresses learnt on the port in the last poll.
    mac_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    #: An uplink (towards other switches) is not where a PC sits: sightings on it do not locate.
    uplink: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Why the port is an uplink: ``lldp`` (a neighbour is a bridge), ``macs`` (many MACs),
    #: ``device`` (a known network device's MAC is behind it).
    uplink_reason: Mapped[str | None] = mapped_column(String)
    #: The LLDP neighbour: ``{"chassis_id", "port_id", "sys_name"}``.
    neighbour: Mapped[Any] = mapped_column(JSONText(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MacSighting(Base):
    """A MAC address learnt on a switch port (bridge forwarding table), with its history.

    One row per (MAC, device, port, VLAN): ``first_seen`` when it appeared there, ``last_seen``
    the last poll that still showed it. ``vlan`` 0: the device did not say (BRIDGE-MIB).
    """

    __tablename__ = "mac_sightings"
    __table_args__ = (
        UniqueConstraint("mac", "device_id", "if_index", "vlan"),
        Index(None, "device_id", "last_seen"),
        Index(None, "last_seen"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    mac: Mapped[str] = mapped_column(String, index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("network_devices.id"))
    if_index: Mapped[int] = mapped_column(Integer)
    vlan: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class ArpEntry(Base):
    """An IP-to-MAC entry of a router's or switch's ARP/neighbour table, with its history."""

    __tablename__ = "arp_entries"
    __table_args__ = (Index(None, "mac"), Index(None, "last_seen"))

    device_id: Mapped[str] = mapped_column(ForeignKey("network_devices.id"), primary_key=True)
    ip: Mapped[str] = mapped_column(String, primary_key=True)
    mac: Mapped[str] = mapped_column(String, primary_key=True)
    if_index: Mapped[int | None] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class PrinterState(Base):
    """A network printer's last polled state (HOST-RESOURCES and Printer-MIB)."""

    __tablename__ = "printer_state"

    device_id: Mapped[str] = mapped_column(ForeignKey("network_devices.id"), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: hrPrinterStatus: ``other``, ``unknown``, ``idle``, ``printing``, ``warmup``.
    status: Mapped[str | None] = mapped_column(String)
    #: hrDeviceStatus: ``unknown``, ``running``, ``warning``, ``testing``, ``down``.
    device_status: Mapped[str | None] = mapped_column(String)
    #: hrPrinterDetectedErrorState bits by name (``lowToner``, ``noPaper``, ``jammed``...).
    errors: Mapped[list[str]] = mapped_column(JSONText(), default=list)
    #: prtMarkerLifeCount: pages printed over the printer's life.
    pages: Mapped[int | None] = mapped_column(BigInteger)
    #: ``[{"index", "name", "colour", "level", "max", "percent"}]`` (percent None: unknown).
    supplies: Mapped[list[Any]] = mapped_column(JSONText(), default=list)
    #: Active alerts' descriptions (prtAlertTable).
    alerts: Mapped[list[str]] = mapped_column(JSONText(), default=list)


class PortAction(Base):
    """A switch port shutdown (or its undo) by SNMP SET, which waits for an operator's approval.

    ``state``: ``pending`` → ``approved`` → ``applied`` | ``failed``; or ``rejected``. An undo
    is another action (``action`` ``up``, ``undo_of`` the shutdown) that applies once approved
    by the same click. Every transition is in the audit log.
    """

    __tablename__ = "port_actions"
    __table_args__ = (Index(None, "state"), Index(None, "device_id", "if_index"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("network_devices.id"))
    if_index: Mapped[int] = mapped_column(Integer)
    #: ``down`` (ifAdminStatus 2) or ``up`` (ifAdminStatus 1).
    action: Mapped[str] = mapped_column(String)
    state: Mapped[str] = mapped_column(String, default="pending")
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    #: Why: the finding's subject (``asset:<id>``) and the MAC seen, or an operator's text.
    subject: Mapped[str | None] = mapped_column(String)
    mac: Mapped[str | None] = mapped_column(String)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    undo_of: Mapped[int | None] = mapped_column(ForeignKey("port_actions.id"))


class SshTarget(Base):
    """A Linux host without an agent, collected over SSH (``govguard ssh collect``).

    Its reports are stored under an agent row of ``source`` ``ssh`` (key id ``ssh:<host>``),
    so the same policies, findings and reports apply to it.
    """

    __tablename__ = "ssh_targets"

    host: Mapped[str] = mapped_column(String, primary_key=True)
    port: Mapped[int] = mapped_column(Integer, default=22, server_default=text("22"))
    username: Mapped[str] = mapped_column(String)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: ``unknown_host_key``, ``changed_host_key``, ``auth``, ``timeout``, ``command`` + text.
    last_error: Mapped[str | None] = mapped_column(Text)


REMEDIATION_JOB_STATUSES = (
    "previewing",  # the check-mode run is queued or running
    "awaiting_approval",  # the preview finished; an operator or admin decides
    "queued",  # approved (or approval not needed): the apply run waits (hosts offline, slots)
    "running",  # an apply run is running
    "verifying",  # the run finished; waiting for the hosts' next reports
    "fixed",  # every target's next report passes the rule (or the run succeeded, no rule)
    "not_fixed",  # a target's next report still fails the rule (evidence on the target)
    "failed",  # the preview or the run failed (or a target stayed offline too long)
    "cancelled",
    "rejected",
    "interrupted",  # the worker died mid-run; never relaunched by itself
)
REMEDIATION_RUN_STATES = ("queued", "running", "succeeded", "failed", "interrupted", "cancelled")
REMEDIATION_TARGET_STATES = (
    "pending",  # not run yet
    "waiting",  # offline: runs when the host next reports (until remediation.offline_wait_s)
    "running",
    "ok",  # the apply run succeeded on it with nothing to change
    "changed",  # the apply run succeeded and changed something
    "failed",
    "unreachable",
    "cancelled",
    "expired",  # stayed offline past remediation.offline_wait_s
)
REMEDIATION_VERIFICATIONS = ("waiting", "fixed", "not_fixed", "unknown")


class RemediationJob(Base):
    """One playbook applied to a set of hosts: preview → approval → run → verification.

    ``status`` is the workflow stage (:data:`REMEDIATION_JOB_STATUSES`); each ansible execution
    is a :class:`RemediationRun` (a check-mode preview, then one or more apply runs: a host that
    was offline gets its own run when it next reports). Every transition is in the audit log.
    """

    __tablename__ = "remediation_jobs"
    __table_args__ = (Index(None, "status"), Index(None, "finding_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: A file name in the playbooks directory (``enable_firewall.yml``), never a path.
    playbook: Mapped[str] = mapped_column(String)
    #: The rule the job fixes (verification re-reads it) and the finding it started from.
    rule_id: Mapped[str | None] = mapped_column(String)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"))
    status: Mapped[str] = mapped_column(String, default="previewing")
    #: ``required`` (an operator or admin approves after the preview) or ``none``.
    approval: Mapped[str] = mapped_column(String, default="required")
    #: ``cli``, ``web`` or ``auto`` (automatic remediation of a rule).
    origin: Mapped[str] = mapped_column(String)
    requested_by: Mapped[str] = mapped_column(String)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Skip the preview (``--approve`` on the command line by an operator or admin).
    decided_by: Mapped[str | None] = mapped_column(String)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Extra variables from the policy (rule parameters) or the operator, never agent strings.
    extra_vars: Mapped[dict[str, Any]] = mapped_column(JSONText(), default=dict)
    #: When the last apply run finished, and when verification concluded.
    ran_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: One line for the operator when the job failed, was cancelled or was not fixed.
    error: Mapped[str | None] = mapped_column(Text)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RemediationTarget(Base):
    """One host of a job: where its apply run stands and what verification found."""

    __tablename__ = "remediation_targets"
    __table_args__ = (Index(None, "agent_id"), Index(None, "state"))

    job_id: Mapped[int] = mapped_column(ForeignKey("remediation_jobs.id"), primary_key=True)
    #: The inventory host name (:func:`controller.remediation.inventory.host_name`): an asset id
    #: or ``agent-<id>``, checked against a strict pattern, never a reported hostname.
    host: Mapped[str] = mapped_column(String, primary_key=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    asset_id: Mapped[str | None] = mapped_column(ForeignKey("assets.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    classified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    state: Mapped[str] = mapped_column(String, default="pending")
    #: The apply run that ran (or runs) on this host.
    run_id: Mapped[int | None] = mapped_column(ForeignKey("remediation_runs.id"))
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ran_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verification: Mapped[str | None] = mapped_column(String)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The rule outcome read back (reason and evidence of the host's next report).
    evidence: Mapped[Any] = mapped_column(JSONText(), nullable=True)


class RemediationRun(Base):
    """One ansible-runner execution of a job's playbook (check mode or apply) on some hosts.

    Claimed by a worker with a conditional UPDATE (``queued`` → ``running``), so no run starts
    twice; ``holder`` and ``heartbeat_at`` let a restarted worker mark a run whose process died
    ``interrupted`` instead of leaving it running.
    """

    __tablename__ = "remediation_runs"
    __table_args__ = (Index(None, "state"), Index(None, "job_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("remediation_jobs.id"))
    #: ``check`` (the preview: check mode with diff) or ``apply``.
    mode: Mapped[str] = mapped_column(String)
    state: Mapped[str] = mapped_column(String, default="queued")
    #: The inventory host names this run targets.
    hosts: Mapped[list[str]] = mapped_column(JSONText(), default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: ``<hostname>:<pid>:<random>`` of the worker running it, and its last sign of life.
    holder: Mapped[str | None] = mapped_column(String)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    timeout_s: Mapped[int] = mapped_column(Integer)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: ansible-runner's status and return code, and per-host totals
    #: ``{host: {"ok", "changed", "failed", "unreachable", "skipped"}}``.
    status_text: Mapped[str | None] = mapped_column(String)
    rc: Mapped[int | None] = mapped_column(Integer)
    stats: Mapped[dict[str, Any]] = mapped_column(JSONText(), default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class RemediationEvent(Base):
    """One ansible event of a run (task start, host result, ...), streamed in as the run goes."""

    __tablename__ = "remediation_events"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("remediation_runs.id"))
    #: ansible-runner's ``counter``: the order of the events of one run.
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: ``playbook_on_task_start``, ``runner_on_ok``, ``runner_on_failed``, ...
    event: Mapped[str] = mapped_column(String)
    host: Mapped[str | None] = mapped_column(String)
    task: Mapped[str | None] = mapped_column(String)
    changed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    failed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The event's display text (ANSI colours removed, capped) and, in check mode, its diff.
    stdout: Mapped[str | None] = mapped_column(Text)
    diff: Mapped[str | None] = mapped_column(Text)
