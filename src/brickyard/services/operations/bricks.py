"""Node work shared by the volume operations: making and destroying bricks, the gluster volume
spec, destroying a gluster volume only when it is ours, and settling the records after a
teardown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ...domain.errors import BrickyardError, OperationFailed
from ...domain.model import Brick, BrickSubType, DurabilityType, PendingOperation, Volume
from ...nodes.port import (
    ABSENT,
    FOREIGN,
    BrickSpec,
    DeviceSpec,
    GlusterBrick,
    GlusterVolumeSpec,
    NodeAddress,
    VolumeOwnership,
)
from ...store.sql import Transaction
from ..allocation import pool_heir, release_bricks
from ..context import ServiceContext
from ..lookup import brick_spec
from ..volume_checks import split_option
from .base import Incomplete
from .run import Intent, Run, reraise_interruption

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Targets:
    """How node commands address a set of bricks: their nodes and devices."""

    nodes: dict[str, NodeAddress]
    devices: dict[str, DeviceSpec]

    @classmethod
    def of(cls, tx: Transaction, bricks: list[Brick]) -> Targets:
        devices = {
            device_id: DeviceSpec(device_id, name, backend)
            for device_id, (name, backend) in tx.device_targets(
                {b.device_id for b in bricks}
            ).items()
        }
        nodes = {
            node_id: NodeAddress(manage, storage)
            for node_id, (manage, storage) in tx.node_hosts({b.node_id for b in bricks}).items()
        }
        return cls(nodes, devices)

    def reaches(self, brick: Brick) -> bool:
        return brick.node_id in self.nodes and brick.device_id in self.devices

    def spec(self, brick: Brick, gid: int) -> BrickSpec:
        return brick_spec(brick, self.devices[brick.device_id], gid)

    def gluster(self, brick: Brick) -> GlusterBrick:
        return GlusterBrick(self.nodes[brick.node_id].storage, brick.path)


def gluster_order(bricks: list[Brick]) -> list[Brick]:
    return sorted(bricks, key=lambda b: (b.set_index, b.position))


def gluster_spec(volume: Volume, bricks: list[Brick], targets: Targets) -> GlusterVolumeSpec:
    durability = volume.durability
    # Entries without a value were refused at submit (or come from a database that has them):
    # gluster has nothing to set them to.
    options = [
        found
        for text in volume.options
        if text.strip() and " " in text.strip() and (found := split_option(text)) is not None
    ]
    options.append(("user.heketi.id", volume.id))
    replicate = durability.type is DurabilityType.REPLICATE
    disperse = durability.type is DurabilityType.DISPERSE
    return GlusterVolumeSpec(
        name=volume.name,
        bricks=[targets.gluster(b) for b in gluster_order(bricks)],
        replica=durability.bricks_per_set if replicate else 0,
        disperse_data=durability.data if disperse else 0,
        disperse_redundancy=durability.redundancy if disperse else 0,
        arbiter=any(b.subtype is BrickSubType.ARBITER for b in bricks),
        options=options,
    )


def ownership(volume: Volume, bricks: list[Brick], targets: Targets) -> VolumeOwnership:
    """How to recognise the volume's gluster volume (see VolumeOwnership)."""
    known = frozenset(str(targets.gluster(b)) for b in bricks if b.node_id in targets.nodes)
    return VolumeOwnership(volume.id, known)


async def make_bricks(
    ctx: ServiceContext,
    run: Run,
    volume: Volume,
    bricks: list[Brick],
    targets: Targets,
    then: Intent,
) -> None:
    """Create bricks on their nodes in parallel, then journal those made, in one commit, with
    `then`, the intent of the gluster command that follows, when all were made. On a failure
    the others still finish (or fail) first; the rollback then destroys them all, once
    (whether journaled as made or not: the records are the story, not the rollback's list).
    A brick's crash point comes as soon as it is made, while the others may still be in the
    making: the crash tests kill the server there."""

    async def make(brick: Brick) -> None:
        await ctx.agent.brick_create(targets.nodes[brick.node_id], targets.spec(brick, volume.gid))
        run.crash_point("brick-made")

    results = await asyncio.gather(*(make(b) for b in bricks), return_exceptions=True)
    reraise_interruption(results)
    failures = [r for r in results if isinstance(r, BaseException)]
    run.done_all(
        "brick-made",
        [
            (f"brick {brick.id} made on {targets.nodes[brick.node_id].manage}", brick.id)
            for brick, result in zip(bricks, results, strict=True)
            if not isinstance(result, BaseException)
        ],
        then=None if failures else then,
    )
    if not failures:
        return
    first = failures[0]
    if isinstance(first, BrickyardError):
        raise first
    raise OperationFailed(f"brick create failed: {first}") from first


async def destroy_bricks(
    ctx: ServiceContext, run: Run | None, volume: Volume, bricks: list[Brick], targets: Targets
) -> set[str]:
    """Destroy bricks on their nodes in parallel (journaling each when `run` is given: a brick
    whose space came back as ``brick-destroyed``, so nobody destroys it again). Returns the ids
    of the bricks whose space their node reclaimed; a failure is logged and leaves the brick
    out."""

    async def destroy(brick: Brick) -> bool:
        node = targets.nodes[brick.node_id]
        reclaimed = await ctx.agent.brick_destroy(node, targets.spec(brick, volume.gid))
        if run is not None:
            kind, what = ("brick-destroyed", "destroyed") if reclaimed else ("brick-kept", "kept")
            run.done(kind, f"brick {brick.id} {what} on {node.manage}", brick.id)
        return reclaimed

    reachable = [b for b in bricks if targets.reaches(b)]
    results = await asyncio.gather(*(destroy(b) for b in reachable), return_exceptions=True)
    reraise_interruption(results)
    reclaimed = set()
    kept = []
    for brick, result in zip(reachable, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("destroying brick %s failed: %s", brick.id, result)
        elif result:
            reclaimed.add(brick.id)
        else:
            kept.append(brick)
    if kept:
        # Its LV is gone; a pool that stays for a clone's LV is carried by the clone from now
        # on (release_bricks hands it over), so the brick itself is gone.
        leaving = {b.id for b in bricks}
        with ctx.store.read() as tx:
            reclaimed |= {b.id for b in kept if pool_heir(tx, b, leaving) is not None}
    return reclaimed


async def destroy_gluster_volume(
    ctx: ServiceContext, name: str, nodes: list[NodeAddress], owner: VolumeOwnership
) -> str:
    """Stop and delete the gluster volume through the first node that answers, only if it is
    ours (a volume of that name Brickyard did not make is never touched). Returns what the
    node found: destroyed, absent or foreign."""
    last: BrickyardError | None = None
    for node in nodes:
        try:
            outcome = await ctx.agent.volume_destroy(node, name, owner)
        except ValueError as exc:
            # The node's argv builders refuse the name: no gluster command ever ran with it,
            # so there is no such volume to destroy.
            log.warning("volume %r cannot be named on a node (%s): nothing to destroy", name, exc)
            return ABSENT
        except BrickyardError as exc:
            last = exc
            log.warning("volume %s delete via %s failed: %s", name, node.manage, exc)
            continue
        if outcome == FOREIGN:
            log.warning("gluster volume %s is not Brickyard's: left as it is", name)
        return outcome
    if last is not None:
        raise last
    return ABSENT


def settle_teardown(run: Run, bricks: list[Brick], reclaimed: set[str], volume_id: str) -> bool:
    """After destroying an operation's bricks: forget those that are gone (their space returns).
    When all are gone, delete `volume_id` (if given) and the journal entry; otherwise keep the
    rest, and the entry without what is forgotten, for a later cleanup. Returns whether all
    were gone."""
    with run.write() as tx:
        gone = [b for b in bricks if b.id in reclaimed]
        release_bricks(tx, gone)
        if len(gone) < len(bricks):
            forget_changes(tx, run.op_id, {b.id for b in gone})
            return False
        if volume_id:
            tx.delete(Volume, volume_id)
        run.finish(tx)
        return True


def forget_changes(tx: Transaction, op_id: str, forgotten: set[str]) -> None:
    """The journal entry no longer names the entities already forgotten."""
    op = tx.get(PendingOperation, op_id)
    if op is not None and forgotten:
        op.changes = [c for c in op.changes if c.id not in forgotten]
        tx.update(op)


async def on_first_node(
    nodes: list[NodeAddress], call: Callable[[NodeAddress], Awaitable[T]], failed: str
) -> T:
    """`call` through the first node that answers; Incomplete (`failed`: the last error) when
    none does, so the operation waits for a later cleanup."""
    last: BrickyardError | None = None
    for node in nodes:
        try:
            return await call(node)
        except BrickyardError as exc:
            last = exc
            log.info("%s via %s: %s", failed, node.manage, exc)
    raise Incomplete(f"{failed}: {last}")


async def gluster_bricks(ctx: ServiceContext, name: str, nodes: list[NodeAddress]) -> set[str]:
    """The bricks ("host:path") gluster has in the volume, asked of the first node that
    answers; empty when there is no such volume."""

    async def read(node: NodeAddress) -> set[str]:
        info = await ctx.agent.volume_info(node, name)
        return {str(b) for b in info.bricks} if info is not None else set()

    return await on_first_node(nodes, read, f"cannot read volume {name} from gluster")


# Other nodes of the cluster tried for a gluster command when none of the volume's answers.
OTHER_NODES_TRIED = 8


def volume_nodes(tx: Transaction, volume: Volume, bricks: list[Brick]) -> list[NodeAddress]:
    """The nodes to run a gluster command of the volume through: its bricks' nodes first (peers
    of its pool), then a few more of its cluster (a cluster may have a thousand nodes)."""
    first = Targets.of(tx, bricks).nodes
    rest = [
        NodeAddress(n.manage_host, n.storage_host)
        for n in tx.cluster_nodes(volume.cluster_id)
        if n.id not in first
    ]
    return list(first.values()) + rest[:OTHER_NODES_TRIED]
