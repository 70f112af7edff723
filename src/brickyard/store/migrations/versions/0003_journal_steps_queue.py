"""The journal records node steps as they complete, operations carry what recovery needs to
address the node (a node or device not yet in the database), and queue results survive a
restart.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    with op.batch_alter_table("pending_operations") as batch:
        batch.add_column(sa.Column("detail", sa.JSON, nullable=False, server_default="{}"))
    op.create_table(
        "operation_steps",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("op_id", ID, nullable=False, index=True),
        sa.Column("step", sa.String(255), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_table(
        "queue_results",
        sa.Column("id", ID, primary_key=True),
        sa.Column("op_id", ID, nullable=False),
        sa.Column("description", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(1024), nullable=False),
        sa.Column("redirect", sa.String(1024), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("queue_results")
    op.drop_table("operation_steps")
    with op.batch_alter_table("pending_operations") as batch:
        batch.drop_column("detail")
