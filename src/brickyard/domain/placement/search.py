"""The complete placement search: when the balanced placer's greedy pass finds no placement,
decide exactly whether one exists among the same candidate devices, and build it if so.

The search does not try assignments one by one. It counts, per *group* of devices whose bricks
may not share a set (a node; with strict zones a zone, since a node has one zone and distinct
zones imply distinct nodes), how many bricks of each kind the group can hold, and reduces the
question to counting conditions that are exact:

* A set of `k` bricks takes at most one brick from a group, so over `S` sets a group holds at
  most `S` bricks. Sets exist iff groups can be given brick counts with, per group,
  data + arbiter <= S (and what its devices can hold), summing to (k - a)·S data and a·S
  arbiter bricks (a = 1 for arbiter volumes, else 0). Necessary: obvious. Sufficient by
  König's edge colouring theorem: make a bipartite multigraph with the groups on one side and
  the k positions on the other, a group joined to the arbiter position by its arbiter count
  and to the data positions by its data count spread so each position gets S edges. Every
  degree is at most S, so S colours colour the edges properly; colour c is set c: each
  position gets exactly one brick of it, and no group appears twice in it. `_assign` and
  `_edge_colouring` build that colouring.
* Bricks of one size (replicate, disperse, distribute): a device with `free` KiB takes `j`
  bricks of need `n` iff free > j·n, so (free - 1) // n of them. A group can thus hold
  min(Σ its devices, S) bricks, and the sets fit iff those numbers sum to at least k·S:
  O(devices log devices).
* Arbiter volumes have two brick sizes, and devices tagged `supported` (or untagged) share
  their space between both. Per group, a small dynamic programme over its devices gives, for
  each data count x <= S, the most arbiter bricks it can hold beside them (its *frontier*);
  a second one over the groups finds counts reaching (k - 1)·S data and S arbiter bricks. The
  cost is O(devices · S² + groups · k·S²), with S <= 32 / 3 sets under the default brick limit.

So the answer is exact: a placement if one exists, None only if none does. The search still
keeps a deadline (`seconds`), checked as it goes through devices and groups: past it, it raises
`SearchGaveUp` saying how long it ran and how far it got, and the placer answers `No space`
without claiming a proof. At 1,000 nodes x 10 devices it decides in 4-62 ms (docs/performance.md,
"Complete placement"); the deadline guards against clusters and brick counts far beyond that.
"""

from __future__ import annotations

import heapq
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..sizing import brick_space
from .candidates import ArbiterRole, Candidate

if TYPE_CHECKING:
    from .planner import PlacementRequest

DEFAULT_SEARCH_SECONDS = 2.0
CHECK_EVERY = 256  # devices sized between two looks at the clock

Slot = tuple[int, int]  # (set index, position)


class SearchGaveUp(Exception):
    """The deadline passed before the search could decide."""

    def __init__(self, elapsed: float, explored: str) -> None:
        took = f"{elapsed:.2f} s" if elapsed >= 1 else f"{elapsed * 1000:.0f} ms"
        super().__init__(f"gave up after {took}, having {explored}")
        self.elapsed = elapsed
        self.explored = explored


class _Clock:
    def __init__(self, seconds: float, groups: str) -> None:
        self.groups = groups  # what a group is, for the message: "nodes" or "zones"
        self.start = time.monotonic()
        self.deadline = self.start + seconds

    def check(self, explored: str, done: int, total: int) -> None:
        """Raise SearchGaveUp once past the deadline, saying how far it got: `explored` is a
        template for (done, total, what a group is), only filled in then."""
        now = time.monotonic()
        if now >= self.deadline:
            raise SearchGaveUp(now - self.start, explored.format(done, total, self.groups))


def _fits(free: int, need: int, limit: int) -> int:
    """Bricks of `need` KiB a device with `free` KiB takes, at most `limit`: Heketi wants
    strictly more free space than each brick needs, so j bricks fit iff free > j * need."""
    if free <= 0:
        return 0
    if need <= 0:
        return limit
    return min((free - 1) // need, limit)


@dataclass(slots=True)
class _Device:
    """A usable device and what it holds: `arbiters[x]` arbiter bricks beside x data bricks,
    for x up to its data capacity (all counts at most the set count: no group, so no device,
    takes more bricks of a kind)."""

    candidate: Candidate
    data_need: int
    arbiters: tuple[int, ...]

    @property
    def free(self) -> int:
        return self.candidate.free

    @property
    def data_cap(self) -> int:
        return len(self.arbiters) - 1


def _device(c: Candidate, data_need: int | None, arbiter_need: int | None, sets: int) -> _Device:
    """`None` for a brick kind the device may not take (tag, role, or no arbiter position)."""
    if data_need is None:
        return _Device(c, 0, (0 if arbiter_need is None else _fits(c.free, arbiter_need, sets),))
    data_cap = _fits(c.free, data_need, sets)
    if arbiter_need is None:
        return _Device(c, data_need, (0,) * (data_cap + 1))
    arbiters = tuple(_fits(c.free - x * data_need, arbiter_need, sets) for x in range(data_cap + 1))
    return _Device(c, data_need, arbiters)


@dataclass
class _Group:
    """Devices whose bricks may not share a set: a node, or with strict zones a zone."""

    key: str
    devices: list[_Device] = field(default_factory=list)

    @property
    def room(self) -> int:
        """Free space of the devices that can take a brick: the roomiest groups go first."""
        return sum(d.free for d in self.devices)


@dataclass
class _Share:
    """What one group holds: the device of each of its data and arbiter bricks."""

    data: list[Candidate] = field(default_factory=list)
    arbiter: list[Candidate] = field(default_factory=list)


def complete_placement(
    request: PlacementRequest,
    candidates: Iterable[Candidate],
    arbiter_position: int,
    seconds: float = DEFAULT_SEARCH_SECONDS,
) -> dict[Slot, Candidate] | None:
    """A device for every (set, position) obeying the placement rules, or None if there is no
    such placement. Raises SearchGaveUp past `seconds`."""
    clock = _Clock(seconds, "zones" if request.strict_zones else "nodes")
    sets, per_set = request.sets, request.bricks_per_set
    if sets <= 0 or per_set <= 0:
        return {}
    arbiter_row = arbiter_position if request.arbiter and per_set > arbiter_position else None
    groups = _groups(request, list(candidates), arbiter_row is not None, clock)
    if arbiter_row is None:
        shares = _uniform_shares(groups, sets, per_set)
    else:
        shares = _arbiter_shares(groups, sets, per_set - 1, clock)
    if shares is None:
        return None
    return _assign(shares, sets, per_set, arbiter_row)


# ----------------------------------------------------------------------------------------------
# Devices and groups


def _groups(
    request: PlacementRequest, candidates: list[Candidate], arbiter: bool, clock: _Clock
) -> list[_Group]:
    """The usable devices (tags, roles, room for a brick) by group. This scan of every device
    is most of the search's cost, so it does as little as it can per device."""
    needs: dict[int, tuple[int, int]] = {}  # extent size -> (data need, arbiter need)
    by_key: dict[str, _Group] = {}
    zone_of: dict[str, int] = {}
    for i, c in enumerate(candidates):
        if i % CHECK_EVERY == 0:
            clock.check("sized {} of {} devices", i, len(candidates))
        if request.tag_rule is not None and not request.tag_rule.matches(c.tags):
            continue
        if request.strict_zones and zone_of.setdefault(c.node_id, c.zone) != c.zone:
            # Grouping by zone relies on a node having one zone; a candidate list that breaks
            # this cannot be decided here, and is never built from a real topology.
            raise SearchGaveUp(time.monotonic() - clock.start, f"met node {c.node_id} in 2 zones")
        if c.extent_size not in needs:
            needs[c.extent_size] = _needs(request, c.extent_size, arbiter)
        data_need, arbiter_need = needs[c.extent_size]
        role = c.arbiter_role if request.arbiter else ArbiterRole.ANY
        data_ok = role is not ArbiterRole.ARBITER_ONLY
        arbiter_ok = arbiter and role is not ArbiterRole.DATA_ONLY
        if c.free <= min(data_need if data_ok else c.free, arbiter_need if arbiter_ok else c.free):
            continue  # no room for any brick it may take (a full cluster: most devices)
        device = _device(
            c, data_need if data_ok else None, arbiter_need if arbiter_ok else None, request.sets
        )
        key = f"zone {c.zone}" if request.strict_zones else c.node_id
        group = by_key.get(key)
        if group is None:
            group = by_key[key] = _Group(key)
        group.devices.append(device)
    return list(by_key.values())


def _needs(request: PlacementRequest, extent_size: int, arbiter: bool) -> tuple[int, int]:
    """What a data and an arbiter brick take on a device with this extent size."""
    data = brick_space(request.brick_size, request.snapshot_factor, extent_size).total
    if not arbiter:
        return data, 0
    return data, brick_space(request.arbiter_brick_size, request.snapshot_factor, extent_size).total


def _spread(share: _Share, devices: list[_Device], count: int) -> None:
    """`count` data bricks over the group's devices, each to the one with the most free space
    left (the balanced placer's preference); the caller knows they fit."""
    heap = [(-d.free, i, 0) for i, d in enumerate(devices) if d.data_cap > 0]
    heapq.heapify(heap)
    for _ in range(count):
        free, i, taken = heapq.heappop(heap)
        share.data.append(devices[i].candidate)
        if taken + 1 < devices[i].data_cap:
            heapq.heappush(heap, (free + devices[i].data_need, i, taken + 1))


# ----------------------------------------------------------------------------------------------
# Bricks of one size


def _uniform_shares(groups: list[_Group], sets: int, per_set: int) -> dict[str, _Share] | None:
    """Per group min(bricks its devices hold, sets); enough iff they sum to per_set x sets.
    The groups with the most room give theirs first."""
    caps = {g.key: min(sum(d.data_cap for d in g.devices), sets) for g in groups}
    wanted = sets * per_set
    if sum(caps.values()) < wanted:
        return None
    shares: dict[str, _Share] = {}
    for group in sorted(groups, key=lambda g: (-caps[g.key], -g.room, g.key)):
        count = min(caps[group.key], wanted)
        if count:
            shares[group.key] = share = _Share()
            _spread(share, group.devices, count)
            wanted -= count
        if not wanted:
            break
    return shares


# ----------------------------------------------------------------------------------------------
# Arbiter volumes: data and arbiter bricks


Layers = list[list[int]]  # layers[i][x]: most arbiter bricks with x data bricks on devices < i


def _layers(devices: list[_Device], sets: int) -> Layers:
    """For each prefix of the devices and each data count x <= sets, the most arbiter bricks
    (at most sets - x: a group gives a set one brick) they hold beside x data bricks, -1 when
    they cannot hold x. Stops early once every split of `sets` bricks is possible."""
    layer = [0] + [-1] * sets
    layers = [layer]
    for device in devices:
        layer = _add_device(layer, device, sets)
        layers.append(layer)
        if all(layer[x] == sets - x for x in range(sets + 1)):
            break
    return layers


def _add_device(layer: list[int], device: _Device, sets: int) -> list[int]:
    """The next layer. A device taking one kind of brick only costs O(sets): a layer is
    non-increasing over the data counts it reaches (one data brick fewer never hurts), so the
    best of a window is its first entry."""
    reach = max(x for x, arbiters in enumerate(layer) if arbiters >= 0)
    cap = device.data_cap
    if cap == 0:  # arbiter bricks only
        return [-1 if a < 0 else min(a + device.arbiters[0], sets - x) for x, a in enumerate(layer)]
    if not any(device.arbiters):  # data bricks only
        return [
            min(layer[max(0, x - cap)], sets - x) if max(0, x - cap) <= reach else -1
            for x in range(sets + 1)
        ]
    nxt = [-1] * (sets + 1)
    for x in range(reach + 1):
        for extra in range(min(cap, sets - x) + 1):
            value = min(layer[x] + device.arbiters[extra], sets - x - extra)
            nxt[x + extra] = max(nxt[x + extra], value)
    return nxt


def _frontier(layers: Layers) -> tuple[int, ...]:
    """The group's (data count -> most arbiter bricks), cut where data no longer fits."""
    last = layers[-1]
    return tuple(last[: last.index(-1)] if -1 in last else last)


def _arbiter_shares(
    groups: list[_Group], sets: int, data_rows: int, clock: _Clock
) -> dict[str, _Share] | None:
    fronts: dict[str, tuple[int, ...]] = {}
    # A group's frontier depends only on what its devices hold, so equal groups (common: a
    # cluster is built of alike nodes) are computed once.
    memo: dict[tuple[tuple[int, ...], ...], tuple[int, ...]] = {}
    for i, group in enumerate(groups):
        clock.check("weighed {} of {} {}", i, len(groups))
        group.devices.sort(key=lambda d: (-d.free, d.candidate.device_id))
        signature = tuple(sorted(d.arbiters for d in group.devices))
        if signature not in memo:
            memo[signature] = _frontier(_layers(group.devices, sets))
        fronts[group.key] = memo[signature]
    counts = _counts(groups, fronts, sets, data_rows, clock)
    if counts is None:
        return None
    by_key = {g.key: g for g in groups}
    return {key: _split(by_key[key].devices, x, y, sets) for key, (x, y) in counts.items()}


def _useful(groups: list[_Group], fronts: dict[str, tuple[int, ...]], most: int) -> list[_Group]:
    """Groups ordered richest (most bricks) then roomiest first, keeping at most `most` groups
    of one frontier: a plan of `most` bricks uses no more, and equal groups are
    interchangeable."""
    order = sorted(
        groups,
        key=lambda g: (-max(x + y for x, y in enumerate(fronts[g.key])), -g.room, g.key),
    )
    seen: dict[tuple[int, ...], int] = defaultdict(int)
    kept = []
    for group in order:
        seen[fronts[group.key]] += 1
        if seen[fronts[group.key]] <= most and fronts[group.key] != (0,):
            kept.append(group)
    return kept


def _counts(
    groups: list[_Group],
    fronts: dict[str, tuple[int, ...]],
    sets: int,
    data_rows: int,
    clock: _Clock,
) -> dict[str, tuple[int, int]] | None:
    """(data, arbiter) bricks per group, summing to data_rows x sets and sets, or None.

    Knapsack over the groups: best[X] is the most arbiter bricks (capped at `sets`) the groups
    so far hold with X data bricks (capped at the total wanted); both caps are safe because a
    group holding (x, y) also holds anything smaller."""
    data_total = data_rows * sets
    if sum(f[0] for f in fronts.values()) < sets or sum(len(f) - 1 for f in fronts.values()) < (
        data_total
    ):
        return None  # not enough arbiter, or data, room in the whole cluster
    order = _useful(groups, fronts, data_total + sets)
    best = [0] + [-1] * data_total
    steps: list[list[tuple[int, int]]] = []  # per group, per X: (previous X, x taken)
    for i, group in enumerate(order):
        clock.check("combined {} of {} {}", i, len(order))
        front = fronts[group.key]
        nxt, step = [-1] * (data_total + 1), [(0, 0)] * (data_total + 1)
        for X, arbiters in enumerate(best):
            if arbiters < 0:
                continue
            for x, y in enumerate(front):
                to = min(X + x, data_total)
                if min(arbiters + y, sets) > nxt[to]:
                    nxt[to], step[to] = min(arbiters + y, sets), (X, x)
        best = nxt
        steps.append(step)
        if best[data_total] >= sets:
            return _trim(order, fronts, steps, data_total, sets)
    return None


def _trim(
    order: list[_Group],
    fronts: dict[str, tuple[int, ...]],
    steps: list[list[tuple[int, int]]],
    data_total: int,
    sets: int,
) -> dict[str, tuple[int, int]]:
    """Walk the knapsack back, then take off what exceeds the totals (smaller counts still
    fit a group)."""
    counts: dict[str, tuple[int, int]] = {}
    X = data_total
    for i in range(len(steps) - 1, -1, -1):
        X, x = steps[i][X]
        key = order[i].key
        counts[key] = (x, fronts[key][x])
    data_over = sum(x for x, _ in counts.values()) - data_total
    arbiter_over = sum(y for _, y in counts.values()) - sets
    for key, (x, y) in counts.items():
        cut_x, cut_y = min(x, data_over), min(y, arbiter_over)
        data_over, arbiter_over = data_over - cut_x, arbiter_over - cut_y
        counts[key] = (x - cut_x, y - cut_y)
    return {key: xy for key, xy in counts.items() if xy != (0, 0)}


def _split(devices: list[_Device], data: int, arbiters: int, sets: int) -> _Share:
    """Which devices of a group take its `data` and `arbiters` bricks: the dynamic programme
    of `_layers` walked back from (data), then the arbiter bricks to dedicated devices first
    and, as the balanced placer does, the fullest that still has room."""
    layers = _layers(devices, sets)
    share = _Share()
    per_device = [0] * len(devices)
    x = data
    for i in range(len(layers) - 1, 0, -1):
        device, before = devices[i - 1], layers[i - 1]
        for extra in range(min(device.data_cap, x) + 1):
            if before[x - extra] < 0:
                continue
            value = min(before[x - extra] + device.arbiters[extra], sets - x)
            if value == layers[i][x]:
                per_device[i - 1], x = extra, x - extra
                break
    for device, count in zip(devices, per_device, strict=True):
        share.data.extend([device.candidate] * count)
    rooms = sorted(
        (
            (d.candidate.arbiter_role is not ArbiterRole.ARBITER_ONLY, d.free, i)
            for i, d in enumerate(devices)
        ),
    )
    for _, _, i in rooms:
        take = min(devices[i].arbiters[per_device[i]], arbiters - len(share.arbiter))
        share.arbiter.extend([devices[i].candidate] * take)
    return share


# ----------------------------------------------------------------------------------------------
# From counts to sets


def _assign(
    shares: dict[str, _Share], sets: int, per_set: int, arbiter_row: int | None
) -> dict[Slot, Candidate]:
    """Put each group's bricks in distinct sets: the arbiter position takes the arbiter
    bricks, the data positions the data bricks filled position after position; the König
    colouring (module docstring) then picks each brick's set."""
    rows: list[list[str]] = [[] for _ in range(per_set)]
    data_rows = [r for r in range(per_set) if r != arbiter_row]
    filling = 0
    for key, share in shares.items():
        if arbiter_row is not None:
            rows[arbiter_row].extend([key] * len(share.arbiter))
        for _ in share.data:
            rows[data_rows[filling // sets]].append(key)
            filling += 1
    edges = [(key, r) for r, row in enumerate(rows) for key in row]
    colours = _edge_colouring(edges, sets)
    plan: dict[Slot, Candidate] = {}
    for (key, r), colour in zip(edges, colours, strict=True):
        pool = shares[key].arbiter if r == arbiter_row else shares[key].data
        plan[(colour, r)] = pool.pop()
    return plan


Vertex = tuple[str, str]  # ("g", group key) or ("p", position)


class _Colouring:
    """A proper edge colouring of a bipartite multigraph (groups, positions) whose degrees are
    at most `colours` (König), built by alternating paths: for a new edge take a colour a free
    at one end and b free at the other; if a is taken at the other end, swap a and b along the
    a/b path from there. That path cannot reach the first end (in a bipartite graph it would
    arrive there by an a edge, and a is free there), so afterwards a is free at both ends."""

    def __init__(self, colours: int) -> None:
        self.colours = colours
        self.ends: list[tuple[Vertex, Vertex]] = []
        self.colour: list[int] = []
        self.at: dict[Vertex, dict[int, int]] = defaultdict(dict)  # vertex -> colour -> edge

    def add(self, u: Vertex, v: Vertex) -> None:
        """Colour a new edge u-v (its colour lands in `colour`)."""
        a = self._free(u)
        b = self._free(v)
        if a in self.at[v]:
            self._swap(v, a, b)
        self.ends.append((u, v))
        self.colour.append(a)
        self.at[u][a] = self.at[v][a] = len(self.ends) - 1

    def _free(self, vertex: Vertex) -> int:
        return next(c for c in range(self.colours) if c not in self.at[vertex])

    def _swap(self, start: Vertex, a: int, b: int) -> None:
        path, vertex, c = [], start, a
        while c in self.at[vertex]:
            edge = self.at[vertex][c]
            path.append(edge)
            first, second = self.ends[edge]
            vertex, c = (second if vertex == first else first), (b if c == a else a)
        for edge in path:
            for end in self.ends[edge]:
                del self.at[end][self.colour[edge]]
        for edge in path:
            self.colour[edge] = b if self.colour[edge] == a else a
            for end in self.ends[edge]:
                self.at[end][self.colour[edge]] = edge


def _edge_colouring(edges: list[tuple[str, int]], colours: int) -> list[int]:
    """The colour (set) of each (group, position) edge; no two edges at a vertex share one."""
    colouring = _Colouring(colours)
    for key, position in edges:
        colouring.add(("g", key), ("p", str(position)))
    return colouring.colour
