"""What an eviction or a device delete left on a node that did not answer: destroyed when the
node answers again (cleanup), reported by `examine` until then.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "leftovers",
        sa.Column("id", ID, primary_key=True),  # the brick id, or the device id
        sa.Column("kind", sa.String(16), nullable=False),  # brick, device
        sa.Column("manage_hostname", sa.String(255), nullable=False),
        sa.Column("storage_hostname", sa.String(255), nullable=False),
        sa.Column("device_id", ID, nullable=False),
        sa.Column("device_name", sa.String(4096), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(1024), nullable=False),
        sa.Column("recorded", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leftovers")
