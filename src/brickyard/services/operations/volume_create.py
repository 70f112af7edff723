"""Volume create: place and reserve, make the bricks, create and start the gluster volume.
A failure or a crash rolls it back: the gluster volume is destroyed only if the journal says
its create was begun and gluster shows it is ours, then every brick of the operation."""

from __future__ import annotations

from typing import ClassVar

from ...domain.errors import BrickyardError
from ...domain.model import (
    Brick,
    Change,
    ChangeType,
    Durability,
    OperationType,
    PendingOperation,
    Volume,
)
from ...store.sql import Transaction
from .. import volume_checks
from ..allocation import write_allocation
from ..context import ServiceContext
from ..volume_placement import choose
from .base import ChildRunner, Incomplete, Journal, Operation, Settled, Step
from .bricks import (
    Targets,
    destroy_bricks,
    destroy_gluster_volume,
    gluster_order,
    gluster_spec,
    make_bricks,
    ownership,
    settle_teardown,
    volume_nodes,
)
from .run import Intent, Run

GLUSTER_CREATE = "gluster-create-begun"


class VolumeCreate(Operation):
    type = OperationType.CREATE_VOLUME
    steps: ClassVar[tuple[Step, ...]] = (
        Step("brick-made", per_brick=True),
        Step(GLUSTER_CREATE),
        Step("volume-made"),
    )

    def __init__(self, ctx: ServiceContext, volume: Volume, clusters: list[str]) -> None:
        super().__init__(ctx)
        self.volume = volume
        self.clusters = clusters
        self.bricks: list[Brick] = []
        self.targets = Targets({}, {})

    @property
    def description(self) -> str:
        return f"create volume {self.volume.name}"

    @property
    def resource(self) -> str:
        return f"/volumes/{self.volume.id}"

    @property
    def attempts(self) -> int:
        """Heketi retries a failed create with a new placement (operation_retry_limits)."""
        return 1 + max(0, self.ctx.settings.create_retries)

    def plan(self, tx: Transaction) -> Journal:
        allocation = choose(self.ctx, tx, self.volume, self.clusters, self.op_id).allocation
        assert allocation is not None  # choose raises when nothing could be placed
        self.targets = Targets.of(tx, allocation.bricks)
        hosts = {node_id: node.storage for node_id, node in self.targets.nodes.items()}
        volume_checks.check_volume_files(self.volume.name, allocation.bricks, hosts)
        sets = len({b.set_index for b in allocation.bricks})
        volume_checks.check_options(
            self.volume.options, self.volume.durability, self.volume.name, sets
        )
        self.volume.pending_op_id = self.op_id
        tx.add(self.volume)
        write_allocation(tx, allocation)
        self.bricks = allocation.bricks
        return Journal(
            [Change(ChangeType.ADD_VOLUME, self.volume.id)]
            + [Change(ChangeType.ADD_BRICK, b.id) for b in self.bricks]
        )

    async def execute(self, run: Run) -> str | None:
        spec = gluster_spec(self.volume, self.bricks, self.targets)
        via = self.targets.nodes[gluster_order(self.bricks)[0].node_id]
        intent = Intent(
            GLUSTER_CREATE, f"gluster volume create {spec.name} via {via.manage}", spec.name
        )
        await make_bricks(self.ctx, run, self.volume, self.bricks, self.targets, intent)
        await self.ctx.agent.volume_create(via, spec)
        run.done("volume-made", f"gluster volume {spec.name} created and started", spec.name)
        return self.resource

    def finalize(self, tx: Transaction) -> None:
        tx.clear_pending(self.op_id)

    async def roll_back(self, run: Run) -> Settled:
        with self.ctx.store.read() as tx:
            volume = tx.get(Volume, self.volume.id)
            bricks = tx.operation_bricks(self.op_id)
            targets = Targets.of(tx, bricks)
            nodes = volume_nodes(tx, volume, bricks) if volume is not None else []
        if volume is None:  # nothing was written beyond the entry
            with run.write() as tx:
                run.finish(tx)
            return Settled(False, "rolled back: nothing to undo")
        if run.recorded(GLUSTER_CREATE):
            # Bricks may serve the gluster volume: it goes first, or the bricks stay.
            try:
                await destroy_gluster_volume(
                    self.ctx, volume.name, nodes, ownership(volume, bricks, targets)
                )
            except BrickyardError as exc:
                raise Incomplete(
                    f"rollback of volume {volume.name}: gluster volume not destroyed: {exc}"
                ) from exc
        reclaimed = await destroy_bricks(self.ctx, None, volume, bricks, targets)
        if not settle_teardown(run, bricks, reclaimed, volume.id):
            raise Incomplete(
                f"rollback of volume {volume.name}: some bricks could not be removed yet; "
                "a node did not answer"
            )
        return Settled(False, "rolled back")

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        volume_id = next((c.id for c in op.changes if c.change is ChangeType.ADD_VOLUME), "")
        with ctx.store.read() as tx:
            volume = tx.get(Volume, volume_id)
        return cls(ctx, volume or _placeholder(volume_id), [])


def _placeholder(volume_id: str) -> Volume:
    """A volume the entry names but the database no longer holds (rollback only drops the
    entry)."""
    return Volume(id=volume_id, cluster_id="", name="", size=0, durability=Durability())
