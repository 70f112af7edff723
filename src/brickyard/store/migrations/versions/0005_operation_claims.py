"""Operations are claimed before anyone acts on them (owner, claimed_at), may wait for a human
(held), and say which journal format wrote them (format; rows written before this revision are
format 1). Journal steps get a machine-readable kind and subject.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pending_operations") as batch:
        batch.add_column(sa.Column("owner", sa.String(128), nullable=False, server_default=""))
        batch.add_column(sa.Column("claimed_at", sa.Float, nullable=False, server_default="0"))
        batch.add_column(sa.Column("held", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("format", sa.Integer, nullable=False, server_default="1"))
    with op.batch_alter_table("operation_steps") as batch:
        batch.add_column(sa.Column("kind", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("subject", sa.String(255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("operation_steps") as batch:
        batch.drop_column("subject")
        batch.drop_column("kind")
    with op.batch_alter_table("pending_operations") as batch:
        for column in ("format", "held", "claimed_at", "owner"):
            batch.drop_column(column)
