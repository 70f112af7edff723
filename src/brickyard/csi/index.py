"""What the controller knows of a server's volumes: a snapshot read from the server (one
``GET /topology``, composed from the standard endpoints on a Heketi server), at most ``ttl``
seconds old, plus the volumes this process made or deleted since.

Why: the name lookup (idempotency) and the free gid need every volume of the server, and that
read costs O(volumes) on the server (16 ms at 200 volumes on Brickyard, one request per volume
on Heketi). Reading it once per ``ttl`` instead of once per CreateVolume keeps a PVC storm
from multiplying it. What stays true with a snapshot:

- a name found in it is confirmed by ``GET /volumes/{id}`` (its current size, and that it was
  not deleted in the meantime) before it is returned;
- a name not found in it and made meanwhile by someone else in the same cluster is refused by
  the server ("already in use": ABORTED) and the snapshot is dropped, so the retry reads anew;
- gids: the snapshot's, plus this process's own creates (kept until a snapshot read after
  them shows them), plus the creates running now; a gid given to a volume by hand less than
  ``ttl`` seconds ago may be missed (documented in docs/csi.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_TTL", "VolumeIndex"]

DEFAULT_TTL = 2.0

Volume = dict[str, Any]


@dataclass
class _Snapshot:
    read_at: float  # when the read started
    volumes: dict[str, Volume] = field(default_factory=dict)


class VolumeIndex:
    """The volumes of one server."""

    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()  # one read at a time: a storm reads once
        self._guard = threading.Lock()  # the fields below
        self._snapshot: _Snapshot | None = None
        self._made: dict[str, tuple[float, Volume]] = {}  # id -> (when, info) of our creates
        self._deleted: dict[str, float] = {}  # id -> when, of our deletes

    def volumes(
        self, read: Callable[[], list[Volume]], *, fresh: bool = False
    ) -> tuple[list[Volume], bool]:
        """Every volume known, and whether they were read from the server just now."""
        with self._lock:
            with self._guard:
                snapshot = self._snapshot
                stale = snapshot is None or self.clock() - snapshot.read_at > self.ttl
            read_now = fresh or stale
            if read_now:
                started = self.clock()
                listed = read()
                with self._guard:
                    snapshot = _Snapshot(started, {str(v["id"]): v for v in listed})
                    self._snapshot = snapshot
                    # what the read saw (or began after) needs no more remembering
                    self._made = {k: m for k, m in self._made.items() if m[0] >= started}
                    self._deleted = {k: t for k, t in self._deleted.items() if t >= started}
            with self._guard:
                assert snapshot is not None
                merged = dict(snapshot.volumes)
                merged.update({k: info for k, (_, info) in self._made.items()})
                for k in self._deleted:
                    merged.pop(k, None)
            return list(merged.values()), read_now

    def gids(self) -> set[int]:
        """The gids of every volume known now (without reading the server)."""
        with self._guard:
            volumes = dict(self._snapshot.volumes) if self._snapshot else {}
            volumes.update({k: info for k, (_, info) in self._made.items()})
            for k in self._deleted:
                volumes.pop(k, None)
        return {int(v.get("gid") or 0) for v in volumes.values()}

    def made(self, info: Volume) -> None:
        with self._guard:
            self._made[str(info["id"])] = (self.clock(), info)
            self._deleted.pop(str(info["id"]), None)

    def deleted(self, volume_id: str) -> None:
        with self._guard:
            self._deleted[volume_id] = self.clock()
            self._made.pop(volume_id, None)

    def drop(self) -> None:
        """Forget the snapshot: the next lookup reads the server."""
        with self._guard:
            self._snapshot = None
