"""Placement benchmark: create latency at 1,000 nodes x 10 devices as the volume count grows.

Workload (from the issue "Placement must not slow down as the system grows"): for each level of
1k, 10k and 100k existing volumes, a fresh server built in-process on the simulator (mock
executor, SQLite in a temporary directory, no volume limit), a topology of 1,000 nodes x 10
devices (500 GiB each) in 3 zones loaded through the services, the existing volumes seeded,
then N real replica-3 1 GiB creates through the service path (check_create + begin_create,
then the job), timed server side, without HTTP. At 1k and 10k the same creates are also timed
with Heketi's ring placer (`HeketiRingPlacer`, which rebuilds its ring on every placement).

The existing volumes are seeded in bulk through the store (volumes, bricks on 3 different
nodes, device space) in large transactions, in the layout the balanced placer itself leaves
on a uniform cluster (every device holds k or k+1 bricks, every set spans 3 zones), and are
checked with `db check`'s consistency checks. A fresh server per level makes each level start
from exactly that layout, whatever the previous level measured: the balanced placer's cost
depends on how many devices share the most free space ("tied"), which the report shows.

    .venv/bin/python bench/placement.py             # full run, about 2-3 minutes
    .venv/bin/python bench/placement.py --quick     # smoke test: 100 nodes x 4 devices, < 30 s
    .venv/bin/python bench/placement.py --json-out results.json --profile --wait-idle 30

Targets: the create at the largest level within 1.5x of the create at the first level, and
under 5 ms per replica-3 placement (the synchronous part of the create) at the largest level.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _placement_seed import REPLICA, VOLUME_GIB, Seeder, Topology, build_topology
from _server import LoadMeter, wait_until_idle
from create import code_version, cpu_model, summary_ms

from brickyard.bootstrap import Server, build_server
from brickyard.config import load_settings
from brickyard.domain.model import Durability, DurabilityType
from brickyard.domain.placement import (
    BalancedPlacer,
    DeviceIndex,
    HeketiRingPlacer,
    PlacementRequest,
    Placer,
)
from brickyard.domain.units import GIB
from brickyard.heketidb.check import check_database
from brickyard.services.volumes import VolumeCreateRequest

TARGET_RATIO = 1.5  # largest level / first level
TARGET_PLACEMENT_MS = 5.0  # per replica-3 placement at the largest level
CHECK_BUDGET_S = 60.0  # run the db check at a level only if expected to take less
BUSY_THRESHOLD = 0.15


@dataclass(frozen=True)
class Plan:
    name: str
    nodes: int
    devices: int
    zones: int
    levels: tuple[int, ...]  # existing volumes before each measurement
    creates: int  # measured creates per level and placer
    place_calls: int  # direct placer calls per level (pure placement)
    place_budget_s: float  # ...or fewer if they take longer than this
    heketi_levels: tuple[int, ...]
    deadline: float  # the whole run, seconds
    settle: float = 0.0  # --wait-idle: max seconds to wait for a quiet machine before creates


FULL = Plan("full", 1000, 10, 3, (1_000, 10_000, 100_000), 200, 1000, 15.0, (1_000, 10_000), 600)
QUICK = Plan("quick", 100, 4, 3, (100, 1_000), 50, 200, 3.0, (100, 1_000), 60)


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def replica3() -> VolumeCreateRequest:
    return VolumeCreateRequest(
        size=VOLUME_GIB, durability=Durability(DurabilityType.REPLICATE, REPLICA)
    )


@contextlib.contextmanager
def placer_swapped(server: Server, placer: Placer) -> Iterator[None]:
    ctx = server.services.ctx
    previous = ctx.placer
    ctx.placer = placer
    try:
        yield
    finally:
        ctx.placer = previous


# --- measurements ----------------------------------------------------------------------------


async def measure_creates(server: Server, count: int) -> dict[str, Any]:
    """`count` creates through the service path, one after the other, as POST /volumes and its
    job would run them: validation, then placement + journal (the synchronous part), then the
    job (bricks and gluster volume on the simulator, finalize)."""
    volumes = server.services.volumes
    check, begin, sync, full = [], [], [], []
    meter = LoadMeter()
    cpu0 = time.process_time()
    for _ in range(count):
        request = replica3()
        t0 = time.perf_counter()
        volumes.check_create(request)
        t1 = time.perf_counter()
        job = volumes.begin_create(request)
        t2 = time.perf_counter()
        location = await job.run()
        t3 = time.perf_counter()
        if not location or not location.startswith("/volumes/"):
            raise BenchError(f"create ended with {location!r}")
        check.append(t1 - t0)
        begin.append(t2 - t1)
        sync.append(t2 - t0)
        full.append(t3 - t0)
    return {
        "placement": summary_ms(sync),
        "full": summary_ms(full),
        "check_create": summary_ms(check),
        "begin_create": summary_ms(begin),
        "cpu_ms_per_create": (time.process_time() - cpu0) * 1000 / count,
        "other_load_cores": meter.foreign_cores(),
    }


def measure_pure_placement(
    server: Server, cluster_id: str, placer: Placer, calls: int, budget: float
) -> dict[str, Any]:
    """The domain's cost alone: `placer.place` on the cached index of the cluster, for one
    replica-3 set of 1 GiB bricks (nothing is reserved, so every call sees the same index)."""
    ctx = server.services.ctx
    with ctx.store.read() as tx:
        index = ctx.placement.index(tx, cluster_id)
    request = PlacementRequest(1, REPLICA, VOLUME_GIB * GIB)
    seconds: list[float] = []
    deadline = time.perf_counter() + budget
    while len(seconds) < calls and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        placed = placer.place(request, index)
        seconds.append(time.perf_counter() - t0)
        if len({p.node_id for p in placed}) != REPLICA:
            raise BenchError(f"placement on {len({p.node_id for p in placed})} nodes")
    return {**summary_ms(seconds), "devices_indexed": len(index)}


def check_store(server: Server, expected_volumes: int, expected_devices: int) -> dict[str, Any]:
    """What `brickyard db check` checks (every brick's device, volume and operation exist, each
    device's used space is the sum of its bricks), plus what GET /volumes would list."""
    t0 = time.perf_counter()
    report = check_database(server.store)
    seconds = time.perf_counter() - t0
    if report["totalinconsistencies"]:
        raise BenchError(f"db check found {report['totalinconsistencies']} inconsistencies")
    t0 = time.perf_counter()
    listed = server.services.volumes.list_ids()
    list_seconds = time.perf_counter() - t0
    if len(listed) != expected_volumes:
        raise BenchError(f"{len(listed)} visible volumes, expected {expected_volumes}")
    t0 = time.perf_counter()
    view = server.services.volumes.info(listed[len(listed) // 2])
    info_seconds = time.perf_counter() - t0
    if len(view.bricks) != REPLICA or len({b.node_id for b in view.bricks}) != REPLICA:
        raise BenchError(f"volume {view.volume.id} has bricks {view.bricks}")
    counts = {k: report[k]["total"] for k in ("volumes", "bricks", "devices")}
    expected = {"volumes": expected_volumes, "bricks": REPLICA * expected_volumes}
    expected["devices"] = expected_devices
    if counts != expected or report["pendingoperations"]["total"]:
        raise BenchError(f"db check counted {counts}, expected {expected} and no operations")
    return {
        "seconds": seconds,
        "list_ids_ms": list_seconds * 1000,
        "info_ms": info_seconds * 1000,
        **counts,
    }


async def profile_creates(server: Server, count: int, top: int = 25) -> dict[str, Any]:
    """cProfile of the synchronous part (check_create + begin_create) of `count` creates, the
    jobs run unprofiled; top functions by own and by cumulative time. A profiler slows
    everything: these are not benchmark figures."""
    volumes = server.services.volumes
    profiler = cProfile.Profile()
    for _ in range(count):
        request = replica3()
        profiler.enable()
        volumes.check_create(request)
        job = volumes.begin_create(request)
        profiler.disable()
        await job.run()
    text = {}
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(key).print_stats(top)
        text[key] = out.getvalue()
    return {"creates": count, "part": "synchronous part (check_create + begin_create)", **text}


# --- the run ---------------------------------------------------------------------------------


def tied_at_top(server: Server, cluster_id: str) -> int:
    """How many devices share the most free space: the balanced placer compares all of them
    for every brick (see the analysis in docs/performance.md)."""
    ctx = server.services.ctx
    with ctx.store.read() as tx:
        index = ctx.placement.index(tx, cluster_id)
    top = index.largest_free()
    return sum(1 for c in index.all() if c.free == top)


def tie_sweep(server: Server, cluster_id: str, calls: int, budget: float) -> list[dict[str, Any]]:
    """Pure placement on copies of the real index where exactly `tied` devices share the most
    free space and every other device has less (4 MiB steps): the cost against the ties."""
    ctx = server.services.ctx
    with ctx.store.read() as tx:
        real = sorted(ctx.placement.index(tx, cluster_id).all(), key=lambda c: c.device_id)
    top = max(c.free for c in real)
    request = PlacementRequest(1, REPLICA, VOLUME_GIB * GIB)
    rows = []
    for tied in sorted({1, 10, 100, 1000, len(real) // 2, len(real)}):
        if tied > len(real):
            continue
        index = DeviceIndex(
            replace(c, free=top if i < tied else top - (1 + i - tied) * 4096)
            for i, c in enumerate(real)
        )
        placer = BalancedPlacer()
        seconds: list[float] = []
        deadline = time.perf_counter() + budget
        while len(seconds) < calls and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            placer.place(request, index)
            seconds.append(time.perf_counter() - t0)
        rows.append({"tied": tied, **summary_ms(seconds)})
    return rows


def settle(max_wait: float) -> None:
    """With --wait-idle: before measured creates, wait for other processes to calm down."""
    if max_wait > 0:
        load = wait_until_idle(max_wait, threshold=BUSY_THRESHOLD, window=1.0)
        if load > BUSY_THRESHOLD:
            log(f"      other processes still use {load:.2f} cores")


async def run(plan: Plan, profile: bool) -> dict[str, Any]:
    results: dict[str, Any] = {
        "plan": asdict(plan),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
        },
        "code": code_version(),
        "phases_s": {},
        "levels": [],
    }
    check_rate = 0.0  # seconds of db check per volume, from the last level checked
    for i, level in enumerate(plan.levels):
        last = i == len(plan.levels) - 1
        with tempfile.TemporaryDirectory(prefix="brickyard-placement-") as workdir:
            settings, _ = load_settings(
                None,
                env={
                    "HEKETI_EXECUTOR": "mock",
                    "HEKETI_DB_PATH": str(Path(workdir) / "heketi.db"),
                    "HEKETI_GLUSTER_MAX_VOLUMES_PER_CLUSTER": "-1",
                },
            )
            server = build_server(settings, disable_auth=True)
            try:
                row = await _level(server, plan, level, results["phases_s"], check_rate)
                if "seconds" in row["check"]:
                    check_rate = row["check"]["seconds"] / level
                results["levels"].append(row)
                if last:
                    log("[ties] pure placement against the number of tied devices")
                    results["tie_sweep"] = tie_sweep(
                        server, row["cluster_id"], plan.place_calls, plan.place_budget_s
                    )
                    if profile or not all(v["pass"] for v in verdicts(results)):
                        log(f"[profile] cProfile of 100 more creates at {level} volumes")
                        results["profile"] = await profile_creates(server, 100)
            finally:
                server.store.close()
                del server
                gc.collect()
    results["peak_rss_mib"] = peak_rss_mib()
    return results


async def _level(
    server: Server, plan: Plan, level: int, phases: dict[str, float], check_rate: float
) -> dict[str, Any]:
    """A fresh server: topology, `level` seeded volumes, then the measured creates."""
    log(
        f"[level {level}] topology: {plan.nodes} nodes x {plan.devices} devices, {plan.zones} zones"
    )
    topology: Topology = await build_topology(server.services, plan.nodes, plan.devices, plan.zones)
    cluster = topology.cluster_id
    phases[f"topology_{level}"] = topology.seconds
    n100 = min(100, len(topology.node_add_ms))
    row: dict[str, Any] = {
        "level": level,
        "cluster_id": cluster,
        "topology": {
            "nodes": plan.nodes,
            "devices": plan.nodes * plan.devices,
            "zones": plan.zones,
            "seconds": topology.seconds,
            "node_add_ms_first": statistics.fmean(topology.node_add_ms[:n100]),
            "node_add_ms_last": statistics.fmean(topology.node_add_ms[-n100:]),
            "device_add_ms": statistics.fmean(topology.device_add_ms),
        },
        "rss_mib": {"topology": rss_mib()},
    }
    log(f"[level {level}] seeding {level} volumes")
    stats = Seeder(server.store, topology).seed(level)
    server.services.ctx.placement.invalidate()
    phases[f"seed_{level}"] = stats.seconds
    row["seed"] = {"volumes": level, "seconds": stats.seconds, "transactions": stats.transactions}
    row["rss_mib"]["seeded"] = rss_mib()
    row["peak_rss_mib_seeded"] = peak_rss_mib()
    # db check's cost grows with the volumes: skip it where the previous level predicts more
    # than the budget.
    expected = check_rate * level
    if expected < CHECK_BUDGET_S:
        log(f"[level {level}] db check")
        row["check"] = check_store(server, level, plan.nodes * plan.devices)
        phases[f"check_{level}"] = row["check"]["seconds"]
    else:
        row["check"] = {"skipped": f"expected to take {expected:.0f} s"}
    row["peak_rss_mib_checked"] = peak_rss_mib()
    # One untimed create loads the placement index, as the first create after a start does.
    t0 = time.perf_counter()
    await measure_creates(server, 1)
    row["first_create_ms"] = (time.perf_counter() - t0) * 1000
    existing = level + 1
    row["tied_before"] = tied_at_top(server, cluster)
    settle(plan.settle)
    log(f"[level {level}] {plan.creates} replica-3 creates from {existing} volumes (balanced)")
    t0 = time.perf_counter()
    row["balanced"] = await measure_creates(server, plan.creates)
    phases[f"creates_{level}"] = time.perf_counter() - t0
    existing += plan.creates
    row["tied_after"] = tied_at_top(server, cluster)
    row["balanced"]["pure_placement"] = measure_pure_placement(
        server, cluster, BalancedPlacer(), plan.place_calls, plan.place_budget_s
    )
    if level in plan.heketi_levels:
        settle(plan.settle)
        log(f"[level {level}] {plan.creates} creates from {existing} volumes (Heketi ring placer)")
        with placer_swapped(server, HeketiRingPlacer()):
            row["heketi"] = await measure_creates(server, plan.creates)
        existing += plan.creates
        row["heketi"]["pure_placement"] = measure_pure_placement(
            server, cluster, HeketiRingPlacer(), plan.place_calls, plan.place_budget_s
        )
    row["volumes_after"] = existing
    row["rss_mib"]["end"] = rss_mib()
    row["peak_rss_mib"] = peak_rss_mib()
    return row


# --- verdicts and report ---------------------------------------------------------------------


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    levels = results["levels"]
    first, last = levels[0], levels[-1]
    rows = []
    for what in ("placement", "full"):
        ratio = last["balanced"][what]["mean"] / first["balanced"][what]["mean"]
        rows.append(
            {
                "metric": f"{what} mean at {last['level']} / at {first['level']} volumes",
                "value": ratio,
                "target": f"<= {TARGET_RATIO}",
                "pass": ratio <= TARGET_RATIO,
            }
        )
    value = last["balanced"]["placement"]["mean"]
    rows.append(
        {
            "metric": f"replica-3 placement (sync part) at {last['level']} volumes, mean (ms)",
            "value": value,
            "target": f"< {TARGET_PLACEMENT_MS}",
            "pass": value < TARGET_PLACEMENT_MS,
        }
    )
    return rows


def _table(header: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    table = [header, *body]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for i, cells in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def report(results: dict[str, Any]) -> str:
    m, plan = results["machine"], results["plan"]
    levels = results["levels"]
    first, last = levels[0], levels[-1]
    lines = [
        f"Brickyard placement benchmark ({plan['name']}): {plan['nodes']} nodes x "
        f"{plan['devices']} devices in {plan['zones']} zones, {plan['creates']} replica-3 1 GiB "
        "creates per level, in-process (service path, no HTTP), simulator, SQLite",
        f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, kernel {m['kernel']}",
        f"code: commit {results['code']['commit']}"
        + (" + uncommitted changes in src/" if results["code"]["src_modified"] else ""),
        "",
        "placement = check_create + begin_create (validation, placement, journal write);",
        "full = placement + the job (bricks and gluster volume on the simulator, finalize);",
        "pure = BalancedPlacer/HeketiRingPlacer.place on the cached index alone;",
        "tied = devices sharing the most free space, before -> after the creates. Times in ms.",
        "",
    ]
    body = []
    for row in levels:
        for placer in ("balanced", "heketi"):
            if placer not in row:
                continue
            r = row[placer]
            p, f = r["placement"], r["full"]
            base = first.get(placer)
            ratio = "-"
            if base is not None:
                ratio = (
                    f"{p['mean'] / base['placement']['mean']:.2f} / "
                    f"{f['mean'] / base['full']['mean']:.2f}"
                )
            target, verdict = "-", "-"
            if placer == "balanced" and row is last:
                target = f"<= {TARGET_RATIO}x, < {TARGET_PLACEMENT_MS:.0f} ms"
                verdict = "PASS" if all(v["pass"] for v in verdicts(results)) else "FAIL"
            tied = f"{row['tied_before']} -> {row['tied_after']}" if placer == "balanced" else ""
            body.append(
                (
                    f"{row['level']:,}",
                    placer,
                    f"{p['mean']:.2f}",
                    f"{p['median']:.2f}",
                    f"{p['p95']:.2f}",
                    f"{f['mean']:.2f}",
                    f"{f['median']:.2f}",
                    f"{f['p95']:.2f}",
                    ratio,
                    f"{r['pure_placement']['mean']:.3f}",
                    tied,
                    target,
                    verdict,
                )
            )
    header = (
        "volumes",
        "placer",
        "placement mean",
        "med",
        "p95",
        "full mean",
        "med",
        "p95",
        "ratio to first (pl / full)",
        "pure",
        "tied",
        "target",
        "result",
    )
    lines += _table(header, body)
    lines.append("")
    for v in verdicts(results):
        lines.append(
            f"{v['metric']}: {v['value']:.2f} (target {v['target']}) "
            + ("PASS" if v["pass"] else "FAIL")
        )
    lines += ["", "breakdown (ms, means): check_create, begin_create, process CPU per create"]
    for row in levels:
        for placer in ("balanced", "heketi"):
            if placer in row:
                r = row[placer]
                pure = r["pure_placement"]
                lines.append(
                    f"  {row['level']:>7,} {placer:<8}  check {r['check_create']['mean']:.3f}  "
                    f"begin {r['begin_create']['mean']:.3f}  CPU {r['cpu_ms_per_create']:.2f}  "
                    f"pure n={pure['n']} median {pure['median']:.3f}  "
                    f"other load {r['other_load_cores']:.2f} cores"
                )
    if "tie_sweep" in results:
        lines += [
            "",
            f"pure balanced placement against tied devices (copies of the {last['level']:,}-volume "
            "index, other devices 4 MiB steps lower):",
        ]
        lines += [
            f"  {t['tied']:>6,} tied: mean {t['mean']:.3f} ms, median {t['median']:.3f} ms "
            f"(n={t['n']})"
            for t in results["tie_sweep"]
        ]
    lines += [
        "",
        "phases (wall s): " + ", ".join(f"{k} {v:.2f}" for k, v in results["phases_s"].items()),
    ]
    for row in levels:
        t, seed, check = row["topology"], row["seed"], row["check"]
        text = (
            f"  {row['level']:>7,}: topology {t['seconds']:.1f} s (node add "
            f"{t['node_add_ms_first']:.2f} ms for the first 100, "
            f"{t['node_add_ms_last']:.2f} ms for the last 100; device add "
            f"{t['device_add_ms']:.2f} ms); seeded in {seed['seconds']:.2f} s "
            f"({seed['transactions']} transactions); "
        )
        if "skipped" in check:
            text += f"db check skipped ({check['skipped']})"
        else:
            text += (
                f"db check {check['seconds']:.2f} s: {check['volumes']:,} volumes, "
                f"{check['bricks']:,} bricks, 0 inconsistencies; "
                f"list {check['list_ids_ms']:.1f} ms, info {check['info_ms']:.2f} ms"
            )
        text += f"; first create {row['first_create_ms']:.1f} ms (loads the index)"
        lines.append(text)
    lines += ["", "memory (MiB): RSS after topology / seeding / end of level; peak so far"]
    for row in levels:
        rss = row["rss_mib"]
        lines.append(
            f"  {row['level']:>7,}: {rss['topology']:.0f} / {rss['seeded']:.0f} / "
            f"{rss['end']:.0f}; peak after seeding {row['peak_rss_mib_seeded']:.0f}, "
            "after db check "
            f"{row['peak_rss_mib_checked']:.0f}, at the end {row['peak_rss_mib']:.0f}"
        )
    lines.append(f"  peak RSS of the run (getrusage): {results['peak_rss_mib']:.0f} MiB")
    loads = [
        row[p]["other_load_cores"] for row in levels for p in ("balanced", "heketi") if p in row
    ]
    if max(loads) > BUSY_THRESHOLD:
        lines.append(
            f"WARNING: other processes used up to {max(loads):.2f} cores while measuring: "
            "wall-clock figures are disturbed"
        )
    if "profile" in results:
        lines += ["", f"cProfile, synchronous part of 100 creates at {last['level']:,} volumes:"]
        lines.append(results["profile"]["tottime"].strip())
        lines.append(results["profile"]["cumulative"].strip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 nodes x 4 devices, < 30 s")
    parser.add_argument("--json-out", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile 100 more creates at the largest level (done anyway if a target fails)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measured series, wait up to SECONDS for other processes to go quiet",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.wait_idle > 0:
        plan = replace(plan, settle=args.wait_idle, deadline=plan.deadline + 5 * args.wait_idle)

    def on_alarm(signum: int, frame: object) -> None:
        raise BenchError(f"benchmark exceeded its {plan.deadline:.0f} s deadline")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(plan.deadline))
    started = time.perf_counter()
    try:
        results = asyncio.run(run(plan, args.profile))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    results["run_seconds"] = time.perf_counter() - started
    results["verdicts"] = verdicts(results)
    print(report(results))
    print(f"\n(run took {results['run_seconds']:.1f} s)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
