"""The controller's tables as SQLAlchemy 2 typed ORM classes.

Every timestamp is an aware UTC :class:`~datetime.datetime`. PostgreSQL keeps them in
``timestamptz`` columns; SQLite has no time zones, so :class:`UTCDateTime` stores UTC without an
offset and puts ``UTC`` back on the way out. The Alembic migrations in ``migrations/versions``
must describe exactly these tables (a test compares them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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


class AuditEntry(Base):
    """Who did what to which object, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    target: Mapped[str] = mapped_column(String)
    details: Mapped[Any] = mapped_column(JSONText(), nullable=True)


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
