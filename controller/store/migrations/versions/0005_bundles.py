"""Offline agents and their imported report bundles.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
# The lead re-chains migrations when merging branches; this branch's head was 0005.
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    """Add agents.offline and the bundles table."""
    op.add_column(
        "agents", sa.Column("offline", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_table(
        "bundles",
        sa.Column("agent_id", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("prev_digest", sa.String(), nullable=False),
        _when("created_at"),
        _when("imported_at"),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("gap", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_bundles_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("agent_id", "seq", name=op.f("pk_bundles")),
    )


def downgrade() -> None:
    """Drop the bundles table and agents.offline."""
    op.drop_table("bundles")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("offline")
