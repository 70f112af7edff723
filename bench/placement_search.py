"""Complete placement benchmark (issue #14): the balanced placer's exact search at 1,000 nodes
x 10 devices, pure domain code (no server, no database).

Cases, each on a cluster of 1,000 nodes x 10 devices in 3 zones (`--quick`: 100 nodes):

  a. the fast path: plenty of room, the greedy pass places. `BalancedPlacer.greedy` alone
     against `BalancedPlacer.place` (what `plan_bricks` and a create run), so the cost of the
     search's wiring on the fast path shows without checking out older code;
  b. the greedy pass fails and a placement exists, found by the search (a nearly full cluster
     with a trap of GREEDY_TRAP's shape: 8 replica-3 sets of 100 GiB; and an arbiter trap:
     10 arbiter sets whose dedicated arbiter device sits on a node the data bricks need);
  c. no placement exists, proven (the same clusters one device short);
  d. heavy instances for the search: replica 3 where every device is usable, and arbiter
     volumes on devices that differ, each holding one or two data bricks or a few arbiters
     (10 sets): time to decide, then the same with a time limit below that, which answers
     with the reason it gave up.

    .venv/bin/python bench/placement_search.py            # about 30 s
    .venv/bin/python bench/placement_search.py --quick    # 100 nodes x 10 devices, a few s
    .venv/bin/python bench/placement_search.py --json-out results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from create import code_version, cpu_model

from brickyard.domain.errors import NoSpace
from brickyard.domain.placement import (
    ARBITER_POSITION,
    BalancedPlacer,
    Candidate,
    DeviceIndex,
    PlacementRequest,
)
from brickyard.domain.placement.search import SearchGaveUp, complete_placement
from brickyard.domain.sizing import arbiter_brick_size, brick_space
from brickyard.domain.units import GIB

DEVICES_PER_NODE = 10
ROOMY = 500 * GIB
BIG_BRICK = 100 * GIB


@dataclass
class Row:
    case: str
    what: str
    ms: float
    outcome: str


def cluster(
    nodes: int, free: Callable[[int, int], int], tags: Callable[[int, int], dict[str, str]]
) -> list[Candidate]:
    return [
        Candidate(
            f"n{n:04}d{d}",
            f"n{n:04}",
            n % 3 + 1,
            free(n, d),
            4096,
            tags(n, d),
            f"/dev/sd{chr(ord('b') + d)}",
            f"10.0.{n // 256}.{n % 256}",
        )
        for n in range(nodes)
        for d in range(DEVICES_PER_NODE)
    ]


def no_tags(_n: int, _d: int) -> dict[str, str]:
    return {}


def timed(call: Callable[[], object], budget: float, most: int) -> tuple[float, str]:
    """Mean ms per call over up to `most` calls or `budget` seconds, and the last outcome."""
    outcome, count, start = "", 0, time.perf_counter()
    while count < most and (count == 0 or time.perf_counter() - start < budget):
        try:
            result = call()
            outcome = "placed" if result is not None else "none (proven)"
        except NoSpace as exc:
            outcome = f"No space: {exc.detail}"
        except SearchGaveUp as exc:
            outcome = str(exc)
        count += 1
    return (time.perf_counter() - start) * 1000 / count, outcome


def fast_path(nodes: int, budget: float) -> list[Row]:
    devices = cluster(nodes, lambda n, d: ROOMY - (n * 7 + d) % 97 * GIB, no_tags)
    index = DeviceIndex(devices)
    placer = BalancedPlacer()
    rows = []
    for label, request in [
        ("replica 3, 1 set of 1 GiB", PlacementRequest(1, 3, GIB)),
        ("replica 3, 8 sets of 10 GiB", PlacementRequest(8, 3, 10 * GIB)),
        ("disperse 4+2, 1 set of 1 GiB", PlacementRequest(1, 6, GIB)),
        (
            "arbiter, 1 set of 1 GiB",
            PlacementRequest(
                1, 3, GIB, arbiter=True, arbiter_brick_size=arbiter_brick_size(GIB, 64)
            ),
        ),
    ]:
        greedy_ms, _ = timed(partial(placer.greedy, request, index), budget, 5000)
        place_ms, outcome = timed(partial(placer.place, request, index), budget, 5000)
        rows.append(Row("a", f"{label}: greedy alone", greedy_ms, "placed"))
        rows.append(Row("a", f"{label}: place (greedy + wiring)", place_ms, outcome))
    return rows


def replica_trap(nodes: int, shallow: int) -> list[Candidate]:
    """Full devices (half a 100 GiB brick free) but for two "deep" nodes with 8 devices of one
    brick each and `shallow` nodes with one roomier device of one brick each: 8 replica-3
    sets fit iff shallow >= 8 (each set: both deep nodes and a shallow one); the greedy pass
    spends three shallow devices per set and runs out."""
    need = brick_space(BIG_BRICK, 1.0, 4096).total

    def free(n: int, d: int) -> int:
        if n < 2 and d < 8:
            return int(1.5 * need)
        if 2 <= n < 2 + shallow and d == 0:
            return int(1.9 * need)
        return need // 2

    return cluster(nodes, free, no_tags)


ARBITER_SETS = 10


def arbiter_request(sets: int = ARBITER_SETS, brick: int = BIG_BRICK) -> PlacementRequest:
    return PlacementRequest(
        sets, 3, brick, arbiter=True, arbiter_brick_size=arbiter_brick_size(brick, 64)
    )


def arbiter_trap(nodes: int, data_room: int) -> list[Candidate]:
    """Node 0: a device dedicated to arbiters and a data-only device for 10 data bricks;
    node 1: a data-only device for `data_room` data bricks; every other device has room for
    arbiter bricks only. The greedy pass puts each arbiter on the dedicated device, on node 0,
    and then finds one node for two data bricks; the search puts the arbiters elsewhere."""
    request = arbiter_request()
    data = brick_space(request.brick_size, 1.0, 4096).total
    arbiter = brick_space(request.arbiter_brick_size, 1.0, 4096).total

    def free(n: int, d: int) -> int:
        if (n, d) == (0, 0):
            return 20 * arbiter
        if (n, d) == (0, 1):
            return ARBITER_SETS * data + 1
        if (n, d) == (1, 0):
            return data_room * data + 1
        return 3 * arbiter  # two arbiter bricks, no data brick

    def tags(n: int, d: int) -> dict[str, str]:
        if (n, d) == (0, 0):
            return {"arbiter": "required"}
        if (n, d) in ((0, 1), (1, 0)):
            return {"arbiter": "disabled"}
        return {}

    return cluster(nodes, free, tags)


def worst_arbiter(nodes: int) -> list[Candidate]:
    """Devices that differ (so few groups are alike and computed once for several): each
    shares its room between one or two data bricks and 0 to 8 arbiter bricks."""
    request = arbiter_request()
    data = brick_space(request.brick_size, 1.0, 4096).total
    arbiter = brick_space(request.arbiter_brick_size, 1.0, 4096).total

    def free(n: int, d: int) -> int:
        mix = (n * 7919 + d * 104729) % 1000
        return data * (1 + mix % 2) + (mix // 2 % 9) * arbiter + 1

    return cluster(nodes, free, no_tags)


def search_cases(nodes: int, budget: float) -> list[Row]:
    rows = []
    placer = BalancedPlacer()
    for case, label, devices, request in [
        (
            "b",
            "8 x replica 3, greedy trap",
            replica_trap(nodes, 8),
            PlacementRequest(8, 3, BIG_BRICK),
        ),
        (
            "c",
            "8 x replica 3, one shallow node short",
            replica_trap(nodes, 7),
            PlacementRequest(8, 3, BIG_BRICK),
        ),
        (
            "b",
            f"{ARBITER_SETS} x arbiter, arbiter trap",
            arbiter_trap(nodes, ARBITER_SETS),
            arbiter_request(),
        ),
        (
            "c",
            f"{ARBITER_SETS} x arbiter, one data brick short",
            arbiter_trap(nodes, ARBITER_SETS - 1),
            arbiter_request(),
        ),
    ]:
        index = DeviceIndex(devices)
        greedy_ms, greedy_outcome = timed(partial(placer.greedy, request, index), budget, 200)
        search_ms, search_outcome = timed(
            partial(complete_placement, request, index.all(), ARBITER_POSITION), budget, 200
        )
        place_ms, outcome = timed(partial(placer.place, request, index), budget, 200)
        rows.append(Row(case, f"{label}: greedy alone", greedy_ms, greedy_outcome))
        rows.append(Row(case, f"{label}: search alone", search_ms, search_outcome))
        rows.append(Row(case, f"{label}: place (greedy, then search)", place_ms, outcome))
    return rows


def give_up(nodes: int, budget: float) -> list[Row]:
    roomy = DeviceIndex(cluster(nodes, lambda n, d: ROOMY - (n * 7 + d) % 97 * GIB, no_tags))
    request = PlacementRequest(8, 3, 10 * GIB)
    ms, outcome = timed(
        partial(complete_placement, request, roomy.all(), ARBITER_POSITION), budget, 50
    )
    rows = [Row("d", "8 x replica 3, every device usable: search alone", ms, outcome)]
    devices = worst_arbiter(nodes)
    index = DeviceIndex(devices)
    for strict in (False, True):
        request = replace(arbiter_request(), strict_zones=strict)
        label = f"{ARBITER_SETS} x arbiter, devices that differ{', strict zones' if strict else ''}"
        ms, outcome = timed(
            partial(complete_placement, request, index.all(), ARBITER_POSITION), budget, 20
        )
        rows.append(Row("d", f"{label}: search, default limit (2 s)", ms, outcome))
        limit = ms / 1000 / 2
        ms, outcome = timed(
            partial(complete_placement, request, index.all(), ARBITER_POSITION, limit),
            budget,
            20,
        )
        rows.append(Row("d", f"{label}: search, limit {limit * 1000:.0f} ms", ms, outcome))
    trap = DeviceIndex(arbiter_trap(nodes, ARBITER_SETS))
    ms, outcome = timed(lambda: BalancedPlacer(0.001).place(arbiter_request(), trap), budget, 20)
    rows.append(Row("d", f"{ARBITER_SETS} x arbiter trap: place, limit 1 ms", ms, outcome))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 nodes x 10 devices")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    nodes = 100 if args.quick else 1000
    print(
        f"{nodes} nodes x {DEVICES_PER_NODE} devices; {cpu_model()}, "
        f"Python {platform.python_version()}"
    )
    rows = (
        fast_path(nodes, args.budget)
        + search_cases(nodes, args.budget)
        + give_up(nodes, args.budget)
    )
    width = max(len(r.what) for r in rows)
    print(f"\n| case | {'what':<{width}} | ms per call | outcome |")
    print(f"|---|{'-' * (width + 2)}|---:|---|")
    for r in rows:
        print(f"| {r.case} | {r.what:<{width}} | {r.ms:.3f} | {r.outcome[:110]} |")
    print("\nWhole answers of the rows that gave up:")
    for r in rows:
        if "gave up" in r.outcome:
            print(f"  {r.what}: {r.outcome}")
    if args.json_out:
        report: dict[str, Any] = {
            "nodes": nodes,
            "devices_per_node": DEVICES_PER_NODE,
            "version": code_version(),
            "rows": [r.__dict__ for r in rows],
        }
        args.json_out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
