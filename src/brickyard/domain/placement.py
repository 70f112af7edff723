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


class _Chooser:
    """Picks the best acceptable device for one position, tracking free space as it goes."""

    def __init__(self, request: PlacementRequest, candidates: Sequence[Candidate]) -> None:
        self.request = request
        self.candidates = candidates
        self.filters: list[DeviceFilter] = [different_node]
        if request.strict_zones:
            self.filters.append(different_zone)
        self.free = {c.device_id: c.free for c in candidates}
        # Devices share a few extent sizes: compute each brick's space once per extent size.
        self.space_for: dict[int, BrickSpace] = {}

    def _space(self, extent_size: int) -> BrickSpace:
        space = self.space_for.get(extent_size)
        if space is None:
            r = self.request
            space = brick_space(r.brick_size, r.snapshot_factor, extent_size)
            self.space_for[extent_size] = space
        return space

    def choose(
        self, current: SetInProgress, excluded_device: str = ""
    ) -> tuple[Candidate, BrickSpace]:
        best: tuple[tuple[int, int, str], Candidate, BrickSpace] | None = None
        for candidate in self.candidates:
            if candidate.device_id == excluded_device:
                continue
            if not all(f(candidate, current) for f in self.filters):
                continue
            space = self._space(candidate.extent_size)
            left = self.free[candidate.device_id]
            if left <= space.total:  # Heketi requires strictly more free than needed
                continue
            weight = _weight(candidate, left, current)
            if best is None or weight < best[0]:
                best = (weight, candidate, space)
        if best is None:
            raise NoSpace()
        _, chosen, space = best
        self.free[chosen.device_id] -= space.total
        current.nodes.add(chosen.node_id)
        current.zones.add(chosen.zone)
        return chosen, space


def plan_bricks(request: PlacementRequest, candidates: Sequence[Candidate]) -> list[PlacedBrick]:
    """Place request.sets x request.bricks_per_set bricks, or raise NoSpace."""
    chooser = _Chooser(request, candidates)
    placed: list[PlacedBrick] = []
    for set_index in range(request.sets):
        current = SetInProgress()
        for position in range(request.bricks_per_set):
            chosen, space = chooser.choose(current)
            placed.append(PlacedBrick(chosen.device_id, chosen.node_id, set_index, position, space))
    return placed


def plan_replacement(
    request: PlacementRequest,
    candidates: Sequence[Candidate],
    others: SetInProgress,
    old_device: str,
) -> tuple[Candidate, BrickSpace]:
    """One brick to replace another of a set: same rules as create, never on the old device
    nor on a node (or, with strict zones, a zone) used by the set's other bricks."""
    return _Chooser(request, candidates).choose(others, excluded_device=old_device)
