"""The SQLAlchemy adapter of the store: one Transaction object per unit of work.

Writes are serialized by a process-wide lock (like Heketi's single BoltDB writer), so a
placement can never double-book space; reads run without it. A PostgreSQL store is shared by
several servers: placements are serialized per cluster by an advisory lock in the database
(Transaction.lock_placement), and every write that moves space or changes the topology bumps a
counter, so each server's placement index can tell when another server made it stale."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Connection,
    Delete,
    Engine,
    Insert,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.exc import IntegrityError

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
from . import rows
from .errors import ClaimLost, Duplicate, StaleSpace
from .tables import (
    block_volumes,
    bricks,
    clusters,
    counters,
    db_attributes,
    devices,
    nodes,
    operation_steps,
    pending_operations,
    volumes,
)

E = TypeVar("E", Cluster, Node, Device, Volume, Brick, PendingOperation, BlockVolume)


@dataclass(frozen=True)
class Mapping(Generic[E]):
    table: Table
    load: Callable[[RowMapping], E]
    dump: Callable[[E], dict[str, Any]]

    @property
    def by_id(self) -> Select[Any]:
        return _STATEMENTS[self.table.name].select


@dataclass(frozen=True)
class _TableStatements:
    select: Select[Any]
    insert: Insert
    update: Update
    delete: Delete

    @classmethod
    def of(cls, table: Table) -> _TableStatements:
        key = table.c.id == bindparam("entity_id")
        return cls(
            select(table).where(table.c.id == bindparam("id")),
            table.insert(),
            table.update().where(key),
            table.delete().where(key),
        )


_STATEMENTS: dict[str, _TableStatements] = {
    t.name: _TableStatements.of(t)
    for t in (clusters, nodes, devices, volumes, bricks, pending_operations, block_volumes)
}

MAPPINGS: dict[type, Mapping[Any]] = {
    Cluster: Mapping(clusters, rows.cluster_from, rows.cluster_values),
    Node: Mapping(nodes, rows.node_from, rows.node_values),
    Device: Mapping(devices, rows.device_from, rows.device_values),
    Volume: Mapping(volumes, rows.volume_from, rows.volume_values),
    Brick: Mapping(bricks, rows.brick_from, rows.brick_values),
    PendingOperation: Mapping(pending_operations, rows.operation_from, rows.operation_values),
    BlockVolume: Mapping(block_volumes, rows.block_volume_from, rows.block_volume_values),
}


def _mapping(kind: type[E]) -> Mapping[E]:
    return MAPPINGS[kind]


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
        self._driver: Any = None

    def _plain(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        """Run a statement whose result needs no type conversion (ids, host names, counts,
        row counts). On SQLite it goes straight to the driver's cursor, on this transaction's
        own connection: three to four times cheaper than SQLAlchemy's execution path, and
        these statements are most of those of a volume create. Elsewhere: SQLAlchemy."""
        if self.conn.dialect.name != "sqlite":
            return self.conn.execute(statement, params or {})
        typed = _typed_sql(statement, self.conn.dialect)
        values = {**typed.defaults, **params} if params else typed.defaults
        return self._sqlite().execute(typed.sql, [values[name] for name in typed.names])

    def _sqlite(self) -> Any:
        """The SQLite driver's own connection under this transaction's."""
        if self._driver is None:
            self._driver = self.conn.connection.driver_connection
        return self._driver

    def _plain_in(self, statement: Any, sqlite_sql: str, ids: list[str]) -> Any:
        """`statement` of one expanding "ids" parameter; on SQLite `sqlite_sql` (the same
        query, its IN list left as {}) straight to the driver."""
        if self.conn.dialect.name != "sqlite" or not ids:
            return self.conn.execute(statement, {"ids": ids})
        return self._sqlite().execute(sqlite_sql.format(",".join("?" * len(ids))), ids)

    def _plain_column(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
        return [row[0] for row in self._plain(statement, params)]

    def _rows(self, statement: Select[Any], params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of a SELECT as dicts of converted values (JSON decoded, booleans as bool):
        what ``.mappings()`` gives. On SQLite straight through the driver, with the columns'
        own result conversions (see _typed_sql); elsewhere SQLAlchemy."""
        if self.conn.dialect.name != "sqlite":
            return [dict(row) for row in self.conn.execute(statement, params).mappings()]
        typed = _typed_sql(statement, self.conn.dialect)
        values = {**typed.defaults, **params}
        cursor = self._sqlite().execute(typed.sql, [values[name] for name in typed.names])
        return [typed.row(row) for row in cursor.fetchall()]

    def _insert(self, statement: Insert, entities: list[dict[str, Any]]) -> None:
        """An INSERT of one or several rows: on SQLite through the driver with the columns'
        own bind conversions (JSON encoded, booleans as integers); elsewhere SQLAlchemy."""
        if self.conn.dialect.name != "sqlite":
            self.conn.execute(statement, entities if len(entities) > 1 else entities[0])
            return
        typed = _typed_sql(statement, self.conn.dialect, entities[0].keys())
        rows = [typed.bind(values) for values in entities]
        driver = self._sqlite()
        try:
            if len(rows) == 1:
                driver.execute(typed.sql, rows[0])
            else:
                driver.executemany(typed.sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(typed.sql, None, exc) from exc

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
        return int(self.conn.execute(_READ_COUNTER).scalar_one())

    def bump_placement_version(self) -> None:
        """Called last before commit: the counter row is locked until then, so taking it last
        keeps every writer's lock order the same (devices, then the counter)."""
        if self.shared and (self.changes.space or self.changes.topology):
            self.changes.version = int(self.conn.execute(_BUMP_COUNTER).scalar_one())

    def db_time(self) -> float:
        """Now, by the database's clock when shared (servers' clocks may differ; the leases
        are judged by one clock)."""
        if not self.shared:
            return time.time()
        return float(self.conn.execute(_DB_TIME).scalar_one())

    # -- generic entity access ------------------------------------------------------------
    def get(self, kind: type[E], entity_id: str) -> E | None:
        if "\x00" in entity_id:
            # No stored id holds a NUL, and PostgreSQL refuses one in any text parameter
            # (SQLite just finds nothing): an id from a request body is simply not found.
            return None
        m = _mapping(kind)
        found = self._rows(m.by_id, {"id": entity_id})
        return m.load(found[0]) if found else None  # type: ignore[arg-type]

    # Statements are built once per table and executed with parameters: building a fresh
    # statement per call costs more than SQLite itself on the create path.
    def add(self, entity: E) -> None:
        m = _mapping(type(entity))
        self._track(type(entity))
        try:
            self._insert(_STATEMENTS[m.table.name].insert, [m.dump(entity)])
        except IntegrityError as exc:
            raise Duplicate(f"{type(entity).__name__} {entity.id}: {exc.orig}") from exc

    def add_all(self, entities: list[E]) -> None:
        if not entities:
            return
        m = _mapping(type(entities[0]))
        self._track(type(entities[0]))
        try:
            self._insert(_STATEMENTS[m.table.name].insert, [m.dump(e) for e in entities])
        except IntegrityError as exc:
            raise Duplicate(f"{type(entities[0]).__name__}: {exc.orig}") from exc

    def update(self, entity: E) -> None:
        m = _mapping(type(entity))
        self._track(type(entity))
        values = m.dump(entity)
        values["entity_id"] = entity.id
        self.conn.execute(_STATEMENTS[m.table.name].update, values)

    def _track(self, kind: type) -> None:
        if kind in _TOPOLOGY_KINDS:
            self.changes.topology = True

    def delete(self, kind: type[E], entity_id: str) -> None:
        m = _mapping(kind)
        self._track(kind)
        self.conn.execute(_STATEMENTS[m.table.name].delete, {"entity_id": entity_id})
        if kind is PendingOperation:
            self.conn.execute(_DELETE_STEPS, {"op": entity_id})

    # -- journal: steps and claims ----------------------------------------------------------
    def operation_steps(self, op_id: str) -> list[StepRecord]:
        rows = self.conn.execute(_SELECT_STEPS, {"op": op_id})
        return [StepRecord(kind, subject, step, at) for step, at, kind, subject in rows]

    def claim(self, op_id: str, owner: str, statuses: tuple[str, ...], held_too: bool) -> bool:
        """Take an operation nobody holds whose status is one of `statuses` (and that waits
        for no human, unless `held_too`). Returns whether this caller now holds it."""
        conditions = [
            pending_operations.c.id == op_id,
            pending_operations.c.owner == "",
            pending_operations.c.status.in_(statuses),
        ]
        if not held_too:
            conditions.append(pending_operations.c.held == "")
        done = self.conn.execute(
            pending_operations.update()
            .where(*conditions)
            .values(owner=owner, claimed_at=time.time())
        )
        return bool(done.rowcount == 1)

    def check_held(self, op_id: str, owner: str) -> None:
        """Raise ClaimLost unless `owner` holds the operation (inside the transaction that
        is about to change what the operation holds)."""
        done = self._plain(_TOUCH_CLAIM, {"op": op_id, "holder": owner})
        if done.rowcount != 1:
            raise ClaimLost(op_id, owner)

    def release(self, op_id: str, owner: str, status: str, held: str = "") -> bool:
        """Give the operation up with `status` (and the reason a human must look at it)."""
        done = self.conn.execute(
            pending_operations.update()
            .where(pending_operations.c.id == op_id, pending_operations.c.owner == owner)
            .values(owner="", status=status, held=held)
        )
        return bool(done.rowcount == 1)

    def finish_operation(self, op_id: str, owner: str) -> None:
        """Delete the journal entry (and its steps) of an operation `owner` holds."""
        done = self._plain(_DELETE_HELD, {"op": op_id, "holder": owner})
        if done.rowcount != 1:
            raise ClaimLost(op_id, owner)
        self._plain(_DELETE_STEPS, {"op": op_id})

    def orphan_operations(self, alive: str) -> int:
        """Every operation held by an owner other than `alive` (a server that is gone), or
        new without an owner, becomes stale and free."""
        done = self.conn.execute(
            pending_operations.update()
            .where(
                (pending_operations.c.owner != "") & (pending_operations.c.owner != alive)
                | (pending_operations.c.status == OperationStatus.NEW.value)
                & (pending_operations.c.owner == "")
            )
            .values(owner="", status=OperationStatus.STALE.value)
        )
        return int(done.rowcount)

    def all(self, kind: type[E]) -> list[E]:
        m = _mapping(kind)
        result = self.conn.execute(select(m.table).order_by(m.table.c.id)).mappings()
        return [m.load(r) for r in result]

    def _where(self, kind: type[E], *conditions: Any) -> list[E]:
        m = _mapping(kind)
        stmt = select(m.table).where(*conditions).order_by(m.table.c.id)
        return [m.load(r) for r in self.conn.execute(stmt).mappings()]

    def _ids(self, table: Table, *conditions: Any) -> list[str]:
        stmt = select(table.c.id).where(*conditions).order_by(table.c.id)
        return list(self.conn.execute(stmt).scalars())

    # -- clusters ---------------------------------------------------------------------------
    def cluster_ids(self) -> list[str]:
        return self._plain_column(_CLUSTER_IDS)

    def cluster_node_ids(self, cluster_id: str) -> list[str]:
        return self._ids(nodes, nodes.c.cluster_id == cluster_id)

    def cluster_volume_ids(self, cluster_id: str, visible_only: bool = True) -> list[str]:
        conditions = [volumes.c.cluster_id == cluster_id]
        if visible_only:
            conditions.append(volumes.c.pending_op_id == "")
        return self._ids(volumes, *conditions)

    def cluster_block_volume_ids(self, cluster_id: str) -> list[str]:
        """Block volumes kept from a Heketi import, as Heketi lists them (not pending)."""
        return self._ids(
            block_volumes,
            block_volumes.c.cluster_id == cluster_id,
            block_volumes.c.pending_op_id == "",
        )

    def cluster_volume_count(self, cluster_id: str) -> int:
        stmt = select(func.count()).select_from(volumes).where(volumes.c.cluster_id == cluster_id)
        return int(self.conn.execute(stmt).scalar_one())

    def cluster_has_volumes(self, cluster_id: str, count: int) -> bool:
        """Whether the cluster has at least `count` volumes, reading at most that many index
        entries (a plain count grows with the volume count)."""
        if count <= 0:
            return True
        params = {"cluster_id": cluster_id, "skip": count - 1}
        return bool(self._plain_column(_NTH_VOLUME, params))

    def cluster_nodes(self, cluster_id: str) -> list[Node]:
        return self._where(Node, nodes.c.cluster_id == cluster_id)

    def mount_hosts(self, cluster_id: str) -> list[str]:
        """storage[0] of every node of the cluster, ascending node id (Heketi's mount hosts),
        without failed (removed) nodes: a node that left is no mount or backup volfile server."""
        return self._plain_column(_MOUNT_HOSTS, {"cluster_id": cluster_id})

    # -- nodes ----------------------------------------------------------------------------
    def node_with_hostname(
        self, manage: str | None = None, storage: str | None = None
    ) -> Node | None:
        column = nodes.c.manage_hostname if manage is not None else nodes.c.storage_hostname
        found = self._where(Node, column == (manage if manage is not None else storage))
        return found[0] if found else None

    def node_device_ids(self, node_id: str) -> list[str]:
        return self._ids(devices, devices.c.node_id == node_id)

    def node_devices(self, node_id: str) -> list[Device]:
        return self._where(Device, devices.c.node_id == node_id)

    def all_node_ids(self) -> list[str]:
        return self._ids(nodes)

    # -- devices --------------------------------------------------------------------------
    def device_brick_ids(self, device_id: str) -> list[str]:
        return self._ids(bricks, bricks.c.device_id == device_id)

    def device_bricks(self, device_id: str) -> list[Brick]:
        return self._where(Brick, bricks.c.device_id == device_id)

    def pool_guests(self, device_id: str, pool: str) -> list[Brick]:
        """Bricks that recorded `pool` as their thin pool on the device (a brick in a pool of
        its own name records none, so these are the clones living in another's pool)."""
        return self._where(Brick, bricks.c.device_id == device_id, bricks.c.lvm_thin_pool == pool)

    def placement_candidates(self, cluster_id: str) -> list[Candidate]:
        """Online devices of online nodes of a cluster, with merged tags and names."""
        result = self.conn.execute(_CANDIDATES, {"cluster_id": cluster_id})
        return [
            Candidate(d, n, zone, free, extent, merge_tags(ntags, dtags), name, host)
            for d, n, zone, free, extent, dtags, ntags, name, host in result
        ]

    def adjust_device_space(self, changes: dict[str, int]) -> None:
        """Move KiB from free to used (positive) or back (negative), atomically in SQL so that
        concurrent writers (several servers on PostgreSQL) never overwrite each other; a device
        that no longer has the space raises StaleSpace."""
        for device_id, delta in changes.items():
            done = self._plain(_ADJUST_SPACE, {"device": device_id, "delta": delta})
            if done.rowcount != 1:
                raise StaleSpace(device_id)
            self.changes.space[device_id] = self.changes.space.get(device_id, 0) + delta

    def clear_pending(self, op_id: str, size_delta: dict[str, int] | None = None) -> None:
        """Make everything an operation created visible and final."""
        self._plain(_CLEAR_BRICKS, {"op": op_id})
        self._plain(_CLEAR_VOLUMES, {"op": op_id})
        for volume_id, delta in (size_delta or {}).items():
            self.conn.execute(_GROW_VOLUME, {"volume": volume_id, "delta": delta})

    def set_brick_pending(self, brick_id: str, op_id: str) -> None:
        self.conn.execute(_SET_BRICK_PENDING, {"brick": brick_id, "op": op_id})

    def device_targets(self, device_ids: set[str]) -> dict[str, tuple[str, str]]:
        """(name, backend) per device: what a node command needs, without parsing JSON."""
        rows_ = self._plain_in(_DEVICE_TARGETS, _DEVICE_TARGETS_SQL, sorted(device_ids))
        return {row[0]: (row[1], row[2]) for row in rows_}

    def node_hosts(self, node_ids: set[str]) -> dict[str, tuple[str, str]]:
        """(manage host, storage host) per node."""
        rows_ = self._plain_in(_NODE_HOSTS, _NODE_HOSTS_SQL, sorted(node_ids))
        return {row[0]: (row[1], row[2]) for row in rows_}

    def nodes_by_id(self, node_ids: set[str]) -> dict[str, Node]:
        if not node_ids:
            return {}
        found = self._where(Node, nodes.c.id.in_(sorted(node_ids)))
        return {n.id: n for n in found}

    def devices_by_id(self, device_ids: set[str]) -> dict[str, Device]:
        if not device_ids:
            return {}
        found = self._where(Device, devices.c.id.in_(sorted(device_ids)))
        return {d.id: d for d in found}

    # -- volumes and bricks -----------------------------------------------------------------
    def visible_volume_ids(self) -> list[str]:
        return self._ids(volumes, volumes.c.pending_op_id == "")

    def volume_named(self, cluster_id: str, name: str) -> Volume | None:
        found = self._rows(_VOLUME_NAMED, {"cluster_id": cluster_id, "name": name})
        return rows.volume_from(found[0]) if found else None  # type: ignore[arg-type]

    def volume_bricks(self, volume_id: str) -> list[Brick]:
        found = self._rows(_VOLUME_BRICKS, {"volume_id": volume_id})
        return [rows.brick_from(r) for r in found]  # type: ignore[arg-type]

    def operation_bricks(self, op_id: str) -> list[Brick]:
        return self._where(Brick, bricks.c.pending_op_id == op_id)

    # -- db attributes --------------------------------------------------------------------
    def attributes(self) -> dict[str, str]:
        result = self.conn.execute(select(db_attributes)).mappings()
        return {r["key"]: r["value"] for r in result}

    def set_attribute(self, key: str, value: str) -> None:
        self.conn.execute(db_attributes.delete().where(db_attributes.c.key == key))
        self.conn.execute(db_attributes.insert().values(key=key, value=value))


class SqlStore:
    """Owns the engine; hands out read and write transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True, **_engine_options(url))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        # SQLite is one server's; any other database may be shared by several.
        self.shared = self.engine.dialect.name != "sqlite"
        self._write_lock = threading.RLock()
        self._local = threading.local()  # SQLite: this thread's own connection (_connection)
        self._held: list[Connection] = []
        self._held_lock = threading.Lock()
        self._listeners: list[Callable[[CommitChanges], None]] = []

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
            with self.engine.connect() as conn:
                yield conn
            return
        local = self._local
        held: Connection | None = getattr(local, "conn", None)
        if held is None or local.busy:
            with self.engine.connect() as pooled:
                yield pooled
            return
        local.busy = True
        try:
            yield held
        finally:
            local.busy = False
            if held.in_transaction():  # what returning it to the pool would do
                held.rollback()

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
        conn = self.engine.connect()
        self._local.conn = conn
        self._local.busy = False
        with self._held_lock:
            self._held.append(conn)

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        with self._write_lock:
            self._hold_connection()
            with self._connection() as conn, conn.begin():
                tx = Transaction(conn, self.shared)
                yield tx
                tx.bump_placement_version()
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
                conn.rollback()

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        self._hold_connection()
        with self._connection() as conn:
            yield Transaction(conn, self.shared)

    def backup_bytes(self) -> bytes:
        """A consistent copy of an SQLite database (GET /backup/db)."""
        if self.engine.dialect.name != "sqlite":
            raise NotImplementedError("backup is only available for SQLite stores")
        import sqlite3
        import tempfile

        raw = self.engine.raw_connection()
        try:
            with tempfile.NamedTemporaryFile(suffix=".db") as tmp:
                target = sqlite3.connect(tmp.name)
                raw.driver_connection.backup(target)  # type: ignore[union-attr]
                target.close()
                return Path(tmp.name).read_bytes()
        finally:
            raw.close()

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

    def quick_write(self, statement: Insert | Update | Delete, params: dict[str, Any]) -> None:
        """One statement, committed at once, with no commit listeners: for the small appends on
        every operation's path (journal steps, queue results). On SQLite it goes to the driver
        on the thread's connection, about four times cheaper than a Transaction; elsewhere it
        is an ordinary write."""
        self.quick_write_many(statement, [params])

    def quick_write_many(
        self, statement: Insert | Update | Delete, params: Sequence[dict[str, Any]]
    ) -> None:
        """`quick_write` of one statement for each of `params`, in one commit."""
        if not params:
            return
        if self.engine.dialect.name != "sqlite":
            with self._write_lock, self.engine.begin() as conn:
                conn.execute(statement, list(params))
            return
        typed = _typed_sql(statement, self.engine.dialect)
        merged = [{**typed.defaults, **p} for p in params]
        rows = [[values[name] for name in typed.names] for values in merged]
        # The connection the thread's transactions use (see _connection): its page cache is
        # still valid, where a second connection would re-read every page the other one wrote
        # (a third of the server's system calls per create, measured).
        self._hold_connection()
        with self._write_lock, self._connection() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None  # a live SQLite connection
            try:
                if len(rows) == 1:
                    raw.execute(typed.sql, rows[0])
                else:
                    raw.executemany(typed.sql, rows)
                raw.commit()
            except BaseException:
                raw.rollback()
                raise

    def close(self) -> None:
        with self._held_lock:
            held, self._held = self._held, []
        for conn in held:
            conn.close()
        self._local = threading.local()
        self.engine.dispose()


_CANDIDATES = (
    select(
        devices.c.id,
        nodes.c.id,
        nodes.c.zone,
        devices.c.free,
        devices.c.extent_size,
        devices.c.tags,
        nodes.c.tags,
        devices.c.name,
        nodes.c.storage_hostname,
    )
    .join(nodes, devices.c.node_id == nodes.c.id)
    .where(
        and_(
            nodes.c.cluster_id == bindparam("cluster_id"),
            nodes.c.state == EntryState.ONLINE.value,
            devices.c.state == EntryState.ONLINE.value,
        )
    )
    .order_by(nodes.c.id, devices.c.id)
)
# Advisory locks are (class, key) pairs of int4: the class says what kind of lock it is.
PLACEMENT_LOCK_CLASS = 0x6272_6B01  # "brk" + 1
_LOCK_PLACEMENT = text("SELECT pg_advisory_xact_lock(CAST(:cls AS integer), hashtext(:cluster))")
_READ_COUNTER = select(counters.c.value).where(counters.c.name == "placement")
_BUMP_COUNTER = (
    counters.update()
    .where(counters.c.name == "placement")
    .values(value=counters.c.value + 1)
    .returning(counters.c.value)
)
_DB_TIME = text("SELECT extract(epoch FROM clock_timestamp())")
# Statements of the create and volume-info paths, built once (building one per call cost more
# than SQLite running it).
_CLUSTER_IDS = select(clusters.c.id).order_by(clusters.c.id)
_MOUNT_HOSTS = (
    select(nodes.c.storage_hostname)
    .where(
        nodes.c.cluster_id == bindparam("cluster_id"),
        nodes.c.state != EntryState.FAILED.value,
    )
    .order_by(nodes.c.id)
)
_VOLUME_NAMED = (
    select(volumes)
    .where(volumes.c.cluster_id == bindparam("cluster_id"), volumes.c.name == bindparam("name"))
    .order_by(volumes.c.id)
    .limit(1)
)
_VOLUME_BRICKS = (
    select(bricks).where(bricks.c.volume_id == bindparam("volume_id")).order_by(bricks.c.id)
)
_NTH_VOLUME = (
    select(volumes.c.id)
    .where(volumes.c.cluster_id == bindparam("cluster_id"))
    .limit(1)
    .offset(bindparam("skip"))
)
_DEVICE_TARGETS = select(devices.c.id, devices.c.name, devices.c.backend).where(
    devices.c.id.in_(bindparam("ids", expanding=True))
)
_DEVICE_TARGETS_SQL = "SELECT id, name, backend FROM devices WHERE id IN ({})"
_NODE_HOSTS_SQL = "SELECT id, manage_hostname, storage_hostname FROM nodes WHERE id IN ({})"
_NODE_HOSTS = select(nodes.c.id, nodes.c.manage_hostname, nodes.c.storage_hostname).where(
    nodes.c.id.in_(bindparam("ids", expanding=True))
)
_ADJUST_SPACE = (
    devices.update()
    .where(
        and_(
            devices.c.id == bindparam("device"),
            devices.c.free >= bindparam("delta"),
            devices.c.used + bindparam("delta") >= 0,
        )
    )
    .values(free=devices.c.free - bindparam("delta"), used=devices.c.used + bindparam("delta"))
)
_INSERT_STEP = operation_steps.insert().values(
    op_id=bindparam("op_id"),
    step=bindparam("step"),
    at=bindparam("at"),
    kind=bindparam("kind"),
    subject=bindparam("subject"),
)
_SELECT_STEPS = (
    select(
        operation_steps.c.step,
        operation_steps.c.at,
        operation_steps.c.kind,
        operation_steps.c.subject,
    )
    .where(operation_steps.c.op_id == bindparam("op"))
    .order_by(operation_steps.c.seq)
)
_DELETE_STEPS = operation_steps.delete().where(operation_steps.c.op_id == bindparam("op"))
_TOUCH_CLAIM = (
    pending_operations.update()
    .where(
        pending_operations.c.id == bindparam("op"),
        pending_operations.c.owner == bindparam("holder"),
    )
    .values(claimed_at=pending_operations.c.claimed_at)
)
_DELETE_HELD = pending_operations.delete().where(
    pending_operations.c.id == bindparam("op"), pending_operations.c.owner == bindparam("holder")
)
_CLEAR_BRICKS = (
    bricks.update().where(bricks.c.pending_op_id == bindparam("op")).values(pending_op_id="")
)
_SET_BRICK_PENDING = (
    bricks.update().where(bricks.c.id == bindparam("brick")).values(pending_op_id=bindparam("op"))
)
_CLEAR_VOLUMES = (
    volumes.update().where(volumes.c.pending_op_id == bindparam("op")).values(pending_op_id="")
)
_GROW_VOLUME = (
    volumes.update()
    .where(volumes.c.id == bindparam("volume"))
    .values(size=volumes.c.size + bindparam("delta"))
)


@dataclass(frozen=True)
class _TypedSql:
    """A module-level statement compiled once for the SQLite driver: its SQL, the order of its
    parameters, the values it carries itself (literals, LIMITs), and the conversions
    SQLAlchemy would apply to its parameters and result columns (each column type's own
    processors; `Transaction._plain` needs none)."""

    sql: str
    names: tuple[str, ...]  # parameter order
    defaults: dict[str, Any]  # values the statement carries itself (LIMITs)
    binds: tuple[Callable[[Any], Any] | None, ...]  # per parameter, in order
    keys: tuple[str, ...]  # result column names
    results: tuple[Callable[[Any], Any] | None, ...]  # per result column

    def bind(self, values: dict[str, Any]) -> list[Any]:
        return [
            value if convert is None else convert(value)
            for value, convert in zip(
                (values[name] for name in self.names), self.binds, strict=True
            )
        ]

    def row(self, raw: tuple[Any, ...]) -> dict[str, Any]:
        return {
            key: value if convert is None else convert(value)
            for key, value, convert in zip(self.keys, raw, self.results, strict=True)
        }


_TYPED_SQL: dict[tuple[int, str, tuple[str, ...]], _TypedSql] = {}


def _typed_sql(statement: Any, dialect: Any, columns: Iterable[str] = ()) -> _TypedSql:
    """`statement` compiled for the driver (an INSERT for the given `columns`)."""
    key = (id(statement), dialect.name, tuple(columns))
    found = _TYPED_SQL.get(key)
    if found is None:
        compiled = statement.compile(dialect=dialect, column_keys=list(key[2]) or None)
        names = tuple(compiled.positiontup or ())
        binds = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        selected = list(statement.selected_columns) if isinstance(statement, Select) else []
        found = _TypedSql(
            sql=str(compiled),
            names=names,
            defaults=dict(compiled.params),
            binds=binds,
            keys=tuple(str(column.key) for column in selected),
            results=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in selected
            ),
        )
        _TYPED_SQL[key] = found
    return found


def _engine_options(url: str) -> dict[str, Any]:
    """Engine options per database. SQLite: a LIFO pool (its pragmas are set on connect).
    PostgreSQL: READ COMMITTED, stated rather than inherited from the server's default, because
    the conditional UPDATEs the store relies on (claims, space, releases) are atomic there: a
    second writer of the same row waits for the first to commit, then re-evaluates its WHERE on
    the new row (so exactly one claim wins, and free space never goes below zero). A stricter
    level would abort the second writer with a serialization error instead. Connections are
    checked before use (a restarted PostgreSQL), and a connection attempt gives up after 10 s
    unless the URL says otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        # the most recently used connection first: one connection serves the event loop, and
        # its page cache stays valid from one transaction to the next
        return {"pool_use_lifo": True}
    options: dict[str, Any] = {"isolation_level": "READ COMMITTED", "pool_pre_ping": True}
    if parsed.get_driver_name() in ("psycopg", "psycopg2") and "connect_timeout" not in (
        parsed.query
    ):
        options["connect_args"] = {"connect_timeout": 10}
    return options


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers run beside the writer; NORMAL sync is durable across process crashes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def sqlite_url(path: str) -> str:
    return f"sqlite:///{path}"
