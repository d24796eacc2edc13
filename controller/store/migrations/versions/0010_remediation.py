"""Remediation: jobs (preview, approval, run, verification), their hosts, ansible-runner runs
and their streamed events; an asset's connection for Ansible; an agent's "report now" request.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the remediation tables and columns."""
    op.create_table(
        "remediation_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("playbook", sa.String(), nullable=False),
        sa.Column("rule_id", sa.String(), nullable=True),
        sa.Column(
            "finding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("approval", sa.String(), nullable=False),
        sa.Column("origin", sa.String(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extra_vars", sa.Text(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_remediation_jobs_finding_id_findings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_jobs")),
    )
    with op.batch_alter_table("remediation_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_remediation_jobs_finding_id"), ["finding_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_remediation_jobs_status"), ["status"], unique=False)

    op.create_table(
        "remediation_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("hosts", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("holder", sa.String(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_text", sa.String(), nullable=True),
        sa.Column("rc", sa.Integer(), nullable=True),
        sa.Column("stats", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["remediation_jobs.id"],
            name=op.f("fk_remediation_runs_job_id_remediation_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_runs")),
    )
    with op.batch_alter_table("remediation_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_remediation_runs_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_remediation_runs_state"), ["state"], unique=False)

    op.create_table(
        "remediation_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("task", sa.String(), nullable=True),
        sa.Column("changed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("failed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("stdout", sa.Text(), nullable=True),
        sa.Column("diff", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["remediation_runs.id"],
            name=op.f("fk_remediation_events_run_id_remediation_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_events")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_remediation_events_run_id_seq")),
    )
    op.create_table(
        "remediation_targets",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("agent_id", sa.String(), nullable=True),
        sa.Column("asset_id", sa.String(), nullable=True),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("classified", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verification", sa.String(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_remediation_targets_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_remediation_targets_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["remediation_jobs.id"],
            name=op.f("fk_remediation_targets_job_id_remediation_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["remediation_runs.id"],
            name=op.f("fk_remediation_targets_run_id_remediation_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_remediation_targets_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("job_id", "host", name=op.f("pk_remediation_targets")),
    )
    with op.batch_alter_table("remediation_targets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_remediation_targets_agent_id"), ["agent_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_remediation_targets_state"), ["state"], unique=False)

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_now_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connection", sa.Text(), nullable=True))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_column("connection")

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("report_now_at")

    with op.batch_alter_table("remediation_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_remediation_targets_state"))
        batch_op.drop_index(batch_op.f("ix_remediation_targets_agent_id"))

    op.drop_table("remediation_targets")
    op.drop_table("remediation_events")
    with op.batch_alter_table("remediation_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_remediation_runs_state"))
        batch_op.drop_index(batch_op.f("ix_remediation_runs_job_id"))

    op.drop_table("remediation_runs")
    with op.batch_alter_table("remediation_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_remediation_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_remediation_jobs_finding_id"))

    op.drop_table("remediation_jobs")
