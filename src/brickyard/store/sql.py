"""The store: one Transaction object per unit of work, on SQLite or PostgreSQL (store.db).

Writes are serialized by a process-wide lock (like Heketi's single BoltDB writer), so a
placement can never double-book space; reads run without it. A PostgreSQL store is shared by
several servers: placements are serialized per cluster by an advisory lock in the database
(Transaction.lock_placement), and every write that moves space or changes the topology bumps a
counter, so each server's placement index can tell when another server made it stale."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..domain.model import (
    BlockVolume,
    Brick,
    Cluster,
    Device,
    EntryState,
    Node,
    OperationStatus,
    PendingOperation,
    StepRecord,
    Volume,
)
from ..domain.placement import Candidate, merge_tags
from . import rows, schema
from .checkpoint import Checkpointer, leave_checkpoints
from .db import SQLITE, Connection, Database, in_list
from .errors import ClaimLost, Duplicate, IntegrityViolation, StaleSpace
from .schema import TableColumns

E = TypeVar("E", Cluster, Node, Device, Volume, Brick, PendingOperation, BlockVolume)

Row = dict[str, Any]


class RowCodec:
    """A table's rows as the domain reads them: JSON decoded and booleans as bool on SQLite
    (psycopg decodes PostgreSQL's json and boolean itself), JSON encoded on the way in. The
    encoding is json.dumps' default, as SQLAlchemy's JSON type wrote it: databases written
    before read the same, and rows written now read the same to older code."""

    def __init__(self, table: TableColumns) -> None:
        self.table = table
        self._decode_sqlite = [
            (name, json.loads if name in table.json else bool)
            for name in table.columns
            if name in table.json or name in table.booleans
        ]
        self._encode = [name for name in table.columns if name in table.json]

    def read(self, raw: Sequence[Any], sqlite: bool) -> Row:
        row = dict(zip(self.table.columns, raw, strict=True))
        if sqlite:
            for name, decode in self._decode_sqlite:
                value = row[name]
                if value is not None:
                    row[name] = decode(value)
        return row

    def write(self, values: Row) -> Row:
        for name in self._encode:
            if name in values:
                values[name] = json.dumps(values[name])
        return values


@dataclass(frozen=True)
class Mapping(Generic[E]):
    table: TableColumns
    load: Callable[[Row], E]
    dump: Callable[[E], Row]
    codec: RowCodec

    @property
    def by_id(self) -> str:
        return f"{self.table.select} WHERE id = :id"


def _mapping_of(
    table: TableColumns, load: Callable[[Row], E], dump: Callable[[E], Row]
) -> Mapping[E]:
    return Mapping(table, load, dump, RowCodec(table))


MAPPINGS: dict[type, Mapping[Any]] = {
    Cluster: _mapping_of(schema.CLUSTERS, rows.cluster_from, rows.cluster_values),
    Node: _mapping_of(schema.NODES, rows.node_from, rows.node_values),
    Device: _mapping_of(schema.DEVICES, rows.device_from, rows.device_values),
    Volume: _mapping_of(schema.VOLUMES, rows.volume_from, rows.volume_values),
    Brick: _mapping_of(schema.BRICKS, rows.brick_from, rows.brick_values),
    PendingOperation: _mapping_of(
        schema.PENDING_OPERATIONS, rows.operation_from, rows.operation_values
    ),
    BlockVolume: _mapping_of(
        schema.BLOCK_VOLUMES, rows.block_volume_from, rows.block_volume_values
    ),
}


def _mapping(kind: type[E]) -> Mapping[E]:
    return MAPPINGS[kind]


# Each entity table's INSERT and UPDATE, built once (they are on every create's path).
_INSERTS = {m.table.name: m.table.insert() for m in MAPPINGS.values()}
_UPDATES = {m.table.name: m.table.update_by_id() for m in MAPPINGS.values()}


__all__ = ["ClaimLost", "Duplicate", "SqlStore", "StaleSpace", "Transaction", "sqlite_url"]


@dataclass
class CommitChanges:
    """What a committed transaction changed that in-memory indexes must follow."""

    space: dict[str, int] = field(default_factory=dict)  # device id -> KiB moved to used
    topology: bool = False  # a node, device or cluster was added, changed or removed
    # Shared stores: the placement counter this commit set (0 when it changed neither).
    version: int = 0


_TOPOLOGY_KINDS = (Cluster, Node, Device)


class Transaction:
    """Typed access to the tables inside one database transaction."""

    def __init__(self, conn: Connection, shared: bool = False) -> None:
        self.conn = conn
        self.changes = CommitChanges()
        self.shared = shared  # other servers write this database too (PostgreSQL)
        self._placement_locks: set[str] = set()

    @property
    def sqlite(self) -> bool:
        return self.conn.sqlite

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """A statement of the store's SQL (named :parameters): the driver's cursor."""
        return self.conn.execute(sql, params)

    def _entities(self, kind: type[E], where: str = "", params: Row | None = None) -> list[E]:
        """Entities of `kind` (WHERE `where`, when given) in id order."""
        m = _mapping(kind)
        condition = f" WHERE {where}" if where else ""
        sql = f"{m.table.select}{condition} ORDER BY id"
        sqlite = self.conn.sqlite
        return [m.load(m.codec.read(r, sqlite)) for r in self.conn.execute(sql, params)]

    def _ids(self, table: str, where: str = "", params: Row | None = None) -> list[str]:
        condition = f" WHERE {where}" if where else ""
        return self.conn.column(f"SELECT id FROM {table}{condition} ORDER BY id", params)

    def _insert(self, m: Mapping[Any], entities: Sequence[Any]) -> None:
        values = [m.codec.write(m.dump(e)) for e in entities]
        sql = _INSERTS[m.table.name]
        if len(values) == 1:
            self.conn.execute(sql, values[0])
        else:
            self.conn.executemany(sql, values)

    # -- several servers ------------------------------------------------------------------
    def lock_placement(self, cluster_id: str) -> None:
        """Serialize placements in `cluster_id` across servers until this transaction ends
        (PostgreSQL advisory lock; a single SQLite server is serialized by the write lock).
        Callers placing in several clusters lock them in sorted order (no deadlock)."""
        if not self.shared or cluster_id in self._placement_locks:
            return
        self.conn.execute(_LOCK_PLACEMENT, {"cls": PLACEMENT_LOCK_CLASS, "cluster": cluster_id})
        self._placement_locks.add(cluster_id)

    def placement_version(self) -> int:
        """The counter every space or topology change moves (shared stores)."""
        return int(self.conn.scalar(_READ_COUNTER))

    def bump_placement_version(self) -> None:
        """Called last before commit: the counter row is locked until then, so taking it last
        keeps every writer's lock order the same (devices, then the counter)."""
        if self.shared and (self.changes.space or self.changes.topology):
            self.changes.version = int(self.conn.scalar(_BUMP_COUNTER))

    def db_time(self) -> float:
        """Now, by the database's clock when shared (servers' clocks may differ; the leases
        are judged by one clock)."""
        if not self.shared:
            return time.time()
        return float(self.conn.scalar(_DB_TIME))

    # -- generic entity access ------------------------------------------------------------
    def get(self, kind: type[E], entity_id: str) -> E | None:
        if "\x00" in entity_id:
            # No stored id holds a NUL, and PostgreSQL refuses one in any text parameter
            # (SQLite just finds nothing): an id from a request body is simply not found.
            return None
        m = _mapping(kind)
        found = self.conn.execute(m.by_id, {"id": entity_id}).fetchone()
        return m.load(m.codec.read(found, self.conn.sqlite)) if found is not None else None

    def add(self, entity: E) -> None:
        m = _mapping(type(entity))
        self._track(type(entity))
        try:
            self._insert(m, [entity])
        except IntegrityViolation as exc:
            raise Duplicate(f"{type(entity).__name__} {entity.id}: {exc.orig}") from exc

    def add_all(self, entities: list[E]) -> None:
        if not entities:
            return
        m = _mapping(type(entities[0]))
        self._track(type(entities[0]))
        try:
            self._insert(m, entities)
        except IntegrityViolation as exc:
            raise Duplicate(f"{type(entities[0]).__name__}: {exc.orig}") from exc

    def update(self, entity: E) -> None:
        m = _mapping(type(entity))
        self._track(type(entity))
        values = m.codec.write(m.dump(entity))
        values["entity_id"] = entity.id
        self.conn.execute(_UPDATES[m.table.name], values)

    def _track(self, kind: type) -> None:
        if kind in _TOPOLOGY_KINDS:
            self.changes.topology = True

    def delete(self, kind: type[E], entity_id: str) -> None:
        m = _mapping(kind)
        self._track(kind)
        self.conn.execute(
            f"DELETE FROM {m.table.name} WHERE id = :entity_id", {"entity_id": entity_id}
        )
        if kind is PendingOperation:
            self.conn.execute(_DELETE_STEPS, {"op": entity_id})

    # -- journal: steps and claims ----------------------------------------------------------
    def operation_steps(self, op_id: str) -> list[StepRecord]:
        found = self.conn.execute(_SELECT_STEPS, {"op": op_id}).fetchall()
        return [StepRecord(kind, subject, step, at) for step, at, kind, subject in found]

    def claim(self, op_id: str, owner: str, statuses: tuple[str, ...], held_too: bool) -> bool:
        """Take an operation nobody holds whose status is one of `statuses` (and that waits
        for no human, unless `held_too`). Returns whether this caller now holds it."""
        if not statuses:
            return False
        listed, params = in_list("status", statuses)
        sql = (
            "UPDATE pending_operations SET owner = :owner, claimed_at = :now "
            f"WHERE id = :op AND owner = '' AND status IN {listed}"
        )
        if not held_too:
            sql += " AND held = ''"
        done = self.conn.execute(sql, {**params, "owner": owner, "now": time.time(), "op": op_id})
        return bool(done.rowcount == 1)

    def check_held(self, op_id: str, owner: str) -> None:
        """Raise ClaimLost unless `owner` holds the operation (inside the transaction that
        is about to change what the operation holds)."""
        done = self.conn.execute(_TOUCH_CLAIM, {"op": op_id, "holder": owner})
        if done.rowcount != 1:
            raise ClaimLost(op_id, owner)

    def release(self, op_id: str, owner: str, status: str, held: str = "") -> bool:
        """Give the operation up with `status` (and the reason a human must look at it)."""
        done = self.conn.execute(
            _RELEASE, {"op": op_id, "owner": owner, "status": status, "held": held}
        )
        return bool(done.rowcount == 1)

    def finish_operation(self, op_id: str, owner: str) -> None:
        """Delete the journal entry (and its steps) of an operation `owner` holds."""
        done = self.conn.execute(_DELETE_HELD, {"op": op_id, "holder": owner})
        if done.rowcount != 1:
            raise ClaimLost(op_id, owner)
        self.conn.execute(_DELETE_STEPS, {"op": op_id})

    def orphan_operations(self, alive: str) -> int:
        """Every operation held by an owner other than `alive` (a server that is gone), or
        new without an owner, becomes stale and free."""
        done = self.conn.execute(
            _ORPHAN_OPERATIONS,
            {
                "alive": alive,
                "new": OperationStatus.NEW.value,
                "stale": OperationStatus.STALE.value,
            },
        )
        return int(done.rowcount)

    def all(self, kind: type[E]) -> list[E]:
        return self._entities(kind)

    # -- clusters ---------------------------------------------------------------------------
    def cluster_ids(self) -> list[str]:
        return self._ids("clusters")

    def cluster_node_ids(self, cluster_id: str) -> list[str]:
        return self._ids("nodes", "cluster_id = :cluster", {"cluster": cluster_id})

    def cluster_volume_ids(self, cluster_id: str, visible_only: bool = True) -> list[str]:
        where = "cluster_id = :cluster" + (" AND pending_op_id = ''" if visible_only else "")
        return self._ids("volumes", where, {"cluster": cluster_id})

    def cluster_block_volume_ids(self, cluster_id: str) -> list[str]:
        """Block volumes kept from a Heketi import, as Heketi lists them (not pending)."""
        where = "cluster_id = :cluster AND pending_op_id = ''"
        return self._ids("block_volumes", where, {"cluster": cluster_id})

    def cluster_volume_count(self, cluster_id: str) -> int:
        sql = "SELECT count(*) FROM volumes WHERE cluster_id = :cluster"
        return int(self.conn.scalar(sql, {"cluster": cluster_id}))

    def cluster_has_volumes(self, cluster_id: str, count: int) -> bool:
        """Whether the cluster has at least `count` volumes, reading at most that many index
        entries (a plain count grows with the volume count)."""
        if count <= 0:
            return True
        params = {"cluster_id": cluster_id, "skip": count - 1}
        return bool(self.conn.column(_NTH_VOLUME, params))

    def cluster_nodes(self, cluster_id: str) -> list[Node]:
        return self._entities(Node, "cluster_id = :cluster", {"cluster": cluster_id})

    def mount_hosts(self, cluster_id: str) -> list[str]:
        """storage[0] of every node of the cluster, ascending node id (Heketi's mount hosts),
        without failed (removed) nodes: a node that left is no mount or backup volfile server."""
        params = {"cluster_id": cluster_id, "failed": EntryState.FAILED.value}
        return self.conn.column(_MOUNT_HOSTS, params)

    # -- nodes ----------------------------------------------------------------------------
    def node_with_hostname(
        self, manage: str | None = None, storage: str | None = None
    ) -> Node | None:
        column = "manage_hostname" if manage is not None else "storage_hostname"
        host = manage if manage is not None else storage
        found = self._entities(Node, f"{column} = :host", {"host": host})
        return found[0] if found else None

    def node_device_ids(self, node_id: str) -> list[str]:
        return self._ids("devices", "node_id = :node", {"node": node_id})

    def node_devices(self, node_id: str) -> list[Device]:
        return self._entities(Device, "node_id = :node", {"node": node_id})

    def all_node_ids(self) -> list[str]:
        return self._ids("nodes")

    # -- devices --------------------------------------------------------------------------
    def device_brick_ids(self, device_id: str) -> list[str]:
        return self._ids("bricks", "device_id = :device", {"device": device_id})

    def device_bricks(self, device_id: str) -> list[Brick]:
        return self._entities(Brick, "device_id = :device", {"device": device_id})

    def pool_guests(self, device_id: str, pool: str) -> list[Brick]:
        """Bricks that recorded `pool` as their thin pool on the device (a brick in a pool of
        its own name records none, so these are the clones living in another's pool)."""
        where = "device_id = :device AND lvm_thin_pool = :pool"
        return self._entities(Brick, where, {"device": device_id, "pool": pool})

    def placement_candidates(self, cluster_id: str) -> list[Candidate]:
        """Online devices of online nodes of a cluster, with merged tags and names."""
        online = EntryState.ONLINE.value
        found = self.conn.execute(_CANDIDATES, {"cluster_id": cluster_id, "online": online})
        decode: Callable[[Any], Any] = json.loads if self.conn.sqlite else _same
        return [
            Candidate(
                d, n, zone, free, extent, merge_tags(decode(ntags), decode(dtags)), name, host
            )
            for d, n, zone, free, extent, dtags, ntags, name, host in found
        ]

    def adjust_device_space(self, changes: dict[str, int]) -> None:
        """Move KiB from free to used (positive) or back (negative), atomically in SQL so that
        concurrent writers (several servers on PostgreSQL) never overwrite each other; a device
        that no longer has the space raises StaleSpace."""
        for device_id, delta in changes.items():
            done = self.conn.execute(_ADJUST_SPACE, {"device": device_id, "delta": delta})
            if done.rowcount != 1:
                raise StaleSpace(device_id)
            self.changes.space[device_id] = self.changes.space.get(device_id, 0) + delta

    def clear_pending(self, op_id: str, size_delta: dict[str, int] | None = None) -> None:
        """Make everything an operation created visible and final."""
        self.conn.execute(_CLEAR_BRICKS, {"op": op_id})
        self.conn.execute(_CLEAR_VOLUMES, {"op": op_id})
        for volume_id, delta in (size_delta or {}).items():
            self.conn.execute(_GROW_VOLUME, {"volume": volume_id, "delta": delta})

    def set_brick_pending(self, brick_id: str, op_id: str) -> None:
        self.conn.execute(_SET_BRICK_PENDING, {"brick": brick_id, "op": op_id})

    def device_targets(self, device_ids: set[str]) -> dict[str, tuple[str, str]]:
        """(name, backend) per device: what a node command needs, without parsing JSON."""
        if not device_ids:
            return {}
        listed, params = in_list("id", sorted(device_ids))
        sql = f"SELECT id, name, backend FROM devices WHERE id IN {listed}"
        return {row[0]: (row[1], row[2]) for row in self.conn.execute(sql, params)}

    def node_hosts(self, node_ids: set[str]) -> dict[str, tuple[str, str]]:
        """(manage host, storage host) per node."""
        if not node_ids:
            return {}
        listed, params = in_list("id", sorted(node_ids))
        sql = f"SELECT id, manage_hostname, storage_hostname FROM nodes WHERE id IN {listed}"
        return {row[0]: (row[1], row[2]) for row in self.conn.execute(sql, params)}

    def nodes_by_id(self, node_ids: set[str]) -> dict[str, Node]:
        if not node_ids:
            return {}
        listed, params = in_list("id", sorted(node_ids))
        return {n.id: n for n in self._entities(Node, f"id IN {listed}", params)}

    def devices_by_id(self, device_ids: set[str]) -> dict[str, Device]:
        if not device_ids:
            return {}
        listed, params = in_list("id", sorted(device_ids))
        return {d.id: d for d in self._entities(Device, f"id IN {listed}", params)}

    # -- volumes and bricks -----------------------------------------------------------------
    def visible_volume_ids(self) -> list[str]:
        return self._ids("volumes", "pending_op_id = ''")

    def volume_named(self, cluster_id: str, name: str) -> Volume | None:
        m = _mapping(Volume)
        found = self.conn.execute(_VOLUME_NAMED, {"cluster_id": cluster_id, "name": name})
        row = found.fetchone()
        return m.load(m.codec.read(row, self.conn.sqlite)) if row is not None else None

    def volume_bricks(self, volume_id: str) -> list[Brick]:
        return self._entities(Brick, "volume_id = :volume", {"volume": volume_id})

    def operation_bricks(self, op_id: str) -> list[Brick]:
        return self._entities(Brick, "pending_op_id = :op", {"op": op_id})

    # -- db attributes --------------------------------------------------------------------
    def attributes(self) -> dict[str, str]:
        return {key: value for key, value in self.conn.execute(_ATTRIBUTES)}

    def set_attribute(self, key: str, value: str) -> None:
        self.conn.execute("DELETE FROM db_attributes WHERE key = :key", {"key": key})
        self.conn.execute(schema.DB_ATTRIBUTES.insert(), {"key": key, "value": value})


def _same(value: Any) -> Any:
    return value


class SqlStore:
    """Owns the database's connections; hands out read and write transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = Database(url)
        # SQLite is one server's; any other database may be shared by several.
        self.shared = self.db.dialect != SQLITE
        self._write_lock = threading.RLock()
        self._local = threading.local()  # SQLite: this thread's own connection (_connection)
        self._held: list[Connection] = []
        self._held_lock = threading.Lock()
        self._listeners: list[Callable[[CommitChanges], None]] = []
        self.commits = 0  # SQLite: write commits so far (the checkpointer's cue)
        self.checkpointer: Checkpointer | None = None

    def on_commit(self, listener: Callable[[CommitChanges], None]) -> None:
        """Call `listener` with what each committed write transaction changed."""
        self._listeners.append(listener)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A connection for one transaction. On SQLite, each thread keeps one open for its
        transactions one after another (checking a connection out of the pool and back in for
        each of a create's dozen transactions was a tenth of the server's CPU); a transaction
        begun inside another on the same thread takes one from the pool as before."""
        if self.shared:
            with self.db.connection() as conn:
                yield conn
            return
        local = self._local
        held: Connection | None = getattr(local, "conn", None)
        if held is None or local.busy:
            with self.db.connection() as pooled:
                yield pooled
            return
        local.busy = True
        try:
            yield held
        finally:
            local.busy = False
            held.abandon()  # what returning it to the pool would do

    def _hold_connection(self) -> None:
        """Give an event loop's thread its own long-lived SQLite connection (see _connection),
        from its first transaction with the loop running (the server's start-up runs before
        it). Other threads (a lease keeper, work handed to a thread pool) use the pool: held
        by every short-lived thread, the connections would drain it."""
        if self.shared or getattr(self._local, "conn", None) is not None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        conn = self.db.lend()
        leave_checkpoints(conn)
        self._local.conn = conn
        self._local.busy = False
        with self._held_lock:
            self._held.append(conn)
            if self.checkpointer is None:
                self.checkpointer = Checkpointer(self.db, lambda: self.commits)
                self.checkpointer.start()

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        with self._write_lock:
            self._hold_connection()
            with self._connection() as conn:
                conn.begin()
                try:
                    tx = Transaction(conn, self.shared)
                    yield tx
                    tx.bump_placement_version()
                except BaseException:
                    conn.abandon()
                    raise
                conn.commit()
                self.commits += 1
            for listener in self._listeners:
                listener(tx.changes)

    @contextmanager
    def rehearsal(self) -> Iterator[Transaction]:
        """A write transaction that is always rolled back: a dry run sees exactly what a real
        write would, and changes nothing."""
        with self._write_lock, self._connection() as conn:
            conn.begin()
            try:
                yield Transaction(conn, self.shared)
            finally:
                conn.abandon()

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        self._hold_connection()
        with self._connection() as conn:
            yield Transaction(conn, self.shared)

    def backup_bytes(self) -> bytes:
        """A consistent copy of an SQLite database (GET /backup/db)."""
        if self.shared:
            raise NotImplementedError("backup is only available for SQLite stores")
        with self.db.connection() as conn, tempfile.NamedTemporaryFile(suffix=".db") as tmp:
            target = sqlite3.connect(tmp.name)
            try:
                conn.raw.backup(target)
            finally:
                target.close()
            return Path(tmp.name).read_bytes()

    def record_step(
        self, op_id: str, step: str, at: float, kind: str = "", subject: str = ""
    ) -> None:
        """Append a node step to the journal of `op_id` (committed at once)."""
        self.record_steps(op_id, [(step, kind, subject)], at)

    def record_steps(self, op_id: str, steps: Sequence[tuple[str, str, str]], at: float) -> None:
        """Append node steps (text, kind, subject) to the journal of `op_id`, in order, in one
        commit."""
        self.quick_write_many(
            _INSERT_STEP,
            [
                {"op_id": op_id, "step": step, "at": at, "kind": kind, "subject": subject}
                for step, kind, subject in steps
            ],
        )

    def quick_write(self, sql: str, params: dict[str, Any]) -> None:
        """One statement, committed at once, with no commit listeners: for the small appends on
        every operation's path (journal steps, queue results). About four times cheaper than a
        Transaction on SQLite, on the thread's own connection."""
        self.quick_write_many(sql, [params])

    def quick_write_many(self, sql: str, params: Sequence[dict[str, Any]]) -> None:
        """`quick_write` of one statement for each of `params`, in one commit."""
        if not params:
            return
        # The connection the thread's transactions use (see _connection): its page cache is
        # still valid, where a second connection would re-read every page the other one wrote
        # (a third of the server's system calls per create, measured).
        self._hold_connection()
        with self._write_lock, self._connection() as conn:
            conn.begin()
            try:
                if len(params) == 1:
                    conn.execute(sql, params[0])
                else:
                    conn.executemany(sql, params)
            except BaseException:
                conn.abandon()
                raise
            conn.commit()
            self.commits += 1

    def close(self) -> None:
        with self._held_lock:
            held, self._held = self._held, []
            checkpointer, self.checkpointer = self.checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        for conn in held:
            self.db.give_back(conn)
        self._local = threading.local()
        self.db.close()


_CANDIDATES = (
    "SELECT devices.id, nodes.id, nodes.zone, devices.free, devices.extent_size, devices.tags, "
    "nodes.tags, devices.name, nodes.storage_hostname "
    "FROM devices JOIN nodes ON devices.node_id = nodes.id "
    "WHERE nodes.cluster_id = :cluster_id AND nodes.state = :online AND devices.state = :online "
    "ORDER BY nodes.id, devices.id"
)
# Advisory locks are (class, key) pairs of int4: the class says what kind of lock it is.
PLACEMENT_LOCK_CLASS = 0x6272_6B01  # "brk" + 1
_LOCK_PLACEMENT = "SELECT pg_advisory_xact_lock(CAST(:cls AS integer), hashtext(:cluster))"
_READ_COUNTER = "SELECT value FROM counters WHERE name = 'placement'"
_BUMP_COUNTER = "UPDATE counters SET value = value + 1 WHERE name = 'placement' RETURNING value"
_DB_TIME = "SELECT extract(epoch FROM clock_timestamp())"
_MOUNT_HOSTS = (
    "SELECT storage_hostname FROM nodes WHERE cluster_id = :cluster_id AND state != :failed "
    "ORDER BY id"
)
_VOLUME_NAMED = (
    f"{schema.VOLUMES.select} WHERE cluster_id = :cluster_id AND name = :name ORDER BY id LIMIT 1"
)
_NTH_VOLUME = "SELECT id FROM volumes WHERE cluster_id = :cluster_id LIMIT 1 OFFSET :skip"
_ADJUST_SPACE = (
    "UPDATE devices SET free = free - :delta, used = used + :delta "
    "WHERE id = :device AND free >= :delta AND used + :delta >= 0"
)
_INSERT_STEP = schema.OPERATION_STEPS.insert(("op_id", "step", "at", "kind", "subject"))
_SELECT_STEPS = "SELECT step, at, kind, subject FROM operation_steps WHERE op_id = :op ORDER BY seq"
_DELETE_STEPS = "DELETE FROM operation_steps WHERE op_id = :op"
_TOUCH_CLAIM = (
    "UPDATE pending_operations SET claimed_at = claimed_at WHERE id = :op AND owner = :holder"
)
_RELEASE = (
    "UPDATE pending_operations SET owner = '', status = :status, held = :held "
    "WHERE id = :op AND owner = :owner"
)
_DELETE_HELD = "DELETE FROM pending_operations WHERE id = :op AND owner = :holder"
_ORPHAN_OPERATIONS = (
    "UPDATE pending_operations SET owner = '', status = :stale "
    "WHERE owner != '' AND owner != :alive OR status = :new AND owner = ''"
)
_CLEAR_BRICKS = "UPDATE bricks SET pending_op_id = '' WHERE pending_op_id = :op"
_CLEAR_VOLUMES = "UPDATE volumes SET pending_op_id = '' WHERE pending_op_id = :op"
_SET_BRICK_PENDING = "UPDATE bricks SET pending_op_id = :op WHERE id = :brick"
_GROW_VOLUME = "UPDATE volumes SET size = size + :delta WHERE id = :volume"
_ATTRIBUTES = "SELECT key, value FROM db_attributes"


def sqlite_url(path: str) -> str:
    return f"sqlite:///{path}"
