"""Initial schema: clusters, nodes, devices, volumes, bricks, pending operations, attributes.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "clusters",
        sa.Column("id", ID, primary_key=True),
        sa.Column("block", sa.Boolean, nullable=False),
        sa.Column("file", sa.Boolean, nullable=False),
    )
    op.create_table(
        "nodes",
        sa.Column("id", ID, primary_key=True),
        sa.Column("cluster_id", ID, sa.ForeignKey("clusters.id"), nullable=False, index=True),
        sa.Column("zone", sa.Integer, nullable=False),
        sa.Column("manage_hostname", sa.String(255), nullable=False, unique=True),
        sa.Column("storage_hostname", sa.String(255), nullable=False, unique=True),
        sa.Column("manage_hostnames", sa.JSON, nullable=False),
        sa.Column("storage_hostnames", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("id", ID, primary_key=True),
        sa.Column("node_id", ID, sa.ForeignKey("nodes.id"), nullable=False, index=True),
        sa.Column("name", sa.String(4096), nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("free", sa.BigInteger, nullable=False),
        sa.Column("used", sa.BigInteger, nullable=False),
        sa.Column("extent_size", sa.BigInteger, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("paths", sa.JSON, nullable=False),
        sa.Column("pv_uuid", sa.String(64), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
    )
    op.create_table(
        "volumes",
        sa.Column("id", ID, primary_key=True),
        sa.Column("cluster_id", ID, sa.ForeignKey("clusters.id"), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("durability_type", sa.String(16), nullable=False),
        sa.Column("replica", sa.Integer, nullable=False),
        sa.Column("disperse_data", sa.Integer, nullable=False),
        sa.Column("disperse_redundancy", sa.Integer, nullable=False),
        sa.Column("gid", sa.BigInteger, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("block", sa.Boolean, nullable=False),
        sa.Column("snapshot_enable", sa.Boolean, nullable=False),
        sa.Column("snapshot_factor", sa.Float, nullable=False),
        sa.Column("block_free_size", sa.Integer, nullable=False),
        sa.Column("block_reserved_size", sa.Integer, nullable=False),
        sa.Column("block_restriction", sa.String(32), nullable=False),
        sa.Column("pending_op_id", ID, nullable=False),
        sa.UniqueConstraint("cluster_id", "name", name="uq_volume_name_per_cluster"),
    )
    op.create_index("ix_volumes_visible", "volumes", ["pending_op_id", "id"])
    op.create_table(
        "bricks",
        sa.Column("id", ID, primary_key=True),
        sa.Column("volume_id", ID, sa.ForeignKey("volumes.id"), nullable=False, index=True),
        sa.Column("device_id", ID, sa.ForeignKey("devices.id"), nullable=False, index=True),
        sa.Column("node_id", ID, sa.ForeignKey("nodes.id"), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("tp_size", sa.BigInteger, nullable=False),
        sa.Column("pool_metadata_size", sa.BigInteger, nullable=False),
        sa.Column("set_index", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("subtype", sa.Integer, nullable=False),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("pending_op_id", ID, nullable=False),
    )
    op.create_table(
        "pending_operations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("type", sa.Integer, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
    )
    op.create_table(
        "db_attributes",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.String(4096), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "db_attributes",
        "pending_operations",
        "bricks",
        "volumes",
        "devices",
        "nodes",
        "clusters",
    ):
        op.drop_table(table)
