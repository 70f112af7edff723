"""SQLite checkpoints run in a thread of their own, not in the event loop's commits
(store/checkpoint.py)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from pathlib import Path

from brickyard.domain.model import Cluster
from brickyard.store.checkpoint import LOOP_AUTOCHECKPOINT
from brickyard.store.sql import SqlStore


def _clusters_in_the_file_alone(db: Path, copy: Path) -> int:
    """The clusters the database file holds without its -wal (what checkpoints copied)."""
    shutil.copyfile(db, copy)
    raw = sqlite3.connect(copy)
    try:
        return int(raw.execute("SELECT count(*) FROM clusters").fetchone()[0])
    finally:
        raw.close()


async def test_the_loop_leaves_checkpoints_to_the_thread(store: SqlStore, tmp_path: Path) -> None:
    for n in range(50):
        with store.write() as tx:
            tx.add(Cluster(id=f"{n:032x}", block=False, file=True))
    assert store._held[0].scalar("PRAGMA wal_autocheckpoint") == LOOP_AUTOCHECKPOINT
    checkpointer = store.checkpointer
    assert checkpointer is not None
    db = tmp_path / "heketi.db"
    deadline = time.monotonic() + 10
    while _clusters_in_the_file_alone(db, tmp_path / "copy.db") != 50:
        assert time.monotonic() < deadline, "the commits were never checkpointed"
        await asyncio.sleep(0.1)
    assert checkpointer.checkpoints >= 1
    store.close()
    assert store.checkpointer is None and not checkpointer._thread.is_alive()


def test_without_a_loop_there_is_no_checkpoint_thread(store: SqlStore) -> None:
    """Commands and tests without an event loop keep SQLite's own checkpoints."""
    with store.write() as tx:
        tx.add(Cluster(id="c" * 32, block=False, file=True))
    assert store.checkpointer is None
    with store.db.connection() as conn:
        assert conn.scalar("PRAGMA wal_autocheckpoint") == 1000
