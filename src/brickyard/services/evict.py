"""Brick eviction: move one brick of a volume to another device, under the same placement
rules as create. Device remove and node remove evict every brick they hold.

Each eviction is journaled (an evict-brick operation naming the new and the old brick) before
any node is touched: check that the brick set can lose the brick (its other bricks up, the brick
not a heal source), make the new brick, `replace-brick ... commit force` through a node that
answers, destroy the old one. A dead node is the normal case: its brick is not destroyed but
recorded as a leftover, destroyed by a cleanup once the node answers again."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator

from ..domain.errors import (
    BrickyardError,
    NodeUnreachable,
    NoSpace,
    OperationFailed,
    PendingConflict,
)
from ..domain.ids import new_id
from ..domain.model import (
    Brick,
    BrickSubType,
    Change,
    ChangeType,
    Device,
    DurabilityType,
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
from ..nodes.port import GlusterBrick, HealStatus, NodeAddress
from ..store import leftovers
from .allocation import release_bricks, settle_teardown
from .context import ServiceContext
from .lookup import address, brick_spec, device_spec, require
from .steps import StepLog
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

    async def execute(self, op_id: str, old: Brick, new: Brick, heal_check: bool = True) -> None:
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, old.volume_id)
            nodes = tx.nodes_by_id({old.node_id, new.node_id})
            devices = tx.devices_by_id({old.device_id, new.device_id})
            siblings = [
                b
                for b in tx.volume_bricks(volume.id)
                if b.set_index == old.set_index and b.id not in (old.id, new.id)
            ]
            hosts = {n.id: address(n) for n in tx.cluster_nodes(volume.cluster_id)}
        old_node, new_node = nodes[old.node_id], nodes[new.node_id]
        steps = StepLog(self.ctx.store, op_id, OperationType.EVICT_BRICK)
        self.ctx.in_flight.add(op_id)
        try:
            try:
                if heal_check:
                    await self._check_set_can_lose(volume, old, siblings, hosts, new.node_id)
                await self.ctx.agent.brick_create(
                    address(new_node),
                    brick_spec(new, device_spec(devices[new.device_id]), volume.gid),
                )
                steps.done("brick-made", f"brick {new.id} made on {new_node.manage_host}")
                # Through the new brick's node: the old one may be dead.
                await self.ctx.agent.replace_brick(
                    address(new_node),
                    volume.name,
                    GlusterBrick(old_node.storage_host, old.path),
                    GlusterBrick(new_node.storage_host, new.path),
                )
                steps.done("brick-replaced", f"gluster replaced brick {old.id} by {new.id}")
            except BrickyardError:
                await self._abandon(op_id, volume, old, new)
                raise
            outcome = await self._destroy_old(volume, old, old_node, devices[old.device_id])
            steps.done("old-brick-gone", f"brick {old.id} on {old_node.manage_host}: {outcome}")
        finally:
            self.ctx.in_flight.discard(op_id)
        with self.ctx.store.write() as tx:
            # The new brick serves the volume now. The old one is forgotten once its node
            # destroyed it; recorded as a leftover when its node is dead; kept (with the
            # operation marked failed) for a later cleanup when its node refused.
            tx.set_brick_pending(new.id, "")
            if outcome == "dead":
                leftovers.add(
                    tx,
                    leftovers.of(
                        leftovers.BRICK,
                        old.id,
                        old_node,
                        devices[old.device_id],
                        f"brick of volume {volume.name}, replaced by {new.id}",
                    ),
                )
                release_bricks(tx, [old])
                tx.delete(PendingOperation, op_id)
            else:
                settle_teardown(tx, op_id, [old], {old.id} if outcome == "reclaimed" else set())

    async def _destroy_old(self, volume: Volume, old: Brick, node: Node, device: Device) -> str:
        """ "reclaimed", "kept" (the node refused; retried by a cleanup) or "dead"."""
        spec = brick_spec(old, device_spec(device), volume.gid)
        try:
            reclaimed = await self.ctx.agent.brick_destroy(address(node), spec)
        except NodeUnreachable as exc:
            log.warning("brick %s left on dead node %s: %s", old.id, node.manage_host, exc)
            return "dead"
        except BrickyardError as exc:
            log.warning("destroying brick %s on %s failed: %s", old.id, node.manage_host, exc)
            return "kept"
        return "reclaimed" if reclaimed else "kept"

    async def _check_set_can_lose(
        self,
        volume: Volume,
        old: Brick,
        siblings: list[Brick],
        hosts: dict[str, NodeAddress],
        via_first: str,
    ) -> None:
        """Refuse unless the other bricks of the set are up (a disperse set may already miss
        redundancy - 1 of them) and the brick holds nothing the others still need (heal)."""
        durability = volume.durability
        if durability.type is DurabilityType.NONE:
            raise OperationFailed(
                f"volume {volume.name} has no redundancy: replacing brick {old.id} would lose "
                "its data (disable the heal check to do it anyway)"
            )
        statuses = await self._heal_info(volume, hosts, via_first)
        by_brick = {s.brick: s for s in statuses}
        down = [
            f"{hosts[b.node_id].storage}:{b.path}"
            for b in siblings
            if b.node_id not in hosts
            or getattr(by_brick.get(f"{hosts[b.node_id].storage}:{b.path}"), "status", "")
            != "Connected"
        ]
        allowed = durability.redundancy - 1 if durability.type is DurabilityType.DISPERSE else 0
        if len(down) > allowed:
            raise OperationFailed(
                f"brick set {old.set_index} of volume {volume.name} cannot lose brick "
                f"{old.id}: {', '.join(down)} not up"
            )
        mine = (
            by_brick.get(f"{hosts[old.node_id].storage}:{old.path}")
            if old.node_id in hosts
            else None
        )
        if mine is not None and mine.status == "Connected" and (mine.entries or 0) > 0:
            raise OperationFailed(
                f"brick {old.id} of volume {volume.name} has {mine.entries} entries waiting to "
                "heal to the other bricks of its set: removing it now would lose them; wait "
                "for heal to finish (gluster volume heal <volume> info)"
            )

    async def _heal_info(
        self, volume: Volume, hosts: dict[str, NodeAddress], via_first: str
    ) -> list[HealStatus]:
        order = [via_first] + [n for n in hosts if n != via_first]
        for node_id in order:
            try:
                return await self.ctx.agent.heal_info(hosts[node_id], volume.name)
            except NodeUnreachable:
                continue
            except BrickyardError as exc:
                log.warning("heal info of %s via %s: %s", volume.name, hosts[node_id].manage, exc)
        raise OperationFailed(f"cannot read the heal state of volume {volume.name} from any node")

    async def _abandon(self, op_id: str, volume: Volume, old: Brick, new: Brick) -> None:
        """The replacement never entered gluster: destroy it and keep the old brick."""
        reclaimed = await self.volumes.destroy_bricks(volume, [new])
        with self.ctx.store.write() as tx:
            tx.set_brick_pending(old.id, "")
            settle_teardown(tx, op_id, [new], reclaimed)

    async def evict(self, brick_id: str, heal_check: bool = True) -> None:
        op_id, old, new = self.plan(brick_id)
        await self.execute(op_id, old, new, heal_check)

    async def empty_device(self, device_id: str, heal_check: bool = True) -> None:
        """Evict every brick of a device (device remove)."""
        with self.ctx.store.read() as tx:
            brick_ids = tx.device_brick_ids(device_id)
        for brick_id in brick_ids:
            try:
                await self.evict(brick_id, heal_check)
            except OperationFailed as exc:
                if exc.message.startswith(NO_REPLACEMENT):
                    raise OperationFailed(
                        f"Unable to delete device [{device_id}] as no device was found to "
                        f"replace it: {exc.message}"
                    ) from exc
                raise

    async def remove_device(self, device_id: str, heal_check: bool = True) -> None:
        """Evict every brick, then mark the device failed. Journaled (Heketi's remove-device
        operation), so a crash in the middle is resumed at the next start."""
        async with self._journaled(
            OperationType.REMOVE_DEVICE, ChangeType.REMOVE_DEVICE, device_id, heal_check
        ):
            await self.empty_device(device_id, heal_check)
            with self.ctx.store.write() as tx:
                device = require(tx, Device, device_id)
                device.state = EntryState.FAILED
                tx.update(device)

    @contextlib.asynccontextmanager
    async def _journaled(
        self, op_type: OperationType, change: ChangeType, entity_id: str, heal_check: bool
    ) -> AsyncIterator[None]:
        """Journal a remove for the time it runs; a resumed one reuses its entry. It is
        dropped when the remove ends, done or refused: only a crash leaves it."""
        op_id = self.journal_remove(op_type, change, entity_id, heal_check)
        self.ctx.in_flight.add(op_id)
        try:
            yield
        except Exception:
            self.forget(op_id)
            raise
        else:
            self.forget(op_id)
        finally:
            # Cancelled (shutdown) or killed: the entry stays, the next start resumes it.
            self.ctx.in_flight.discard(op_id)

    def journal_remove(
        self, op_type: OperationType, change: ChangeType, entity_id: str, heal_check: bool
    ) -> str:
        """The journal entry of a device or node remove: the one already there (a request
        journals it before its job runs; recovery resumes it), or a new one."""
        with self.ctx.store.write() as tx:
            for op in tx.all(PendingOperation):
                if op.type is op_type and any(c.id == entity_id for c in op.changes):
                    return op.id
            op = PendingOperation(
                new_id(),
                op_type,
                int(time.time()),
                [Change(change, entity_id)],
                detail={"heal_check": "enable" if heal_check else "disable"},
            )
            tx.add(op)
            return op.id

    def forget(self, op_id: str) -> None:
        with self.ctx.store.write() as tx:
            tx.delete(PendingOperation, op_id)

    async def resume(self, op: PendingOperation) -> None:
        """Finish a remove a crash interrupted (its evictions were settled first)."""
        entity_id = op.changes[0].id
        heal_check = op.detail.get("heal_check") != "disable"
        with self.ctx.store.read() as tx:
            if op.type is OperationType.REMOVE_DEVICE:
                gone = tx.get(Device, entity_id) is None
            else:
                gone = tx.get(Node, entity_id) is None
        if gone:
            self.forget(op.id)
        elif op.type is OperationType.REMOVE_DEVICE:
            await self.remove_device(entity_id, heal_check)
        else:
            await self.remove_node(entity_id, heal_check)

    async def remove_node(self, node_id: str, heal_check: bool = True) -> None:
        # The node is offline, so none of its devices can receive a replacement meanwhile.
        async with self._journaled(
            OperationType.REMOVE_NODE, ChangeType.REMOVE_NODE, node_id, heal_check
        ):
            with self.ctx.store.read() as tx:
                devices = tx.node_devices(node_id)
            for device in devices:
                await self.remove_device(device.id, heal_check)
            with self.ctx.store.write() as tx:
                node = require(tx, Node, node_id)
                node.state = EntryState.FAILED
                tx.update(node)


def _as_candidate(brick: Brick, zone: int) -> Candidate:
    """A brick already in the set, seen as the candidate it once was (its node and zone)."""
    return Candidate(brick.device_id, brick.node_id, zone, 0)
