"""The columns the server reads and writes, per table, in plain Python.

`tables.py` (SQLAlchemy) stays the schema's definition for the migrations, which run in a
child process or from the command line; the server itself never imports SQLAlchemy (13.8 MiB
of its memory, issue #14). A test holds these lists equal to tables.py: the same columns, in
the same order, and the same JSON and Boolean columns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TableColumns:
    name: str
    columns: tuple[str, ...]
    # Columns holding JSON text (decoded on SQLite; psycopg decodes PostgreSQL's json itself)
    # and booleans (0/1 on SQLite).
    json: frozenset[str] = field(default_factory=frozenset)
    booleans: frozenset[str] = field(default_factory=frozenset)

    @property
    def column_list(self) -> str:
        return ", ".join(self.columns)

    @property
    def select(self) -> str:
        """Every column, in order, from the table (add WHERE and ORDER BY)."""
        return f"SELECT {self.column_list} FROM {self.name}"

    def insert(self, columns: tuple[str, ...] | None = None) -> str:
        names = columns or self.columns
        values = ", ".join(f":{c}" for c in names)
        return f"INSERT INTO {self.name} ({', '.join(names)}) VALUES ({values})"

    def update_by_id(self) -> str:
        """Every column but the id, set from the parameters of the same names; the row is the
        one of id :entity_id."""
        sets = ", ".join(f"{c} = :{c}" for c in self.columns if c != "id")
        return f"UPDATE {self.name} SET {sets} WHERE id = :entity_id"


def _table(name: str, columns: str, json: str = "", booleans: str = "") -> TableColumns:
    return TableColumns(
        name, tuple(columns.split()), frozenset(json.split()), frozenset(booleans.split())
    )


CLUSTERS = _table("clusters", "id block file", booleans="block file")
NODES = _table(
    "nodes",
    "id cluster_id zone manage_hostname storage_hostname manage_hostnames storage_hostnames "
    "tags state",
    json="manage_hostnames storage_hostnames tags",
)
DEVICES = _table(
    "devices",
    "id node_id name total free used extent_size tags state paths pv_uuid backend",
    json="tags paths",
)
VOLUMES = _table(
    "volumes",
    "id cluster_id name size durability_type replica disperse_data disperse_redundancy gid "
    "options block snapshot_enable snapshot_factor block_free_size block_reserved_size "
    "block_restriction block_volumes pending_op_id",
    json="options block_volumes",
    booleans="block snapshot_enable",
)
BRICKS = _table(
    "bricks",
    "id volume_id device_id node_id size tp_size pool_metadata_size set_index position "
    "subtype path pending_op_id lvm_thin_pool lvm_lv pool_guest",
    booleans="pool_guest",
)
BLOCK_VOLUMES = _table(
    "block_volumes",
    "id cluster_id hosting_volume_id name size info pending_op_id",
    json="info",
)
PENDING_OPERATIONS = _table(
    "pending_operations",
    "id type timestamp status changes detail owner claimed_at held format",
    json="changes detail",
)
OPERATION_STEPS = _table("operation_steps", "seq op_id step at kind subject")
QUEUE_RESULTS = _table(
    "queue_results", "id op_id description status resource redirect error created server"
)
SERVERS = _table("servers", "id host pid address version started renewed lease settings")
INFLIGHT_SLOTS = _table("inflight_slots", "id server taken")
COUNTERS = _table("counters", "name value")
DB_ATTRIBUTES = _table("db_attributes", "key value")
LEFTOVERS = _table(
    "leftovers",
    "id kind manage_hostname storage_hostname device_id device_name backend detail recorded",
)

ALL = (
    CLUSTERS,
    NODES,
    DEVICES,
    VOLUMES,
    BRICKS,
    BLOCK_VOLUMES,
    PENDING_OPERATIONS,
    OPERATION_STEPS,
    QUEUE_RESULTS,
    SERVERS,
    INFLIGHT_SLOTS,
    COUNTERS,
    DB_ATTRIBUTES,
    LEFTOVERS,
)
