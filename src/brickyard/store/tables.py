"""Table definitions (SQLAlchemy Core). Portable SQL only: SQLite by default, PostgreSQL later.
The migrations in migrations/versions create exactly these tables."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

ID = String(32)

clusters = Table(
    "clusters",
    metadata,
    Column("id", ID, primary_key=True),
    Column("block", Boolean, nullable=False),
    Column("file", Boolean, nullable=False),
)

nodes = Table(
    "nodes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("cluster_id", ID, ForeignKey("clusters.id"), nullable=False, index=True),
    Column("zone", Integer, nullable=False),
    # Only manage[0] and storage[0] are used; they are unique across all clusters.
    Column("manage_hostname", String(255), nullable=False, unique=True),
    Column("storage_hostname", String(255), nullable=False, unique=True),
    Column("manage_hostnames", JSON, nullable=False),
    Column("storage_hostnames", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("state", String(16), nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", ID, primary_key=True),
    Column("node_id", ID, ForeignKey("nodes.id"), nullable=False, index=True),
    Column("name", String(4096), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("free", BigInteger, nullable=False),
    Column("used", BigInteger, nullable=False),
    Column("extent_size", BigInteger, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("paths", JSON, nullable=False),
    Column("pv_uuid", String(64), nullable=False),
    Column("backend", String(16), nullable=False),
)

volumes = Table(
    "volumes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("cluster_id", ID, ForeignKey("clusters.id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("size", Integer, nullable=False),
    Column("durability_type", String(16), nullable=False),
    Column("replica", Integer, nullable=False),
    Column("disperse_data", Integer, nullable=False),
    Column("disperse_redundancy", Integer, nullable=False),
    Column("gid", BigInteger, nullable=False),
    Column("options", JSON, nullable=False),
    Column("block", Boolean, nullable=False),
    Column("snapshot_enable", Boolean, nullable=False),
    Column("snapshot_factor", Float, nullable=False),
    Column("block_free_size", Integer, nullable=False),
    Column("block_reserved_size", Integer, nullable=False),
    Column("block_restriction", String(32), nullable=False),
    Column("block_volumes", JSON, nullable=False, server_default="[]"),
    Column("pending_op_id", ID, nullable=False),
    UniqueConstraint("cluster_id", "name", name="uq_volume_name_per_cluster"),
)

bricks = Table(
    "bricks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("volume_id", ID, ForeignKey("volumes.id"), nullable=False, index=True),
    Column("device_id", ID, ForeignKey("devices.id"), nullable=False, index=True),
    Column("node_id", ID, ForeignKey("nodes.id"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("tp_size", BigInteger, nullable=False),
    Column("pool_metadata_size", BigInteger, nullable=False),
    Column("set_index", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("subtype", Integer, nullable=False),
    # Set only where gluster chose the path (snapshot clones); "" means the derived path.
    Column("path", String(4096), nullable=False),
    Column("pending_op_id", ID, nullable=False),
    # Heketi's LvmThinPool / LvmLv where they differ from tp_<id> / brick_<id>; "" = derived.
    Column("lvm_thin_pool", String(128), nullable=False, server_default=""),
    Column("lvm_lv", String(128), nullable=False, server_default=""),
    # The brick's LV is in a pool whose space another brick carries (clones).
    Column("pool_guest", Boolean, nullable=False, server_default=false()),
)

# gluster-block volumes imported from Heketi: kept as Heketi recorded them, not served.
block_volumes = Table(
    "block_volumes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("cluster_id", ID, ForeignKey("clusters.id"), nullable=False),
    Column("hosting_volume_id", ID, nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("size", Integer, nullable=False),
    Column("info", JSON, nullable=False),
    Column("pending_op_id", ID, nullable=False),
)

pending_operations = Table(
    "pending_operations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("type", Integer, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("changes", JSON, nullable=False),
    # What recovery needs that is not in other tables (the hosts of a node being added...).
    Column("detail", JSON, nullable=False, server_default="{}"),
    # Claims (see domain.model.PendingOperation): who holds it, since when, why a human must.
    Column("owner", String(128), nullable=False, server_default=""),
    Column("claimed_at", Float, nullable=False, server_default="0"),
    Column("held", Text, nullable=False, server_default=""),
    Column("format", Integer, nullable=False, server_default="1"),
)

# Node steps of an operation, appended as each completes (what recovery and examine read).
operation_steps = Table(
    "operation_steps",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("op_id", ID, nullable=False, index=True),
    Column("step", String(255), nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(64), nullable=False, server_default=""),
    Column("subject", String(255), nullable=False, server_default=""),
)

# Outcomes of asynchronous requests (GET /queue/<id>), kept until read, across restarts.
queue_results = Table(
    "queue_results",
    metadata,
    Column("id", ID, primary_key=True),
    Column("op_id", ID, nullable=False),
    Column("description", String(1024), nullable=False),
    Column("status", String(16), nullable=False),  # running, done, failed
    Column("resource", String(1024), nullable=False),  # where success redirects, if known
    Column("redirect", String(1024), nullable=True),
    Column("error", Text, nullable=True),
    Column("created", Float, nullable=False),
    # The server whose job it is (answered by the one that takes over if that server dies).
    Column("server", String(64), nullable=False, server_default=""),
)

# The servers sharing this database, each with a lease it renews while it lives (services.
# servers). `settings` is the canonical JSON of the settings all of them must share.
servers = Table(
    "servers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("address", String(512), nullable=False),
    Column("version", String(64), nullable=False),
    Column("started", Float, nullable=False),
    Column("renewed", Float, nullable=False),  # database clock, seconds since the epoch
    Column("lease", Float, nullable=False),  # seconds after `renewed` it is presumed dead
    Column("settings", Text, nullable=False),
)

# Places under max_inflight_operations taken by live servers (PostgreSQL: the limit is global).
inflight_slots = Table(
    "inflight_slots",
    metadata,
    Column("id", ID, primary_key=True),
    Column("server", String(64), nullable=False, index=True),
    Column("taken", Float, nullable=False),
)

# Counters several servers follow: "placement" moves whenever space or topology changes, so a
# server's in-memory placement index knows when another server made it stale.
counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

db_attributes = Table(
    "db_attributes",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", String(4096), nullable=False),
)

# What was left on a node that did not answer (an evicted brick, a deleted device), to destroy
# once it answers again.
leftovers = Table(
    "leftovers",
    metadata,
    Column("id", ID, primary_key=True),  # the brick id, or the device id
    Column("kind", String(16), nullable=False),  # brick, device
    Column("manage_hostname", String(255), nullable=False),
    Column("storage_hostname", String(255), nullable=False),
    Column("device_id", ID, nullable=False),
    Column("device_name", String(4096), nullable=False),
    Column("backend", String(16), nullable=False),
    Column("detail", String(1024), nullable=False),
    Column("recorded", Float, nullable=False),
)

Index("ix_volumes_visible", volumes.c.pending_op_id, volumes.c.id)
Index("ix_bricks_pending_op_id", bricks.c.pending_op_id)
