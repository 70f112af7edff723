"""Volume clone: gluster snapshots the volume, clones the snapshot as a new volume, starts it and
deletes the snapshot (internals §4.8). The clone's bricks live in the origin's thin pools and
take no new space.

The snapshot's name is chosen and journaled at plan time, and the clone's intent is journaled
after checking that gluster has no volume of that name: so after a crash recovery knows which
snapshot may be left and that a gluster volume of the clone's name is ours. If gluster has the
clone started, the clone is finished; otherwise the clone volume and the snapshot are removed
from the nodes and the records dropped."""

from __future__ import annotations

import uuid
from typing import ClassVar

from ...domain.errors import OperationFailed, PendingConflict
from ...domain.ids import new_id
from ...domain.model import (
    Brick,
    Change,
    ChangeType,
    OperationType,
    PendingOperation,
    Volume,
)
from ...nodes.commands import lvm
from ...nodes.port import GlusterVolumeInfo, NodeAddress
from ...store.sql import Transaction
from .. import volume_checks
from ..context import ServiceContext
from ..lookup import address, require
from .base import ChildRunner, Journal, Operation, Settled, Step
from .bricks import gluster_order, on_first_node
from .run import Run

CLONE = "clone-begun"
SNAPSHOT_PREFIX = "tmpsnap_"


class VolumeClone(Operation):
    type = OperationType.CLONE_VOLUME
    steps: ClassVar[tuple[Step, ...]] = (Step(CLONE), Step("volume-cloned"))

    def __init__(self, ctx: ServiceContext, source_id: str, name: str) -> None:
        super().__init__(ctx)
        self.source_id = source_id
        self.name = name
        self.clone_id = ""
        self.snapshot = f"{SNAPSHOT_PREFIX}{uuid.uuid4().hex}"
        self.source_name = ""
        self.info: GlusterVolumeInfo | None = None

    @property
    def description(self) -> str:
        return f"clone volume {self.source_name or self.source_id}"

    @property
    def resource(self) -> str:
        return f"/volumes/{self.clone_id}" if self.clone_id else ""

    def plan(self, tx: Transaction) -> Journal:
        source = require(tx, Volume, self.source_id)
        self.source_name = source.name
        failed = f"Failed clone volume {self.source_id}"
        if source.pending_op_id:
            raise OperationFailed(f"{failed}: {PendingConflict().message}")
        if source.block:
            raise OperationFailed(f"{failed}: Cloning of block hosting volumes is not supported")
        self.clone_id = new_id()
        self.name = self.name or f"vol_{self.clone_id}"
        if tx.volume_named(source.cluster_id, self.name) is not None:
            raise OperationFailed(f"{failed}: Volume name '{self.name}' already in use")
        source_bricks = gluster_order(tx.volume_bricks(source.id))
        hosts = {
            n: storage
            for n, (_, storage) in tx.node_hosts({b.node_id for b in source_bricks}).items()
        }
        volume_checks.check_clone_files(self.name, source_bricks, hosts)
        clone = Volume(
            id=self.clone_id,
            cluster_id=source.cluster_id,
            name=self.name,
            size=source.size,
            durability=source.durability,
            gid=source.gid,
            options=list(source.options),
            snapshot_enable=source.snapshot_enable,
            snapshot_factor=source.snapshot_factor,
            pending_op_id=self.op_id,
        )
        tx.add(clone)
        return Journal(
            [
                Change(ChangeType.CLONE_VOLUME, source.id),
                Change(ChangeType.ADD_VOLUME, clone.id),
            ],
            {"snapshot": self.snapshot, "name": self.name},
        )

    async def execute(self, run: Run) -> str | None:
        via = self._nodes()[0]
        if await self.ctx.agent.volume_info(via, self.name) is not None:
            raise OperationFailed(
                f"gluster already has a volume named {self.name} that Brickyard does not know"
            )
        run.begin(CLONE, f"snapshot {self.snapshot} of {self.source_name} cloned as {self.name}")
        self.info = await self.ctx.agent.volume_clone(
            via, self.source_name, self.name, self.snapshot
        )
        run.done("volume-cloned", f"gluster volume {self.name} cloned and started", self.name)
        return self.resource

    def finalize(self, tx: Transaction) -> None:
        assert self.info is not None
        source_bricks = gluster_order(tx.volume_bricks(self.source_id))
        # Snapshot bricks live in the origin's thin pools: they take no new space (the origin
        # brick carries the pool). They record the pool and gluster's LV name, as Heketi's
        # clone bricks do.
        for origin, made in zip(source_bricks, self.info.bricks, strict=False):
            known_pool = origin.lvm_thin_pool or not origin.pool_guest
            tx.add(
                Brick(
                    id=new_id(),
                    volume_id=self.clone_id,
                    device_id=origin.device_id,
                    node_id=origin.node_id,
                    size=origin.size,
                    tp_size=0,
                    pool_metadata_size=0,
                    set_index=origin.set_index,
                    position=origin.position,
                    path_override=made.path,
                    lvm_thin_pool=origin.thin_pool if known_pool else "",
                    lvm_lv=lvm.snapshot_brick_lv(made.path) or "",
                    pool_guest=True,
                )
            )
        tx.clear_pending(self.op_id)

    async def roll_back(self, run: Run) -> Settled:
        if run.recorded(CLONE):
            await self._clean_nodes()
        with run.write() as tx:
            for brick in tx.volume_bricks(self.clone_id):
                tx.delete(Brick, brick.id)
            tx.delete(Volume, self.clone_id)
            run.finish(tx)
        return Settled(False, "rolled back")

    async def recover(self, run: Run) -> Settled:
        if run.recorded(CLONE):
            self.info = await self._gluster_clone()
            if self.info is not None and self.info.status == "Started":
                await self._delete_snapshot()
                with run.write() as tx:
                    self.finalize(tx)
                    run.finish(tx)
                return Settled(True, "gluster had the clone started: finished", self.resource)
        return await self.roll_back(run)

    async def _clean_nodes(self) -> None:
        """The clone may be on gluster (ours: its name was free when the clone began) and the
        temporary snapshot may be left: remove both."""
        await self._delete_snapshot()
        await on_first_node(
            self._nodes(),
            lambda node: self.ctx.agent.volume_destroy(node, self.name),
            f"rollback of clone {self.name}: gluster volume not destroyed",
        )

    async def _delete_snapshot(self) -> None:
        await on_first_node(
            self._nodes(),
            lambda node: self.ctx.agent.snapshot_delete(node, self.snapshot),
            f"clone {self.name}: snapshot {self.snapshot} not deleted",
        )

    async def _gluster_clone(self) -> GlusterVolumeInfo | None:
        return await on_first_node(
            self._nodes(),
            lambda node: self.ctx.agent.volume_info(node, self.name),
            f"cannot read volume {self.name} from gluster",
        )

    def _nodes(self) -> list[NodeAddress]:
        """The source's first brick's node first: gluster runs the snapshot there."""
        with self.ctx.store.read() as tx:
            source = require(tx, Volume, self.source_id)
            bricks = gluster_order(tx.volume_bricks(self.source_id))
            nodes = {n.id: n for n in tx.cluster_nodes(source.cluster_id)}
        first = [bricks[0].node_id] if bricks else []
        order = first + [n for n in nodes if n not in first]
        return [address(nodes[n]) for n in order]

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        source = next((c.id for c in op.changes if c.change is ChangeType.CLONE_VOLUME), "")
        clone = next((c.id for c in op.changes if c.change is ChangeType.ADD_VOLUME), "")
        loaded = cls(ctx, source, op.detail.get("name", ""))
        loaded.clone_id = clone
        with ctx.store.read() as tx:
            found = tx.get(Volume, clone)
        if found is not None:
            loaded.name = found.name
        if not loaded.name or not op.detail.get("snapshot"):
            raise OperationFailed(f"clone entry {op.id} does not name its clone or snapshot")
        loaded.snapshot = op.detail["snapshot"]
        return loaded
