"""On SQLite the hot reads and inserts go straight to the driver with the column types' own
conversions (store/sql.py: Transaction._rows and _insert); they must read and write exactly
what SQLAlchemy's own execution does, for every table and every kind of value."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from brickyard.domain.model import Change, ChangeType, OperationType, PendingOperation, Volume
from brickyard.store.errors import Duplicate
from brickyard.store.sql import MAPPINGS, Transaction
from brickyard.store.tables import volumes

from .conftest import Harness


def _table_rows(tx: Transaction, table: str) -> list[tuple[Any, ...]]:
    """The table's stored values as SQLite holds them (no conversion at all)."""
    return list(tx.conn.execute(text(f"SELECT * FROM {table} ORDER BY id")))


async def _populate(harness: Harness) -> None:
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
    mapping = MAPPINGS[PendingOperation]
    with harness.server.store.write() as tx:
        tx.conn.execute(mapping.table.insert(), mapping.dump(held))


async def test_driver_reads_equal_sqlalchemys_for_every_table(harness: Harness) -> None:
    await _populate(harness)
    with harness.server.store.read() as tx:
        for kind, mapping in MAPPINGS.items():
            expected = [
                dict(row)
                for row in tx.conn.execute(
                    select(mapping.table).order_by(mapping.table.c.id)
                ).mappings()
            ]
            assert expected or kind.__name__ == "BlockVolume", kind
            for row in expected:
                driver = tx._rows(mapping.by_id, {"id": row["id"]})
                assert driver == [row], kind
                assert {k: type(v) for k, v in driver[0].items()} == {
                    k: type(v) for k, v in row.items()
                }, kind
                assert tx.get(kind, row["id"]) == mapping.load(row)


async def test_driver_inserts_store_what_sqlalchemy_stores(harness: Harness) -> None:
    """Every entity read back and inserted again through the driver path leaves each table
    byte for byte as SQLAlchemy's inserts had written it."""
    await _populate(harness)
    store = harness.server.store
    with store.read() as tx:
        before = {m.table.name: _table_rows(tx, m.table.name) for m in MAPPINGS.values()}
        entities = {
            kind: [m.load(r) for r in tx.conn.execute(select(m.table)).mappings()]
            for kind, m in MAPPINGS.items()
        }
    with store.write() as tx:
        tx.conn.execute(text("PRAGMA defer_foreign_keys = ON"))
        for mapping in MAPPINGS.values():
            tx.conn.execute(mapping.table.delete())
        for found in entities.values():
            if len(found) > 1:
                tx.add_all(found[:-1])  # executemany
            for entity in found[-1:]:
                tx.add(entity)
    with store.read() as tx:
        after = {m.table.name: _table_rows(tx, m.table.name) for m in MAPPINGS.values()}
    assert after == before


async def test_a_duplicate_insert_is_refused_as_before(harness: Harness) -> None:
    await _populate(harness)
    store = harness.server.store
    with store.read() as tx:
        volume_id = tx.conn.execute(select(volumes.c.id)).scalars().first()
        volume = tx.get(Volume, volume_id)
    assert volume is not None
    with pytest.raises(Duplicate, match=volume.id), store.write() as tx:
        tx.add(volume)
    with store.read() as tx:
        assert tx.conn.execute(select(func.count()).select_from(volumes)).scalar() == 3
