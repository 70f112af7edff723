"""SQLite checkpoints off the event loop.

In WAL mode SQLite appends each commit to the -wal file, and the connection whose commit takes
the log past `wal_autocheckpoint` pages copies it back into the database file, syncing both:
that one commit then takes milliseconds instead of microseconds. On the server the committing
connection is the event loop's (sql.SqlStore._connection), so every request in flight waited
for it: the slowest 1 % of a create's commits were half of all its commit time (measured:
median 14 µs, mean 64 µs, max 4.8 ms).

The loop's connection now checkpoints only if the log grows far beyond the usual (a safety
net), and a thread of its own runs a PASSIVE checkpoint twice a second when something was
committed. sqlite3 releases the GIL while SQLite works, so the copy and the syncs run beside
the loop, on the other core. PASSIVE never waits for readers or writers: what it cannot copy
now, it copies next time. Durability is unchanged: a commit is in the -wal file when it
returns, as before, whoever checkpoints it later."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .db import Connection, Database
from .errors import DatabaseError

log = logging.getLogger(__name__)

# Seconds between the thread's checkpoints (when there were commits).
CHECKPOINT_INTERVAL = 0.5
# Pages of log after which the loop's own connection checkpoints after all (SQLite's default
# is 1000, what the thread keeps it under at hundreds of commits a second).
LOOP_AUTOCHECKPOINT = 10_000


def leave_checkpoints(conn: Connection) -> None:
    """Make `conn` (the event loop's) leave checkpoints to the Checkpointer."""
    conn.execute(f"PRAGMA wal_autocheckpoint={LOOP_AUTOCHECKPOINT}").fetchall()


class Checkpointer:
    """A daemon thread checkpointing an SQLite database while `commits()` moves."""

    def __init__(
        self, db: Database, commits: Callable[[], int], interval: float = CHECKPOINT_INTERVAL
    ) -> None:
        self._db = db
        self._commits = commits  # the store's count of commits so far
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self.checkpoints = 0  # PASSIVE checkpoints run (for tests and examination)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        conn = self._db.lend()
        seen = -1
        try:
            while not self._stop.wait(self._interval):
                count = self._commits()
                if count == seen:
                    continue
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except DatabaseError as exc:  # the next round tries again
                    log.warning("SQLite checkpoint: %s", exc)
                    continue
                seen = count
                self.checkpoints += 1
        finally:
            self._db.give_back(conn)
