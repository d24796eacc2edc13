"""Reports: daily per-rule counts, declared figures, report schedules, the report archive, and
an index on assets.agent_id (every report joins agents to their asset).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the reports tables."""
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_agent_id"), ["agent_id"], unique=False)

    op.create_table(
        "declared_figures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("numerator", sa.Float(), nullable=False),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("entered_by", sa.String(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_declared_figures_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declared_figures")),
        sa.UniqueConstraint(
            "unit_id", "period", "metric", name=op.f("uq_declared_figures_unit_id_period_metric")
        ),
    )
    op.create_table(
        "report_schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=True),
        sa.Column("cadence", sa.String(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("language", sa.String(), server_default="vi", nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("show_locations", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_period", sa.String(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_report_schedules_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_schedules")),
    )
    op.create_table(
        "rule_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("rule_id", sa.String(), nullable=False),
        sa.Column("passing", sa.Integer(), nullable=False),
        sa.Column("failing", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_rule_daily_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("day", "unit_id", "rule_id", name=op.f("pk_rule_daily")),
    )
    with op.batch_alter_table("rule_daily", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rule_daily_unit_id_day"), ["unit_id", "day"], unique=False
        )

    op.create_table(
        "report_archive",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("report", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=True),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by", sa.String(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["report_schedules.id"],
            name=op.f("fk_report_archive_schedule_id_report_schedules"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_report_archive_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_archive")),
    )
    with op.batch_alter_table("report_archive", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_archive_generated_at"), ["generated_at"], unique=False
        )


def downgrade() -> None:
    """Drop what upgrade created."""
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_agent_id"))

    with op.batch_alter_table("report_archive", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_archive_generated_at"))

    op.drop_table("report_archive")
    with op.batch_alter_table("rule_daily", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_daily_unit_id_day"))

    op.drop_table("rule_daily")
    op.drop_table("report_schedules")
    op.drop_table("declared_figures")
