"""Volumes: create, info, list, delete, expand, clone, heal state.

Reads and the synchronous checks of each request live here; the changes themselves are
operations (operations/volume_*.py) run by the OperationRunner: planned and journaled in one
write transaction, executed on the nodes step by step, finalized or rolled back. A volume being
created or deleted is hidden, as in Heketi."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.errors import (
    BrickyardError,
    Conflict,
    InvalidRequest,
    NotFound,
    OperationFailed,
)
from ..domain.ids import new_id
from ..domain.model import (
    BlockInfo,
    Brick,
    Cluster,
    Durability,
    DurabilityType,
    Volume,
)
from ..domain.policy import placement_policy
from ..domain.units import GIB
from ..nodes.port import HealStatus
from ..store.sql import Transaction
from . import volume_checks
from .context import ServiceContext
from .jobs import Job
from .lookup import address, require
from .operations.runner import OperationRunner
from .operations.volume_clone import VolumeClone
from .operations.volume_create import VolumeCreate
from .operations.volume_delete import VolumeDelete
from .operations.volume_expand import VolumeExpand
from .plan_report import PlanReport
from .volume_placement import choose

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
class VolumeView:
    volume: Volume
    bricks: list[Brick]
    hosts: list[str]


class VolumeService:
    def __init__(self, ctx: ServiceContext, runner: OperationRunner) -> None:
        self.ctx = ctx
        self.runner = runner

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
        volume_checks.check_replica(durability)
        volume_checks.check_name(request.name)
        volume_checks.check_options(request.options, durability, request.name)
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
        try:
            return self.runner.start(
                VolumeCreate(self.ctx, self._new_volume(request), request.clusters)
            )
        except OperationFailed as exc:
            raise OperationFailed(f"Failed to allocate new volume: {exc.message}") from exc

    # -- dry run ------------------------------------------------------------------------------
    def plan(self, request: VolumeCreateRequest) -> PlanReport:
        """What a create would do, with the reasons, in a transaction that is rolled back."""
        volume = self._new_volume(request)
        with self.ctx.store.rehearsal() as tx:
            choice = choose(self.ctx, tx, volume, request.clusters, "", explain=True)
            index = self.ctx.placement.index(tx, choice.cluster_id) if choice.cluster_id else None
        return PlanReport.of(volume, choice, index)

    # -- delete, expand, clone -----------------------------------------------------------------
    def check_delete(self, volume_id: str) -> None:
        with self.ctx.store.read() as tx:
            volume = require(tx, Volume, volume_id)
        if volume.name == HEKETI_DB_VOLUME:
            raise Conflict("Cannot delete volume containing the Heketi database")
        if volume.block_info.block_volumes:
            # Heketi's answer; here the block volumes are kept from an import, not served.
            raise Conflict("Cannot delete a block hosting volume containing block volumes")

    def begin_delete(self, volume_id: str) -> Job:
        return self.runner.start(VolumeDelete(self.ctx, volume_id))

    def begin_expand(self, volume_id: str, expand_size: int) -> Job:
        return self.runner.start(VolumeExpand(self.ctx, volume_id, expand_size))

    def begin_clone(self, volume_id: str, name: str) -> Job:
        volume_checks.check_name(name)
        return self.runner.start(VolumeClone(self.ctx, volume_id, name))
