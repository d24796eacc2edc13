"""The organisation file: unit details, offices, officials, assets and their MACs, network devices.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNIT_COLUMNS = (
    ("code", sa.String()),
    ("headcount_can_bo", sa.Integer()),
    ("headcount_cong_chuc", sa.Integer()),
    ("headcount_vien_chuc", sa.Integer()),
    ("org_cert_issuer", sa.String()),
    ("org_cert_serial", sa.String()),
    ("org_cert_expires_on", sa.Date()),
)


def _retired() -> sa.Column[object]:
    return sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True)


def _headcounts() -> list[sa.Column[object]]:
    return [
        sa.Column(f"headcount_{name}", sa.Integer(), nullable=True)
        for name in ("can_bo", "cong_chuc", "vien_chuc")
    ]


def upgrade() -> None:
    """Add the inventory columns to units and the inventory tables."""
    for name, type_ in _UNIT_COLUMNS:
        op.add_column("units", sa.Column(name, type_, nullable=True))
    op.add_column(
        "units",
        sa.Column("inventory_managed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("units", _retired())
    op.create_table(
        "offices",
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        *_headcounts(),
        _retired(),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_offices_unit_id_units")),
        sa.PrimaryKeyConstraint("unit_id", "id", name=op.f("pk_offices")),
    )
    op.create_table(
        "officials",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("office_id", sa.String(), nullable=True),
        sa.Column("position", sa.String(), nullable=True),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("cert_status", sa.String(), nullable=True),
        sa.Column("cert_issuer", sa.String(), nullable=True),
        sa.Column("cert_serial", sa.String(), nullable=True),
        sa.Column("cert_expires_on", sa.Date(), nullable=True),
        _retired(),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_officials_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officials")),
    )
    op.create_index(op.f("ix_officials_unit_id"), "officials", ["unit_id"])
    op.create_table(
        "assets",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("office_id", sa.String(), nullable=True),
        sa.Column("hostname", sa.String(), nullable=True),
        sa.Column("serial", sa.String(), nullable=True),
        sa.Column("machine_id", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("assigned_user", sa.String(), nullable=True),
        sa.Column("classification", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("for_secret_use", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("security_plan_ref", sa.String(), nullable=True),
        sa.Column("security_plan_approved_at", sa.Date(), nullable=True),
        sa.Column("security_plan_reviewed_at", sa.Date(), nullable=True),
        sa.Column("sanitisation_ref", sa.String(), nullable=True),
        sa.Column("purchased_at", sa.Date(), nullable=True),
        sa.Column("agent_id", sa.String(), nullable=True),
        _retired(),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_assets_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_user"], ["officials.id"], name=op.f("fk_assets_assigned_user_officials")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_assets_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
    )
    for column in ("unit_id", "serial", "machine_id", "hostname"):
        op.create_index(op.f(f"ix_assets_{column}"), "assets", [column])
    op.create_table(
        "asset_macs",
        sa.Column("asset_id", sa.String(), nullable=False),
        sa.Column("mac", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_macs_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("asset_id", "mac", name=op.f("pk_asset_macs")),
    )
    op.create_index(op.f("ix_asset_macs_mac"), "asset_macs", ["mac"])
    op.create_table(
        "snmp_credentials",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        _retired(),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_snmp_credentials")),
    )
    op.create_table(
        "network_devices",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("office_id", sa.String(), nullable=True),
        sa.Column("hostname", sa.String(), nullable=True),
        sa.Column("ip", sa.String(), nullable=True),
        sa.Column("macs", sa.Text(), nullable=False),
        sa.Column("serial", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("snmp_credential", sa.String(), nullable=True),
        sa.Column("for_secret_use", sa.Boolean(), server_default=sa.false(), nullable=False),
        _retired(),
        sa.ForeignKeyConstraint(
            ["snmp_credential"],
            ["snmp_credentials.name"],
            name=op.f("fk_network_devices_snmp_credential_snmp_credentials"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_network_devices_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_devices")),
    )


def downgrade() -> None:
    """Drop the inventory tables and the units' inventory columns."""
    op.drop_table("network_devices")
    op.drop_table("snmp_credentials")
    op.drop_index(op.f("ix_asset_macs_mac"), table_name="asset_macs")
    op.drop_table("asset_macs")
    for column in ("hostname", "machine_id", "serial", "unit_id"):
        op.drop_index(op.f(f"ix_assets_{column}"), table_name="assets")
    op.drop_table("assets")
    op.drop_index(op.f("ix_officials_unit_id"), table_name="officials")
    op.drop_table("officials")
    op.drop_table("offices")
    with op.batch_alter_table("units") as batch:
        for name in ("retired_at", "inventory_managed", *(n for n, _ in reversed(_UNIT_COLUMNS))):
            batch.drop_column(name)
