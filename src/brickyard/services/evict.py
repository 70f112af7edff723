"""Brick eviction: move one brick of a volume to another device, under the same placement
rules as create. Device remove and node remove evict every brick they hold.

Each eviction is journaled (an evict-brick operation naming the new and the old brick) before
any node is touched: make the new brick, `replace-brick ... commit force`, destroy the old one."""

from __future__ import annotations

import logging
import time

from ..domain.errors import BrickyardError, NoSpace, OperationFailed, PendingConflict
from ..domain.ids import new_id
from ..domain.model import (
    Brick,
    BrickSubType,
    Change,
    ChangeType,
    Device,
    EntryState,
    Node,
    OperationType,
    PendingOperation,
    Volume,
)
from ..domain.placement import (
    Candidate,
    PlacementRequest,
    Position,
    SetInProgress,
    plan_replacement,
)
from ..nodes.port import GlusterBrick
from .allocation import settle_teardown
from .context import ServiceContext
from .lookup import address, brick_spec, device_spec, require
from .volumes import VolumeService

log = logging.getLogger(__name__)

NO_REPLACEMENT = "No Replacement was found for resource requested to be removed"


class BrickEviction:
    def __init__(self, ctx: ServiceContext, volumes: VolumeService) -> None:
        self.ctx = ctx
        self.volumes = volumes

    def plan(self, brick_id: str) -> tuple[str, Brick, Brick]:
        """Journal the eviction and reserve the new brick's space. Returns (op, old, new)."""
        with self.ctx.store.write() as tx:
            old = require(tx, Brick, brick_id)
            volume = require(tx, Volume, old.volume_id)
            siblings = tx.volume_bricks(volume.id)
            if volume.pending_op_id or any(b.pending_op_id for b in siblings):
                raise PendingConflict()
            others = [b for b in siblings if b.set_index == old.set_index and b.id != old.id]
            nodes = tx.nodes_by_id({b.node_id for b in others})
            current = SetInProgress()
            for b in others:
                current.take(_as_candidate(b, nodes[b.node_id].zone), b.set_index, b.position)
            policy = self.volumes.policy(volume)
            arbiter = old.subtype is BrickSubType.ARBITER
            request = PlacementRequest(
                1,
                len(others) + 1,
                old.size,
                volume.snapshot_factor,
                policy.strict_zones,
                policy.tag_rule,
                policy.arbiter,
                old.size if arbiter else 0,
            )
            slot = Position(old.set_index, old.position, arbiter)
            try:
                placed = plan_replacement(
                    request,
                    self.ctx.placement.index(tx, volume.cluster_id),
                    current,
                    slot,
                    old.device_id,
                )
            except NoSpace as exc:
                raise OperationFailed(f"{NO_REPLACEMENT}: {exc.detail}") from exc
            space = placed.space
            chosen = placed
            op = PendingOperation(new_id(), OperationType.EVICT_BRICK, int(time.time()))
            new = Brick(
                id=new_id(),
                volume_id=volume.id,
                device_id=chosen.device_id,
                node_id=chosen.node_id,
                size=space.brick_size,
                tp_size=space.tp_size,
                pool_metadata_size=space.metadata_size,
                set_index=old.set_index,
                position=old.position,
                subtype=old.subtype,
                pending_op_id=op.id,
            )
            op.changes = [
                Change(ChangeType.ADD_BRICK, new.id),
                Change(ChangeType.DELETE_BRICK, old.id),
            ]
            tx.add(op)
            tx.add(new)
            tx.adjust_device_space({new.device_id: space.total})
            old.pending_op_id = op.id
            tx.update(old)
        return op.id, old, new

    async def execute(self, op_id: str, old: Brick, new: Brick) -> None:
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, old.volume_id)
            nodes = tx.nodes_by_id({old.node_id, new.node_id})
            devices = tx.devices_by_id({old.device_id, new.device_id})
        old_node, new_node = nodes[old.node_id], nodes[new.node_id]
        self.ctx.in_flight.add(op_id)
        try:
            try:
                await self.ctx.agent.brick_create(
                    address(new_node),
                    brick_spec(new, device_spec(devices[new.device_id]), volume.gid),
                )
                await self.ctx.agent.replace_brick(
                    address(new_node),
                    volume.name,
                    GlusterBrick(old_node.storage_host, old.path),
                    GlusterBrick(new_node.storage_host, new.path),
                )
            except BrickyardError:
                await self._abandon(op_id, volume, old, new)
                raise
            reclaimed = await self.volumes.destroy_bricks(volume, [old])
        finally:
            self.ctx.in_flight.discard(op_id)
        with self.ctx.store.write() as tx:
            # The new brick serves the volume now; the old one is forgotten once its node
            # destroyed it, or kept (with the operation marked failed) for a later cleanup.
            tx.set_brick_pending(new.id, "")
            settle_teardown(tx, op_id, [old], reclaimed)

    async def _abandon(self, op_id: str, volume: Volume, old: Brick, new: Brick) -> None:
        """The replacement never entered gluster: destroy it and keep the old brick."""
        reclaimed = await self.volumes.destroy_bricks(volume, [new])
        with self.ctx.store.write() as tx:
            tx.set_brick_pending(old.id, "")
            settle_teardown(tx, op_id, [new], reclaimed)

    async def evict(self, brick_id: str) -> None:
        op_id, old, new = self.plan(brick_id)
        await self.execute(op_id, old, new)

    async def empty_device(self, device_id: str) -> None:
        """Evict every brick of a device (device remove)."""
        with self.ctx.store.read() as tx:
            brick_ids = tx.device_brick_ids(device_id)
        for brick_id in brick_ids:
            try:
                await self.evict(brick_id)
            except OperationFailed as exc:
                if exc.message.startswith(NO_REPLACEMENT):
                    raise OperationFailed(
                        f"Unable to delete device [{device_id}] as no device was found to "
                        f"replace it: {exc.message}"
                    ) from exc
                raise

    async def remove_device(self, device_id: str) -> None:
        await self.empty_device(device_id)
        with self.ctx.store.write() as tx:
            device = require(tx, Device, device_id)
            device.state = EntryState.FAILED
            tx.update(device)

    async def remove_node(self, node_id: str) -> None:
        # The node is offline, so none of its devices can receive a replacement meanwhile.
        with self.ctx.store.read() as tx:
            devices = tx.node_devices(node_id)
        for device in devices:
            await self.remove_device(device.id)
        with self.ctx.store.write() as tx:
            node = require(tx, Node, node_id)
            node.state = EntryState.FAILED
            tx.update(node)


def _as_candidate(brick: Brick, zone: int) -> Candidate:
    """A brick already in the set, seen as the candidate it once was (its node and zone)."""
    return Candidate(brick.device_id, brick.node_id, zone, 0)
