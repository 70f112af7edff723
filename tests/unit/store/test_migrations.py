from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from brickyard.domain.model import Cluster, Device, EntryState, Node
from brickyard.store.migrate import upgrade
from brickyard.store.sql import SqlStore
from brickyard.store.tables import metadata
from pg import as_url

# new_database (tests/conftest.py) runs each test on SQLite and on PostgreSQL.


def test_migrations_create_exactly_the_declared_schema(tmp_path: Path, new_database: Any) -> None:
    store = SqlStore(as_url(new_database(tmp_path)))
    upgrade(store.engine)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    store.close()


def test_upgrade_is_idempotent_and_round_trips_entities(tmp_path: Path, new_database: Any) -> None:
    store = SqlStore(as_url(new_database(tmp_path)))
    upgrade(store.engine)
    upgrade(store.engine)
    with store.write() as tx:
        tx.add(Cluster("c" * 32, block=True, file=True))
        tx.add(Node("n" * 32, "c" * 32, 2, ["m1"], ["10.0.0.1"], {"rack": "a"}))
        tx.add(Device("d" * 32, "n" * 32, "/dev/sdb", 100, 60, 40, tags={"ssd": "y"}))
    with store.read() as tx:
        node = tx.get(Node, "n" * 32)
        device = tx.get(Device, "d" * 32)
        assert node is not None and node.tags == {"rack": "a"} and node.state is EntryState.ONLINE
        assert device is not None and (device.total, device.free, device.used) == (100, 60, 40)
        assert tx.mount_hosts("c" * 32) == ["10.0.0.1"]
        assert tx.node_with_hostname(manage="m1") == node
    store.close()
