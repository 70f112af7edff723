"""Volume expand: place and reserve new brick sets, make them, add them to the gluster volume.

A rollback asks gluster only when the journal says the add was begun: if gluster holds every
new brick the expand is finished instead (destroying them would break the volume); if it holds
none they are destroyed; if it holds some, neither is safe and a human decides."""

from __future__ import annotations

from typing import ClassVar

from ...domain.errors import InvalidRequest, OperationFailed, PendingConflict, PlacementError
from ...domain.model import (
    Brick,
    Change,
    ChangeType,
    OperationType,
    PendingOperation,
    Volume,
)
from ...store.sql import Transaction
from .. import volume_checks
from ..allocation import allocate, write_allocation
from ..context import ServiceContext
from ..lookup import require
from ..volume_placement import policy
from .base import (
    ChildRunner,
    Incomplete,
    Journal,
    NeedsHuman,
    Operation,
    Settled,
    Step,
    change_of,
)
from .bricks import (
    Targets,
    destroy_bricks,
    gluster_bricks,
    gluster_order,
    gluster_spec,
    make_bricks,
    settle_teardown,
    volume_nodes,
)
from .run import Intent, Run

BRICKS_ADD = "bricks-add-begun"


class VolumeExpand(Operation):
    type = OperationType.EXPAND_VOLUME
    steps: ClassVar[tuple[Step, ...]] = (
        Step("brick-made", per_brick=True),
        Step(BRICKS_ADD),
        Step("bricks-added"),
    )

    def __init__(self, ctx: ServiceContext, volume_id: str, size: int) -> None:
        super().__init__(ctx)
        self.volume_id = volume_id
        self.size = size
        self.name = ""
        self.new_bricks: list[Brick] = []

    @property
    def description(self) -> str:
        return f"expand volume {self.name or self.volume_id}"

    @property
    def resource(self) -> str:
        return f"/volumes/{self.volume_id}"

    def plan(self, tx: Transaction) -> Journal:
        volume = require(tx, Volume, self.volume_id)
        self.name = volume.name
        existing = tx.volume_bricks(volume.id)
        if volume.pending_op_id or any(b.pending_op_id for b in existing):
            # Being created, deleted or expanded: one change of a volume at a time.
            raise OperationFailed(
                f"Failed to allocate volume expansion: {PendingConflict().message}"
            )
        try:
            allocation = allocate(
                tx,
                volume,
                self.size,
                self.ctx.settings.limits,
                policy(self.ctx, volume),
                self.ctx.placer,
                self.ctx.placement,
                self.op_id,
                existing_bricks=len(existing),
                first_set_index=1 + max((b.set_index for b in existing), default=-1),
            )
        except PlacementError as exc:
            raise OperationFailed(f"Failed to allocate volume expansion: {exc}") from exc
        hosts = {
            n: storage
            for n, (_, storage) in tx.node_hosts({b.node_id for b in allocation.bricks}).items()
        }
        try:
            volume_checks.check_volume_files(volume.name, allocation.bricks, hosts)
        except InvalidRequest as exc:
            raise OperationFailed(f"Failed to allocate volume expansion: {exc}") from exc
        write_allocation(tx, allocation)
        self.new_bricks = allocation.bricks
        return Journal(
            [Change(ChangeType.EXPAND_VOLUME, volume.id, self.size)]
            + [Change(ChangeType.ADD_BRICK, b.id) for b in self.new_bricks]
        )

    async def execute(self, run: Run) -> str | None:
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, self.volume_id)
            every = tx.volume_bricks(self.volume_id)
            targets = Targets.of(tx, every)
        spec = gluster_spec(volume, every, targets)
        added = [targets.gluster(b) for b in gluster_order(self.new_bricks)]
        via = targets.nodes[self.new_bricks[0].node_id]
        intent = Intent(BRICKS_ADD, f"gluster volume add-brick {volume.name} via {via.manage}")
        await make_bricks(self.ctx, run, volume, self.new_bricks, targets, intent)
        await self.ctx.agent.volume_expand(via, spec, added)
        run.done("bricks-added", f"{len(added)} bricks added to {volume.name}", volume.name)
        return self.resource

    def finalize(self, tx: Transaction) -> None:
        tx.clear_pending(self.op_id, {self.volume_id: self.size})
        volume = require(tx, Volume, self.volume_id)
        if volume.block:
            volume.block_info = volume.block_info.with_raw_capacity(self.size)
            tx.update(volume)

    async def roll_back(self, run: Run) -> Settled:
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, self.volume_id)
            new = tx.operation_bricks(self.op_id)
            targets = Targets.of(tx, new)
            nodes = volume_nodes(tx, volume, new)
        if new and run.recorded(BRICKS_ADD):
            used = await gluster_bricks(self.ctx, volume.name, nodes)
            held = [b for b in new if str(targets.gluster(b)) in used]
            if len(held) == len(new):
                with run.write() as tx:
                    self.finalize(tx)
                    run.finish(tx)
                return Settled(True, "gluster had added the new bricks: finished", self.resource)
            if held:
                raise NeedsHuman(
                    f"gluster holds {len(held)} of the {len(new)} new bricks of volume "
                    f"{volume.name}: neither destroying them nor finishing the expand is safe. "
                    "Add the missing bricks with gluster volume add-brick or remove the added "
                    "ones, then run a cleanup of this operation"
                )
        reclaimed = await destroy_bricks(self.ctx, None, volume, new, targets)
        if not settle_teardown(run, new, reclaimed, ""):
            raise Incomplete(
                f"rollback of the expand of {volume.name}: some new bricks could not be "
                "removed yet; a node did not answer"
            )
        return Settled(False, "rolled back")

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        delta = sum(c.delta for c in op.changes if c.change is ChangeType.EXPAND_VOLUME)
        loaded = cls(ctx, change_of(op, ChangeType.EXPAND_VOLUME), delta)
        with ctx.store.read() as tx:
            loaded.new_bricks = tx.operation_bricks(op.id)
        return loaded
