"""SQLite: the event loop's thread keeps one connection for its transactions one after another
(store/sql.py: SqlStore._connection). It must behave exactly as a fresh connection from the
pool would: a failed transaction leaves nothing behind, a transaction begun inside another
takes a connection of its own, and threads without a loop never hold one."""

from __future__ import annotations

import threading

import pytest

from brickyard.domain.model import Cluster
from brickyard.store.sql import SqlStore


def _cluster(n: int) -> Cluster:
    return Cluster(id=f"{n:032x}", block=False, file=True)


async def test_the_loop_thread_holds_one_connection(store: SqlStore) -> None:
    with store.write() as tx:
        tx.add(_cluster(1))
    with store.read() as tx:
        assert tx.cluster_ids() == [_cluster(1).id]
    with store.write() as tx:
        tx.add(_cluster(2))
    assert len(store._held) == 1
    with store.read() as tx:
        first = tx.conn
    with store.read() as tx:
        assert tx.conn is first  # the same connection, transaction after transaction


async def test_a_failed_transaction_leaves_nothing_on_the_held_connection(
    store: SqlStore,
) -> None:
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.add(_cluster(1))
        raise RuntimeError("planning failed")
    assert not store._held[0].in_transaction  # rolled back, not left open
    with store.read() as tx:
        assert tx.cluster_ids() == []
    with store.write() as tx:  # and the connection is usable again
        tx.add(_cluster(2))
    with store.read() as tx:
        assert tx.cluster_ids() == [_cluster(2).id]


async def test_a_read_inside_a_write_sees_only_what_is_committed(store: SqlStore) -> None:
    with store.write() as tx:
        tx.add(_cluster(1))
        with store.read() as inner:
            assert inner.conn is not tx.conn  # a pooled connection of its own
            assert inner.cluster_ids() == []
    with store.read() as tx:
        assert tx.cluster_ids() == [_cluster(1).id]


async def test_threads_without_a_loop_use_the_pool(store: SqlStore) -> None:
    with store.read():
        pass
    seen: list[list[str]] = []

    def reader() -> None:
        for _ in range(3):
            with store.read() as tx:
                seen.append(tx.cluster_ids())

    workers = [threading.Thread(target=reader) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert seen == [[]] * 12
    assert len(store._held) == 1  # the loop's, none for the threads


def test_without_a_loop_nothing_is_held(store: SqlStore) -> None:
    with store.write() as tx:
        tx.add(_cluster(1))
    with store.read() as tx:
        assert tx.cluster_ids() == [_cluster(1).id]
    assert store._held == []


async def test_a_read_does_not_leave_a_transaction_open(store: SqlStore) -> None:
    """A read begins no transaction (each statement sees what is committed), and the held
    connection is left as returning a connection to the pool leaves it, or the next write
    could not begin."""
    with store.read() as tx:
        assert tx.execute("SELECT id FROM clusters").fetchall() == []
    assert not store._held[0].in_transaction
    with store.write() as tx:
        tx.add(_cluster(1))
    with store.read() as tx:
        assert tx.conn.column("SELECT id FROM clusters") == [_cluster(1).id]
