"""Brick placement: choose a device for every brick of every brick set.

Rules are small filters (a device is acceptable or not for a position) and the choice among
acceptable devices is made by a weigher, so later rules slot in without touching the loop.
The planner works on a snapshot of free space and never mutates entities: the caller applies a
successful plan in one transaction, a failed one leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .errors import NoSpace
from .sizing import BrickSpace, brick_space


@dataclass(frozen=True)
class Candidate:
    """A device that may receive bricks, with what placement needs to know of its node."""

    device_id: str
    node_id: str
    zone: int
    free: int  # KiB
    extent_size: int


@dataclass
class SetInProgress:
    nodes: set[str] = field(default_factory=set)
    zones: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class PlacedBrick:
    device_id: str
    node_id: str
    set_index: int
    position: int
    space: BrickSpace


# A filter answers: may this candidate take this position of the set being filled?
DeviceFilter = Callable[[Candidate, SetInProgress], bool]


def different_node(candidate: Candidate, current: SetInProgress) -> bool:
    return candidate.node_id not in current.nodes


def different_zone(candidate: Candidate, current: SetInProgress) -> bool:
    return candidate.zone not in current.zones


@dataclass
class PlacementRequest:
    sets: int
    bricks_per_set: int
    brick_size: int  # KiB
    snapshot_factor: float = 1.0
    strict_zones: bool = False


def _weight(candidate: Candidate, free: int, current: SetInProgress) -> tuple[int, int, str]:
    # Prefer a zone the set does not use yet (spread), then the emptiest device (balance);
    # the id breaks ties so a plan is deterministic for a given state.
    return (0 if candidate.zone not in current.zones else 1, -free, candidate.device_id)


def plan_bricks(request: PlacementRequest, candidates: Sequence[Candidate]) -> list[PlacedBrick]:
    """Place request.sets x request.bricks_per_set bricks, or raise NoSpace."""
    filters: list[DeviceFilter] = [different_node]
    if request.strict_zones:
        filters.append(different_zone)
    free = {c.device_id: c.free for c in candidates}
    placed: list[PlacedBrick] = []
    for set_index in range(request.sets):
        current = SetInProgress()
        for position in range(request.bricks_per_set):
            best: tuple[tuple[int, int, str], Candidate, BrickSpace] | None = None
            for candidate in candidates:
                if not all(f(candidate, current) for f in filters):
                    continue
                space = brick_space(
                    request.brick_size, request.snapshot_factor, candidate.extent_size
                )
                left = free[candidate.device_id]
                if left <= space.total:  # Heketi requires strictly more free than needed
                    continue
                weight = _weight(candidate, left, current)
                if best is None or weight < best[0]:
                    best = (weight, candidate, space)
            if best is None:
                raise NoSpace()
            _, chosen, space = best
            free[chosen.device_id] -= space.total
            current.nodes.add(chosen.node_id)
            current.zones.add(chosen.zone)
            placed.append(PlacedBrick(chosen.device_id, chosen.node_id, set_index, position, space))
    return placed
