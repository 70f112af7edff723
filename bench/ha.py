"""Several servers on one PostgreSQL (issue #13, "Speed"): creates per second with 1, 2 and 3
servers against one server on SQLite, and how long a dead server's operation waits for another
server to settle it.

The benchmark starts its own PostgreSQL 15 (tests/pg.py: a throw-away cluster on loopback, run
as a non-root user, fsync off) and stops it at the end. Every configuration gets a new database.

1. **Creates per second, in-process.** 1, 2 or 3 servers are built in this process
   (``Harness.open`` of tests/integration, as tests/integration/test_several_servers.py does):
   each has its own store and connection pool, placement index, queue and server identity,
   and all of them drive one simulated set of nodes (``SimWorld``), so a brick one server makes
   is seen by the others. Each runs its background tasks as ``brickyard serve`` does (lease,
   watch, cleaner, health). A topology of 3 nodes x 4 devices is loaded, then ``--clients``
   client tasks send replica-3 1 GiB creates round robin over the servers (request i to server
   i mod n) and poll the queue id on the next server (i+1 mod n) every 10 ms, up to the 303.
   A 429 is retried after 5-20 ms. ``--warmup`` creates are not counted; then ``--creates``
   creates are timed. All servers and the clients share one Python process and one event
   loop: only PostgreSQL runs beside them on the other core. The figures therefore show what
   the coordination of several servers costs (the per-cluster advisory lock, the change
   counter and reloads of the placement index, the global in-flight slots, queue results in
   the database), not what several machines would gain.
2. **Creates per second, real processes.** The same workload against 1-3 ``brickyard serve``
   processes (the server's own start-up path, uvicorn, HTTP on loopback, JWT). The mock
   executor keeps its simulated nodes inside each process, so separate processes would not
   see each other's nodes; here every server process talks instead to one simulator process
   over a unix socket (``SharedSimAgent``: one node command = one round trip, about 0.1 ms).
   Apart from that agent, each process runs what ``brickyard serve`` runs (``build_server``,
   its background tasks, uvicorn). On a 2-core machine the servers, the simulator,
   PostgreSQL and the clients compete for the same 2 cores.
3. **Death -> settled, in-process.** Two servers A and B with a lease of ``--leases`` seconds
   (8 is the default of ``server_lease_seconds``), both running their lease and watch tasks.
   After a random 0 to lease/4 s (the phase of A's renewals), A starts a create and dies at
   the crash point ``create-volume:brick-made:2`` (``SimulatedCrash``, and its background
   tasks stop: it renews nothing from there on). Measured, on the database clock: from A's
   last renewal (its ``servers.renewed``) and from the crash to the moment B answers the
   queue id (B polls every 10 ms). Target: < 15 s with the default lease.
4. **Death -> settled, real processes.** The same with A a real process that kills itself
   with SIGKILL at the crash point (``BRICKYARD_TEST_CRASH_AT``), B another process. Each
   process reports another host name, so that B must wait for the lease (on one host, a
   server takes a vanished process's identity over at once). Then the same-host restart: A
   dies, A is started again at once on its host and settles its predecessor's operation at
   start; measured from the crash to the answer on B.
5. **Fenced.** One server (in-process); PostgreSQL is stopped; measured from the server's last
   renewal to the moment it fences itself, then PostgreSQL is started again.

    .venv/bin/python bench/ha.py --wait-idle 120       # everything: 10 min idle, more if busy
    .venv/bin/python bench/ha.py --quick               # smoke test, about 1.5 minutes
    .venv/bin/python bench/ha.py --only inprocess,death --json-out ha.json

Each throughput block reports the CPU that other processes used meanwhile; a block they
disturbed (more than ``--max-other`` cores) is run again, up to ``--attempts`` times. Run as root
or as a user that may run PostgreSQL's binaries (tests/pg.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import itertools
import json
import logging
import math
import os
import pickle
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "tests"))  # pg.PgServer and the integration Harness

import httpx  # noqa: E402
from _server import (  # noqa: E402
    HOST,
    AsyncRest,
    BenchError,
    SyncRest,
    TopologySpec,
    _stop,
    _wait_ready,
    child_pids,
    free_port,
    load_topology_rest,
    read_cpu_seconds,
    server_config,
    system_busy_seconds,
    wait_until_idle,
)
from _server import Server as ServerProcess  # noqa: E402

from brickyard.domain.errors import BrickyardError  # noqa: E402
from brickyard.nodes.port import NodeAgent  # noqa: E402
from brickyard.nodes.sim import SimNodeAgent, SimWorld  # noqa: E402
from brickyard.services.servers import RENEWALS_PER_LEASE  # noqa: E402
from brickyard.store import servers as server_rows  # noqa: E402
from brickyard.store.sql import SqlStore  # noqa: E402

VOLUME = {"size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}}}
CRASH_POINT = "create-volume:brick-made:2"
POLL = 0.010  # seconds between queue polls (the issue's client polls every 10 ms)
RETRY_429 = (0.005, 0.020)  # seconds before a create refused with 429 is sent again
OP_TIMEOUT = 120.0  # a create, or a death, still unsettled after this fails the benchmark
TARGET_SETTLED = 15.0  # seconds from the last renewal to settled, default lease (issue #13)
DEFAULT_LEASE = 8.0
NODES, DEVICES = 3, 4
HOSTNAME_ENV = "BENCH_HA_HOSTNAME"  # the host name a server process reports (see _serve)
PROCESS_ERRORS: list[str] = []  # error lines of the server processes' logs


def log(message: str) -> None:
    print(f"[ha] {message}", file=sys.stderr, flush=True)


# --- measuring --------------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def _proc_stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rpartition(")")[2].split()


def postgres_cpu(data: Path) -> float:
    """CPU seconds of the PostgreSQL cluster: the postmaster, its live backends, and the
    backends that already exited (reaped by the postmaster: its cutime/cstime)."""
    try:
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        fields = _proc_stat(postmaster)
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = sum(int(f) for f in fields[11:15])
    for child in child_pids(postmaster):
        with contextlib.suppress(OSError):
            ticks += sum(int(f) for f in _proc_stat(child)[11:13])
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used during a block: by this process, by PostgreSQL, by the given other processes,
    and by everything else on the machine (other work that disturbs the figures)."""

    def __init__(self, data: Path, pids: Sequence[int] = ()) -> None:
        self.data = data
        self.pids = list(pids)
        self.start = self._read()

    def _read(self) -> dict[str, float]:
        times = os.times()
        others = 0.0
        for pid in self.pids:
            with contextlib.suppress(OSError):
                others += read_cpu_seconds(pid)
        return {
            "wall": time.monotonic(),
            "busy": system_busy_seconds(),
            "own": times.user + times.system + times.children_user + times.children_system,
            "postgres": postgres_cpu(self.data),
            "processes": others,
        }

    def stop(self) -> dict[str, float]:
        end = self._read()
        d = {k: end[k] - self.start[k] for k in end}
        mine = d["own"] + d["postgres"] + d["processes"]
        return {
            "own_s": d["own"],
            "postgres_s": d["postgres"],
            "processes_s": d["processes"],
            "foreign_cores": max(0.0, (d["busy"] - mine) / d["wall"]) if d["wall"] > 0 else 0.0,
        }


# --- the workload -----------------------------------------------------------------------------


class Endpoint(Protocol):
    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response: ...


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # first POST to the final 303 (s)
    busy: int = 0  # 429 answers
    polls: int = 0
    failures: list[str] = field(default_factory=list)


async def drive(endpoints: Sequence[Endpoint], count: int, clients: int) -> tuple[Tally, float]:
    """`count` creates by `clients` concurrent clients; create i goes to endpoint i mod n and
    is polled on endpoint i+1 mod n. Returns the tally and the wall time."""
    tally = Tally()
    numbers = itertools.count()
    n = len(endpoints)

    async def client() -> None:
        loop = asyncio.get_running_loop()
        while (i := next(numbers)) < count:
            submit, poller = endpoints[i % n], endpoints[(i + 1) % n]
            started = loop.time()
            while True:
                r = await submit.request("POST", "/volumes", VOLUME)
                if r.status_code != 429:
                    break
                tally.busy += 1
                await asyncio.sleep(random.uniform(*RETRY_429))
            if r.status_code != 202:
                tally.failures.append(f"POST /volumes: {r.status_code} {r.text[:200]}")
                continue
            location = r.headers["location"]
            while True:
                tally.polls += 1
                r = await poller.request("GET", location)
                if r.headers.get("x-pending") != "true":
                    break
                if loop.time() - started > OP_TIMEOUT:
                    raise BenchError(f"{location} still pending after {OP_TIMEOUT:.0f} s")
                await asyncio.sleep(POLL)
            if r.status_code != 303:
                tally.failures.append(f"GET {location}: {r.status_code} {r.text[:200]}")
                continue
            tally.latencies.append(loop.time() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return tally, time.perf_counter() - started


@dataclass
class Throughput:
    variant: str  # "in-process" or "processes"
    database: str  # "sqlite" or "postgresql"
    servers: int
    round: int
    creates: int
    seconds: float
    creates_per_s: float
    p50_ms: float
    p95_ms: float
    busy_429: int
    polls_per_create: float
    cpu: dict[str, float]
    checks: dict[str, Any]

    def line(self) -> str:
        c = self.cpu
        return (
            f"{self.variant:10} {self.servers} x {self.database:10} round {self.round}: "
            f"{self.creates_per_s:6.1f} creates/s, p50 {self.p50_ms:6.1f} ms, p95 "
            f"{self.p95_ms:6.1f} ms, {self.busy_429} x 429, "
            f"{self.polls_per_create:.2f} polls/create; CPU per create: bench process "
            f"{c['own_s'] / self.creates * 1000:.2f} ms, server processes "
            f"{c['processes_s'] / self.creates * 1000:.2f} ms, PostgreSQL "
            f"{c['postgres_s'] / self.creates * 1000:.2f} ms; other work "
            f"{c['foreign_cores']:.2f} cores"
        )


def throughput(
    variant: str,
    database: str,
    servers: int,
    round_: int,
    tally: Tally,
    seconds: float,
    cpu: dict[str, float],
    checks: dict[str, Any],
) -> Throughput:
    if tally.failures:
        raise BenchError(f"{len(tally.failures)} creates failed, first: {tally.failures[0]}")
    done = len(tally.latencies)
    return Throughput(
        variant,
        database,
        servers,
        round_,
        done,
        seconds,
        done / seconds,
        percentile(tally.latencies, 0.50) * 1000,
        percentile(tally.latencies, 0.95) * 1000,
        tally.busy,
        tally.polls / done,
        cpu,
        checks,
    )


def device_size_gb(total_creates: int) -> int:
    """Devices big enough that no create runs out of space: each create puts a 1 GiB brick
    (plus its metadata) on each of the 3 nodes, spread over DEVICES devices."""
    return max(100, math.ceil(total_creates * 1.1 / DEVICES) + 10)


# --- in-process servers -----------------------------------------------------------------------


class HarnessEndpoint:
    """A Harness (ASGI in-process, no sockets, no JWT) as an Endpoint."""

    def __init__(self, harness: Any) -> None:
        self.h = harness

    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        if body is None:
            return cast(httpx.Response, await self.h.call(method, path))
        return cast(httpx.Response, await self.h.call(method, path, body))


def harness_module() -> Any:
    """tests/integration/conftest.py (Harness, SimulatedCrash)."""
    return importlib.import_module("integration.conftest")


@contextlib.asynccontextmanager
async def in_process_servers(
    n: int,
    db: str | None,
    workdir: Path,
    world: SimWorld,
    env: dict[str, str],
    stagger: float = 0.0,
) -> Any:
    """n servers on one database and one simulated world, with their background tasks.
    `stagger`: up to that many seconds (random) between two servers' starts, so that their
    lease renewals and watches do not tick in step as they would if started together."""
    harness = harness_module().Harness
    opened: list[Any] = []
    try:
        for i in range(n):
            directory = Path(tempfile.mkdtemp(prefix=f"server{i}-", dir=workdir))
            h = harness.open(directory, world=world, db=db, env=env)
            opened.append(h)
            if i and stagger:
                await asyncio.sleep(random.uniform(0, stagger))
            h.server.start_background()
        yield opened
    finally:
        for h in opened:
            for task in list(h.server.tasks):
                task.cancel()
            h.server.registry.queue.cancel_running()
            with contextlib.suppress(Exception):
                await h.close()


async def in_process_round(
    database: str, n: int, round_: int, args: argparse.Namespace, pg: Any, workdir: Path
) -> Throughput:
    db = pg.new_database() if database == "postgresql" else None
    world = SimWorld(device_size_gb=device_size_gb(args.warmup + args.creates))
    env = {"HEKETI_MAX_INFLIGHT_OPERATIONS": str(args.max_inflight)}
    async with in_process_servers(n, db, workdir, world, env) as hs:
        await hs[0].build_topology(nodes=NODES, devices_per_node=DEVICES)
        endpoints = [HarnessEndpoint(h) for h in hs]
        await drive(endpoints, args.warmup, args.clients)
        meter = CpuMeter(pg.data)
        tally, seconds = await drive(endpoints, args.creates, args.clients)
        cpu = meter.stop()
        dump = await hs[-1].assert_consistent()  # database and nodes agree, nothing booked twice
        checks = {
            "volumes": len(dump["volumeentries"]),
            # Done results still held in memory by the server that ran them, although another
            # server answered the poll (each holds an asyncio.Event).
            "queue_entries_left": sum(len(h.queue.entries) for h in hs),
        }
    result = throughput("in-process", database, n, round_, tally, seconds, cpu, checks)
    if checks["volumes"] != args.warmup + args.creates:
        raise BenchError(f"{checks['volumes']} volumes, expected {args.warmup + args.creates}")
    return result


# --- real server processes on one shared simulator ---------------------------------------------

_FRAME = struct.Struct("!I")


async def _send(writer: asyncio.StreamWriter, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_FRAME.pack(len(data)) + data)
    await writer.drain()


async def _receive(reader: asyncio.StreamReader) -> Any:
    (size,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
    return pickle.loads(await reader.readexactly(size))


def _sim_host(socket_path: str, device_gb: int) -> None:
    """The simulator process: one SimWorld and its SimNodeAgent, whose methods the server
    processes call over a unix socket (`SharedSimAgent`)."""
    agent = SimNodeAgent(SimWorld(device_size_gb=device_gb))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                method, call_args, kwargs = await _receive(reader)
                try:
                    reply: tuple[Any, ...] = (
                        "ok",
                        await getattr(agent, method)(*call_args, **kwargs),
                    )
                except Exception as exc:
                    kind = type(exc)
                    reply = ("error", kind.__module__, kind.__qualname__, str(exc))
                await _send(writer, reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # a server closed its connection, or was killed mid-call
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_unix_server(handle, socket_path)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):  # stopped by SIGINT (Processes.close)
        asyncio.run(serve())


class SharedSimAgent:
    """A NodeAgent whose nodes live in the simulator process: each call is one round trip
    on a pooled unix-socket connection. Node errors come back as the same exception types."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        if method.startswith("_"):
            raise AttributeError(method)

        async def call(*call_args: Any, **kwargs: Any) -> Any:
            if self._idle:
                reader, writer = self._idle.pop()
            else:
                reader, writer = await asyncio.open_unix_connection(self.socket_path)
            try:
                await _send(writer, (method, call_args, kwargs))
                reply = await _receive(reader)
            except BaseException:
                writer.close()
                raise
            self._idle.append((reader, writer))
            if reply[0] == "ok":
                return reply[1]
            raise _rebuild(*reply[1:])

        return call


def _rebuild(module: str, qualname: str, message: str) -> Exception:
    kind: Any = importlib.import_module(module)
    for part in qualname.split("."):
        kind = getattr(kind, part)
    if isinstance(kind, type) and issubclass(kind, BrickyardError):
        # Some subclasses build their message from other arguments: set it as it was.
        error = kind.__new__(kind)
        BrickyardError.__init__(error, message)
        return error
    if isinstance(kind, type) and issubclass(kind, Exception):
        with contextlib.suppress(Exception):
            return cast(Exception, kind(message))
    return RuntimeError(f"{qualname}: {message}")


def _serve(config_path: str, socket_path: str) -> None:
    """A server process: what `brickyard serve --config=...` runs (cli/serve.py), with the
    node agent replaced by the shared simulator."""
    import uvicorn

    from brickyard.bootstrap import build_server
    from brickyard.config import load_settings

    logging.basicConfig(level=logging.WARNING, format="[brickyard] %(levelname)s %(message)s")
    name = os.environ.get(HOSTNAME_ENV)
    if name:  # another host as far as the server registry can tell (socket.gethostname)
        socket.gethostname = lambda: name
    settings, _ = load_settings(config_path)
    server = build_server(settings, agent=cast(NodeAgent, SharedSimAgent(socket_path)))
    config = uvicorn.Config(
        server.app,
        host=settings.bind_address,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )

    async def serve() -> None:
        server.start_background()
        await uvicorn.Server(config).serve()

    try:
        # uvicorn raises the SIGINT it stopped on again once it has shut down.
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())
    finally:
        server.store.close()


class Processes:
    """The simulator process and server processes, all stopped at the end (by their pids)."""

    def __init__(self, workdir: Path, device_gb: int) -> None:
        self.workdir = workdir
        self.socket = str(workdir / "sim.sock")
        self.started: list[subprocess.Popen[bytes]] = []
        self.sim = self._spawn(["_sim", self.socket, str(device_gb)], workdir / "sim.log", {})
        deadline = time.monotonic() + 30
        while not os.path.exists(self.socket):
            if self.sim.poll() is not None or time.monotonic() > deadline:
                raise BenchError("the simulator process did not start")
            time.sleep(0.02)

    def _spawn(
        self, argv: list[str], log_path: Path, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        # HEKETI_* and BRICKYARD_* of the caller would override the config file.
        full = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
        full.update(env)
        full["PYTHONUNBUFFERED"] = "1"
        with open(log_path, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, __file__, *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full,
                cwd=self.workdir,
            )
        self.started.append(process)
        return process

    def server(
        self,
        db: str,
        name: str,
        host: str,
        lease: float,
        max_inflight: int,
        crash_at: str = "",
    ) -> ServerProcess:
        port = free_port()
        config = server_config(port, db, max_inflight, server_lease_seconds=lease)
        config_path = self.workdir / f"{name}.json"
        config_path.write_text(json.dumps(config))
        env = {HOSTNAME_ENV: host}
        if crash_at:
            env["BRICKYARD_TEST_CRASH_AT"] = crash_at
        log_path = self.workdir / f"{name}.log"
        process = self._spawn(["_serve", str(config_path), self.socket], log_path, env)
        server = ServerProcess(f"http://{HOST}:{port}", process, self.workdir, log_path)
        _wait_ready(server, 60)
        return server

    def stop(self, server: ServerProcess) -> None:
        _stop(server.process, server.pid)

    def close(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                _stop(process, process.pid)
        # The logs go with the directory: keep what the processes logged as errors, each
        # with its traceback.
        for path in sorted(self.workdir.glob("*.log")):
            block: list[str] = []
            for line in path.read_text(errors="replace").splitlines():
                if block and (
                    line.startswith((" ", "Traceback", "During", "The above")) or not line
                ):
                    block.append(line)
                    continue
                if block:
                    block.append(line)  # the exception's own line ends the traceback
                    PROCESS_ERRORS.append(f"{path.name}: " + "\n".join(block))
                    block = []
                    continue
                if " ERROR " in line or line.startswith("Traceback"):
                    block = [line]
            if block:
                PROCESS_ERRORS.append(f"{path.name}: " + "\n".join(block))


class RestEndpoint:
    """A server process over HTTP with JWT (bench/_server.py's raw client)."""

    def __init__(self, rest: AsyncRest) -> None:
        self.rest = rest

    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.rest.request(method, path, body)


async def processes_round(
    database: str, n: int, round_: int, args: argparse.Namespace, pg: Any, workdir: Path
) -> Throughput:
    directory = Path(tempfile.mkdtemp(prefix="processes-", dir=workdir))
    db = pg.new_database() if database == "postgresql" else str(directory / "heketi.db")
    procs = Processes(directory, device_size_gb(args.warmup + args.creates))
    endpoints: list[RestEndpoint] = []
    try:
        servers = [
            procs.server(db, f"s{i}", f"host{i}", DEFAULT_LEASE, args.max_inflight)
            for i in range(n)
        ]
        with SyncRest(servers[0].url) as rest:
            load_topology_rest(rest, TopologySpec(NODES, DEVICES, 3))
        endpoints = [RestEndpoint(AsyncRest(s.url)) for s in servers]
        await drive(endpoints, args.warmup, args.clients)
        meter = CpuMeter(pg.data, [s.pid for s in servers] + [procs.sim.pid])
        tally, seconds = await drive(endpoints, args.creates, args.clients)
        cpu = meter.stop()
        with SyncRest(servers[-1].url) as rest:
            check = rest.get("/db/check")
            volumes = len(rest.get("/volumes")["volumes"])
            pending = len(rest.get("/operations/pending")["pendingoperations"])
        checks = {
            "volumes": volumes,
            "inconsistencies": check["totalinconsistencies"],
            "pending": pending,
        }
        if volumes != args.warmup + args.creates or check["totalinconsistencies"] or pending:
            raise BenchError(f"after the run: {checks}")
    finally:
        for endpoint in endpoints:
            await endpoint.rest.close()
        procs.close()
    return throughput("processes", database, n, round_, tally, seconds, cpu, checks)


# --- a dead server ----------------------------------------------------------------------------


@dataclass
class Death:
    variant: str
    lease: float
    from_renewal_s: float  # A's last renewal (servers.renewed) -> B answers the queue id
    from_crash_s: float  # the crash -> B answers the queue id
    expired_to_settled_s: float | None  # B's own record: lease expiry -> operation settled
    answer: str


def database_time(store: SqlStore) -> float:
    with store.read() as tx:
        return tx.db_time()


def renewed_of(store: SqlStore, server_id: str) -> float:
    with store.read() as tx:
        for row in server_rows.all_servers(tx):
            if row.id == server_id:
                return row.renewed
    raise BenchError(f"server {server_id} was taken over before its row could be read")


async def answered(endpoint: Endpoint, location: str) -> httpx.Response:
    """Poll `location` on `endpoint` every POLL seconds until it is no longer pending."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        r = await endpoint.request("GET", location)
        if r.headers.get("x-pending") != "true":
            return r
        if loop.time() - started > OP_TIMEOUT:
            raise BenchError(f"still pending after {OP_TIMEOUT:.0f} s")
        await asyncio.sleep(POLL)


def check_stopped(r: httpx.Response) -> str:
    """A create rolled back after its server died answers 500: "The server running this
    request stopped..." after a takeover, "The server restarted..." after a restart."""
    if r.status_code != 500 or not r.text.startswith(("The server running", "The server rest")):
        raise BenchError(f"unexpected answer after the takeover: {r.status_code} {r.text[:200]}")
    return r.text.strip()[:120]


async def in_process_death(lease: float, pg: Any, workdir: Path) -> Death:
    conftest = harness_module()
    world = SimWorld(device_size_gb=100)
    env = {"BRICKYARD_SERVER_LEASE_SECONDS": f"{lease:g}"}
    stagger = lease / RENEWALS_PER_LEASE
    async with in_process_servers(2, pg.new_database(), workdir, world, env, stagger) as (a, b):
        await b.build_topology()
        await a.create_volume(**VOLUME)  # A has placed and created before: no cold path
        crash: dict[str, float] = {}

        def die(point: str) -> None:
            if point == CRASH_POINT:
                crash["at"] = time.time()
                for task in list(a.server.tasks):  # a dead server renews nothing
                    task.cancel()
                raise conftest.SimulatedCrash(point)

        a.server.services.ctx.crash_hook = die
        await asyncio.sleep(random.uniform(0, lease / RENEWALS_PER_LEASE))
        r = await a.post("/volumes", VOLUME)
        if r.status_code != 202:
            raise BenchError(f"POST /volumes on A: {r.status_code} {r.text[:200]}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while "at" not in crash:
            if loop.time() > deadline:
                raise BenchError(f"{CRASH_POINT} was never reached")
            await asyncio.sleep(0.001)
        store = b.server.store
        offset = database_time(store) - time.time()  # the same host: about 0
        renewed = renewed_of(store, a.server.services.ctx.worker)
        final = await answered(HarnessEndpoint(b), r.headers["location"])
        done = time.time() + offset
        await a.queue.drain()  # collects A's crashed job
        await b.assert_consistent()  # the create was rolled back on the nodes too
        takeovers = b.server.registry.takeovers
        record = takeovers[-1] if takeovers else None
        return Death(
            "in-process",
            lease,
            done - renewed,
            done - (crash["at"] + offset),
            record.settled - record.expired if record else None,
            check_stopped(final),
        )


async def process_deaths(
    lease: float, repeats: int, restarts: int, pg: Any, workdir: Path
) -> tuple[list[Death], list[float]]:
    """Real processes: A killed by SIGKILL at the crash point and taken over by B after its
    lease (A and B on different host names); then A killed and started again at once on its
    host. Returns the deaths and the crash -> answered times of the restarts."""
    directory = Path(tempfile.mkdtemp(prefix="deaths-", dir=workdir))
    db = pg.new_database()
    procs = Processes(directory, 500)
    store = SqlStore(db)
    deaths: list[Death] = []
    restart_times: list[float] = []
    try:
        b = procs.server(db, "b", "host-b", lease, 8)
        with SyncRest(b.url) as rest:
            load_topology_rest(rest, TopologySpec(3, 1, 3))
        on_b = AsyncRest(b.url)
        try:
            for attempt in range(repeats + restarts):
                restart = attempt >= repeats
                a = procs.server(db, f"a{attempt}", "host-a", lease, 8, crash_at=CRASH_POINT)
                on_a = AsyncRest(a.url)
                try:
                    listing = (await on_a.request("GET", "/servers")).json()["servers"]
                    a_id = next(s["id"] for s in listing if s["this_server"])
                    await asyncio.sleep(random.uniform(0, lease / RENEWALS_PER_LEASE))
                    r = await on_a.request("POST", "/volumes", VOLUME)
                finally:
                    await on_a.close()
                if r.status_code != 202:
                    raise BenchError(f"POST /volumes on A: {r.status_code} {r.text[:200]}")
                while a.process.poll() is None:  # SIGKILL at the crash point
                    await asyncio.sleep(0.001)
                crashed = time.time()
                offset = database_time(store) - time.time()
                renewed = renewed_of(store, a_id)
                if restart:  # started again on its host, as systemd would (without the 5 s)
                    again = procs.server(db, f"a{attempt}-again", "host-a", lease, 8)
                location = r.headers["location"]
                final = await answered(RestEndpoint(on_b), location)
                done = time.time()
                check_stopped(final)
                if restart:
                    restart_times.append(done - crashed)
                    procs.stop(again)
                else:
                    deaths.append(
                        Death(
                            "processes",
                            lease,
                            done + offset - renewed,
                            done - crashed,
                            None,
                            check_stopped(final),
                        )
                    )
                log(
                    f"  {'restart' if restart else 'death'} {attempt + 1}: answered on B "
                    f"{done - crashed:.2f} s after the SIGKILL"
                )
            with SyncRest(b.url) as rest:
                if rest.get("/db/check")["totalinconsistencies"]:
                    raise BenchError("inconsistent database after the takeovers")
                if rest.get("/operations/pending")["pendingoperations"]:
                    raise BenchError("operations left pending after the takeovers")
        finally:
            await on_b.close()
    finally:
        store.close()
        procs.close()
    return deaths, restart_times


# --- fenced when PostgreSQL is gone -----------------------------------------------------------


async def fence_once(lease: float, pg: Any, workdir: Path) -> dict[str, float]:
    env = {"BRICKYARD_SERVER_LEASE_SECONDS": f"{lease:g}"}
    world = SimWorld(device_size_gb=100)
    async with in_process_servers(1, pg.new_database(), workdir, world, env) as (a,):
        await a.build_topology()
        registry = a.server.registry
        await asyncio.sleep(random.uniform(lease / 2, lease))  # a few renewals, random phase
        # pg_ctl blocks: off the event loop, so that the server's lease task keeps its pace.
        await asyncio.to_thread(pg.halt)
        halted = time.monotonic()
        try:
            while not registry.fenced:
                if time.monotonic() - halted > 3 * lease + 10:
                    raise BenchError("the server never fenced itself")
                await asyncio.sleep(0.005)
            fenced = time.monotonic()
            last = registry.last_renewed
        finally:
            await asyncio.to_thread(pg.resume)
        back = time.monotonic()
        while not registry.registered:
            if time.monotonic() - back > 3 * lease + 10:
                raise BenchError("the server did not register again after PostgreSQL came back")
            await asyncio.sleep(0.005)
        return {
            "from_renewal_s": fenced - last,
            "from_stop_s": fenced - halted,
            "registered_again_s": time.monotonic() - back,
        }


# --- the run ----------------------------------------------------------------------------------


STEPS = ("inprocess", "processes", "death", "process-death", "fence")
CONFIGS = [("sqlite", 1), ("postgresql", 1), ("postgresql", 2), ("postgresql", 3)]


async def run(args: argparse.Namespace, pg: Any, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"throughput": [], "deaths": [], "restarts": [], "fences": []}
    for round_ in range(1, args.rounds + 1):
        # Alternate the order between rounds, so that a drift of the machine does not favour
        # the configurations that run first.
        order = CONFIGS if round_ % 2 else list(reversed(CONFIGS))
        for database, n in order:
            for step, block in (("inprocess", in_process_round), ("processes", processes_round)):
                if step not in args.only:
                    continue
                # On a shared machine other work takes a core now and then: a block it
                # disturbed is run again (the attempts left are shown in the log).
                for attempt in range(1, args.attempts + 1):
                    if args.wait_idle > 0:
                        load = await asyncio.to_thread(wait_until_idle, args.wait_idle)
                        log(f"other processes use {load:.2f} cores")
                    t = await block(database, n, round_, args, pg, workdir)
                    log(t.line())
                    if t.cpu["foreign_cores"] <= args.max_other or attempt == args.attempts:
                        break
                    log(f"  disturbed by other work: again ({attempt}/{args.attempts})")
                results["throughput"].append(asdict(t))
    if "death" in args.only:
        for lease in args.leases:
            for i in range(args.deaths):
                d = await in_process_death(lease, pg, workdir)
                log(
                    f"in-process death, lease {lease:g} s, {i + 1}: from the last renewal "
                    f"{d.from_renewal_s:.2f} s, from the crash {d.from_crash_s:.2f} s"
                )
                results["deaths"].append(asdict(d))
    if "process-death" in args.only:
        deaths, restarts = await process_deaths(
            DEFAULT_LEASE, args.deaths, args.restarts, pg, workdir
        )
        results["deaths"].extend(asdict(d) for d in deaths)
        results["restarts"] = restarts
    if "fence" in args.only:
        for i in range(args.fences):
            f = await fence_once(DEFAULT_LEASE, pg, workdir)
            log(f"fence {i + 1}: {f}")
            results["fences"].append(f)
    return results


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    lines: list[str] = []
    rows = results["throughput"]
    if rows:
        lines += [
            f"Creates per second: {args.creates} replica-3 1 GiB creates after {args.warmup} "
            f"not counted, {args.clients} clients, max_inflight_operations "
            f"{args.max_inflight}, {NODES} nodes x {DEVICES} devices.",
            "In-process: every server and the clients share one Python process and one event loop;",
            "the figures show the cost of coordination, not a scale-out.",
            "",
            "| variant | servers | creates/s | p50 ms | p95 ms | 429s | CPU ms/create "
            "(Python, PostgreSQL) | other work, cores |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for variant in ("in-process", "processes"):
            for database, n in CONFIGS:
                found = [
                    r
                    for r in rows
                    if (r["variant"], r["database"], r["servers"]) == (variant, database, n)
                ]
                if not found:
                    continue

                def each(key: str, fmt: str, rs: list[dict[str, Any]] = found) -> str:
                    return " / ".join(format(r[key], fmt) for r in rs)

                python = " / ".join(
                    f"{(r['cpu']['own_s'] + r['cpu']['processes_s']) / r['creates'] * 1000:.2f}"
                    for r in found
                )
                postgres = " / ".join(
                    f"{r['cpu']['postgres_s'] / r['creates'] * 1000:.2f}" for r in found
                )
                foreign = " / ".join(f"{r['cpu']['foreign_cores']:.2f}" for r in found)
                lines.append(
                    f"| {variant} | {n} on {database} | {each('creates_per_s', '.1f')} | "
                    f"{each('p50_ms', '.1f')} | {each('p95_ms', '.1f')} | "
                    f"{each('busy_429', 'd')} | {python}; {postgres} | {foreign} |"
                )
        left = [
            f"{r['servers']} on {r['database']}: {r['checks']['queue_entries_left']}"
            for r in rows
            if r["checks"].get("queue_entries_left")
        ]
        if left:
            lines.append(
                "\nNOTE: queue results still in the memory of the servers that ran them, after "
                f"the clients read them on another server (in-process): {', '.join(left)}, "
                f"of {args.warmup + args.creates} creates"
            )
    deaths = results["deaths"]
    if deaths:
        lines += [
            "",
            f"Dead server -> its create settled and answered on another server "
            f"(crash point {CRASH_POINT}), seconds, min / median / max:",
            "",
            "| variant | lease | runs | from A's last renewal | from the crash | "
            "lease expiry -> settled |",
            "|---|---|---|---|---|---|",
        ]
        for variant, lease in dict.fromkeys((d["variant"], d["lease"]) for d in deaths):
            ds = [d for d in deaths if (d["variant"], d["lease"]) == (variant, lease)]

            def fmt(values: list[float]) -> str:
                s = spread(values)
                return f"{s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f}"

            settled = [d["expired_to_settled_s"] for d in ds if d["expired_to_settled_s"]]
            lines.append(
                f"| {variant} | {lease:g} s | {len(ds)} | "
                f"{fmt([d['from_renewal_s'] for d in ds])} | "
                f"{fmt([d['from_crash_s'] for d in ds])} | "
                f"{fmt(settled) if settled else '-'} |"
            )
        default = [d["from_renewal_s"] for d in deaths if d["lease"] == DEFAULT_LEASE]
        if default:
            verdict = "met" if max(default) < TARGET_SETTLED else "NOT met"
            lines.append(
                f"\nTarget: settled < {TARGET_SETTLED:g} s after the last renewal with the "
                f"default lease: {verdict} (worst {max(default):.2f} s)."
            )
    if results["restarts"]:
        s = spread(results["restarts"])
        lines.append(
            f"\nSIGKILL -> restarted at once on the same host -> answered: "
            f"{s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f} s "
            f"({len(results['restarts'])} runs; includes the process start)"
        )
    if results["fences"]:
        fences = results["fences"]
        for key, what in (
            ("from_renewal_s", "last renewal -> fenced"),
            ("from_stop_s", "PostgreSQL stopped -> fenced"),
            ("registered_again_s", "PostgreSQL back -> registered again"),
        ):
            s = spread([f[key] for f in fences])
            lines.append(
                f"{what}: {s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f} s "
                f"(lease {DEFAULT_LEASE:g} s, {len(fences)} runs)"
            )
    return "\n".join(lines)


def output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def environment() -> dict[str, str]:
    """What was measured, and where: commit (+ whether src/ had changes), CPU, PostgreSQL."""
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        model = next((line.split(":", 1)[1].strip() for line in info if "model name" in line), "")
    pg_bin = importlib.import_module("pg").PG_BIN
    package = Path(importlib.import_module("brickyard").__file__ or "").parent
    if package == REPO / "src" / "brickyard":
        code = output(["git", "rev-parse", "--short", "HEAD"])
        if output(["git", "status", "--porcelain", "src"]):
            code += " + uncommitted changes in src/"
    else:  # another tree through PYTHONPATH (an older commit, say): named by its path
        code = str(package)
    return {
        "code": code,
        "cpu": f"{model}, {os.cpu_count()} cores",
        "python": sys.version.split()[0],
        "postgresql": output([str(pg_bin / "postgres"), "--version"]),
    }


@contextlib.contextmanager
def postgresql() -> Iterator[Any]:
    pg_module = importlib.import_module("pg")
    server = pg_module.PgServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def not_simulated(record: logging.LogRecord) -> bool:
    """asyncio reports the in-process crash's task (its exception is never retrieved): an
    effect of simulating the crash inside a live process, not an error of the servers."""
    error = record.exc_info[1] if record.exc_info else None
    return type(error).__name__ != "SimulatedCrash"


class ErrorLog(logging.Handler):
    """Errors the servers log (an exception in a background task, say): printed at the end."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: small counts")
    parser.add_argument("--creates", type=int, default=300, help="timed creates (300)")
    parser.add_argument("--warmup", type=int, default=30, help="creates not counted (30)")
    parser.add_argument("--clients", type=int, default=12, help="concurrent clients (12)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every config (2)")
    parser.add_argument(
        "--max-inflight", type=int, default=8, help="max_inflight_operations (8, the default)"
    )
    parser.add_argument("--deaths", type=int, default=5, help="deaths per lease (5)")
    parser.add_argument(
        "--restarts", type=int, default=3, help="same-host restarts, real processes (3)"
    )
    parser.add_argument("--fences", type=int, default=2, help="PostgreSQL stops (2)")
    parser.add_argument(
        "--leases", default="8,2", help="leases of the in-process deaths, seconds (8,2)"
    )
    parser.add_argument(
        "--only", default=",".join(STEPS), help=f"steps to run, of {','.join(STEPS)}"
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each throughput block, wait up to SECONDS for other processes to go quiet",
    )
    parser.add_argument(
        "--max-other",
        type=float,
        default=0.3,
        metavar="CORES",
        help="run a throughput block again when other processes used more (0.3 cores)",
    )
    parser.add_argument(
        "--attempts", type=int, default=3, help="runs of a disturbed throughput block (3)"
    )
    parser.add_argument("--json-out", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="show server warnings")
    args = parser.parse_args(argv)
    if args.quick:
        args.creates, args.warmup, args.rounds = 60, 12, 1
        args.deaths, args.restarts, args.fences, args.leases = 1, 1, 1, "2,8"
    args.leases = [float(x) for x in args.leases.split(",") if x]
    args.only = {s for s in args.only.split(",") if s}
    if args.only - set(STEPS):
        parser.error(f"unknown steps: {', '.join(sorted(args.only - set(STEPS)))}")

    # The in-process servers log through this process's loggers (brickyard's level is set
    # from their settings): shown from WARNING with -v, else from ERROR; errors are kept.
    shown = logging.StreamHandler()
    shown.setLevel(logging.WARNING if args.verbose else logging.ERROR)
    shown.setFormatter(logging.Formatter("[server] %(levelname)s %(name)s: %(message)s"))
    errors = ErrorLog()
    errors.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for handler in (shown, errors):
        handler.addFilter(not_simulated)
        logging.getLogger().addHandler(handler)
    workdir = Path(tempfile.mkdtemp(prefix="brickyard-ha-bench-"))
    started = time.perf_counter()
    try:
        with postgresql() as pg:
            results = asyncio.run(run(args, pg, workdir))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["run_seconds"] = time.perf_counter() - started
    results["environment"] = environment()
    results["server_errors"] = errors.records + PROCESS_ERRORS
    print(", ".join(f"{k}: {v}" for k, v in results["environment"].items()) + "\n")
    print(report(results, args))
    if results["server_errors"]:
        # The first and the last line of each (the logged message, the exception); the whole
        # text is in --json-out. Fencing logs an error by design, and so does the node health
        # monitor while the database is gone (both expected in the fence step).
        print(f"\n{len(results['server_errors'])} errors logged by the servers:")
        for text in results["server_errors"]:
            lines = text.splitlines()
            print(f"  {lines[0][:160]}" + (f" ... {lines[-1][:160]}" if len(lines) > 1 else ""))
    print(f"\n(run took {results['run_seconds']:.0f} s)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_sim"]:
        _sim_host(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:2] == ["_serve"]:
        _serve(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
