"""Volume-create benchmark: Brickyard on the simulator against Heketi 10.4.1's reference figures.

Workload (from the performance issue): a fresh server on the simulator (mock executor), a
30 nodes x 4 devices topology in 3 zones loaded over REST, then 200 replica-3 1 GiB volumes
created through the full asynchronous protocol (202 + Location, poll /queue/<id> every 10 ms,
follow the 303), by one client and then by 8 concurrent client processes; then fill to 1000
volumes, timing each block of 100 creates and GET /volumes; RSS of the server throughout.

    .venv/bin/python bench/create.py            # full run (about 15 s)
    .venv/bin/python bench/create.py --quick    # smoke test, < 20 s
    .venv/bin/python bench/create.py --json-out results.json
    .venv/bin/python bench/create.py --baseline HEAD   # old (HEAD) and new (working tree) code,
                                                       # alternating, 3 rounds, medians side by side

Everything runs on loopback against throw-away servers (temp dir, SQLite DB) that are stopped
and removed at the end, also on errors. The client is raw httpx (see bench/_server.py); the
8 concurrent clients are separate processes (bench/_create_clients.py), so that no GIL of ours
is between them and the server. The topology-load timing uses our ``heketi-cli topology load``,
as an operator would. ``--baseline REF`` checks REF out in a temporary git worktree under /tmp
(removed at the end) and runs its server with PYTHONPATH=<worktree>/src on this venv.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from _create_clients import ClientProcesses, ClientsRun
from _server import (
    ADMIN_KEY,
    HOST,
    AsyncRest,
    BenchError,
    LoadMeter,
    Server,
    SyncRest,
    TopologySpec,
    _server_env,
    count_topology,
    free_port,
    load_topology_rest,
    running_server,
    wait_until_idle,
)

REPO = Path(__file__).resolve().parent.parent

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
HEKETI: dict[str, Any] = {
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
# issue #14 item 2, with 8 client processes
TARGET_SEQUENTIAL_MS = 3.5  # mean per sequential create
TARGET_CONCURRENT_S = 0.5  # wall time of 200 creates by 8 clients (scaled for other counts)
TARGET_RSS_START_MB = 45.0  # server RSS right after start
TARGET_RSS_GROWTH = 1.2  # RSS at 1000 volumes / RSS at start
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
    root = REPO
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


def topology_load_cli(
    server: Server, spec: TopologySpec, timeout: float, pythonpath: Path | None = None
) -> dict[str, Any]:
    """Time `heketi-cli topology load --json=FILE` (a new process, as an operator runs it).
    With ``pythonpath`` the CLI runs from that tree too: the old code's CLI for the old run."""
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
    if pythonpath is not None:
        env["PYTHONPATH"] = _server_env(pythonpath)["PYTHONPATH"]
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


def create_concurrent(server: Server, plan: Plan, in_process: bool) -> ClientsRun:
    """The concurrent phase: ``plan.clients`` client processes (the default), or with
    ``in_process`` the former mode of asyncio tasks in this process (one GIL for all clients,
    so it measures our client as much as the server; kept for comparison with old figures)."""
    if not in_process:
        # the processes start and connect first; settle() and the measured window come after
        with ClientProcesses(server.url, VOLUME, plan.concurrent, plan.clients, POLL, 3) as c:
            settle(plan.settle)
            return c.go(server)
    settle(plan.settle)
    meter = LoadMeter(server.pid)
    cpu0 = server.cpu()
    client_cpu0 = time.process_time()
    wall, latencies, polls = asyncio.run(
        _create_concurrent(server.url, plan.concurrent, plan.clients)
    )
    return ClientsRun(
        wall=wall,
        latencies=latencies,
        polls=polls,
        clients_cpu=time.process_time() - client_cpu0,
        start_spread=0.0,
        server_cpu=server.cpu() - cpu0,
        other_load=meter.foreign_cores(),
    )


def _recorded(response: httpx.Response) -> dict[str, Any]:
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
    return {
        "status": response.status_code,
        "reason": response.reason_phrase,
        "headers": headers,
        "body": response.text,
    }


def record_answers(rest: SyncRest) -> dict[str, dict[str, Any]]:
    """The server's own answers to one create and to the clients' warm-up request. One volume
    is deleted first and created again, so the count stays what the plan filled to (a cluster
    holds at most 1000); every measurement is taken by then."""
    volume_id = rest.get("/volumes")["volumes"][0]
    rest.operation("DELETE", f"/volumes/{volume_id}")
    other = rest.request("GET", "/clusters")
    accepted, done, volume = rest.operation("POST", "/volumes", VOLUME).answers
    return {
        "accepted": _recorded(accepted),
        "done": _recorded(done),
        "volume": _recorded(volume),
        "other": _recorded(other),
    }


def clients_floor(server: Server, rest: SyncRest, plan: Plan) -> ClientsRun:
    """The concurrent phase's clients against bench/_null_server.py, which replays this
    server's answers and does nothing else: their wall time is the floor under the concurrent
    figure on this machine now (see that module)."""
    answers = server.workdir / "null-answers.json"
    answers.write_text(json.dumps(record_answers(rest)))
    port = free_port()
    log_path = server.workdir / "null-server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parent / "_null_server.py"),
                str(port),
                str(answers),
            ],
            stdout=subprocess.PIPE,
            stderr=log_file,
        )
    try:
        assert process.stdout is not None
        if process.stdout.readline() != b"ready\n":
            raise BenchError(f"the null server did not start: {log_path.read_text()[-500:]}")
        null = Server(f"http://{HOST}:{port}", process, server.workdir, log_path)
        with ClientProcesses(null.url, VOLUME, plan.concurrent, plan.clients, POLL, 3) as c:
            settle(plan.settle)
            return c.go(null)
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


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


@dataclass(frozen=True)
class Setup:
    """How one run starts its servers and clients."""

    server_prefix: list[str] | None = None
    pythonpath: Path | None = None  # None: the code this venv imports (this checkout)
    in_process: bool = False  # concurrent clients as asyncio tasks instead of processes
    code: dict[str, Any] | None = None  # what is measured, for the report


def run(plan: Plan, setup: Setup) -> dict[str, Any]:
    spec = plan.topology
    server_prefix = setup.server_prefix
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
        "code": setup.code or code_version(),
    }

    load: dict[str, float] = {}
    results["other_load_cores"] = load

    log(f"[1/7] topology load over raw REST ({spec.nodes}x{spec.devices}) on a fresh server")
    with running_server(pythonpath=setup.pythonpath) as server:
        meter = LoadMeter(server.pid)
        results["topology_rest_s"] = topology_load_rest(server, spec)
        load["topology_rest"] = meter.foreign_cores()

    log("[2/7] topology load with heketi-cli on a fresh server")
    with running_server(wrapper=server_prefix, pythonpath=setup.pythonpath) as server:
        results["rss_start_mb"] = rss_mb(server)
        meter = LoadMeter(server.pid)
        cli = topology_load_cli(server, spec, plan.cli_timeout, setup.pythonpath)
        load["topology_cli"] = meter.foreign_cores()
        results["topology_cli"] = cli
        if not cli["ok"]:
            log(f"      heketi-cli failed ({cli['error']}); loading over REST instead")
            # a half-done CLI load may have left a cluster behind: start from a fresh server
            return _continue_on_fresh_server(plan, results, setup)
        return _volumes(server, plan, results, setup)


def _continue_on_fresh_server(plan: Plan, results: dict[str, Any], setup: Setup) -> dict[str, Any]:
    with running_server(wrapper=setup.server_prefix, pythonpath=setup.pythonpath) as server:
        results["rss_start_mb"] = rss_mb(server)
        topology_load_rest(server, plan.topology)
        return _volumes(server, plan, results, setup)


def _volumes(server: Server, plan: Plan, results: dict[str, Any], setup: Setup) -> dict[str, Any]:
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

        log(f"[3/7] {plan.sequential} creates, 1 client")
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

        mode = "tasks" if setup.in_process else "processes"
        log(f"[4/7] {plan.concurrent} creates, {plan.clients} client {mode}")
        conc = create_concurrent(server, plan, setup.in_process)
        load["concurrent"] = conc.other_load
        cpu_ms = conc.server_cpu * 1000 / plan.concurrent
        client_ms = conc.clients_cpu * 1000 / plan.concurrent
        cores = os.cpu_count() or 1
        results["concurrent"] = {
            **summary_ms(conc.latencies),
            "mode": mode,
            "polls_mean": statistics.fmean(conc.polls),
            "clients": plan.clients,
            "wall_s": conc.wall,
            "per_s": plan.concurrent / conc.wall,
            "start_spread_ms": conc.start_spread * 1000,
            "server_cpu_ms_per_create": cpu_ms,
            # the client floor: what the clients alone cost (all of them, CPU during the creates)
            "clients_cpu_s": conc.clients_cpu,
            "clients_cpu_ms_per_create": client_ms,
            # the wall time if every core did nothing but this server's and these clients' work:
            # on a machine that runs both, no client/server design goes below it
            "cpu_floor_s": (conc.server_cpu + conc.clients_cpu) / cores,
        }
        offset = 0
        for n in _chunks(plan.concurrent, plan.block):
            chunk = conc.latencies[offset : offset + n]
            label = "procs" if mode == "processes" else "tasks"
            block_row(chunk, f"{plan.clients} {label}", cpu_ms, load["concurrent"])
            offset += n

        log(f"[5/7] fill to {plan.total} volumes, 1 client")
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

        log(f"[6/7] GET /volumes at {plan.total} volumes, median of {plan.list_samples}")
        results["list_full_ms"] = time_list(rest, plan.list_samples, plan.total)
        results["rss_full_mb"] = rss_mb(server)

        if not setup.in_process:
            log(
                f"[7/7] the clients' floor: {plan.clients} client processes, a server doing no work"
            )
            floor = clients_floor(server, rest, plan)
            load["clients_floor"] = floor.other_load
            results["clients_floor"] = {
                "wall_s": floor.wall,
                "clients_cpu_ms_per_create": floor.clients_cpu * 1000 / plan.concurrent,
                "server_cpu_ms_per_create": floor.server_cpu * 1000 / plan.concurrent,
            }
    results["blocks"] = blocks
    return results


def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - i) for i in range(0, total, size)]


def settle(max_wait: float) -> None:
    """With --wait-idle: before each measured block, wait for other processes to calm down."""
    if max_wait > 0:
        wait_until_idle(max_wait, window=1.0)


# --- verdicts and report ---------------------------------------------------------------------


def _row(
    metric: str,
    value: float | None,
    target: str = "(info)",
    *,
    heketi: str = "-",
    at_most: float | None = None,
    above: float | None = None,
    detail: bool = False,
) -> dict[str, Any]:
    """One figure. ``at_most`` / ``above`` make it a verdict (kept as numbers so that the median
    of several runs can be judged the same way); ``detail`` rows only appear in the table that
    compares runs (the single-run report shows them in its own sections)."""
    return {
        "metric": metric,
        "value": value,
        "heketi": heketi,
        "target": target,
        "at_most": at_most,
        "above": above,
        "detail": detail,
        "pass": judge(value, at_most, above),
    }


def judge(value: float | None, at_most: float | None, above: float | None) -> bool | None:
    if at_most is None and above is None:
        return None
    if value is None:
        return False
    return (at_most is None or value <= at_most) and (above is None or value > above)


def verdicts(results: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    blocks = results["blocks"]
    first, last = blocks[0], blocks[-1]
    seq = results["sequential"]
    conc = results["concurrent"]
    one_client_wall = seq["wall_s"] / plan.sequential * plan.concurrent
    speedup = one_client_wall / conc["wall_s"]
    cli = results["topology_cli"]
    rss_start = results["rss_start_mb"]["rss"]
    rss_full = results["rss_full_mb"]["rss"]
    heketi_first = HEKETI["create_ms_first"]
    conc_target = TARGET_CONCURRENT_S * plan.concurrent / 200
    clients = f"{plan.clients} client {conc.get('mode', 'processes')}"
    floor = results["request_floor_ms"]
    return [
        _row(
            f"sequential create, mean of {seq['n']} (ms)",
            seq["mean"],
            f"<= {TARGET_SEQUENTIAL_MS} (#14)",
            heketi=f"{heketi_first[0]:.0f}-{heketi_first[1]:.0f}",
            at_most=TARGET_SEQUENTIAL_MS,
        ),
        _row("sequential create, median (ms)", seq["median"], detail=True),
        _row("sequential create, p95 (ms)", seq["p95"], detail=True),
        _row(
            "sequential: server CPU per create (ms)", seq["server_cpu_ms_per_create"], detail=True
        ),
        _row(
            f"create mean, last block {last['volumes']} (ms)",
            last["mean"],
            f"<= {HEKETI['create_ms_1000'] / TARGET_SPEEDUP:.1f} (5x lower)",
            heketi=f"~{HEKETI['create_ms_1000']:.0f}",
            at_most=HEKETI["create_ms_1000"] / TARGET_SPEEDUP,
        ),
        _row(
            "flatness: last block / first block",
            last["mean"] / first["mean"],
            f"<= {TARGET_FLAT}",
            heketi=f"~{HEKETI['create_ms_1000'] / sum(heketi_first) * 2:.1f}",
            at_most=TARGET_FLAT,
        ),
        _row(
            "flatness by server CPU/create: last / first block",
            last["server_cpu_ms_per_create"] / first["server_cpu_ms_per_create"],
        ),
        _row("flatness by median: last block / first block", last["median"] / first["median"]),
        _row(
            f"{plan.concurrent} creates, {clients}, wall (s)",
            conc["wall_s"],
            f"<= {conc_target:.2f} (#14)",
            heketi=f"~{HEKETI['concurrent_200_s'] * plan.concurrent / 200:.1f}",
            at_most=conc_target,
        ),
        _row(f"{plan.clients} clients: creates/s", conc["per_s"], detail=True),
        _row(f"{plan.clients} clients: latency p50 (ms)", conc["median"], detail=True),
        _row(f"{plan.clients} clients: latency p95 (ms)", conc["p95"], detail=True),
        _row(
            f"{plan.clients} clients: server CPU per create (ms)",
            conc["server_cpu_ms_per_create"],
            detail=True,
        ),
        _row(
            f"{plan.clients} clients: clients' CPU per create (ms)",
            conc["clients_cpu_ms_per_create"],
            detail=True,
        ),
        _row(
            f"{plan.clients} clients: CPU floor, (server+clients CPU)/cores (s)",
            conc["cpu_floor_s"],
            detail=True,
        ),
        _row(
            f"{plan.clients} clients, a server doing no work: wall (s), the floor",
            results.get("clients_floor", {}).get("wall_s"),
            detail=True,
        ),
        _row(
            f"{plan.clients}-client speed-up over 1 client (x)",
            speedup,
            "> 1",
            above=1.0,
        ),
        _row(
            f"1 client, the same {plan.concurrent} creates, wall (s)", one_client_wall, detail=True
        ),
        _row(
            f"topology load {plan.topology.nodes}x{plan.topology.devices}, heketi-cli (s)",
            cli["seconds"] if cli["ok"] else None,
            f"< {TARGET_TOPOLOGY_S:.0f}",
            heketi=f"{HEKETI['topology_load_s']:.0f}",
            at_most=TARGET_TOPOLOGY_S,
        ),
        _row("topology load, raw REST (s)", results["topology_rest_s"]),
        _row(
            "RSS at start (MiB)",
            rss_start,
            f"<= {TARGET_RSS_START_MB:.0f} (#14)",
            heketi=f"{HEKETI['rss_empty_mb']:.0f} (empty)",
            at_most=TARGET_RSS_START_MB,
        ),
        _row("RSS after topology load (MiB)", results["rss_empty_mb"]["rss"]),
        _row(
            f"RSS at {plan.total} volumes (MiB)",
            rss_full,
            f"(<= {TARGET_RSS_GROWTH} x start)",
            heketi=f"{HEKETI['rss_1000_mb']:.0f}",
        ),
        _row(
            f"RSS at {plan.total} volumes / at start",
            rss_full / rss_start,
            f"<= {TARGET_RSS_GROWTH} (#14)",
            heketi=f"{HEKETI['rss_1000_mb'] / HEKETI['rss_empty_mb']:.1f}",
            at_most=TARGET_RSS_GROWTH,
        ),
        _row("peak RSS, VmHWM (MiB)", results["rss_full_mb"]["hwm"]),
        _row(
            f"GET /volumes at {plan.total} volumes, median (ms)", results["list_full_ms"]["median"]
        ),
        _row("request floor: GET /hello (ms)", floor["hello_ms"], detail=True),
        _row(
            "request floor: GET /clusters/<id> with JWT (ms)", floor["cluster_info_ms"], detail=True
        ),
        _row(
            "other processes while measuring, max (cores)",
            max(results["other_load_cores"].values()),
            f"(< {BUSY_THRESHOLD} for clean figures)",
            detail=True,
        ),
    ]


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _verdict(row: dict[str, Any]) -> str:
    return "-" if row["pass"] is None else ("PASS" if row["pass"] else "FAIL")


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, the first row a header underlined with dashes."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for i, cells in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _floor_lines(results: dict[str, Any]) -> list[str]:
    floor = results.get("clients_floor")
    if floor is None:
        return []
    conc = results["concurrent"]
    return [
        f"the same {conc['clients']} client processes against a server that replays this "
        f"server's answers and does no work (bench/_null_server.py): wall "
        f"{floor['wall_s']:.2f} s, clients' CPU {floor['clients_cpu_ms_per_create']:.2f} ms "
        f"per create: no server gets below that wall here and now"
    ]


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
        if not row["detail"]:
            table.append(
                (row["metric"], _fmt(row["value"]), row["heketi"], row["target"], _verdict(row))
            )
    lines += _table(table)
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
        f"(wall {conc['wall_s']:.2f} s)",
        f"{conc['clients']} clients are {conc['mode']}"
        + (
            f" (started {conc['start_spread_ms']:.1f} ms apart at most)"
            if conc["mode"] == "processes"
            else " in the benchmark's own interpreter"
        )
        + f"; client floor: the clients used {conc['clients_cpu_s']:.2f} s of CPU "
        f"({conc['clients_cpu_ms_per_create']:.2f} ms per create); CPU floor of the wall "
        f"(server + clients CPU over {results['machine']['cores']} cores): "
        f"{conc['cpu_floor_s']:.2f} s",
        *_floor_lines(results),
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


# --- old and new code side by side ------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    label: str  # "old <commit>" or "new"
    src: Path  # the tree whose code runs
    setup: Setup


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)}: {done.stderr.strip()[:300]}")
    return done.stdout.strip()


@contextlib.contextmanager
def baseline_tree(ref: str) -> Iterator[tuple[str, Path]]:
    """REF checked out, detached, in a temporary git worktree under /tmp; yields its short
    commit and its src/. The worktree is removed afterwards, also on errors and timeouts."""
    commit = _git("rev-parse", "--short", f"{ref}^{{commit}}")
    parent = Path(tempfile.mkdtemp(prefix="brickyard-baseline-"))
    tree = parent / "tree"  # `git worktree add` wants a path that does not exist yet
    try:
        log(f"baseline: {ref} = {commit}, worktree {tree}")
        _git("worktree", "add", "--detach", str(tree), commit)
        yield commit, tree / "src"
    finally:
        if tree.exists():
            try:
                _git("worktree", "remove", "--force", str(tree))
            except BenchError as exc:
                log(f"could not remove the worktree {tree} ({exc}): run `git worktree prune`")
        shutil.rmtree(parent, ignore_errors=True)


def imported_from(pythonpath: Path) -> Path:
    """Where a server started with this PYTHONPATH imports brickyard from: checked once per
    variant, so that a wrong path cannot silently measure the same code twice."""
    done = subprocess.run(
        [sys.executable, "-c", "import brickyard; print(brickyard.__file__)"],
        env=_server_env(pythonpath),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"cannot import brickyard from {pythonpath}: {done.stderr[-300:]}")
    origin = Path(done.stdout.strip()).resolve()
    if pythonpath.resolve() not in origin.parents:
        raise BenchError(f"PYTHONPATH={pythonpath} imports brickyard from {origin}")
    return origin


def src_fingerprint(src: Path) -> str:
    """A hash of a tree's sources. The new code is the working tree, which someone may edit
    while the benchmark runs: a change between rounds is reported, not hidden."""
    digest = hashlib.sha256()
    for path in sorted(src.rglob("*")):
        relative = path.relative_to(src)
        if not path.is_file() or "__pycache__" in relative.parts:
            continue
        if relative.parts[0].endswith(".egg-info"):
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def run_rounds(plan: Plan, variants: list[Variant], rounds: int) -> list[dict[str, Any]]:
    """``rounds`` full runs of every variant, alternating, and in reverse order every other
    round (old, new, new, old, old, new): a machine whose load drifts during the rounds then
    slows both sides alike, and neither always runs first (with its cold caches)."""
    runs: list[dict[str, Any]] = []
    for index in range(rounds):
        order = variants if index % 2 == 0 else variants[::-1]
        for variant in order:
            log(f"=== round {index + 1}/{rounds}: {variant.label} ({variant.src})")
            fingerprint = src_fingerprint(variant.src)
            started = time.perf_counter()
            results = run(plan, variant.setup)
            results["run_seconds"] = time.perf_counter() - started
            results["src_fingerprint"] = fingerprint
            results["verdicts"] = verdicts(results, plan)
            runs.append({"variant": variant.label, "round": index + 1, "results": results})
            log(f"    {_run_line(results)}")
    return runs


def _run_line(results: dict[str, Any]) -> str:
    seq, conc = results["sequential"], results["concurrent"]
    return (
        f"sequential {seq['mean']:.2f} ms (server CPU {seq['server_cpu_ms_per_create']:.2f}), "
        f"{conc['clients']} clients {conc['wall_s']:.2f} s{_floor_note(results)} (server CPU "
        f"{conc['server_cpu_ms_per_create']:.2f}, clients {conc['clients_cpu_ms_per_create']:.2f}"
        f" ms/create), RSS {results['rss_start_mb']['rss']:.1f} -> "
        f"{results['rss_full_mb']['rss']:.1f} MiB, other load <= "
        f"{max(results['other_load_cores'].values()):.2f} cores, {results['run_seconds']:.0f} s"
    )


def _floor_note(results: dict[str, Any]) -> str:
    floor = results.get("clients_floor")
    return "" if floor is None else f" (floor {floor['wall_s']:.2f} s)"


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if len(present) == len(values) and present else None


def comparison(
    runs: list[dict[str, Any]], variants: list[Variant]
) -> tuple[list[dict[str, Any]], str]:
    """Per figure, each variant's median over its runs (judged against the target), its range,
    and the ratio new / old."""
    labels = [v.label for v in variants]
    rows_by_label = {
        label: [r["results"]["verdicts"] for r in runs if r["variant"] == label] for label in labels
    }
    reference = rows_by_label[labels[0]][0]
    compared: list[dict[str, Any]] = []
    header = ["metric"]
    for label in labels:
        header.append(f"{label}: median [min-max]")
    if len(labels) == 2:
        header.append(f"{labels[1]} / {labels[0]}")
    header += ["target", *(f"{label}" for label in labels)]
    table: list[tuple[str, ...]] = [tuple(header)]
    for i, row in enumerate(reference):
        entry: dict[str, Any] = {"metric": row["metric"], "target": row["target"]}
        cells = [row["metric"]]
        medians = []
        for label in labels:
            values = [rows[i]["value"] for rows in rows_by_label[label]]
            if any(rows[i]["metric"] != row["metric"] for rows in rows_by_label[label]):
                raise BenchError(f"runs disagree on the figures: {row['metric']}")
            median = _median(values)
            medians.append(median)
            entry[label] = {"median": median, "values": values}
            present = [v for v in values if v is not None]
            spread = f" [{_fmt(min(present))}-{_fmt(max(present))}]" if len(present) > 1 else ""
            cells.append(_fmt(median) + spread)
        if len(labels) == 2:
            old, new = medians
            ratio = new / old if old and new is not None else None
            entry["ratio"] = ratio
            cells.append("n/a" if ratio is None else f"{ratio:.2f}")
        cells.append(row["target"])
        for label, median in zip(labels, medians, strict=True):
            verdict = judge(median, row["at_most"], row["above"])
            entry[f"{label} pass"] = verdict
            cells.append("-" if verdict is None else ("PASS" if verdict else "FAIL"))
        compared.append(entry)
        table.append(tuple(cells))
    return compared, "\n".join(_table(table))


def comparison_report(
    runs: list[dict[str, Any]], variants: list[Variant], table: str, rounds: int
) -> str:
    first = runs[0]["results"]
    m, t, plan = first["machine"], first["topology"], first["plan"]
    lines = [
        f"Brickyard create benchmark ({plan['name']}), {rounds} round(s): {t['nodes']} nodes x "
        f"{t['devices_per_node']} devices in {t['zones']} zones, replica-3 1 GiB volumes, "
        f"{plan['sequential']} sequential + {plan['concurrent']} by {plan['clients']} client "
        f"{first['concurrent']['mode']}, filled to {plan['total']}; queue polled every "
        f"{first['poll_interval_ms']:.0f} ms",
        f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, kernel {m['kernel']}",
    ]
    for variant in variants:
        code = next(r for r in runs if r["variant"] == variant.label)["results"]["code"]
        dirty = " + uncommitted changes in src/" if code.get("src_modified") else ""
        lines.append(f"{variant.label}: commit {code['commit']}{dirty}, from {variant.src}")
    lines += ["run order: " + ", ".join(f"{r['variant']}" for r in runs), "", table, ""]
    lines.append("runs, in order:")
    for r in runs:
        lines.append(f"  {r['round']} {r['variant']:<12} {_run_line(r['results'])}")
    busy = [r for r in runs if max(r["results"]["other_load_cores"].values()) > BUSY_THRESHOLD]
    if busy:
        lines.append(
            f"WARNING: in {len(busy)} of {len(runs)} runs other processes used more than "
            f"{BUSY_THRESHOLD} cores: wall-clock figures are disturbed (CPU per create is not)"
        )
    for variant in variants:
        prints = {r["results"]["src_fingerprint"] for r in runs if r["variant"] == variant.label}
        if len(prints) > 1:
            lines.append(f"WARNING: the code of {variant.label} changed between its runs")
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
    parser.add_argument(
        "--baseline",
        nargs="?",
        const="HEAD",
        metavar="REF",
        help="also run the code of git REF (default HEAD; e.g. ca72cfe) from a temporary "
        "worktree, alternating with this checkout's code, and compare the medians",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        metavar="N",
        help="full runs per code version (default 3 with --baseline, else 1)",
    )
    parser.add_argument(
        "--clients-in-process",
        action="store_true",
        help="the concurrent clients as asyncio tasks in this process (the former mode, whose "
        "shared GIL limits the clients) instead of separate processes",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.wait_idle > 0:
        plan = replace(plan, settle=args.wait_idle, deadline=plan.deadline + 20 * args.wait_idle)
    rounds = args.rounds or (3 if args.baseline else 1)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    setup = Setup(
        server_prefix=shlex.split(args.server_prefix) if args.server_prefix else None,
        in_process=args.clients_in_process,
    )
    runs_total = rounds * (2 if args.baseline else 1)
    deadline = plan.deadline * runs_total

    def on_alarm(signum: int, frame: object) -> None:
        raise BenchError(f"benchmark exceeded its {deadline:.0f} s deadline")

    if args.wait_idle > 0:
        log(f"waiting up to {args.wait_idle:.0f} s for an idle machine")
        log(f"other processes use {wait_until_idle(args.wait_idle):.2f} cores")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(deadline))
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            new_src = REPO / "src"
            variants = [Variant("new", new_src, setup)]
            if args.baseline:
                commit, old_src = stack.enter_context(baseline_tree(args.baseline))
                old = replace(
                    setup,
                    pythonpath=old_src,
                    code={"commit": commit, "src_modified": False, "ref": args.baseline},
                )
                # both sides import through PYTHONPATH, so they start up the same way
                variants = [
                    Variant(f"old {commit}", old_src, old),
                    Variant("new", new_src, replace(setup, pythonpath=new_src)),
                ]
                for variant in variants:
                    log(f"{variant.label}: imports {imported_from(variant.src)}")
            runs = run_rounds(plan, variants, rounds)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    seconds = time.perf_counter() - started
    if len(runs) == 1:
        results = runs[0]["results"]
        print(report(results, results["verdicts"]))
        output: dict[str, Any] = results
    else:
        compared, table = comparison(runs, variants)
        print(comparison_report(runs, variants, table, rounds))
        output = {"runs": runs, "comparison": compared}
    print(f"\n(run took {seconds:.1f} s)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(output, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
