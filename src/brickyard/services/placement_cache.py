"""Per-cluster indexes of placement candidates, kept in memory so that a placement does not
read every device of the cluster (10,000 at 1,000 nodes).

The index follows what this process commits: space changes are applied as deltas, anything
that changes the topology (nodes, devices, their state or tags) drops every index, to be
reloaded on next use. The database remains the judge of space: reserving checks each device
still has what the index promised (Transaction.adjust_device_space), and a refusal drops the
indexes so the next attempt sees the truth."""

from __future__ import annotations

from ..domain.placement import DeviceIndex
from ..store.sql import CommitChanges, SqlStore, Transaction


class PlacementCache:
    def __init__(self, store: SqlStore) -> None:
        self._indexes: dict[str, DeviceIndex] = {}
        self._cluster_of: dict[str, str] = {}
        store.on_commit(self._committed)

    def index(self, tx: Transaction, cluster_id: str) -> DeviceIndex:
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

    def _committed(self, changes: CommitChanges) -> None:
        if changes.topology:
            self.invalidate()
            return
        for device_id, used_delta in changes.space.items():
            cluster_id = self._cluster_of.get(device_id)
            if cluster_id is not None:
                self._indexes[cluster_id].change_free(device_id, -used_delta)
