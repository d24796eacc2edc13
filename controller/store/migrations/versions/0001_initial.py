"""Initial schema: units, users, enrollment tokens, agents, reports, host facts, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not BIGINT.
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "units",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("parent_id", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["parent_id"], ["units.id"], name=op.f("fk_units_parent_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=True),
        _when("created_at"),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_users_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "enrollment_tokens",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _when("revoked_at", nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_enrollment_tokens_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_tokens")),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("token_id", sa.String(), nullable=True),
        sa.Column("replaces", sa.String(), nullable=True),
        sa.Column("hostname", sa.String(), nullable=False),
        sa.Column("machine_id", sa.String(), nullable=True),
        sa.Column("system_uuid", sa.String(), nullable=True),
        sa.Column("system_serial", sa.String(), nullable=True),
        sa.Column("macs", sa.Text(), nullable=False),
        sa.Column("os", sa.String(), nullable=False),
        sa.Column("agent_version", sa.String(), nullable=False),
        _when("created_at"),
        _when("approved_at", nullable=True),
        _when("revoked_at", nullable=True),
        _when("last_seen_at", nullable=True),
        sa.Column("last_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["enrollment_tokens.id"],
            name=op.f("fk_agents_token_id_enrollment_tokens"),
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_agents_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("key_id", name=op.f("uq_agents_key_id")),
    )
    op.create_index(op.f("ix_agents_machine_id"), "agents", ["machine_id"])
    op.create_index(op.f("ix_agents_system_uuid"), "agents", ["system_uuid"])
    op.create_index(op.f("ix_agents_system_serial"), "agents", ["system_serial"])
    op.create_table(
        "reports",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("report_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        _when("sent_at"),
        _when("received_at"),
        _when("collected_at", nullable=True),
        sa.Column("clock_skew_s", sa.Float(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_reports_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("agent_id", "seq", name=op.f("uq_reports_agent_id_seq")),
    )
    op.create_index(op.f("ix_reports_received_at"), "reports", ["received_at"])
    op.create_table(
        "host_facts",
        sa.Column("agent_id", sa.String(), nullable=False),
        _when("updated_at"),
        _when("last_report_at"),
        _when("last_full_at", nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("clock_skew_s", sa.Float(), nullable=True),
        sa.Column("full_body", sa.LargeBinary(), nullable=True),
        sa.Column("heartbeat", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_host_facts_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_host_facts")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        _when("at"),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )


def downgrade() -> None:
    """Drop every table (the database is empty afterwards)."""
    op.drop_table("audit_log")
    op.drop_table("host_facts")
    op.drop_index(op.f("ix_reports_received_at"), table_name="reports")
    op.drop_table("reports")
    op.drop_index(op.f("ix_agents_system_serial"), table_name="agents")
    op.drop_index(op.f("ix_agents_system_uuid"), table_name="agents")
    op.drop_index(op.f("ix_agents_machine_id"), table_name="agents")
    op.drop_table("agents")
    op.drop_table("enrollment_tokens")
    op.drop_table("users")
    op.drop_table("units")
