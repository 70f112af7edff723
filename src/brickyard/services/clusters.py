"""Clusters: create, flags, info, list, delete (all synchronous, as in Heketi)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.errors import Conflict
from ..domain.ids import new_id
from ..domain.model import Cluster
from .context import ServiceContext
from .lookup import require


@dataclass
class ClusterView:
    cluster: Cluster
    node_ids: list[str]
    volume_ids: list[str]
    block_volume_ids: list[str] = field(default_factory=list)


class ClusterService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def create(self, block: bool, file: bool) -> ClusterView:
        cluster = Cluster(id=new_id(), block=block, file=file)
        with self.ctx.store.write() as tx:
            tx.add(cluster)
        return ClusterView(cluster, [], [])

    def set_flags(self, cluster_id: str, block: bool, file: bool) -> None:
        with self.ctx.store.write() as tx:
            cluster = require(tx, Cluster, cluster_id)
            cluster.block, cluster.file = block, file
            tx.update(cluster)

    def info(self, cluster_id: str) -> ClusterView:
        with self.ctx.store.read() as tx:
            cluster = require(tx, Cluster, cluster_id)
            return ClusterView(
                cluster,
                tx.cluster_node_ids(cluster_id),
                tx.cluster_volume_ids(cluster_id),
                tx.cluster_block_volume_ids(cluster_id),
            )

    def list_ids(self) -> list[str]:
        with self.ctx.store.read() as tx:
            return tx.cluster_ids()

    def delete(self, cluster_id: str) -> None:
        with self.ctx.store.write() as tx:
            require(tx, Cluster, cluster_id)
            if tx.cluster_node_ids(cluster_id) or tx.cluster_volume_count(cluster_id):
                raise Conflict(
                    f"Unable to delete cluster [{cluster_id}] "
                    "because it contains volumes and/or nodes"
                )
            tx.delete(Cluster, cluster_id)
