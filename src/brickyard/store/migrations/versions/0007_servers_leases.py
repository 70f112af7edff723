"""Several servers on one database: each registers with a lease (servers), the in-flight limit
is counted across them (inflight_slots), a counter tells a server its placement index is stale
(counters), and each queue result names the server whose job it is.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "servers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("address", sa.String(512), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("renewed", sa.Float, nullable=False),
        sa.Column("lease", sa.Float, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
    )
    op.create_table(
        "inflight_slots",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("server", sa.String(64), nullable=False, index=True),
        sa.Column("taken", sa.Float, nullable=False),
    )
    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(counters, [{"name": "placement", "value": 0}])
    with op.batch_alter_table("queue_results") as batch:
        batch.add_column(sa.Column("server", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("queue_results") as batch:
        batch.drop_column("server")
    op.drop_table("counters")
    op.drop_table("inflight_slots")
    op.drop_table("servers")
