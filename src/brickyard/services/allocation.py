"""Choosing a cluster and placing a volume's bricks inside it (internals §2.1-2.2).

Runs inside the write transaction that journals the operation, so space is reserved atomically
with the plan. Candidates come from the placement cache (an in-memory index per cluster); the
database stays the judge: reserving space checks every device still has it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.errors import NoSpace, OperationFailed, PlacementError
from ..domain.ids import new_id
from ..domain.model import Brick, BrickSubType, Volume
from ..domain.placement import (
    Explanation,
    PlacedBrick,
    PlacementRequest,
    Placer,
)
from ..domain.policy import PlacementPolicy
from ..domain.sizing import (
    ArbiterSizeError,
    BrickLimits,
    MinimumBrickSizeReached,
    arbiter_brick_size,
    brick_layouts,
)
from ..domain.units import GIB
from ..store.sql import Transaction
from .placement_cache import PlacementCache


class NoNodes(PlacementError):
    def __init__(self) -> None:
        super().__init__("No nodes in cluster")


class NoDevices(PlacementError):
    def __init__(self) -> None:
        super().__init__("No online storage devices in cluster")


class TooManyBricks(PlacementError):
    """Heketi's text, kept for expand where users see it; the detail says how many."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Maximum number of bricks reached. {detail}".strip())
        self.detail = detail


@dataclass(frozen=True)
class Attempt:
    sets: int
    brick_size: int  # KiB
    result: str  # "placed" or why not


@dataclass
class Allocation:
    bricks: list[Brick]
    space: dict[str, int]  # KiB to move from free to used, per device
    placed: list[PlacedBrick] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class AllocationFailure:
    """What a failed allocation tried, for errors and the dry run."""

    attempts: list[Attempt] = field(default_factory=list)
    explanation: Explanation | None = None


def _gib(kib: int) -> str:
    value = kib / GIB
    return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"


def describe(attempts: list[Attempt], stop: str) -> str:
    """One line an admin can act on: the last placement problem, the layouts tried, and why
    no further layout was tried."""
    if not attempts:
        return stop
    text = attempts[-1].result
    if len(attempts) > 1:
        first, last = _gib(attempts[0].brick_size), _gib(attempts[-1].brick_size)
        text += f"; tried {len(attempts)} layouts with bricks of {first} down to {last} GiB"
    return f"{text}; {stop}"


def allocate(
    tx: Transaction,
    volume: Volume,
    size_gib: int,
    limits: BrickLimits,
    policy: PlacementPolicy,
    placer: Placer,
    cache: PlacementCache,
    op_id: str,
    existing_bricks: int = 0,
    first_set_index: int = 0,
    failure: AllocationFailure | None = None,
    explain: bool = False,
) -> Allocation:
    """Place `size_gib` of the volume in its cluster, halving the brick size (doubling the sets)
    until it fits; reserve the space on the chosen devices."""
    failure = failure if failure is not None else AllocationFailure()
    index = cache.index(tx, volume.cluster_id)
    if not len(index):
        if not tx.cluster_node_ids(volume.cluster_id):
            raise NoNodes()
        raise NoDevices()
    per_set = volume.durability.bricks_per_set
    layouts = brick_layouts(size_gib * GIB, volume.durability.data_bricks_per_set, limits)
    attempts = failure.attempts
    while True:
        try:
            sets, brick_size = next(layouts)
        except MinimumBrickSizeReached as exc:
            minimum = _gib(limits.min_size)
            stop = f"smaller bricks would be under the minimum brick size ({minimum} GiB)"
            raise NoSpace(describe(attempts, stop)) from exc
        if sets * per_set + existing_bricks > limits.max_bricks:
            stop = (
                f"more bricks ({sets * per_set + existing_bricks}) would exceed the maximum of "
                f"{limits.max_bricks} per volume"
            )
            raise TooManyBricks(describe(attempts, stop))
        arbiter_size = 0
        if policy.arbiter:
            try:
                arbiter_size = arbiter_brick_size(brick_size, policy.average_file_size)
            except ArbiterSizeError as exc:
                raise OperationFailed(str(exc)) from exc
        request = PlacementRequest(
            sets,
            per_set,
            brick_size,
            volume.snapshot_factor,
            policy.strict_zones,
            policy.tag_rule,
            policy.arbiter,
            arbiter_size,
        )
        explanation = Explanation() if explain else None
        failure.explanation = explanation
        try:
            placed = placer.place(request, index, explanation)
        except NoSpace as exc:
            attempts.append(Attempt(sets, brick_size, exc.detail))
            continue
        attempts.append(Attempt(sets, brick_size, "placed"))
        allocation = _bricks_of(volume, placed, op_id, first_set_index)
        allocation.attempts = list(attempts)
        return allocation


def _bricks_of(
    volume: Volume, placed: list[PlacedBrick], op_id: str, first_set_index: int
) -> Allocation:
    bricks: list[Brick] = []
    space: dict[str, int] = {}
    for p in placed:
        space[p.device_id] = space.get(p.device_id, 0) + p.space.total
        bricks.append(
            Brick(
                id=new_id(),
                volume_id=volume.id,
                device_id=p.device_id,
                node_id=p.node_id,
                size=p.space.brick_size,
                tp_size=p.space.tp_size,
                pool_metadata_size=p.space.metadata_size,
                set_index=first_set_index + p.set_index,
                position=p.position,
                subtype=BrickSubType.ARBITER if p.arbiter else BrickSubType.NORMAL,
                pending_op_id=op_id,
            )
        )
    return Allocation(bricks, space, placed)


def write_allocation(tx: Transaction, allocation: Allocation) -> None:
    tx.adjust_device_space(allocation.space)
    tx.add_all(allocation.bricks)


def release_bricks(tx: Transaction, bricks: list[Brick]) -> None:
    """Forget bricks that their nodes destroyed and give their space back. A brick whose thin
    pool stays for another brick's LV (a clone of it) hands the pool's space to that brick
    instead: the pool is counted once, and returns when its last LV goes (as Heketi)."""
    leaving = {b.id for b in bricks}
    space: dict[str, int] = {}
    for brick in bricks:
        heir = pool_heir(tx, brick, leaving)
        if heir is not None:
            heir.pool_guest = False
            heir.tp_size, heir.pool_metadata_size = brick.tp_size, brick.pool_metadata_size
            tx.update(heir)
        else:
            space[brick.device_id] = space.get(brick.device_id, 0) - brick.space
        tx.delete(Brick, brick.id)
    tx.adjust_device_space(space)


def pool_heir(tx: Transaction, brick: Brick, leaving: set[str]) -> Brick | None:
    """A brick that stays and whose LV lives in the thin pool `brick` carries (a clone of it),
    so the pool outlives `brick`."""
    if brick.pool_guest:
        return None
    return next(
        (
            other
            for other in tx.pool_guests(brick.device_id, brick.thin_pool)
            if other.id not in leaving and other.id != brick.id
        ),
        None,
    )


def describe_cluster_failures(errors: dict[str, Exception]) -> OperationFailed:
    if len(errors) == 1:
        (error,) = errors.values()
        return OperationFailed(str(error))
    lines = "".join(f"\nCluster {cid}: {err}" for cid, err in errors.items())
    return OperationFailed("Unable to create volume on any cluster:" + lines)
