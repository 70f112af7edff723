"""Whole-topology reads: everything in one consistent read (GET /topology), and every volume
compared with what gluster reports (GET /internal/state/examine/gluster)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain.errors import BrickyardError
from ..domain.model import Brick, Cluster, Device, Node, Volume
from .context import ServiceContext
from .lookup import address


@dataclass
class TopologySnapshot:
    clusters: list[Cluster]
    nodes: list[Node]
    devices: list[Device]
    volumes: list[Volume]  # visible ones only: a volume being created or deleted is hidden
    bricks: list[Brick]


class TopologyService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def snapshot(self) -> TopologySnapshot:
        with self.ctx.store.read() as tx:
            return TopologySnapshot(
                clusters=tx.all(Cluster),
                nodes=tx.all(Node),
                devices=tx.all(Device),
                volumes=[v for v in tx.all(Volume) if v.visible],
                bricks=tx.all(Brick),
            )

    async def gluster_report(self) -> list[dict[str, Any]]:
        """Per volume of the database, what gluster says of it (asked of one node of its
        cluster): status and bricks, "missing", or the error."""
        with self.ctx.store.read() as tx:
            volumes = tx.all(Volume)
            nodes = {n.cluster_id: n for n in tx.all(Node)}
        report: list[dict[str, Any]] = []
        for v in volumes:
            node = nodes.get(v.cluster_id)
            entry: dict[str, Any] = {"id": v.id, "name": v.name, "cluster": v.cluster_id}
            if node is None:
                entry["gluster"] = "no node to ask"
            else:
                try:
                    info = await self.ctx.agent.volume_info(address(node), v.name)
                    entry["gluster"] = (
                        "missing"
                        if info is None
                        else {"status": info.status, "bricks": [str(b) for b in info.bricks]}
                    )
                except BrickyardError as exc:
                    entry["gluster"] = f"error: {exc}"
            report.append(entry)
        return report
