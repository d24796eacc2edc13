"""Dashboard reads: the daily compliance table and the host facts' search columns.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT_COLUMNS = ("os_name", "os_version", "last_user", "serial")
_FLAG_COLUMNS = ("lan_ok", "internet_ok")


def upgrade() -> None:
    """Add compliance_daily and the host_facts columns the hosts page searches."""
    op.create_table(
        "compliance_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("passing", sa.Integer(), nullable=False),
        sa.Column("failing", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_compliance_daily_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("day", "unit_id", name=op.f("pk_compliance_daily")),
    )
    with op.batch_alter_table("host_facts") as batch:
        for name in _TEXT_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(), nullable=True))
        for name in _FLAG_COLUMNS:
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=True))


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("host_facts") as batch:
        for name in (*_FLAG_COLUMNS, *_TEXT_COLUMNS):
            batch.drop_column(name)
    op.drop_table("compliance_daily")
