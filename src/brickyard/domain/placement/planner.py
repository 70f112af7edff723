"""The placers: fill every position of every brick set with a device.

`BalancedPlacer` (our default) takes, for each position, the acceptable device with the most
free space, preferring a zone the set does not use yet and, for arbiter volumes, a device
dedicated to the brick's role. `HeketiRingPlacer` reproduces Heketi's first fit along a
randomly rotated ring of devices interleaved by zone and node, for admins who want Heketi's
exact behaviour. Both apply the same filters and never mutate their input: a plan is applied
by the caller in one transaction, a failed plan leaves nothing behind. When the balanced
placer's greedy pass fails, the complete search (search.py) decides exactly, so its
`No space` means that no placement exists.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import NoSpace
from ..sizing import BrickSpace, brick_space
from ..units import GIB
from .candidates import ArbiterRole, Candidate, DeviceIndex
from .rules import (
    EXCLUDED,
    NO_SPACE,
    Filter,
    Position,
    SetInProgress,
    TagRule,
    arbiter_role,
    different_node,
    different_zone,
    tag_filter,
)
from .search import DEFAULT_SEARCH_SECONDS, SearchGaveUp, complete_placement

ARBITER_POSITION = 2  # Heketi places the arbiter at index 2 of a replica-3 set


@dataclass(frozen=True)
class PlacementRequest:
    sets: int
    bricks_per_set: int
    brick_size: int  # KiB, data bricks
    snapshot_factor: float = 1.0
    strict_zones: bool = False
    tag_rule: TagRule | None = None
    arbiter: bool = False
    arbiter_brick_size: int = 0  # KiB

    def size_for(self, slot: Position) -> int:
        return self.arbiter_brick_size if slot.arbiter else self.brick_size

    def fill_order(self) -> list[int]:
        """Heketi fills an arbiter set from its arbiter position down: 2, 1, 0."""
        if self.arbiter:
            return sorted(range(self.bricks_per_set), reverse=True)
        return list(range(self.bricks_per_set))


@dataclass(frozen=True)
class PlacedBrick:
    device_id: str
    node_id: str
    set_index: int
    position: int
    space: BrickSpace
    arbiter: bool = False
    reason: str = ""


@dataclass
class Explanation:
    """Why devices were skipped (for the dry run): the first reason met per device, as its
    kind (a key of the counts) and a sentence."""

    skipped: dict[str, tuple[Candidate, str, str]] = field(default_factory=dict)

    def skip(self, candidate: Candidate, kind: str, detail: str) -> None:
        self.skipped.setdefault(candidate.device_id, (candidate, kind, detail))

    def forget(self, device_id: str) -> None:
        self.skipped.pop(device_id, None)

    def counts(self) -> Counter[str]:
        return Counter(kind for _, kind, _ in self.skipped.values())


def filters_for(request: PlacementRequest) -> list[Filter]:
    result: list[Filter] = [different_node]
    if request.strict_zones:
        result.append(different_zone)
    if request.tag_rule is not None:
        result.append(tag_filter(request.tag_rule))
    if request.arbiter:
        result.append(arbiter_role)
    return result


class SpaceBook:
    """Space taken by the plan so far, and each brick's needs per extent size."""

    def __init__(self, request: PlacementRequest) -> None:
        self.request = request
        self.reserved: dict[str, int] = {}
        self.most_reserved = 0  # the largest reservation on one device, for bounds
        self._needs: dict[tuple[int, int], BrickSpace] = {}

    def need(self, candidate: Candidate, slot: Position) -> BrickSpace:
        size = self.request.size_for(slot)
        key = (size, candidate.extent_size)
        found = self._needs.get(key)
        if found is None:
            found = brick_space(size, self.request.snapshot_factor, candidate.extent_size)
            self._needs[key] = found
        return found

    def free(self, candidate: Candidate) -> int:
        return candidate.free - self.reserved.get(candidate.device_id, 0)

    def take(self, candidate: Candidate, space: BrickSpace) -> None:
        taken = self.reserved.get(candidate.device_id, 0) + space.total
        self.reserved[candidate.device_id] = taken
        self.most_reserved = max(self.most_reserved, taken)


def _gib(kib: int) -> str:
    value = kib / GIB
    return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"


def _rejection(
    candidate: Candidate,
    current: SetInProgress,
    slot: Position,
    filters: Sequence[Filter],
    book: SpaceBook,
    excluded: str,
) -> tuple[str, str] | None:
    """(reason kind, detail) if the device may not take the slot, else None."""
    if candidate.device_id == excluded:
        return EXCLUDED, EXCLUDED
    for check in filters:
        reason = check(candidate, current, slot)
        if reason is not None:
            detail = reason
            if check is different_node and candidate.node_id in current.node_position:
                s, p = current.node_position[candidate.node_id]
                detail = f"same node as brick {p} of set {s}"
            return reason, detail
    needed = book.need(candidate, slot)
    left = book.free(candidate)
    if left <= needed.total:  # Heketi requires strictly more free than needed
        return (
            NO_SPACE,
            f"{_gib(left)} GiB free, needs more than {_gib(needed.total)} GiB "
            f"({_gib(needed.brick_size)} GiB brick with its thin pool)",
        )
    return None


def _dedicated(slot: Position) -> ArbiterRole:
    return ArbiterRole.ARBITER_ONLY if slot.arbiter else ArbiterRole.DATA_ONLY


def _role_rank(candidate: Candidate, slot: Position, request: PlacementRequest) -> int:
    """Arbiter volumes prefer devices dedicated to the brick's role (Heketi's feed order)."""
    if not request.arbiter:
        return 0
    return 0 if candidate.arbiter_role is _dedicated(slot) else 1


def diagnose(
    request: PlacementRequest,
    candidates: Iterable[Candidate],
    slot: Position,
    current: SetInProgress | None = None,
    book: SpaceBook | None = None,
) -> str:
    """Why no device could take a slot, in the terms an admin acts on."""
    # Whole-set checks count every device the tags allow, whatever role it may take; the space
    # figure then looks at the devices this slot's role may use.
    pool_all = [
        c for c in candidates if request.tag_rule is None or request.tag_rule.matches(c.tags)
    ]
    pool = [c for c in pool_all if not (request.arbiter and arbiter_role(c, SetInProgress(), slot))]
    needed = request.bricks_per_set
    nodes = {c.node_id for c in pool_all}
    if len(nodes) < needed:
        qualifier = f" matching {request.tag_rule}" if request.tag_rule else ""
        return (
            f"a set of {needed} bricks needs {needed} nodes with online devices{qualifier}, "
            f"the cluster has {len(nodes)}"
        )
    zones = {c.zone for c in pool_all}
    if request.strict_zones and len(zones) < needed:
        return (
            f"strict zone checking needs {needed} zones for a set of {needed} bricks, "
            f"the online devices span {len(zones)}"
        )
    current = current or SetInProgress()
    usable = [
        c
        for c in pool
        if c.node_id not in current.nodes and not (request.strict_zones and c.zone in current.zones)
    ]
    space = brick_space(request.size_for(slot), request.snapshot_factor, 4096).total
    largest = max(((book.free(c) if book else c.free) for c in usable), default=0)
    return (
        f"no device has room for a {_gib(request.size_for(slot))} GiB brick "
        f"(it takes {_gib(space)} GiB with its thin pool; largest free where it may go: "
        f"{_gib(largest)} GiB)"
    )


class Placer(Protocol):
    def place(
        self, request: PlacementRequest, index: DeviceIndex, explain: Explanation | None = None
    ) -> list[PlacedBrick]: ...


COMPLETE_SEARCH = "found by the complete search (the emptiest-first choice could not fit every set)"


class BalancedPlacer:
    """Emptiest acceptable device first; a new zone for the set before a used one. When that
    greedy pass finds no placement, an exact search over the same devices finds one if any
    exists (search.py), so `No space` means that none does."""

    def __init__(self, search_seconds: float = DEFAULT_SEARCH_SECONDS) -> None:
        self.search_seconds = search_seconds

    def place(
        self, request: PlacementRequest, index: DeviceIndex, explain: Explanation | None = None
    ) -> list[PlacedBrick]:
        try:
            return self.greedy(request, index, explain)
        except NoSpace as failure:
            # The fast path stays as it was; only a failed greedy pass pays for the search.
            return self.complete(request, index, failure)

    def complete(
        self, request: PlacementRequest, index: DeviceIndex, failure: NoSpace
    ) -> list[PlacedBrick]:
        """The complete search's placement, or `failure` (the greedy pass's diagnosis, now
        proven) when none exists, or a NoSpace saying the search gave up."""
        try:
            found = complete_placement(request, index.all(), ARBITER_POSITION, self.search_seconds)
        except SearchGaveUp as exc:
            raise NoSpace(
                f"{failure.detail}; the complete placement search {exc}, "
                "so a placement may still exist"
            ) from exc
        placed = None if found is None else _checked_plan(request, found)
        if placed is None:
            raise failure
        return placed

    def greedy(
        self, request: PlacementRequest, index: DeviceIndex, explain: Explanation | None = None
    ) -> list[PlacedBrick]:
        """One pass, set after set and position after position (Heketi's order)."""
        book = SpaceBook(request)
        filters = filters_for(request)
        placed: list[PlacedBrick] = []
        for set_index in range(request.sets):
            current = SetInProgress()
            for position in request.fill_order():
                slot = Position(
                    set_index, position, request.arbiter and position == ARBITER_POSITION
                )
                placed.append(self.choose(request, index, current, slot, book, filters, explain))
        placed.sort(key=lambda p: (p.set_index, p.position))
        return placed

    def choose(
        self,
        request: PlacementRequest,
        index: DeviceIndex,
        current: SetInProgress,
        slot: Position,
        book: SpaceBook,
        filters: Sequence[Filter],
        explain: Explanation | None = None,
        excluded: str = "",
    ) -> PlacedBrick:
        best: tuple[tuple[int, int, int, str], Candidate] | None = None
        # The best category this slot can reach: a zone the set does not use yet if any is
        # left, a device dedicated to the role if there is one.
        top = (
            0 if index.zones - current.zones else 1,
            0 if not request.arbiter or _dedicated(slot) in index.roles else 1,
        )
        # Data bricks scan from the emptiest device, arbiter bricks from the fullest; the scan
        # stops once nothing further down the order can beat the best found.
        order = index.by_free_ascending() if slot.arbiter else index.by_free()
        for candidate in order:
            if best is not None and explain is None and best[0][:2] == top:
                if slot.arbiter:
                    if candidate.free - book.most_reserved > best[0][2]:
                        break
                elif (-candidate.free, candidate.device_id) > (best[0][2], best[0][3]):
                    break
            rejected = _rejection(candidate, current, slot, filters, book, excluded)
            if rejected is not None:
                if explain is not None:
                    explain.skip(candidate, *rejected)
                continue
            # Data bricks go to the emptiest device (balance). An arbiter brick is tiny: it
            # takes the fullest device that still has room, leaving roomy ones for data.
            free = book.free(candidate)
            key = (
                1 if candidate.zone in current.zones else 0,
                _role_rank(candidate, slot, request),
                free if slot.arbiter else -free,
                candidate.device_id,
            )
            if best is None or key < best[0]:
                best = (key, candidate)
        if best is None:
            raise NoSpace(diagnose(request, index.by_free(), slot, current, book))
        key, chosen = best
        if explain is not None:
            explain.forget(chosen.device_id)
        space = book.need(chosen, slot)
        book.take(chosen, space)
        current.take(chosen, slot.set_index, slot.position)
        if slot.arbiter:
            reason = f"least free space with room for the arbiter brick ({_gib(key[2])} GiB)"
        else:
            reason = f"most free space ({_gib(-key[2])} GiB)"
        reason += " in a zone the set does not use yet" if key[0] == 0 else " (every zone in use)"
        if request.arbiter:
            reason += ", dedicated to this role" if key[1] == 0 else ""
        return PlacedBrick(
            chosen.device_id,
            chosen.node_id,
            slot.set_index,
            slot.position,
            space,
            slot.arbiter,
            reason,
        )


def _checked_plan(
    request: PlacementRequest, found: dict[tuple[int, int], Candidate]
) -> list[PlacedBrick] | None:
    """The search's plan as placed bricks, every brick checked again with the placers' own
    filters and space book: a plan they refuse is not returned (it would be a bug in the
    search, and the property tests would see the resulting wrong `No space`)."""
    book = SpaceBook(request)
    filters = filters_for(request)
    placed: list[PlacedBrick] = []
    for set_index in range(request.sets):
        current = SetInProgress()
        for position in range(request.bricks_per_set):
            slot = Position(set_index, position, request.arbiter and position == ARBITER_POSITION)
            chosen = found.get((set_index, position))
            if chosen is None or _rejection(chosen, current, slot, filters, book, ""):
                return None
            space = book.need(chosen, slot)
            book.take(chosen, space)
            current.take(chosen, set_index, position)
            placed.append(
                PlacedBrick(
                    chosen.device_id,
                    chosen.node_id,
                    set_index,
                    position,
                    space,
                    slot.arbiter,
                    COMPLETE_SEARCH,
                )
            )
    return placed


class HeketiRingPlacer:
    """Heketi's simple allocator: devices interleaved by zone then node, the ring rotated to a
    random start for each set, first fit walking it once per set (internals §2.4)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def ring(self, candidates: Iterable[Candidate]) -> list[Candidate]:
        zones: dict[int, dict[str, list[Candidate]]] = {}
        for c in candidates:
            zones.setdefault(c.zone, {}).setdefault(c.node_id, []).append(c)
        zone_list = [list(nodes.values()) for nodes in zones.values()]
        self.rng.shuffle(zone_list)
        for nodes in zone_list:
            self.rng.shuffle(nodes)
        ring: list[Candidate] = []
        i = 0
        while zone_list:
            nodes = zone_list[i % len(zone_list)]
            devices = nodes[i % len(nodes)]
            ring.append(devices.pop())
            if not devices:
                nodes.remove(devices)
            if not nodes:
                zone_list.remove(nodes)
            i += 1
        return ring

    @staticmethod
    def _feeds(rotated: list[Candidate], arbiter: bool) -> dict[bool, Iterator[Candidate]]:
        """One walk along the ring per set; for arbiter volumes one per role, as Heketi: the
        arbiter feed is the arbiter-only devices then the shared ones, the data feed the
        data-only devices then the shared ones (dedicated devices first)."""
        if not arbiter:
            walk = iter(rotated)
            return {False: walk, True: walk}

        def feed(dedicated: ArbiterRole) -> Iterator[Candidate]:
            first = [c for c in rotated if c.arbiter_role is dedicated]
            return iter(first + [c for c in rotated if c.arbiter_role is ArbiterRole.ANY])

        return {True: feed(ArbiterRole.ARBITER_ONLY), False: feed(ArbiterRole.DATA_ONLY)}

    def place(
        self, request: PlacementRequest, index: DeviceIndex, explain: Explanation | None = None
    ) -> list[PlacedBrick]:
        book = SpaceBook(request)
        filters = filters_for(request)
        ring = self.ring(index.all())
        placed: list[PlacedBrick] = []
        for set_index in range(request.sets):
            start = self.rng.randrange(len(ring)) if ring else 0
            rotated = ring[start:] + ring[:start]
            feeds = self._feeds(rotated, request.arbiter)
            current = SetInProgress()
            for position in request.fill_order():
                slot = Position(
                    set_index, position, request.arbiter and position == ARBITER_POSITION
                )
                for candidate in feeds[slot.arbiter]:
                    rejected = _rejection(candidate, current, slot, filters, book, "")
                    if rejected is None:
                        space = book.need(candidate, slot)
                        book.take(candidate, space)
                        current.take(candidate, set_index, position)
                        placed.append(
                            PlacedBrick(
                                candidate.device_id,
                                candidate.node_id,
                                set_index,
                                position,
                                space,
                                slot.arbiter,
                                "first fit along the ring (Heketi placement)",
                            )
                        )
                        break
                    if explain is not None:
                        explain.skip(candidate, *rejected)
                else:
                    raise NoSpace(diagnose(request, index.by_free(), slot, current, book))
        placed.sort(key=lambda p: (p.set_index, p.position))
        return placed


def plan_bricks(
    request: PlacementRequest,
    candidates: DeviceIndex | Sequence[Candidate],
    placer: Placer | None = None,
    explain: Explanation | None = None,
) -> list[PlacedBrick]:
    """Place request.sets x request.bricks_per_set bricks, or raise NoSpace with the reason."""
    index = candidates if isinstance(candidates, DeviceIndex) else DeviceIndex(candidates)
    return (placer or BalancedPlacer()).place(request, index, explain)


def plan_replacement(
    request: PlacementRequest,
    candidates: DeviceIndex | Sequence[Candidate],
    others: SetInProgress,
    slot: Position,
    old_device: str,
) -> PlacedBrick:
    """One brick to replace another of a set: same rules as create, never on the old device
    nor on a node (or, with strict zones, a zone) used by the set's other bricks."""
    index = candidates if isinstance(candidates, DeviceIndex) else DeviceIndex(candidates)
    book = SpaceBook(request)
    return BalancedPlacer().choose(
        request, index, others, slot, book, filters_for(request), excluded=old_device
    )
