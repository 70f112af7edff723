"""The store runs on the database's driver with conversions of its own (store/sql.py:
RowCodec, store/schema.py); they must read and write exactly what SQLAlchemy's execution of
the tables of store/tables.py does (what the store used before, and what the migrations still
use), for every table and every kind of value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from brickyard.domain.model import Change, ChangeType, OperationType, PendingOperation, Volume
from brickyard.store import schema
from brickyard.store.errors import Duplicate
from brickyard.store.migrate import migration_engine
from brickyard.store.sql import MAPPINGS, Transaction
from brickyard.store.tables import metadata

from .conftest import Harness


@pytest.fixture
def engine(harness: Harness) -> Iterator[Engine]:
    """SQLAlchemy on the harness's database."""
    opened = migration_engine(harness.server.store.url)
    yield opened
    opened.dispose()


def _table_rows(tx: Transaction, table: str) -> list[tuple[Any, ...]]:
    """The table's stored values as the driver gives them (no conversion of ours)."""
    return [tuple(row) for row in tx.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()]


async def _populate(harness: Harness, engine: Engine) -> None:
    topo = await harness.build_topology(nodes=6, devices_per_node=2)
    await harness.post(
        f"/nodes/{topo.nodes[0]}/tags",
        {"change_type": "set", "tags": {"rack": 'r1 "quoted"', "ünïcode": "✓"}},
    )
    await harness.create_volume(name="plain", gid=2001)
    await harness.create_volume(
        size=4, durability={"type": "disperse", "disperse": {"data": 4, "redundancy": 2}}
    )
    await harness.create_volume(
        durability={"type": "replicate", "replicate": {"replica": 3}},
        options=["performance.readdir-ahead off"],
        snapshot={"enable": True, "factor": 1.5},
    )
    # an operation that waits for a human stays in the journal: written by SQLAlchemy here
    held = PendingOperation(
        id="ab" * 16,
        type=OperationType.CREATE_VOLUME,
        timestamp=1_700_000_000,
        changes=[
            Change(ChangeType.ADD_VOLUME, "cd" * 16),
            Change(ChangeType.EXPAND_VOLUME, "ef" * 16, 7),
        ],
        status="failed",
        detail={"host": 'n1 "ü"', "empty": ""},
        claimed_at=1_700_000_000.25,
        held="rollback failed: node n1 did not answer",
    )
    with engine.begin() as conn:
        conn.execute(
            metadata.tables["pending_operations"].insert(),
            MAPPINGS[PendingOperation].dump(held),
        )


def test_the_columns_are_those_of_the_tables() -> None:
    """store/schema.py lists each table's columns in order, and which hold JSON or booleans,
    as store/tables.py (the migrations' schema) declares them."""
    from sqlalchemy import JSON, Boolean

    declared = {
        table.name: (
            tuple(c.name for c in table.columns),
            frozenset(c.name for c in table.columns if isinstance(c.type, JSON)),
            frozenset(c.name for c in table.columns if isinstance(c.type, Boolean)),
        )
        for table in metadata.sorted_tables
    }
    ours = {t.name: (t.columns, t.json, t.booleans) for t in schema.ALL}
    assert ours == declared


async def test_reads_equal_sqlalchemys_for_every_table(harness: Harness, engine: Engine) -> None:
    await _populate(harness, engine)
    with engine.connect() as conn:
        expected = {
            kind: [
                dict(row)
                for row in conn.execute(
                    select(metadata.tables[m.table.name]).order_by("id")
                ).mappings()
            ]
            for kind, m in MAPPINGS.items()
        }
    with harness.server.store.read() as tx:
        for kind, mapping in MAPPINGS.items():
            assert expected[kind] or kind.__name__ == "BlockVolume", kind
            for row in expected[kind]:
                raw = tx.execute(mapping.by_id, {"id": row["id"]}).fetchone()
                ours = mapping.codec.read(raw, tx.sqlite)
                assert ours == row, kind
                assert {k: type(v) for k, v in ours.items()} == {
                    k: type(v) for k, v in row.items()
                }, kind
                assert tx.get(kind, row["id"]) == mapping.load(row)


async def test_inserts_store_what_sqlalchemy_stores(harness: Harness, engine: Engine) -> None:
    """Every entity read back and inserted again by the store leaves each table value for
    value (as the driver reads it) as SQLAlchemy's inserts had written it."""
    await _populate(harness, engine)
    store = harness.server.store
    with store.read() as tx:
        before = {m.table.name: _table_rows(tx, m.table.name) for m in MAPPINGS.values()}
        entities = {kind: tx.all(kind) for kind in MAPPINGS}
    with store.write() as tx:
        for mapping in reversed(MAPPINGS.values()):  # children first: the foreign keys
            tx.execute(f"DELETE FROM {mapping.table.name}")
        for found in entities.values():
            if len(found) > 1:
                tx.add_all(found[:-1])  # executemany
            for entity in found[-1:]:
                tx.add(entity)
    with store.read() as tx:
        after = {m.table.name: _table_rows(tx, m.table.name) for m in MAPPINGS.values()}
    assert after == before


async def test_a_duplicate_insert_is_refused_as_before(harness: Harness, engine: Engine) -> None:
    await _populate(harness, engine)
    store = harness.server.store
    with store.read() as tx:
        volume_id = tx.conn.column("SELECT id FROM volumes ORDER BY id")[0]
        volume = tx.get(Volume, volume_id)
    assert volume is not None
    with pytest.raises(Duplicate, match=volume.id), store.write() as tx:
        tx.add(volume)
    with store.read() as tx:
        assert tx.conn.scalar("SELECT count(*) FROM volumes") == 3
