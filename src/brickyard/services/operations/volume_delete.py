"""Volume delete: stop and delete the gluster volume, destroy the bricks, forget them.

As in Heketi, a delete whose gluster volume could not be destroyed is undone (the volume is
visible again, intact); once gluster has let it go, a delete only goes forward. After a crash
it is always finished (rolled forward)."""

from __future__ import annotations

from typing import ClassVar

from ...domain.errors import OperationFailed, PendingConflict
from ...domain.model import (
    Brick,
    Change,
    ChangeType,
    OperationType,
    PendingOperation,
    Volume,
)
from ...store.sql import Transaction
from ..allocation import release_bricks
from ..context import ServiceContext
from ..lookup import require
from .base import ChildRunner, Incomplete, Journal, Operation, Settled, Step, change_of
from .bricks import (
    Targets,
    destroy_bricks,
    destroy_gluster_volume,
    ownership,
    settle_teardown,
    volume_nodes,
)
from .run import Run

VOLUME_DESTROYED = "volume-destroyed"


class VolumeDelete(Operation):
    type = OperationType.DELETE_VOLUME
    steps: ClassVar[tuple[Step, ...]] = (
        Step(VOLUME_DESTROYED),
        Step("brick-destroyed", per_brick=True),
    )

    def __init__(self, ctx: ServiceContext, volume_id: str) -> None:
        super().__init__(ctx)
        self.volume_id = volume_id
        self.name = ""
        self.reclaimed: set[str] = set()
        self.bricks: list[Brick] = []

    @property
    def description(self) -> str:
        return f"delete volume {self.name or self.volume_id}"

    def plan(self, tx: Transaction) -> Journal:
        volume = require(tx, Volume, self.volume_id)
        self.name = volume.name
        bricks = tx.volume_bricks(volume.id)
        if volume.pending_op_id or any(b.pending_op_id for b in bricks):
            raise OperationFailed(f"Failed to set up volume delete: {PendingConflict().message}")
        volume.pending_op_id = self.op_id
        tx.update(volume)
        for brick in bricks:
            brick.pending_op_id = self.op_id
            tx.update(brick)
        return Journal(
            [Change(ChangeType.DELETE_VOLUME, volume.id)]
            + [Change(ChangeType.DELETE_BRICK, b.id) for b in bricks]
        )

    async def execute(self, run: Run) -> str | None:
        await self._destroy_volume(run)
        volume, self.bricks, targets = self._load()
        self.reclaimed = await destroy_bricks(self.ctx, run, volume, self.bricks, targets)
        return None

    def finalize(self, tx: Transaction) -> None:
        if any(b.id not in self.reclaimed for b in self.bricks):
            # Settled by the rollback, which goes forward: what is gone is forgotten there.
            raise Incomplete(f"volume {self.name}: some bricks could not be removed")
        release_bricks(tx, self.bricks)
        tx.delete(Volume, self.volume_id)

    async def roll_back(self, run: Run) -> Settled:
        if not run.recorded(VOLUME_DESTROYED):
            # Gluster still has the volume: the delete is undone, the volume stays usable.
            with run.write() as tx:
                tx.clear_pending(self.op_id)
                run.finish(tx)
            return Settled(False, "delete undone: the gluster volume was not destroyed")
        return await self._forward(run)

    async def recover(self, run: Run) -> Settled:
        return await self._forward(run)

    async def _forward(self, run: Run) -> Settled:
        with self.ctx.store.read() as tx:
            gone = tx.get(Volume, self.volume_id) is None
        if gone:  # nothing of it is left in the database (nor could bricks be)
            with run.write() as tx:
                run.finish(tx)
            return Settled(True, "the volume was already gone")
        if not run.recorded(VOLUME_DESTROYED):
            await self._destroy_volume(run)
        volume, bricks, targets = self._load()
        # What the journal says is destroyed is not destroyed again.
        done = set(run.recorded("brick-destroyed"))
        left = [b for b in bricks if b.id not in done]
        reclaimed = done | await destroy_bricks(self.ctx, run, volume, left, targets)
        if not settle_teardown(run, bricks, reclaimed, volume.id):
            raise Incomplete(
                f"volume {volume.name} deleted but some bricks could not be removed; "
                "they are kept for cleanup"
            )
        return Settled(True, "rolled forward")

    async def _destroy_volume(self, run: Run) -> None:
        volume, bricks, targets = self._load()
        with self.ctx.store.read() as tx:
            nodes = volume_nodes(tx, volume, bricks)
        outcome = await destroy_gluster_volume(
            self.ctx, volume.name, nodes, ownership(volume, bricks, targets)
        )
        run.done(VOLUME_DESTROYED, f"gluster volume {volume.name}: {outcome}", volume.name)

    def _load(self) -> tuple[Volume, list[Brick], Targets]:
        with self.ctx.store.read() as tx:
            volume = tx.get(Volume, self.volume_id)
            if volume is None:
                raise OperationFailed(f"volume {self.volume_id} of a delete is not in the database")
            bricks = tx.operation_bricks(self.op_id)
            return volume, bricks, Targets.of(tx, bricks)

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        return cls(ctx, change_of(op, ChangeType.DELETE_VOLUME))
