"""Index bricks by pending operation: finalizing an operation must not scan every brick.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_bricks_pending_op_id", "bricks", ["pending_op_id"])


def downgrade() -> None:
    op.drop_index("ix_bricks_pending_op_id", table_name="bricks")
