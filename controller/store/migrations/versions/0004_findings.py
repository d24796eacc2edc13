"""Findings: the current outcome of each rule per host, the findings' lifecycle, job leases.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not BIGINT.
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create rule_states, findings and jobs."""
    op.create_table(
        "rule_states",
        sa.Column("agent_id", sa.String(), nullable=False),
        sa.Column("rule_id", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        _when("since"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_rule_states_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("agent_id", "rule_id", name=op.f("pk_rule_states")),
    )
    op.create_index(op.f("ix_rule_states_rule_id_outcome"), "rule_states", ["rule_id", "outcome"])
    op.create_table(
        "findings",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("open_key", sa.String(), nullable=True),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("agent_id", sa.String(), nullable=True),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("rule_id", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        _when("opened_at"),
        _when("last_seen_at"),
        _when("resolved_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("acknowledged_by", sa.String(), nullable=True),
        _when("acknowledged_at", nullable=True),
        sa.Column("exempt_reason", sa.Text(), nullable=True),
        sa.Column("exempted_by", sa.String(), nullable=True),
        _when("exempt_until", nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_findings_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_findings_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint("open_key", name=op.f("uq_findings_open_key")),
    )
    op.create_index(op.f("ix_findings_agent_id"), "findings", ["agent_id"])
    op.create_index(op.f("ix_findings_status_severity"), "findings", ["status", "severity"])
    op.create_index(op.f("ix_findings_unit_id"), "findings", ["unit_id"])
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(), nullable=False),
        _when("requested_at", nullable=True),
        _when("started_at", nullable=True),
        _when("finished_at", nullable=True),
        sa.Column("holder", sa.String(), nullable=True),
        _when("lease_until", nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_jobs")),
    )


def downgrade() -> None:
    """Drop the findings tables."""
    op.drop_table("jobs")
    op.drop_index(op.f("ix_findings_unit_id"), table_name="findings")
    op.drop_index(op.f("ix_findings_status_severity"), table_name="findings")
    op.drop_index(op.f("ix_findings_agent_id"), table_name="findings")
    op.drop_table("findings")
    op.drop_index(op.f("ix_rule_states_rule_id_outcome"), table_name="rule_states")
    op.drop_table("rule_states")
