"""Volume-create benchmark: Brickyard on the simulator against Heketi 10.4.1's reference figures.

Workload (from the performance issue): a fresh server on the simulator (mock executor), a
30 nodes x 4 devices topology in 3 zones loaded over REST, then 200 replica-3 1 GiB volumes
created through the full asynchronous protocol (202 + Location, poll /queue/<id> every 10 ms,
follow the 303), by one client and then by 8 concurrent clients; then fill to 1000 volumes,
timing each block of 100 creates and GET /volumes; RSS of the server throughout.

    .venv/bin/python bench/create.py            # full run (about 20 s on an idle machine)
    .venv/bin/python bench/create.py --quick    # smoke test, < 20 s
    .venv/bin/python bench/create.py --json-out results.json

Everything runs on loopback against throw-away servers (temp dir, SQLite DB) that are stopped
and removed at the end, also on errors. The client is raw httpx (see bench/_server.py); the
topology-load timing uses our ``heketi-cli topology load``, as an operator would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import (
    ADMIN_KEY,
    AsyncRest,
    BenchError,
    LoadMeter,
    Server,
    SyncRest,
    TopologySpec,
    count_topology,
    load_topology_rest,
    running_server,
    wait_until_idle,
)

VOLUME = {"size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}}}
POLL = 0.010  # seconds between queue polls: fixed by the issue for this benchmark


@dataclass(frozen=True)
class Plan:
    name: str
    topology: TopologySpec
    sequential: int  # phase 1: creates by one client
    concurrent: int  # phase 2: creates by `clients` clients
    clients: int
    total: int  # phase 3: fill (sequential) up to this many volumes
    block: int  # latency is reported per block of this many volumes
    list_samples: int
    cli_timeout: float
    deadline: float  # the whole run, seconds
    settle: float = 0.0  # --wait-idle: max seconds to wait for a quiet machine before a block


FULL = Plan("full", TopologySpec(30, 4, 3), 200, 200, 8, 1000, 100, 20, 180.0, 1200.0)
QUICK = Plan("quick", TopologySpec(3, 2, 3), 20, 20, 8, 60, 20, 5, 15.0, 60.0)

# Heketi 10.4.1 on this kind of machine, same workload (from the issue).
HEKETI = {
    "create_ms_first": (30.0, 50.0),
    "create_ms_1000": 120.0,
    "concurrent_200_s": 6.0,
    "topology_load_s": 46.0,
    "rss_empty_mb": 25.0,
    "rss_1000_mb": 40.0,
}
TARGET_SPEEDUP = 5.0
TARGET_FLAT = 1.2
TARGET_TOPOLOGY_S = 3.0
BUSY_THRESHOLD = 0.15  # cores used by other processes above which a run counts as disturbed


# --- statistics ------------------------------------------------------------------------------


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000.0 for s in seconds)
    if not ms:
        return {"n": 0}
    p95 = ms[min(len(ms) - 1, max(0, round(0.95 * len(ms)) - 1))]
    return {
        "n": len(ms),
        "mean": statistics.fmean(ms),
        "median": statistics.median(ms),
        "p95": p95,
        "min": ms[0],
        "max": ms[-1],
    }


def mib(kib: int) -> float:
    return kib / 1024.0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def code_version() -> dict[str, Any]:
    """The commit measured, and whether src/ had uncommitted changes (read-only git calls)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "src_modified": None}
    return {"commit": commit, "src_modified": bool(dirty)}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- phases ----------------------------------------------------------------------------------


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "heketi-cli"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "brickyard.cli.heketi_cli"]


def topology_load_cli(server: Server, spec: TopologySpec, timeout: float) -> dict[str, Any]:
    """Time `heketi-cli topology load --json=FILE` (a new process, as an operator runs it)."""
    path = server.workdir / "topology.json"
    path.write_text(json.dumps(spec.topology_json(), indent=2))
    command = [
        *cli_command(),
        "--server",
        server.url,
        "--user",
        "admin",
        "--secret",
        ADMIN_KEY,
        "topology",
        "load",
        f"--json={path}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_CLI_")}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "seconds": None, "error": f"timed out after {timeout:.0f} s"}
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        error = (done.stderr or done.stdout).strip().splitlines()
        return {
            "ok": False,
            "seconds": seconds,
            "error": f"exit {done.returncode}: {' | '.join(error[-3:])[:400]}",
        }
    with SyncRest(server.url) as rest:
        nodes, devices = count_topology(rest)
    expected = (spec.nodes, spec.nodes * spec.devices)
    if (nodes, devices) != expected:
        return {
            "ok": False,
            "seconds": seconds,
            "error": f"CLI loaded {nodes} nodes / {devices} devices, expected {expected}",
        }
    return {"ok": True, "seconds": seconds, "error": None}


def topology_load_rest(server: Server, spec: TopologySpec) -> float:
    with SyncRest(server.url, POLL) as rest:
        started = time.perf_counter()
        load_topology_rest(rest, spec)
        seconds = time.perf_counter() - started
        nodes, devices = count_topology(rest)
    if (nodes, devices) != (spec.nodes, spec.nodes * spec.devices):
        raise BenchError(f"REST load produced {nodes} nodes / {devices} devices")
    return seconds


@dataclass
class Sequential:
    latencies: list[float]
    polls: list[int]
    steps: dict[str, list[float]]  # submit / wait / fetch seconds of each create


def create_sequential(rest: SyncRest, count: int) -> Sequential:
    run = Sequential([], [], {"submit": [], "wait": [], "fetch": []})
    for _ in range(count):
        result = rest.operation("POST", "/volumes", VOLUME)
        if len(result.body.get("bricks") or []) != 3:
            raise BenchError(f"volume without 3 bricks: {result.body}")
        run.latencies.append(result.seconds)
        run.polls.append(result.polls)
        run.steps["submit"].append(result.submit)
        run.steps["wait"].append(result.wait)
        run.steps["fetch"].append(result.fetch)
    return run


def request_floor(rest: SyncRest, samples: int) -> dict[str, float]:
    """Median round trip of the cheapest requests: what every step of the protocol costs at
    least (client + HTTP server + middleware, then + JWT check)."""
    hello, authed = [], []
    cluster = rest.get("/clusters")["clusters"][0]
    for _ in range(samples):
        started = time.perf_counter()
        response = rest.http.get("/hello")
        hello.append(time.perf_counter() - started)
        _check_ok(response.status_code, "GET /hello")
        started = time.perf_counter()
        rest.get(f"/clusters/{cluster}")
        authed.append(time.perf_counter() - started)
    return {
        "hello_ms": statistics.median(hello) * 1000,
        "cluster_info_ms": statistics.median(authed) * 1000,
    }


def _check_ok(status: int, what: str) -> None:
    if status != 200:
        raise BenchError(f"{what}: status {status}")


async def _create_concurrent(
    url: str, count: int, clients: int
) -> tuple[float, list[float], list[int]]:
    per_client = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
    latencies: list[float] = []
    polls: list[int] = []
    rests = [AsyncRest(url, POLL) for _ in range(clients)]

    async def run(rest: AsyncRest, n: int) -> None:
        for _ in range(n):
            result = await rest.operation("POST", "/volumes", VOLUME)
            latencies.append(result.seconds)
            polls.append(result.polls)

    try:
        # open the connections first, so the wall time measures creates only
        await asyncio.gather(*(r.request("GET", "/clusters") for r in rests))
        started = time.perf_counter()
        await asyncio.gather(*(run(r, n) for r, n in zip(rests, per_client, strict=True)))
        wall = time.perf_counter() - started
    finally:
        await asyncio.gather(*(r.close() for r in rests), return_exceptions=True)
    return wall, latencies, polls


def time_list(rest: SyncRest, samples: int, expected: int) -> dict[str, float]:
    seconds = []
    for _ in range(samples):
        started = time.perf_counter()
        volumes = rest.get("/volumes")["volumes"]
        seconds.append(time.perf_counter() - started)
        if len(volumes) != expected:
            raise BenchError(f"GET /volumes listed {len(volumes)}, expected {expected}")
    return summary_ms(seconds)


def rss_mb(server: Server) -> dict[str, float]:
    values = server.rss()
    return {"rss": mib(values["VmRSS"]), "hwm": mib(values["VmHWM"])}


# --- the run ---------------------------------------------------------------------------------


def run(plan: Plan, server_prefix: list[str] | None = None) -> dict[str, Any]:
    spec = plan.topology
    results: dict[str, Any] = {
        "plan": {k: v for k, v in asdict(plan).items() if k != "topology"},
        "topology": {"nodes": spec.nodes, "devices_per_node": spec.devices, "zones": spec.zones},
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
        },
        "poll_interval_ms": POLL * 1000,
        "code": code_version(),
    }

    load: dict[str, float] = {}
    results["other_load_cores"] = load

    log(f"[1/6] topology load over raw REST ({spec.nodes}x{spec.devices}) on a fresh server")
    with running_server() as server:
        meter = LoadMeter(server.pid)
        results["topology_rest_s"] = topology_load_rest(server, spec)
        load["topology_rest"] = meter.foreign_cores()

    log("[2/6] topology load with heketi-cli on a fresh server")
    with running_server(wrapper=server_prefix) as server:
        results["rss_start_mb"] = rss_mb(server)
        meter = LoadMeter(server.pid)
        cli = topology_load_cli(server, spec, plan.cli_timeout)
        load["topology_cli"] = meter.foreign_cores()
        results["topology_cli"] = cli
        if not cli["ok"]:
            log(f"      heketi-cli failed ({cli['error']}); loading over REST instead")
            # a half-done CLI load may have left a cluster behind: start from a fresh server
            return _continue_on_fresh_server(plan, results, server_prefix)
        return _volumes(server, plan, results)


def _continue_on_fresh_server(
    plan: Plan, results: dict[str, Any], server_prefix: list[str] | None
) -> dict[str, Any]:
    with running_server(wrapper=server_prefix) as server:
        results["rss_start_mb"] = rss_mb(server)
        topology_load_rest(server, plan.topology)
        return _volumes(server, plan, results)


def _volumes(server: Server, plan: Plan, results: dict[str, Any]) -> dict[str, Any]:
    results["rss_empty_mb"] = rss_mb(server)
    load = results["other_load_cores"]
    blocks: list[dict[str, Any]] = []

    def block_row(latencies: list[float], mode: str, cpu_ms: float, other: float) -> None:
        first = sum(b["n"] for b in blocks) + 1
        blocks.append(
            {
                "block": (first - 1) // plan.block + 1,
                "volumes": f"{first}-{first + len(latencies) - 1}",
                "mode": mode,
                **summary_ms(latencies),
                "server_cpu_ms_per_create": cpu_ms,
                "other_load_cores": other,
            }
        )

    def sequential_block(rest: SyncRest, n: int) -> tuple[Sequential, float]:
        """n creates by one client, recorded as one block; returns them and their wall time."""
        settle(plan.settle)
        meter = LoadMeter(server.pid)
        cpu0, started = server.cpu(), time.perf_counter()
        run = create_sequential(rest, n)
        wall = time.perf_counter() - started
        block_row(
            run.latencies, "1 client", (server.cpu() - cpu0) * 1000 / n, meter.foreign_cores()
        )
        return run, wall

    with SyncRest(server.url, POLL) as rest:
        results["list_empty_ms"] = time_list(rest, plan.list_samples, 0)
        results["request_floor_ms"] = request_floor(rest, 4 * plan.list_samples)

        log(f"[3/6] {plan.sequential} creates, 1 client")
        seq = Sequential([], [], {"submit": [], "wait": [], "fetch": []})
        wall = 0.0
        for n in _chunks(plan.sequential, plan.block):
            part, seconds = sequential_block(rest, n)
            wall += seconds
            seq.latencies += part.latencies
            seq.polls += part.polls
            for step, values in part.steps.items():
                seq.steps[step] += values
        phase = blocks[:]
        load["sequential"] = max(b["other_load_cores"] for b in phase)
        results["sequential"] = {
            **summary_ms(seq.latencies),
            "wall_s": wall,
            "per_s": plan.sequential / wall,
            "server_cpu_ms_per_create": statistics.fmean(
                b["server_cpu_ms_per_create"] for b in phase
            ),
            "polls_mean": statistics.fmean(seq.polls),
            "first_poll_done": sum(p == 1 for p in seq.polls) / len(seq.polls),
            "steps_ms": {k: statistics.fmean(v) * 1000 for k, v in seq.steps.items()},
        }
        results["rss_after_sequential_mb"] = rss_mb(server)

        log(f"[4/6] {plan.concurrent} creates, {plan.clients} clients")
        settle(plan.settle)
        meter = LoadMeter(server.pid)
        cpu0 = server.cpu()
        client_cpu0 = time.process_time()
        wall, latencies, polls = asyncio.run(
            _create_concurrent(server.url, plan.concurrent, plan.clients)
        )
        load["concurrent"] = meter.foreign_cores()
        cpu_ms = (server.cpu() - cpu0) * 1000 / plan.concurrent
        results["concurrent"] = {
            **summary_ms(latencies),
            "polls_mean": statistics.fmean(polls),
            "clients": plan.clients,
            "wall_s": wall,
            "per_s": plan.concurrent / wall,
            "server_cpu_ms_per_create": cpu_ms,
            "bench_client_cpu_s": time.process_time() - client_cpu0,
        }
        offset = 0
        for n in _chunks(plan.concurrent, plan.block):
            chunk = latencies[offset : offset + n]
            block_row(chunk, f"{plan.clients} clients", cpu_ms, load["concurrent"])
            offset += n

        log(f"[5/6] fill to {plan.total} volumes, 1 client")
        fill = plan.total - plan.sequential - plan.concurrent
        rss_by_block: list[dict[str, float]] = []
        wall = 0.0
        for n in _chunks(fill, plan.block):
            wall += sequential_block(rest, n)[1]
            rss_by_block.append({"volumes": sum(b["n"] for b in blocks), **rss_mb(server)})
        phase = blocks[-len(rss_by_block) :]
        load["fill"] = max(b["other_load_cores"] for b in phase)
        results["fill"] = {
            "creates": fill,
            "wall_s": wall,
            "server_cpu_ms_per_create": statistics.fmean(
                b["server_cpu_ms_per_create"] for b in phase
            ),
        }
        results["rss_by_block_mb"] = rss_by_block

        log(f"[6/6] GET /volumes at {plan.total} volumes, median of {plan.list_samples}")
        results["list_full_ms"] = time_list(rest, plan.list_samples, plan.total)
        results["rss_full_mb"] = rss_mb(server)
    results["blocks"] = blocks
    return results


def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - i) for i in range(0, total, size)]


def settle(max_wait: float) -> None:
    """With --wait-idle: before each measured block, wait for other processes to calm down."""
    if max_wait > 0:
        wait_until_idle(max_wait, window=1.0)


# --- verdicts and report ---------------------------------------------------------------------


def verdicts(results: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    blocks = results["blocks"]
    first, last = blocks[0], blocks[-1]
    seq = results["sequential"]
    conc = results["concurrent"]
    speedup = seq["wall_s"] / plan.sequential * plan.concurrent / conc["wall_s"]
    cli = results["topology_cli"]
    rss_empty = results["rss_empty_mb"]["rss"]
    rss_full = results["rss_full_mb"]["rss"]
    heketi_first = HEKETI["create_ms_first"]
    rows = [
        {
            "metric": f"sequential create, mean of {seq['n']} (ms)",
            "value": seq["mean"],
            "heketi": f"{heketi_first[0]:.0f}-{heketi_first[1]:.0f}",
            "target": f"<= {heketi_first[0] / TARGET_SPEEDUP:.1f} (5x lower)",
            "pass": seq["mean"] <= heketi_first[0] / TARGET_SPEEDUP,
        },
        {
            "metric": f"create mean, last block {last['volumes']} (ms)",
            "value": last["mean"],
            "heketi": f"~{HEKETI['create_ms_1000']:.0f}",
            "target": f"<= {HEKETI['create_ms_1000'] / TARGET_SPEEDUP:.1f} (5x lower)",
            "pass": last["mean"] <= HEKETI["create_ms_1000"] / TARGET_SPEEDUP,
        },
        {
            "metric": "flatness: last block / first block",
            "value": last["mean"] / first["mean"],
            "heketi": f"~{HEKETI['create_ms_1000'] / sum(heketi_first) * 2:.1f}",
            "target": f"<= {TARGET_FLAT}",
            "pass": last["mean"] / first["mean"] <= TARGET_FLAT,
        },
        {
            "metric": "flatness by server CPU/create: last / first block",
            "value": last["server_cpu_ms_per_create"] / first["server_cpu_ms_per_create"],
            "heketi": "-",
            "target": "(info)",
            "pass": None,
        },
        {
            "metric": "flatness by median: last block / first block",
            "value": last["median"] / first["median"],
            "heketi": "-",
            "target": "(info)",
            "pass": None,
        },
        {
            "metric": f"{plan.concurrent} creates, {plan.clients} clients, wall (s)",
            "value": conc["wall_s"],
            "heketi": f"~{HEKETI['concurrent_200_s']:.0f}",
            "target": f"< 1-client wall ({seq['wall_s'] / plan.sequential * plan.concurrent:.2f})",
            "pass": speedup > 1.0,
        },
        {
            "metric": f"{plan.clients}-client speed-up over 1 client (x)",
            "value": speedup,
            "heketi": "-",
            "target": "> 1",
            "pass": speedup > 1.0,
        },
        {
            "metric": (
                f"topology load {plan.topology.nodes}x{plan.topology.devices}, heketi-cli (s)"
            ),
            "value": cli["seconds"] if cli["ok"] else None,
            "heketi": f"{HEKETI['topology_load_s']:.0f}",
            "target": f"< {TARGET_TOPOLOGY_S:.0f}",
            "pass": bool(cli["ok"] and cli["seconds"] < TARGET_TOPOLOGY_S),
        },
        {
            "metric": "topology load, raw REST (s)",
            "value": results["topology_rest_s"],
            "heketi": "-",
            "target": "(info)",
            "pass": None,
        },
        {
            "metric": "RSS empty, after topology load (MiB)",
            "value": rss_empty,
            "heketi": f"{HEKETI['rss_empty_mb']:.0f}",
            "target": "(baseline)",
            "pass": None,
        },
        {
            "metric": f"RSS at {plan.total} volumes (MiB)",
            "value": rss_full,
            "heketi": f"{HEKETI['rss_1000_mb']:.0f}",
            "target": f"<= {TARGET_FLAT} x empty ({rss_empty * TARGET_FLAT:.1f})",
            "pass": rss_full <= rss_empty * TARGET_FLAT,
        },
        {
            "metric": "peak RSS, VmHWM (MiB)",
            "value": results["rss_full_mb"]["hwm"],
            "heketi": "-",
            "target": "(info)",
            "pass": None,
        },
        {
            "metric": f"GET /volumes at {plan.total} volumes, median (ms)",
            "value": results["list_full_ms"]["median"],
            "heketi": "-",
            "target": "(info)",
            "pass": None,
        },
    ]
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def report(results: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    m = results["machine"]
    t = results["topology"]
    lines = [
        f"Brickyard create benchmark ({results['plan']['name']}): {t['nodes']} nodes x "
        f"{t['devices_per_node']} devices in {t['zones']} zones, replica-3 1 GiB volumes, "
        f"queue polled every {results['poll_interval_ms']:.0f} ms",
        f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, kernel {m['kernel']}",
        f"code: commit {results['code']['commit']}"
        + (" + uncommitted changes in src/" if results["code"]["src_modified"] else ""),
        "",
    ]
    header = ("metric", "brickyard", "heketi 10.4.1", "target", "result")
    table = [header]
    for row in rows:
        verdict = "-" if row["pass"] is None else ("PASS" if row["pass"] else "FAIL")
        table.append((row["metric"], _fmt(row["value"]), row["heketi"], row["target"], verdict))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, row_cells in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row_cells, widths, strict=True)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    cli = results["topology_cli"]
    if not cli["ok"]:
        lines.append(f"\nheketi-cli topology load failed: {cli['error']}")

    seq, conc = results["sequential"], results["concurrent"]
    floor = results["request_floor_ms"]
    lines += [
        "",
        "create latency (ms)      mean    median  p95     max     server CPU/create  throughput",
        f"1 client  ({seq['n']:>4})     {seq['mean']:<7.2f} {seq['median']:<7.2f} "
        f"{seq['p95']:<7.2f} {seq['max']:<7.2f} {seq['server_cpu_ms_per_create']:<6.2f} ms"
        f"          {seq['per_s']:.0f}/s (wall {seq['wall_s']:.2f} s)",
        f"{conc['clients']} clients ({conc['n']:>4})     {conc['mean']:<7.2f} "
        f"{conc['median']:<7.2f} {conc['p95']:<7.2f} {conc['max']:<7.2f} "
        f"{conc['server_cpu_ms_per_create']:<6.2f} ms          {conc['per_s']:.0f}/s "
        f"(wall {conc['wall_s']:.2f} s, bench client CPU {conc['bench_client_cpu_s']:.2f} s)",
        f"1 client, mean per step: POST {seq['steps_ms']['submit']:.2f} ms, "
        f"polling {seq['steps_ms']['wait']:.2f} ms ({seq['polls_mean']:.2f} polls; done at the "
        f"first poll in {100 * seq['first_poll_done']:.0f}%), "
        f"GET volume {seq['steps_ms']['fetch']:.2f} ms",
        f"{conc['clients']} clients: {conc['polls_mean']:.2f} polls per create on average",
        f"request floor (median round trip): GET /hello {floor['hello_ms']:.2f} ms, "
        f"GET /clusters/<id> with JWT {floor['cluster_info_ms']:.2f} ms",
        "",
        "per-block create latency (ms)",
        "block  volumes     mode        mean    median  p95     max     server CPU/create"
        "  other load (cores)",
    ]
    for b in results["blocks"]:
        lines.append(
            f"{b['block']:<6} {b['volumes']:<11} {b['mode']:<11} {b['mean']:<7.2f} "
            f"{b['median']:<7.2f} {b['p95']:<7.2f} {b['max']:<7.2f} "
            f"{b['server_cpu_ms_per_create']:<6.2f} ms          {b['other_load_cores']:.2f}"
        )
    rss = results
    lines += [
        "",
        "server RSS (MiB)     VmRSS   VmHWM",
        f"started, empty       {rss['rss_start_mb']['rss']:<7.1f} {rss['rss_start_mb']['hwm']:.1f}",
        f"after topology load  {rss['rss_empty_mb']['rss']:<7.1f} {rss['rss_empty_mb']['hwm']:.1f}",
    ]
    for item in results["rss_by_block_mb"]:
        lines.append(f"at {item['volumes']:<5} volumes     {item['rss']:<7.1f} {item['hwm']:.1f}")
    load = results["other_load_cores"]
    worst = max(load.values())
    lines += [
        "",
        "CPU used by other processes on this machine while measuring (cores, average): "
        + ", ".join(f"{k} {v:.2f}" for k, v in load.items()),
    ]
    if worst > BUSY_THRESHOLD:
        lines.append(
            f"WARNING: other processes used up to {worst:.2f} of {results['machine']['cores']} "
            "cores: wall-clock figures are disturbed (server CPU per create is not)"
        )
    le, lf = results["list_empty_ms"], results["list_full_ms"]
    lines += [
        "",
        f"GET /volumes: empty median {le['median']:.2f} ms; at {results['plan']['total']} "
        f"volumes median {lf['median']:.2f} ms, p95 {lf['p95']:.2f} ms",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke-test variant (< 20 s)")
    parser.add_argument("--json-out", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for other processes to leave the CPUs alone",
    )
    parser.add_argument(
        "--server-prefix",
        metavar="CMD",
        help="run the measured server under this command, e.g. a profiler: "
        "'py-spy record -f raw -o stacks.txt --' (timings then include its overhead)",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.wait_idle > 0:
        plan = replace(plan, settle=args.wait_idle, deadline=plan.deadline + 20 * args.wait_idle)

    def on_alarm(signum: int, frame: object) -> None:
        raise BenchError(f"benchmark exceeded its {plan.deadline:.0f} s deadline")

    if args.wait_idle > 0:
        log(f"waiting up to {args.wait_idle:.0f} s for an idle machine")
        log(f"other processes use {wait_until_idle(args.wait_idle):.2f} cores")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(plan.deadline))
    started = time.perf_counter()
    try:
        results = run(plan, shlex.split(args.server_prefix) if args.server_prefix else None)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    results["run_seconds"] = time.perf_counter() - started
    rows = verdicts(results, plan)
    results["verdicts"] = rows
    print(report(results, rows))
    print(f"\n(run took {results['run_seconds']:.1f} s)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
