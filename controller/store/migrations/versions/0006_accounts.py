"""Dashboard accounts: user language and login times, sessions, login attempts, audit source.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Add the user columns, web_sessions, login_attempts and audit_log.source."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("locale", sa.String(), server_default="vi", nullable=False))
        batch.add_column(sa.Column("full_name", sa.String(), nullable=True))
        batch.add_column(_when("password_changed_at", nullable=True))
        batch.add_column(_when("last_login_at", nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("source", sa.String(), nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(), nullable=False),
        _when("created_at"),
        _when("last_seen_at"),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("user_agent", sa.String(), nullable=True),
        _when("ended_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    op.create_table(
        "login_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        _when("at"),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(op.f("ix_login_attempts_username_at"), "login_attempts", ["username", "at"])
    op.create_index(op.f("ix_login_attempts_address_at"), "login_attempts", ["address", "at"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("login_attempts")
    op.drop_table("web_sessions")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("source")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_login_at")
        batch.drop_column("password_changed_at")
        batch.drop_column("full_name")
        batch.drop_column("locale")
