"""Every brick of a real Heketi database: its own LVM names (Heketi's LvmThinPool / LvmLv),
and whether another brick carries its thin pool's space (clones share their origin's pool).
Block volumes imported from Heketi are kept, not served.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    with op.batch_alter_table("bricks") as batch:
        batch.add_column(
            sa.Column("lvm_thin_pool", sa.String(128), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("lvm_lv", sa.String(128), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("pool_guest", sa.Boolean, nullable=False, server_default=sa.false())
        )
    # Brickyard's own clone bricks (a gluster-chosen path) have always lived in their
    # origin's pool, with no space of their own.
    op.execute("UPDATE bricks SET pool_guest = true WHERE path <> ''")
    with op.batch_alter_table("volumes") as batch:
        batch.add_column(sa.Column("block_volumes", sa.JSON, nullable=False, server_default="[]"))
    op.create_table(
        "block_volumes",
        sa.Column("id", ID, primary_key=True),
        sa.Column("cluster_id", ID, sa.ForeignKey("clusters.id"), nullable=False),
        sa.Column("hosting_volume_id", ID, nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("info", sa.JSON, nullable=False),
        sa.Column("pending_op_id", ID, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("block_volumes")
    with op.batch_alter_table("volumes") as batch:
        batch.drop_column("block_volumes")
    with op.batch_alter_table("bricks") as batch:
        for column in ("pool_guest", "lvm_lv", "lvm_thin_pool"):
            batch.drop_column(column)
