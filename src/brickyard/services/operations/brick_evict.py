"""Brick eviction: move one brick of a volume to another device, under the same placement rules
as a create. Device and node removes evict every brick they hold.

Plan: the replacement is placed and its space reserved, the old brick marked. Execute: check
that the brick set can lose the brick (its other bricks up, the brick not a heal source), make
the new brick, `replace-brick ... commit force` through the new brick's node (the old one may
be dead), ask for heal to start, destroy the old brick. A dead node is the normal case: its
brick is recorded as a leftover, destroyed when the node answers again.

Rollback and recovery read the journal: before replace-brick was begun the new brick is simply
destroyed; after, gluster says which brick it uses, and that one is kept."""

from __future__ import annotations

import logging
from typing import ClassVar

from ...domain.errors import (
    BrickyardError,
    NodeUnreachable,
    NoSpace,
    OperationFailed,
    PendingConflict,
)
from ...domain.ids import new_id
from ...domain.model import (
    Brick,
    BrickSubType,
    Change,
    ChangeType,
    Device,
    DurabilityType,
    Node,
    OperationType,
    PendingOperation,
    Volume,
)
from ...domain.placement import (
    Candidate,
    PlacementRequest,
    Position,
    SetInProgress,
    plan_replacement,
)
from ...nodes.port import GlusterBrick, HealStatus, NodeAddress
from ...store import leftovers
from ...store.sql import Transaction
from ..allocation import pool_heir, release_bricks
from ..context import ServiceContext
from ..lookup import address, brick_spec, device_spec, require
from ..volume_placement import policy
from .base import ChildRunner, Incomplete, Journal, NeedsHuman, Operation, Settled, Step
from .bricks import forget_changes, gluster_bricks
from .run import Run

log = logging.getLogger(__name__)

NO_REPLACEMENT = "No Replacement was found for resource requested to be removed"
REPLACE = "replace-begun"
RECLAIMED, KEPT, DEAD = "reclaimed", "kept", "dead"


class BrickEvict(Operation):
    type = OperationType.EVICT_BRICK
    steps: ClassVar[tuple[Step, ...]] = (
        Step("brick-made"),
        Step(REPLACE),
        Step("brick-replaced"),
        Step("old-brick-gone"),
    )
    recovery_order = 0  # before the removes that began them

    def __init__(self, ctx: ServiceContext, brick_id: str, heal_check: bool = True) -> None:
        super().__init__(ctx)
        self.brick_id = brick_id
        self.heal_check = heal_check
        self.old: Brick | None = None
        self.new: Brick | None = None
        self.outcome = ""

    @property
    def description(self) -> str:
        return f"evict brick {self.brick_id}"

    # -- plan -------------------------------------------------------------------------------
    def plan(self, tx: Transaction) -> Journal:
        old = require(tx, Brick, self.brick_id)
        volume = require(tx, Volume, old.volume_id)
        siblings = tx.volume_bricks(volume.id)
        if volume.pending_op_id or any(b.pending_op_id for b in siblings):
            raise PendingConflict()
        others = [b for b in siblings if b.set_index == old.set_index and b.id != old.id]
        nodes = tx.nodes_by_id({b.node_id for b in others})
        current = SetInProgress()
        for b in others:
            current.take(_as_candidate(b, nodes[b.node_id].zone), b.set_index, b.position)
        rules = policy(self.ctx, volume)
        arbiter = old.subtype is BrickSubType.ARBITER
        request = PlacementRequest(
            1,
            len(others) + 1,
            old.size,
            volume.snapshot_factor,
            rules.strict_zones,
            rules.tag_rule,
            rules.arbiter,
            old.size if arbiter else 0,
        )
        slot = Position(old.set_index, old.position, arbiter)
        index = self.ctx.placement.index(tx, volume.cluster_id)
        try:
            placed = plan_replacement(request, index, current, slot, old.device_id)
        except NoSpace as exc:
            raise OperationFailed(f"{NO_REPLACEMENT}: {exc.detail}") from exc
        space = placed.space
        new = Brick(
            id=new_id(),
            volume_id=volume.id,
            device_id=placed.device_id,
            node_id=placed.node_id,
            size=space.brick_size,
            tp_size=space.tp_size,
            pool_metadata_size=space.metadata_size,
            set_index=old.set_index,
            position=old.position,
            subtype=old.subtype,
            pending_op_id=self.op_id,
        )
        tx.add(new)
        tx.adjust_device_space({new.device_id: space.total})
        old.pending_op_id = self.op_id
        tx.update(old)
        self.old, self.new = old, new
        return Journal(
            [Change(ChangeType.ADD_BRICK, new.id), Change(ChangeType.DELETE_BRICK, old.id)],
            {"heal_check": "enable" if self.heal_check else "disable"},
        )

    # -- execute ----------------------------------------------------------------------------
    async def execute(self, run: Run) -> str | None:
        old, new = self._bricks()
        ctx = self.ctx
        with ctx.store.read() as tx:
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
        if self.heal_check:
            await self._check_set_can_lose(volume, old, siblings, hosts, new.node_id)
        await ctx.agent.brick_create(
            address(new_node), brick_spec(new, device_spec(devices[new.device_id]), volume.gid)
        )
        run.done("brick-made", f"brick {new.id} made on {new_node.manage_host}", new.id)
        run.begin(REPLACE, f"gluster replace-brick {old.id} by {new.id} in {volume.name}")
        # Through the new brick's node: the old one may be dead.
        await ctx.agent.replace_brick(
            address(new_node),
            volume.name,
            GlusterBrick(old_node.storage_host, old.path),
            GlusterBrick(new_node.storage_host, new.path),
        )
        run.done("brick-replaced", f"gluster replaced brick {old.id} by {new.id}", new.id)
        ctx.heals.request(volume.name, [address(new_node)])
        self.outcome = await self._destroy_old(volume, old, old_node, devices[old.device_id])
        run.done(
            "old-brick-gone", f"brick {old.id} on {old_node.manage_host}: {self.outcome}", old.id
        )
        return None

    def finalize(self, tx: Transaction) -> None:
        if self.outcome == KEPT:
            raise Incomplete(f"brick {self.brick_id} could not be destroyed; kept for cleanup")
        old, _ = self._bricks()
        self._settle_forward(tx, self.outcome, old)

    def _settle_forward(self, tx: Transaction, outcome: str, old: Brick) -> bool:
        """The new brick serves the volume now. The old one is forgotten once its node
        destroyed it, recorded as a leftover when its node is dead, kept (the operation then
        waits for a cleanup) when its node refused. Returns whether the operation is done."""
        if self.new is not None:
            tx.set_brick_pending(self.new.id, "")
            if outcome == KEPT:
                forget_changes(tx, self.op_id, {self.new.id})
        if outcome == KEPT:
            return False
        replaced_by = self.new.id if self.new is not None else "another brick"
        if outcome == DEAD:
            with_node = tx.get(Node, old.node_id)
            device = tx.get(Device, old.device_id)
            volume = tx.get(Volume, old.volume_id)
            if with_node is not None and device is not None:
                name = volume.name if volume is not None else old.volume_id
                leftovers.add(
                    tx,
                    leftovers.of(
                        leftovers.BRICK,
                        old.id,
                        with_node,
                        device,
                        f"brick of volume {name}, replaced by {replaced_by}",
                    ),
                )
        release_bricks(tx, [old])
        return True

    async def _destroy_old(self, volume: Volume, old: Brick, node: Node, device: Device) -> str:
        spec = brick_spec(old, device_spec(device), volume.gid)
        try:
            reclaimed = await self.ctx.agent.brick_destroy(address(node), spec)
        except NodeUnreachable as exc:
            log.warning("brick %s left on dead node %s: %s", old.id, node.manage_host, exc)
            return DEAD
        except BrickyardError as exc:
            log.warning("destroying brick %s on %s failed: %s", old.id, node.manage_host, exc)
            return KEPT
        if not reclaimed:
            # Its pool stays for a clone's LV: the clone carries it from now on.
            with self.ctx.store.read() as tx:
                reclaimed = pool_heir(tx, old, {old.id}) is not None
        return RECLAIMED if reclaimed else KEPT

    # -- rollback and recovery --------------------------------------------------------------
    async def roll_back(self, run: Run) -> Settled:
        old, new = self.old, self.new
        if new is None:  # the journal no longer names it: it serves the volume already
            if old is None:
                with run.write() as tx:
                    run.finish(tx)
                return Settled(True, "nothing left to do")
            return await self._forward(run, old)
        if old is not None and run.recorded(REPLACE):
            used = await self._gluster_bricks(old)
            with self.ctx.store.read() as tx:
                hosts = tx.node_hosts({old.node_id, new.node_id})
            new_name = f"{hosts[new.node_id][1]}:{new.path}" if new.node_id in hosts else ""
            old_name = f"{hosts[old.node_id][1]}:{old.path}" if old.node_id in hosts else ""
            if new_name in used:
                return await self._forward(run, old)
            if old_name not in used:
                raise NeedsHuman(
                    f"gluster uses neither brick {old.id} nor its replacement {new.id} in "
                    f"volume {old.volume_id}: check `gluster volume info`, then clean up"
                )
        reclaimed = await self._destroy_new(new)
        with run.write() as tx:
            if old is not None:
                tx.set_brick_pending(old.id, "")
            if not reclaimed:
                forget_changes(tx, self.op_id, {old.id} if old is not None else set())
                done = False
            else:
                release_bricks(tx, [new])
                run.finish(tx)
                done = True
        if not done:
            raise Incomplete(f"replacement brick {new.id} could not be removed yet")
        return Settled(False, "eviction undone: the old brick is kept")

    async def _forward(self, run: Run, old: Brick) -> Settled:
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, old.volume_id)
            node = require(tx, Node, old.node_id)
            device = require(tx, Device, old.device_id)
        outcome = await self._destroy_old(volume, old, node, device)
        with run.write() as tx:
            done = self._settle_forward(tx, outcome, old)
            if done:
                run.finish(tx)
        if not done:
            raise Incomplete(f"brick {old.id} could not be destroyed; kept for cleanup")
        return Settled(True, f"gluster uses the new brick: the old one is {outcome}")

    async def _destroy_new(self, new: Brick) -> bool:
        with self.ctx.store.read() as tx:
            node = tx.get(Node, new.node_id)
            device = tx.get(Device, new.device_id)
            volume = tx.get(Volume, new.volume_id)
        if node is None or device is None or volume is None:
            return True
        spec = brick_spec(new, device_spec(device), volume.gid)
        try:
            return await self.ctx.agent.brick_destroy(address(node), spec)
        except BrickyardError as exc:
            log.warning("destroying replacement brick %s failed: %s", new.id, exc)
            return False

    async def _gluster_bricks(self, old: Brick) -> set[str]:
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, old.volume_id)
            nodes = [address(n) for n in tx.cluster_nodes(volume.cluster_id)]
        return await gluster_bricks(self.ctx, volume.name, nodes)

    # -- heal check -------------------------------------------------------------------------
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

        def name(brick: Brick) -> str:
            return f"{hosts[brick.node_id].storage}:{brick.path}"

        down = [
            name(b) if b.node_id in hosts else b.id
            for b in siblings
            if b.node_id not in hosts or getattr(by_brick.get(name(b)), "status", "") != "Connected"
        ]
        allowed = durability.redundancy - 1 if durability.type is DurabilityType.DISPERSE else 0
        if len(down) > allowed:
            raise OperationFailed(
                f"brick set {old.set_index} of volume {volume.name} cannot lose brick "
                f"{old.id}: {', '.join(down)} not up"
            )
        mine = by_brick.get(name(old)) if old.node_id in hosts else None
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

    # -- loading ----------------------------------------------------------------------------
    def _bricks(self) -> tuple[Brick, Brick]:
        if self.old is None or self.new is None:
            raise OperationFailed(f"eviction {self.op_id}: its bricks are not known")
        return self.old, self.new

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        new_id_ = next((c.id for c in op.changes if c.change is ChangeType.ADD_BRICK), "")
        old_id = next((c.id for c in op.changes if c.change is ChangeType.DELETE_BRICK), "")
        loaded = cls(ctx, old_id, op.detail.get("heal_check") != "disable")
        with ctx.store.read() as tx:
            loaded.old = tx.get(Brick, old_id)
            loaded.new = tx.get(Brick, new_id_)
        return loaded


def _as_candidate(brick: Brick, zone: int) -> Candidate:
    """A brick already in the set, seen as the candidate it once was (its node and zone)."""
    return Candidate(brick.device_id, brick.node_id, zone, 0)
