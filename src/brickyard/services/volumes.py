"""Volumes: create, info, list, delete, expand, clone.

Every change follows the same journaled flow: plan and reserve in one write transaction that
also records a pending operation; run the node commands; then finalize (or roll back) in a
second transaction. A volume being created or deleted is hidden, as in Heketi."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from ..domain.errors import (
    BrickyardError,
    Conflict,
    InvalidRequest,
    NoSpace,
    NotFound,
    OperationFailed,
    PendingConflict,
    PlacementError,
)
from ..domain.ids import new_id
from ..domain.model import (
    BlockInfo,
    Brick,
    BrickSubType,
    Change,
    ChangeType,
    Cluster,
    Durability,
    DurabilityType,
    OperationType,
    PendingOperation,
    Volume,
)
from ..domain.policy import PlacementPolicy, placement_policy
from ..domain.units import GIB
from ..nodes.port import (
    BrickSpec,
    DeviceSpec,
    GlusterBrick,
    GlusterVolumeSpec,
    HealStatus,
    NodeAddress,
)
from ..store.sql import StaleSpace, Transaction
from .allocation import (
    AllocationFailure,
    NoDevices,
    NoNodes,
    TooManyBricks,
    allocate,
    describe_cluster_failures,
    mark_failed,
    settle_teardown,
    write_allocation,
)
from .context import ServiceContext
from .jobs import Job
from .lookup import address, brick_spec, require
from .plan_report import ClusterChoice, PlanReport
from .steps import StepLog, reraise_crash

log = logging.getLogger(__name__)

HEKETI_DB_VOLUME = "heketidbstorage"
ALLOWED_DISPERSIONS = {(2, 1), (4, 2), (8, 3), (8, 4)}
MAX_GID = 2147483647


@dataclass
class VolumeCreateRequest:
    size: int
    name: str = ""
    durability: Durability = field(default_factory=Durability)
    gid: int = 0
    options: list[str] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    block: bool = False
    snapshot_enable: bool = False
    snapshot_factor: float = 0.0


@dataclass
class Plan:
    """What an operation will make on the nodes, with the records it needs to address them."""

    op_id: str
    volume: Volume
    bricks: list[Brick]
    devices: dict[str, DeviceSpec]
    nodes: dict[str, NodeAddress]

    @classmethod
    def load(cls, tx: Transaction, op_id: str, volume: Volume, bricks: list[Brick]) -> Plan:
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
        return cls(op_id, volume, bricks, devices, nodes)


@dataclass
class VolumeView:
    volume: Volume
    bricks: list[Brick]
    hosts: list[str]


class VolumeService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- reads --------------------------------------------------------------------------------
    def list_ids(self) -> list[str]:
        with self.ctx.store.read() as tx:
            return tx.visible_volume_ids()

    def info(self, volume_id: str) -> VolumeView:
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, volume_id)
            if not volume.visible:
                raise NotFound()
            return self._view(tx, volume)

    def check_exists(self, volume_id: str) -> Volume:
        with self.ctx.store.read() as tx:
            return require(tx, Volume, volume_id)

    async def heal(self, volume_id: str) -> list[HealStatus]:
        """`gluster volume heal <v> info`, asked of the volume's nodes until one answers."""
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, volume_id)
            brick_nodes = {b.node_id for b in tx.volume_bricks(volume_id)}
            nodes = sorted(
                tx.cluster_nodes(volume.cluster_id), key=lambda n: n.id not in brick_nodes
            )
        last: BrickyardError | None = None
        for node in nodes:
            try:
                return await self.ctx.agent.heal_info(address(node), volume.name)
            except BrickyardError as exc:
                last = exc
        raise OperationFailed(f"no node answered heal info of volume {volume.name}: {last}")

    def _view(self, tx: Transaction, volume: Volume) -> VolumeView:
        return VolumeView(volume, tx.volume_bricks(volume.id), tx.mount_hosts(volume.cluster_id))

    # -- create -------------------------------------------------------------------------------
    def check_create(self, request: VolumeCreateRequest) -> None:
        """The synchronous checks of POST /volumes, in Heketi's order (after validation)."""
        if request.gid < 0:
            raise InvalidRequest("Bad group id less than zero")
        if request.gid >= MAX_GID:
            raise InvalidRequest("Bad group id equal or greater than 2**32")
        durability = request.durability
        if request.snapshot_enable and not 1 <= request.snapshot_factor <= 100:
            raise InvalidRequest("Invalid snapshot factor")
        if durability.type is DurabilityType.REPLICATE and (
            durability.replica > self.ctx.settings.max_replica
        ):
            raise InvalidRequest("Invalid replica value")
        if durability.type is DurabilityType.DISPERSE and (
            (durability.data, durability.redundancy) not in ALLOWED_DISPERSIONS
        ):
            raise InvalidRequest(
                f"Invalid dispersion combination: {durability.data}+{durability.redundancy}"
            )
        with self.ctx.store.read() as tx:
            if not tx.cluster_ids():
                raise InvalidRequest("No clusters configured")
            for cluster_id in request.clusters:
                if tx.get(Cluster, cluster_id) is None:
                    raise InvalidRequest(f"Cluster id {cluster_id} not found")
        policy = placement_policy(
            request.options, self.ctx.settings.strict_zones, self.ctx.settings.average_file_size_kb
        )
        replica_three = (
            durability.type is DurabilityType.REPLICATE and durability.bricks_per_set == 3
        )
        if policy.arbiter and not replica_three:
            raise InvalidRequest("Arbiter volumes must be replicate volumes with replica 3")
        limits = self.ctx.settings.limits
        minimum = limits.min_size * durability.data_bricks_per_set
        if request.size * GIB < minimum:
            raise InvalidRequest(
                f"Requested volume size ({request.size} GB) is smaller than the minimum "
                f"supported volume size ({minimum})"
            )

    def _new_volume(self, request: VolumeCreateRequest) -> Volume:
        volume_id = new_id()
        settings = self.ctx.settings
        options = (
            settings.pre_request_volume_options.split(",")
            + ([settings.block_hosting_volume_options] if request.block else [])
            + list(request.options)
            + settings.post_request_volume_options.split(",")
        )
        return Volume(
            id=volume_id,
            cluster_id="",
            name=request.name or f"vol_{volume_id}",
            size=request.size,
            durability=request.durability,
            gid=request.gid,
            options=options,
            block=request.block,
            snapshot_enable=request.snapshot_enable,
            snapshot_factor=request.snapshot_factor if request.snapshot_enable else 1.0,
            block_info=BlockInfo().with_raw_capacity(request.size)
            if request.block
            else BlockInfo(),
        )

    def begin_create(self, request: VolumeCreateRequest) -> Job:
        volume = self._new_volume(request)
        first = self._build_create(volume, request.clusters)

        async def run() -> str | None:
            attempts = 1 + max(0, self.ctx.settings.create_retries)
            plan = first
            for attempt in range(attempts):
                steps = StepLog(self.ctx.store, plan.op_id, OperationType.CREATE_VOLUME)
                steps.planned()
                try:
                    await self._exec_create(plan, steps)
                    self._finalize(plan.op_id)
                    steps.finalized()
                    return f"/volumes/{volume.id}"
                except BrickyardError as exc:
                    log.warning(
                        "volume %s create attempt %d failed: %s", volume.name, attempt + 1, exc
                    )
                    await self._roll_back_create(plan.op_id, volume.id)
                    if attempt + 1 == attempts:
                        raise
                    try:
                        # The same journal id: a poller's queue result names this operation.
                        plan = self._build_create(volume, request.clusters, first.op_id)
                    except BrickyardError:
                        raise exc from None
            raise AssertionError("unreachable")

        return Job(
            run,
            throttled=True,
            description=f"create volume {volume.name}",
            operation_id=first.op_id,
            resource=f"/volumes/{volume.id}",
        )

    def _build_create(self, volume: Volume, requested_clusters: list[str], op_id: str = "") -> Plan:
        for attempt in range(2):
            op = PendingOperation(op_id or new_id(), OperationType.CREATE_VOLUME, int(time.time()))
            try:
                with self.ctx.store.write() as tx:
                    allocation = self._choose(tx, volume, requested_clusters, op.id).allocation
                    assert allocation is not None
                    volume.pending_op_id = op.id
                    op.changes = [Change(ChangeType.ADD_VOLUME, volume.id)] + [
                        Change(ChangeType.ADD_BRICK, b.id) for b in allocation.bricks
                    ]
                    tx.add(op)
                    tx.add(volume)
                    write_allocation(tx, allocation)
                    return Plan.load(tx, op.id, volume, allocation.bricks)
            except StaleSpace:
                # Another writer took the space the cached index promised: reload, try again.
                self.ctx.placement.invalidate()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _choose(
        self,
        tx: Transaction,
        volume: Volume,
        requested_clusters: list[str],
        op_id: str,
        explain: bool = False,
    ) -> ClusterChoice:
        """Pick the cluster and place the bricks (internals §2.1): clusters in order, the first
        that can hold the volume wins. Raises OperationFailed saying why none could, unless
        `explain` (the dry run), which returns the failure in the choice instead."""
        choice = ClusterChoice()
        cluster_ids = requested_clusters or tx.cluster_ids()
        eligible = []
        for cluster_id in cluster_ids:
            reason = self._ineligible(tx, cluster_id, volume)
            if reason:
                choice.results[cluster_id] = reason
            else:
                eligible.append(cluster_id)
        errors: dict[str, Exception] = {}
        if not eligible:
            if len(cluster_ids) == 1:
                error = OperationFailed(choice.results[cluster_ids[0]])
            else:
                lines = "".join(f"\nCluster {cid}: {why}" for cid, why in choice.results.items())
                error = OperationFailed("No eligible cluster for volume" + lines)
            return choice.fail(error, explain)
        policy = self.policy(volume)
        for cluster_id in eligible:
            volume.cluster_id = cluster_id
            failure = AllocationFailure()
            choice.failures[cluster_id] = failure
            try:
                allocation = allocate(
                    tx,
                    volume,
                    volume.size,
                    self.ctx.settings.limits,
                    policy,
                    self.ctx.placer,
                    self.ctx.placement,
                    op_id,
                    failure=failure,
                    explain=explain,
                )
            except (NoNodes, NoDevices) as exc:
                errors[cluster_id] = exc
            except TooManyBricks as exc:
                errors[cluster_id] = NoSpace(exc.detail)
            except PlacementError as exc:
                errors[cluster_id] = exc
            else:
                choice.results[cluster_id] = "placed"
                choice.cluster_id = cluster_id
                choice.allocation = allocation
                return choice
            choice.results[cluster_id] = str(errors[cluster_id])
            log.info(
                "cluster %s cannot hold volume %s: %s", cluster_id, volume.name, errors[cluster_id]
            )
        return choice.fail(describe_cluster_failures(errors), explain)

    def _ineligible(self, tx: Transaction, cluster_id: str, volume: Volume) -> str:
        cluster = require(tx, Cluster, cluster_id)
        if not cluster.block and not cluster.file:
            return "Cluster has disabled all volume types"
        if (volume.block and not cluster.block) or (not volume.block and not cluster.file):
            return "Cluster does not support requested volume type"
        if tx.volume_named(cluster_id, volume.name) is not None:
            return f"Volume name '{volume.name}' already in use"
        limit = self.ctx.settings.volume_limit
        if limit is not None and tx.cluster_has_volumes(cluster_id, limit):
            return f"Cluster has {tx.cluster_volume_count(cluster_id)} volumes and limit is {limit}"
        return ""

    def policy(self, volume: Volume) -> PlacementPolicy:
        settings = self.ctx.settings
        return placement_policy(
            volume.options, settings.strict_zones, settings.average_file_size_kb
        )

    # -- dry run ------------------------------------------------------------------------------
    def plan(self, request: VolumeCreateRequest) -> PlanReport:
        """What a create would do, with the reasons, in a transaction that is rolled back."""
        volume = self._new_volume(request)
        with self.ctx.store.rehearsal() as tx:
            choice = self._choose(tx, volume, request.clusters, "", explain=True)
            index = self.ctx.placement.index(tx, choice.cluster_id) if choice.cluster_id else None
        return PlanReport.of(volume, choice, index)

    async def _make_bricks(
        self,
        bricks: list[Brick],
        volume: Volume,
        devices: dict[str, DeviceSpec],
        nodes: dict[str, NodeAddress],
        steps: StepLog,
    ) -> None:
        """Create bricks on their nodes in parallel, journaling each as it is made; if any
        fails, destroy the ones made."""
        specs = [
            (nodes[b.node_id], brick_spec(b, devices[b.device_id], volume.gid)) for b in bricks
        ]

        async def make(node: NodeAddress, spec: BrickSpec) -> None:
            await self.ctx.agent.brick_create(node, spec)
            steps.done("brick-made", f"brick {spec.id} made on {node.manage}")

        results = await asyncio.gather(*(make(a, s) for a, s in specs), return_exceptions=True)
        reraise_crash(results)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            made = [
                spec
                for spec, result in zip(specs, results, strict=True)
                if not isinstance(result, BaseException)
            ]
            await asyncio.gather(
                *(self.ctx.agent.brick_destroy(a, s) for a, s in made), return_exceptions=True
            )
            first = failures[0]
            if isinstance(first, BrickyardError):
                raise first
            raise OperationFailed(f"brick create failed: {first}") from first

    async def _exec_create(self, plan: Plan, steps: StepLog) -> None:
        self.ctx.in_flight.add(plan.op_id)
        try:
            await self._make_bricks(plan.bricks, plan.volume, plan.devices, plan.nodes, steps)
            spec = gluster_spec(plan.volume, plan.bricks, plan.nodes)
            via = plan.nodes[_gluster_order(plan.bricks)[0].node_id]
            await self.ctx.agent.volume_create(via, spec)
            steps.done("volume-made", f"gluster volume {spec.name} created and started")
        finally:
            self.ctx.in_flight.discard(plan.op_id)

    def _finalize(self, op_id: str, volume_id: str = "", size_delta: int = 0) -> None:
        """Clear the pending markers the operation set, apply a size change, drop the entry."""
        with self.ctx.store.write() as tx:
            tx.clear_pending(op_id, {volume_id: size_delta} if size_delta else None)
            tx.delete(PendingOperation, op_id)

    async def destroy_on_nodes(
        self,
        volume: Volume,
        bricks: list[Brick],
        destroy_volume: bool,
        steps: StepLog | None = None,
    ) -> set[str]:
        """Stop and delete the gluster volume (on any node that answers), then destroy bricks,
        journaling each step in `steps` when given. Returns the ids of bricks whose space the
        nodes reclaimed."""
        with self.ctx.store.read() as tx:
            # The volume's own nodes are peers of its pool: ask them first, and only them
            # unless none answers (a cluster may have a thousand nodes).
            nodes = {
                node_id: NodeAddress(manage, storage)
                for node_id, (manage, storage) in tx.node_hosts({b.node_id for b in bricks}).items()
            }
            devices = {
                device_id: DeviceSpec(device_id, name, backend)
                for device_id, (name, backend) in tx.device_targets(
                    {b.device_id for b in bricks}
                ).items()
            }
            if destroy_volume and not nodes:
                nodes = {n.id: address(n) for n in tx.cluster_nodes(volume.cluster_id)}
        if destroy_volume:
            await self._destroy_gluster_volume(volume, list(nodes.values()))
            if steps is not None:
                steps.done("volume-destroyed", f"gluster volume {volume.name} stopped and deleted")
        targets = [
            (b, nodes[b.node_id], brick_spec(b, devices[b.device_id], volume.gid))
            for b in bricks
            if b.device_id in devices and b.node_id in nodes
        ]

        async def destroy(node: NodeAddress, spec: BrickSpec) -> bool:
            reclaimed = await self.ctx.agent.brick_destroy(node, spec)
            if steps is not None:
                steps.done("brick-destroyed", f"brick {spec.id} destroyed on {node.manage}")
            return reclaimed

        results = await asyncio.gather(
            *(destroy(a, s) for _, a, s in targets), return_exceptions=True
        )
        reraise_crash(results)
        reclaimed = set()
        for (brick, _, _), result in zip(targets, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("destroying brick %s failed: %s", brick.id, result)
            elif result:
                reclaimed.add(brick.id)
        return reclaimed

    async def destroy_bricks(self, volume: Volume, bricks: list[Brick]) -> set[str]:
        return await self.destroy_on_nodes(volume, bricks, destroy_volume=False)

    async def _destroy_gluster_volume(self, volume: Volume, nodes: list[NodeAddress]) -> None:
        last: BrickyardError | None = None
        for node in nodes:
            try:
                await self.ctx.agent.volume_destroy(node, volume.name)
                return
            except BrickyardError as exc:
                last = exc
                log.warning("volume %s delete via %s failed: %s", volume.name, node.manage, exc)
        if last is not None:
            raise last

    async def _roll_back_create(self, op_id: str, volume_id: str) -> None:
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, volume_id)
            bricks = tx.operation_bricks(op_id)
        try:
            reclaimed = await self.destroy_on_nodes(volume, bricks, destroy_volume=True)
        except BrickyardError as exc:
            self._mark_failed(op_id)
            raise OperationFailed(f"rollback of volume {volume.name} failed: {exc}") from exc
        with self.ctx.store.write() as tx:
            settle_teardown(tx, op_id, bricks, reclaimed, volume_id)

    def _mark_failed(self, op_id: str) -> None:
        with self.ctx.store.write() as tx:
            mark_failed(tx, op_id)

    # -- delete -------------------------------------------------------------------------------
    def check_delete(self, volume_id: str) -> None:
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, volume_id)
        if volume.name == HEKETI_DB_VOLUME:
            raise Conflict("Cannot delete volume containing the Heketi database")

    def begin_delete(self, volume_id: str) -> Job:
        with self.ctx.store.write() as tx:
            volume = require(tx, Volume, volume_id)
            bricks = tx.volume_bricks(volume_id)
            if volume.pending_op_id or any(b.pending_op_id for b in bricks):
                raise OperationFailed(
                    f"Failed to set up volume delete: {PendingConflict().message}"
                )
            op = PendingOperation(
                new_id(),
                OperationType.DELETE_VOLUME,
                int(time.time()),
                [Change(ChangeType.DELETE_VOLUME, volume.id)]
                + [Change(ChangeType.DELETE_BRICK, b.id) for b in bricks],
            )
            tx.add(op)
            volume.pending_op_id = op.id
            tx.update(volume)
            for brick in bricks:
                brick.pending_op_id = op.id
                tx.update(brick)

        async def run() -> str | None:
            self.ctx.in_flight.add(op.id)
            steps = StepLog(self.ctx.store, op.id, OperationType.DELETE_VOLUME)
            steps.planned()
            try:
                reclaimed = await self.destroy_on_nodes(volume, bricks, True, steps)
            except BrickyardError:
                self._clear_pending(op.id)
                raise
            finally:
                self.ctx.in_flight.discard(op.id)
            with self.ctx.store.write() as tx:
                complete = settle_teardown(tx, op.id, bricks, reclaimed, volume.id)
            steps.finalized()
            if not complete:
                raise OperationFailed(
                    f"volume {volume.name} deleted but some bricks could not be removed; "
                    "they are kept for cleanup"
                )
            return None

        return Job(
            run, throttled=True, description=f"delete volume {volume.name}", operation_id=op.id
        )

    def _clear_pending(self, op_id: str) -> None:
        with self.ctx.store.write() as tx:
            op = tx.get(PendingOperation, op_id)
            if op is None:
                return
            for change in op.changes:
                if change.change in (ChangeType.DELETE_VOLUME, ChangeType.ADD_VOLUME):
                    volume = tx.get(Volume, change.id)
                    if volume is not None:
                        volume.pending_op_id = ""
                        tx.update(volume)
                    continue
                brick = tx.get(Brick, change.id)
                if brick is not None:
                    brick.pending_op_id = ""
                    tx.update(brick)
            tx.delete(PendingOperation, op_id)

    # -- expand -------------------------------------------------------------------------------
    def begin_expand(self, volume_id: str, expand_size: int) -> Job:
        with self.ctx.store.write() as tx:
            volume = require(tx, Volume, volume_id)
            existing = tx.volume_bricks(volume_id)
            if volume.pending_op_id or any(b.pending_op_id for b in existing):
                # Being created, deleted or expanded: one change of a volume at a time.
                raise OperationFailed(
                    f"Failed to allocate volume expansion: {PendingConflict().message}"
                )
            op = PendingOperation(new_id(), OperationType.EXPAND_VOLUME, int(time.time()))
            try:
                allocation = allocate(
                    tx,
                    volume,
                    expand_size,
                    self.ctx.settings.limits,
                    self.policy(volume),
                    self.ctx.placer,
                    self.ctx.placement,
                    op.id,
                    existing_bricks=len(existing),
                    first_set_index=1 + max((b.set_index for b in existing), default=-1),
                )
            except PlacementError as exc:
                raise OperationFailed(f"Failed to allocate volume expansion: {exc}") from exc
            op.changes = [Change(ChangeType.EXPAND_VOLUME, volume.id, expand_size)] + [
                Change(ChangeType.ADD_BRICK, b.id) for b in allocation.bricks
            ]
            tx.add(op)
            write_allocation(tx, allocation)
        new_bricks = allocation.bricks

        async def run() -> str | None:
            self.ctx.in_flight.add(op.id)
            steps = StepLog(self.ctx.store, op.id, OperationType.EXPAND_VOLUME)
            steps.planned()
            try:
                with self.ctx.store.read() as tx:
                    plan = Plan.load(tx, op.id, volume, tx.volume_bricks(volume_id))
                await self._make_bricks(new_bricks, volume, plan.devices, plan.nodes, steps)
                spec = gluster_spec(volume, plan.bricks, plan.nodes)
                added = [_gluster_brick(b, plan.nodes) for b in _gluster_order(new_bricks)]
                via = plan.nodes[new_bricks[0].node_id]
                await self.ctx.agent.volume_expand(via, spec, added)
                steps.done("bricks-added", f"{len(added)} bricks added to {volume.name}")
            except BrickyardError:
                await self._roll_back_expand(op.id, volume, new_bricks)
                raise
            finally:
                self.ctx.in_flight.discard(op.id)
            self._finalize(op.id, volume_id, expand_size)
            steps.finalized()
            if volume.block:
                with self.ctx.store.write() as tx:
                    grown = require(tx, Volume, volume_id)
                    grown.block_info = grown.block_info.with_raw_capacity(expand_size)
                    tx.update(grown)
            return f"/volumes/{volume_id}"

        return Job(
            run,
            throttled=True,
            description=f"expand volume {volume.name}",
            operation_id=op.id,
            resource=f"/volumes/{volume_id}",
        )

    async def _roll_back_expand(self, op_id: str, volume: Volume, bricks: list[Brick]) -> None:
        reclaimed = await self.destroy_on_nodes(volume, bricks, destroy_volume=False)
        with self.ctx.store.write() as tx:
            settle_teardown(tx, op_id, bricks, reclaimed)

    # -- clone --------------------------------------------------------------------------------
    def begin_clone(self, volume_id: str, name: str) -> Job:
        with self.ctx.store.write() as tx:
            source = require(tx, Volume, volume_id)
            if source.pending_op_id:
                raise OperationFailed(
                    f"Failed clone volume {volume_id}: {PendingConflict().message}"
                )
            if source.block:
                raise OperationFailed(
                    f"Failed clone volume {volume_id}: "
                    "Cloning of block hosting volumes is not supported"
                )
            clone_id = new_id()
            clone_name = name or f"vol_{clone_id}"
            if tx.volume_named(source.cluster_id, clone_name) is not None:
                raise OperationFailed(
                    f"Failed clone volume {volume_id}: Volume name '{clone_name}' already in use"
                )
            op = PendingOperation(new_id(), OperationType.CLONE_VOLUME, int(time.time()))
            clone = Volume(
                id=clone_id,
                cluster_id=source.cluster_id,
                name=clone_name,
                size=source.size,
                durability=source.durability,
                gid=source.gid,
                options=list(source.options),
                snapshot_enable=source.snapshot_enable,
                snapshot_factor=source.snapshot_factor,
                pending_op_id=op.id,
            )
            op.changes = [
                Change(ChangeType.CLONE_VOLUME, source.id),
                Change(ChangeType.ADD_VOLUME, clone.id),
            ]
            tx.add(op)
            tx.add(clone)
            source_bricks = _gluster_order(tx.volume_bricks(volume_id))
            nodes = {n.id: address(n) for n in tx.cluster_nodes(source.cluster_id)}

        async def run() -> str | None:
            via = nodes[source_bricks[0].node_id]
            try:
                info = await self.ctx.agent.volume_clone(via, source.name, clone_name)
            except BrickyardError:
                with self.ctx.store.write() as tx:
                    tx.delete(Volume, clone.id)
                    tx.delete(PendingOperation, op.id)
                raise
            with self.ctx.store.write() as tx:
                # Snapshot bricks live in the origin's thin pools: they take no new space.
                for origin, made in zip(source_bricks, info.bricks, strict=False):
                    tx.add(
                        Brick(
                            id=new_id(),
                            volume_id=clone.id,
                            device_id=origin.device_id,
                            node_id=origin.node_id,
                            size=origin.size,
                            tp_size=0,
                            pool_metadata_size=0,
                            set_index=origin.set_index,
                            position=origin.position,
                            path_override=made.path,
                        )
                    )
                clone.pending_op_id = ""
                tx.update(clone)
                tx.delete(PendingOperation, op.id)
            return f"/volumes/{clone.id}"

        return Job(
            run, throttled=True, description=f"clone volume {source.name}", operation_id=op.id
        )


def _gluster_order(bricks: list[Brick]) -> list[Brick]:
    return sorted(bricks, key=lambda b: (b.set_index, b.position))


def _gluster_brick(brick: Brick, nodes: dict[str, NodeAddress]) -> GlusterBrick:
    return GlusterBrick(nodes[brick.node_id].storage, brick.path)


def gluster_spec(
    volume: Volume, bricks: list[Brick], nodes: dict[str, NodeAddress]
) -> GlusterVolumeSpec:
    durability = volume.durability
    options = [tuple(o.split(" ", 1)) for o in volume.options if o.strip() and " " in o]
    options.append(("user.heketi.id", volume.id))
    return GlusterVolumeSpec(
        name=volume.name,
        bricks=[_gluster_brick(b, nodes) for b in _gluster_order(bricks)],
        replica=durability.bricks_per_set if durability.type is DurabilityType.REPLICATE else 0,
        disperse_data=durability.data if durability.type is DurabilityType.DISPERSE else 0,
        disperse_redundancy=durability.redundancy
        if durability.type is DurabilityType.DISPERSE
        else 0,
        arbiter=any(b.subtype is BrickSubType.ARBITER for b in bricks),
        options=[(k, v) for k, v in options],
    )


class VolumeRecovery:
    """Finishing operations that a crash or a failed rollback left behind: creates and expands
    are rolled back, deletes rolled forward (internals §3.8)."""

    def __init__(self, volumes: VolumeService) -> None:
        self.volumes = volumes
        self.ctx = volumes.ctx

    async def clean(self, op: PendingOperation) -> bool:
        """Finish `op`; returns whether it was rolled forward (its request succeeded)."""
        with self.ctx.store.read() as tx:
            volume_ids = [
                c.id
                for c in op.changes
                if c.change
                in (ChangeType.ADD_VOLUME, ChangeType.DELETE_VOLUME, ChangeType.EXPAND_VOLUME)
            ]
            volume = tx.get(Volume, volume_ids[0]) if volume_ids else None
            bricks = tx.operation_bricks(op.id)
        if op.type is OperationType.CREATE_VOLUME and volume is not None:
            await self.volumes._roll_back_create(op.id, volume.id)
        elif op.type is OperationType.EXPAND_VOLUME and volume is not None:
            return await self._settle_expand(op, volume, bricks)
        elif op.type is OperationType.DELETE_VOLUME and volume is not None:
            reclaimed = await self.volumes.destroy_on_nodes(volume, bricks, destroy_volume=True)
            with self.ctx.store.write() as tx:
                complete = settle_teardown(tx, op.id, bricks, reclaimed, volume.id)
            if not complete:
                raise OperationFailed(f"bricks of volume {volume.name} could not be removed")
            return True
        elif op.type is OperationType.EVICT_BRICK:
            await self._settle_eviction(op, bricks)
        elif op.type is OperationType.CLONE_VOLUME:
            with self.ctx.store.write() as tx:
                for change in op.changes:
                    if change.change is ChangeType.ADD_VOLUME:
                        for brick in tx.volume_bricks(change.id):
                            tx.delete(Brick, brick.id)
                        tx.delete(Volume, change.id)
                tx.delete(PendingOperation, op.id)
        else:
            with self.ctx.store.write() as tx:
                tx.delete(PendingOperation, op.id)
        return False

    async def _settle_expand(
        self, op: PendingOperation, volume: Volume, bricks: list[Brick]
    ) -> bool:
        """Roll an expand forward if gluster already added its bricks (destroying them would
        break the volume), back otherwise."""
        used = await self._gluster_bricks(volume) if bricks else set()
        addresses = self._addresses(volume)
        if bricks and all(str(_gluster_brick(b, addresses)) in used for b in bricks):
            delta = sum(c.delta for c in op.changes if c.change is ChangeType.EXPAND_VOLUME)
            log.info("expand of %s had added its bricks: rolled forward", volume.name)
            self.volumes._finalize(op.id, volume.id, delta)
            return True
        await self.volumes._roll_back_expand(op.id, volume, bricks)
        return False

    def _addresses(self, volume: Volume) -> dict[str, NodeAddress]:
        with self.ctx.store.read() as tx:
            return {n.id: address(n) for n in tx.cluster_nodes(volume.cluster_id)}

    async def _gluster_bricks(self, volume: Volume) -> set[str]:
        """The bricks gluster has in the volume, asked of any node that answers."""
        for node in self._addresses(volume).values():
            try:
                info = await self.ctx.agent.volume_info(node, volume.name)
            except BrickyardError as exc:
                log.warning("volume info via %s failed: %s", node.manage, exc)
                continue
            return {str(b) for b in info.bricks} if info is not None else set()
        raise OperationFailed(f"cannot read volume {volume.name} from gluster")

    async def _settle_eviction(self, op: PendingOperation, bricks: list[Brick]) -> None:
        """Of the bricks an eviction left pending, keep the one gluster uses and destroy the
        other: this settles a crash before or after replace-brick alike."""
        if not bricks:
            with self.ctx.store.write() as tx:
                tx.delete(PendingOperation, op.id)
            return
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, bricks[0].volume_id)
        used = await self._gluster_bricks(volume)
        addresses = self._addresses(volume)
        live = [b for b in bricks if str(_gluster_brick(b, addresses)) in used]
        stale = [b for b in bricks if b not in live]
        reclaimed = await self.volumes.destroy_bricks(volume, stale)
        with self.ctx.store.write() as tx:
            for brick in live:
                tx.set_brick_pending(brick.id, "")
            settle_teardown(tx, op.id, stale, reclaimed)
