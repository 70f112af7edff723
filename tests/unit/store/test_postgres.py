"""What only PostgreSQL has to prove: servers starting together migrate once, the conditional
UPDATEs the store relies on are atomic between connections, and a database that cannot be
opened says so at start."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from brickyard.bootstrap import build_server
from brickyard.config import ConfigError, load_settings
from brickyard.domain.model import (
    Cluster,
    Device,
    Node,
    OperationStatus,
    OperationType,
    PendingOperation,
)
from brickyard.nodes.sim import SimNodeAgent, SimWorld
from brickyard.store.errors import StaleSpace
from brickyard.store.migrate import upgrade
from brickyard.store.sql import SqlStore
from brickyard.store.tables import metadata
from pg import PgServer, _free_port


def _together(*work: Callable[[], Any]) -> list[Any]:
    """Run each callable on its own thread, released at the same moment; their results (or
    the exceptions they raised)."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from brickyard.store.migrate import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())


def test_servers_starting_together_migrate_a_fresh_database_once(postgres: PgServer) -> None:
    url = postgres.new_database()
    stores = [SqlStore(url) for _ in range(4)]
    try:
        results = _together(*(lambda s=s: upgrade(s.url) for s in stores))
        assert results == [None] * 4
        with stores[0].db.connection() as conn:
            versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            tables = set(
                conn.column(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                )
            )
        assert versions == [(head_revision(),)]
        assert tables == set(metadata.tables) | {"alembic_version"}
    finally:
        for s in stores:
            s.close()


def test_the_upgrade_waits_for_the_lock_another_server_holds(postgres: PgServer) -> None:
    from brickyard.store.migrate import UPGRADE_LOCK_KEY

    url = postgres.new_database()
    holder, waiter = SqlStore(url), SqlStore(url)
    try:
        with holder.db.connection() as conn:
            conn.begin()
            conn.execute("SELECT pg_advisory_xact_lock(:k)", {"k": UPGRADE_LOCK_KEY})
            done = threading.Event()
            thread = threading.Thread(target=lambda: (upgrade(waiter.url), done.set()))
            thread.start()
            assert not done.wait(0.5)  # blocked while the other server holds the lock
            conn.commit()
        thread.join(30)
        assert done.is_set()
    finally:
        holder.close()
        waiter.close()


def _operation(op_id: str) -> PendingOperation:
    return PendingOperation(op_id, OperationType.CREATE_VOLUME, 0, status=OperationStatus.NEW.value)


def _hold_then_race(store: SqlStore, first: Callable[[Any], Any], second: Callable[[Any], Any]):
    """`first` runs in a transaction that stays open while `second` runs in another one (which
    must wait for the row), then commits; returns (first's result, second's result)."""
    started, release = threading.Event(), threading.Event()
    out: dict[str, Any] = {}

    from brickyard.store.sql import Transaction

    def one() -> None:
        with store.db.connection() as conn:
            conn.begin()
            out["first"] = first(Transaction(conn))
            started.set()
            release.wait(10)
            conn.commit()

    def two() -> None:
        started.wait(10)
        with store.db.connection() as conn:
            conn.begin()
            try:
                out["second"] = second(Transaction(conn))
            except Exception as exc:
                out["second"] = exc
            conn.commit()

    threads = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in threads:
        t.start()
    started.wait(10)
    time.sleep(0.3)  # the second writer is now waiting on the row lock
    assert "second" not in out
    release.set()
    for t in threads:
        t.join(30)
    return out["first"], out["second"]


def test_a_claim_is_won_once_between_concurrent_transactions(postgres: PgServer) -> None:
    store = SqlStore(postgres.new_database())
    try:
        upgrade(store.url)
        with store.write() as tx:
            tx.add(_operation("o" * 32))
        statuses = (OperationStatus.NEW.value,)
        first, second = _hold_then_race(
            store,
            lambda tx: tx.claim("o" * 32, "server-a", statuses, False),
            lambda tx: tx.claim("o" * 32, "server-b", statuses, False),
        )
        assert (first, second) == (True, False)
        with store.read() as tx:
            op = tx.get(PendingOperation, "o" * 32)
        assert op is not None and op.owner == "server-a"
    finally:
        store.close()


def test_space_taken_concurrently_never_goes_below_zero(postgres: PgServer) -> None:
    store = SqlStore(postgres.new_database())
    try:
        upgrade(store.url)
        with store.write() as tx:
            tx.add(Cluster("c" * 32, block=True, file=True))
            tx.add(Node("n" * 32, "c" * 32, 1, ["m1"], ["10.0.0.1"]))
            tx.add(Device("d" * 32, "n" * 32, "/dev/sdb", 100, 100, 0))
        first, second = _hold_then_race(
            store,
            lambda tx: tx.adjust_device_space({"d" * 32: 60}),
            lambda tx: tx.adjust_device_space({"d" * 32: 60}),
        )
        assert first is None and isinstance(second, StaleSpace)
        with store.read() as tx:
            device = tx.get(Device, "d" * 32)
        assert device is not None and (device.free, device.used) == (40, 60)
    finally:
        store.close()


def _start(db: str) -> None:
    settings, _ = load_settings(None, env={"HEKETI_EXECUTOR": "mock", "BRICKYARD_DB": db})
    build_server(settings, disable_auth=True, agent=SimNodeAgent(SimWorld()))


def test_an_unreachable_postgresql_is_a_clear_error_at_start() -> None:
    url = f"postgresql+psycopg://someone:s3cret@127.0.0.1:{_free_port()}/heketi"
    with pytest.raises(ConfigError) as exc:
        _start(url)
    message = str(exc.value)
    assert message.startswith("glusterfs.db: cannot open the database postgresql+psycopg://")
    assert "127.0.0.1" in message and "s3cret" not in message and "***" in message


def test_a_missing_database_is_a_clear_error_at_start(postgres: PgServer) -> None:
    with pytest.raises(ConfigError, match=r'cannot open the database .*"nosuchdb" does not'):
        _start(postgres.url("nosuchdb"))


@pytest.mark.parametrize(
    ("db", "reason"),
    [
        ("postgresql+nodriver://u@127.0.0.1/x", "not a valid database URL.*nodriver driver"),
        ("nosuchdialect://u@h/x", "not a valid database URL.*nosuchdialect databases"),
        ("postgresql+psycopg://u@h:notaport/x", "not a valid database URL"),
    ],
)
def test_a_wrong_url_is_a_clear_error_at_start(db: str, reason: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=reason):
        _start(db)
