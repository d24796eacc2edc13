"""Network discovery: polled device state, interfaces, MAC sightings and ARP entries with their
history, printer state, port shutdowns awaiting approval, SSH targets, and a source column on
agents and reports (agent, bundle, ssh).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the discovery tables."""

    op.create_table(
        "arp_entries",
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("ip", sa.String(), nullable=False),
        sa.Column("mac", sa.String(), nullable=False),
        sa.Column("if_index", sa.Integer(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["network_devices.id"],
            name=op.f("fk_arp_entries_device_id_network_devices"),
        ),
        sa.PrimaryKeyConstraint("device_id", "ip", "mac", name=op.f("pk_arp_entries")),
    )
    with op.batch_alter_table("arp_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arp_entries_last_seen"), ["last_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_arp_entries_mac"), ["mac"], unique=False)

    op.create_table(
        "mac_sightings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("mac", sa.String(), nullable=False),
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("if_index", sa.Integer(), nullable=False),
        sa.Column("vlan", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["network_devices.id"],
            name=op.f("fk_mac_sightings_device_id_network_devices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mac_sightings")),
        sa.UniqueConstraint(
            "mac",
            "device_id",
            "if_index",
            "vlan",
            name=op.f("uq_mac_sightings_mac_device_id_if_index_vlan"),
        ),
    )
    with op.batch_alter_table("mac_sightings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mac_sightings_device_id_last_seen"),
            ["device_id", "last_seen"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_mac_sightings_last_seen"), ["last_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_mac_sightings_mac"), ["mac"], unique=False)

    op.create_table(
        "net_device_state",
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("elapsed_s", sa.Float(), nullable=True),
        sa.Column("profile", sa.String(), nullable=True),
        sa.Column("sys_name", sa.String(), nullable=True),
        sa.Column("sys_descr", sa.Text(), nullable=True),
        sa.Column("sys_object_id", sa.String(), nullable=True),
        sa.Column("uptime_s", sa.BigInteger(), nullable=True),
        sa.Column("serial", sa.String(), nullable=True),
        sa.Column("values", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["network_devices.id"],
            name=op.f("fk_net_device_state_device_id_network_devices"),
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_net_device_state")),
    )
    op.create_table(
        "net_interfaces",
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("if_index", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("alias", sa.String(), nullable=True),
        sa.Column("descr", sa.String(), nullable=True),
        sa.Column("if_type", sa.Integer(), nullable=True),
        sa.Column("mac", sa.String(), nullable=True),
        sa.Column("admin_up", sa.Boolean(), nullable=True),
        sa.Column("oper_up", sa.Boolean(), nullable=True),
        sa.Column("speed_mbps", sa.BigInteger(), nullable=True),
        sa.Column("in_errors", sa.BigInteger(), nullable=True),
        sa.Column("out_errors", sa.BigInteger(), nullable=True),
        sa.Column("mac_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("uplink", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("uplink_reason", sa.String(), nullable=True),
        sa.Column("neighbour", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["network_devices.id"],
            name=op.f("fk_net_interfaces_device_id_network_devices"),
        ),
        sa.PrimaryKeyConstraint("device_id", "if_index", name=op.f("pk_net_interfaces")),
    )
    op.create_table(
        "printer_state",
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("device_status", sa.String(), nullable=True),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("pages", sa.BigInteger(), nullable=True),
        sa.Column("supplies", sa.Text(), nullable=False),
        sa.Column("alerts", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["network_devices.id"],
            name=op.f("fk_printer_state_device_id_network_devices"),
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_printer_state")),
    )
    op.create_table(
        "ssh_targets",
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("port", sa.Integer(), server_default=sa.text("(22)"), nullable=False),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("agent_id", sa.String(), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_ssh_targets_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_ssh_targets_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_ssh_targets")),
    )
    op.create_table(
        "port_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("if_index", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("mac", sa.String(), nullable=True),
        sa.Column(
            "finding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("undo_of", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["network_devices.id"],
            name=op.f("fk_port_actions_device_id_network_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_port_actions_finding_id_findings")
        ),
        sa.ForeignKeyConstraint(
            ["undo_of"], ["port_actions.id"], name=op.f("fk_port_actions_undo_of_port_actions")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_port_actions_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_port_actions")),
    )
    with op.batch_alter_table("port_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_port_actions_device_id_if_index"),
            ["device_id", "if_index"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_port_actions_state"), ["state"], unique=False)

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(), server_default="agent", nullable=False)
        )

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(), server_default="agent", nullable=False)
        )


def downgrade() -> None:
    """Undo this revision."""

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("source")

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("source")

    with op.batch_alter_table("port_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_port_actions_state"))
        batch_op.drop_index(batch_op.f("ix_port_actions_device_id_if_index"))

    op.drop_table("port_actions")
    op.drop_table("ssh_targets")
    op.drop_table("printer_state")
    op.drop_table("net_interfaces")
    op.drop_table("net_device_state")
    with op.batch_alter_table("mac_sightings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mac_sightings_mac"))
        batch_op.drop_index(batch_op.f("ix_mac_sightings_last_seen"))
        batch_op.drop_index(batch_op.f("ix_mac_sightings_device_id_last_seen"))

    op.drop_table("mac_sightings")
    with op.batch_alter_table("arp_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_arp_entries_mac"))
        batch_op.drop_index(batch_op.f("ix_arp_entries_last_seen"))

    op.drop_table("arp_entries")
