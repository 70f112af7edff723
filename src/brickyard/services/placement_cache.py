"""Per-cluster indexes of placement candidates, kept in memory so that a placement does not
read every device of the cluster (10,000 at 1,000 nodes).

The index follows what this process commits: space changes are applied as deltas, anything
that changes the topology (nodes, devices, their state or tags) drops every index, to be
reloaded on next use. The database remains the judge of space: reserving checks each device
still has what the index promised (Transaction.adjust_device_space), and a refusal drops the
indexes so the next attempt sees the truth.

On a store shared by several servers, the others' writes are not seen as deltas. Every write
that moves space or changes the topology bumps a counter in the database; a placement first
takes its cluster's lock, then reads the counter, and drops the indexes when it moved by more
than this server's own commits. Under the lock no other placement in the cluster can run, so
the index it then uses is exact for its cluster (a concurrent delete only frees space, which
can cost a less even choice, never a wrong one)."""

from __future__ import annotations

from ..domain.placement import DeviceIndex
from ..store.sql import CommitChanges, SqlStore, Transaction


class PlacementCache:
    def __init__(self, store: SqlStore) -> None:
        self._indexes: dict[str, DeviceIndex] = {}
        self._cluster_of: dict[str, str] = {}
        # The placement counter the indexes reflect (shared stores); None: unknown.
        self._version: int | None = None
        store.on_commit(self._committed)

    def index(self, tx: Transaction, cluster_id: str) -> DeviceIndex:
        if tx.shared:
            tx.lock_placement(cluster_id)
            current = tx.placement_version()
            if current != self._version:
                self.invalidate()
                self._version = current
        found = self._indexes.get(cluster_id)
        if found is None:
            found = DeviceIndex(tx.placement_candidates(cluster_id))
            self._indexes[cluster_id] = found
            for candidate in found.all():
                self._cluster_of[candidate.device_id] = cluster_id
        return found

    def invalidate(self) -> None:
        self._indexes.clear()
        self._cluster_of.clear()
        self._version = None

    def _committed(self, changes: CommitChanges) -> None:
        if changes.version:
            if self._version is None or changes.version != self._version + 1:
                # Another server committed in between: what it changed is not known here.
                self.invalidate()
                return
            self._version = changes.version
        if changes.topology:
            self.invalidate()
            return
        for device_id, used_delta in changes.space.items():
            cluster_id = self._cluster_of.get(device_id)
            if cluster_id is not None:
                self._indexes[cluster_id].change_free(device_id, -used_delta)
