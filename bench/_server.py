"""Helpers for the benchmarks: a throw-away Brickyard server on loopback and a raw REST client.

The client side deliberately uses only httpx and the standard library (its own HS256 JWT and
its own fixed-interval queue polling), so the benchmark measures the server, not
``brickyard.client``, and keeps working while the client is being changed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ADMIN_KEY = "bench-admin-secret"
USER_KEY = "bench-user-secret"
HOST = "127.0.0.1"

#: How long a single HTTP request may take before the benchmark gives up.
HTTP_TIMEOUT = 30.0
#: How long one asynchronous operation may stay pending before the benchmark gives up.
OP_TIMEOUT = 60.0


class BenchError(RuntimeError):
    """The server misbehaved (unexpected status, timeout): the benchmark cannot go on."""


# --- JWT (HS256, Heketi claims iss/iat/exp/qsh) ----------------------------------------------


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


_JWT_HEADER = _b64(b'{"alg":"HS256","typ":"JWT"}')


def make_token(method: str, path: str, issuer: str = "admin", key: str = ADMIN_KEY) -> str:
    now = int(time.time())
    qsh = hashlib.sha256(f"{method.upper()}&{path}".encode()).hexdigest()
    claims = {"iss": issuer, "iat": now, "exp": now + 300, "qsh": qsh}
    signing_input = _JWT_HEADER + b"." + _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + _b64(signature)).decode()


def auth_headers(method: str, path: str) -> dict[str, str]:
    return {"Authorization": "bearer " + make_token(method, path)}


# --- the server process ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def read_rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc/<pid>/status."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def read_cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by a process (all its threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    # after the command name: state is field 3, utime 14 and stime 15 (1-based, see proc(5))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def system_busy_seconds() -> float:
    """CPU seconds spent busy (not idle, not waiting for I/O) by all cores since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class LoadMeter:
    """How much CPU *other* processes used while we measured: machine-wide busy time minus
    what the server and this benchmark (and its children) used, in cores on average."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.server_pid = server_pid
        self.reset()

    def _own(self) -> float:
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        if self.server_pid is not None:
            with contextlib.suppress(OSError):
                own += read_cpu_seconds(self.server_pid)
        return own

    def reset(self) -> None:
        self.wall = time.monotonic()
        self.busy = system_busy_seconds()
        self.own = self._own()

    def foreign_cores(self, extra_own: float = 0.0) -> float:
        """``extra_own``: CPU seconds of our own processes the meter cannot see (children not
        yet waited for, e.g. the benchmark's client processes), counted as ours."""
        elapsed = time.monotonic() - self.wall
        if elapsed <= 0:
            return 0.0
        foreign = (system_busy_seconds() - self.busy) - (self._own() - self.own) - extra_own
        return max(0.0, foreign / elapsed)


def wait_until_idle(max_wait: float, threshold: float = 0.15, window: float = 2.0) -> float:
    """Wait (at most ``max_wait`` s) for a ``window`` in which other processes use less than
    ``threshold`` cores. Returns the last load seen."""
    deadline = time.monotonic() + max_wait
    while True:
        meter = LoadMeter()
        time.sleep(window)
        load = meter.foreign_cores()
        if load < threshold or time.monotonic() >= deadline:
            return load


@dataclass
class Server:
    """A running server: its URL, process and scratch directory."""

    url: str
    process: subprocess.Popen[bytes]  # the server, or the wrapper (profiler) running it
    workdir: Path
    log_path: Path
    pid: int = 0  # the server process itself

    def __post_init__(self) -> None:
        self.pid = self.pid or self.process.pid

    def rss(self) -> dict[str, int]:
        return read_rss_kib(self.pid)

    def cpu(self) -> float:
        return read_cpu_seconds(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _server_env(pythonpath: Path | None = None) -> dict[str, str]:
    # HEKETI_* variables would override the config file; the benchmark wants exactly its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    env["PYTHONUNBUFFERED"] = "1"
    if pythonpath is not None:
        # first on the path, ahead of the venv's editable install: the server runs that tree's
        # code with this venv's dependencies (how bench/create.py --baseline runs old code)
        rest = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(pythonpath) + (os.pathsep + rest if rest else "")
    return env


def server_config(port: int, db: str, max_inflight: int, **glusterfs: Any) -> dict[str, Any]:
    """heketi.json of a benchmark server: loopback, the bench keys, the simulator, `db`."""
    return {
        "port": str(port),
        "bind_address": HOST,
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": USER_KEY}},
        "glusterfs": {
            "executor": "mock",
            "db": db,
            "max_inflight_operations": max_inflight,
            "loglevel": "info",
            **glusterfs,
        },
    }


@contextlib.contextmanager
def running_server(
    *,
    max_inflight: int = 64,
    startup_timeout: float = 30.0,
    wrapper: list[str] | None = None,
    python_args: list[str] | None = None,
    pythonpath: Path | None = None,
) -> Iterator[Server]:
    """Start a fresh server (new temp dir, new SQLite DB, mock executor) and stop it afterwards.

    ``wrapper`` prefixes the command (e.g. ``py-spy record ... --``); ``python_args`` go to
    the interpreter before ``-m`` (e.g. ``-m cProfile -o FILE``); ``pythonpath`` (a ``src``
    directory) runs the server from another source tree. The process and the directory are
    removed even when the body raises.
    """
    workdir = Path(tempfile.mkdtemp(prefix="brickyard-bench-"))
    port = free_port()
    config = server_config(port, str(workdir / "heketi.db"), max_inflight)
    config_path = workdir / "heketi.json"
    config_path.write_text(json.dumps(config, indent=2))
    log_path = workdir / "server.log"
    command = [
        sys.executable,
        *(python_args or []),
        "-m",
        "brickyard.cli.heketi_server",
        f"--config={config_path}",
    ]
    process: subprocess.Popen[bytes] | None = None
    server: Server | None = None
    try:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [*(wrapper or []), *command],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_server_env(pythonpath),
                cwd=workdir,
            )
        server = Server(f"http://{HOST}:{port}", process, workdir, log_path)
        _wait_ready(server, startup_timeout)
        if wrapper:
            server.pid = _find_server_pid(process.pid)
        try:
            yield server
        except BaseException:
            if server.process.poll() is None:
                print(f"server log tail:\n{server.log_tail()}", file=sys.stderr)
            raise
    finally:
        if process is not None:
            if process.poll() is not None and server is not None:
                print(
                    f"server exited early with status {process.returncode}; log tail:\n"
                    f"{server.log_tail()}",
                    file=sys.stderr,
                )
            _stop(process, server.pid if server is not None else process.pid)
        shutil.rmtree(workdir, ignore_errors=True)


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (of all its threads)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                found.extend(int(c) for c in children.read().split())
    return found


def _find_server_pid(root: int) -> int:
    """The server process below a wrapper (e.g. `py-spy record -- python -m ...`)."""
    pending = [root]
    while pending:
        pid = pending.pop()
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if b"brickyard.cli.heketi_server" in cmdline.read() and pid != root:
                return pid
        pending.extend(child_pids(pid))
    return root


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise BenchError(
                    f"server exited with status {server.process.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if http.get(server.url + "/hello").status_code == 200:
                    return
            time.sleep(0.05)
    raise BenchError(f"server not ready after {timeout:.0f} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes], server_pid: int) -> None:
    """SIGINT the server (a clean uvicorn shutdown, so a wrapping profiler can write its
    output), then make sure the process we started is gone."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(server_pid, signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        if server_pid != process.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server_pid, signal.SIGKILL)
        process.kill()
        process.wait(timeout=10)


# --- REST: the asynchronous protocol with a fixed poll interval ------------------------------


@dataclass
class OpResult:
    """Outcome of one asynchronous operation."""

    status: int  # final status (200 after following the 303, or 204)
    body: Any
    seconds: float  # from sending the request to having the final answer
    polls: int
    submit: float = 0.0  # the initial request, until its 202
    wait: float = 0.0  # from the 202 to the last poll's answer (polls and sleeps)
    fetch: float = 0.0  # following the 303 (GET of the resource)
    # the server's answers as received: the 202, the last poll's, the resource's (after a 303)
    answers: list[httpx.Response] = field(default_factory=list)


def _check(response: httpx.Response, expected: int, what: str) -> None:
    if response.status_code != expected:
        raise BenchError(
            f"{what}: expected {expected}, got {response.status_code}: "
            f"{response.text.strip()[:300]}"
        )


def _decode(response: httpx.Response) -> Any:
    return response.json() if response.content else None


class SyncRest:
    """One client: one connection, fixed-interval polling."""

    def __init__(self, url: str, poll: float = 0.010) -> None:
        self.poll = poll
        self.http = httpx.Client(base_url=url, timeout=HTTP_TIMEOUT, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SyncRest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, path, json=body, headers=auth_headers(method, path))

    def get(self, path: str) -> Any:
        response = self.request("GET", path)
        _check(response, 200, f"GET {path}")
        return response.json()

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = self.request(method, path, body)
        _check(response, expect, f"{method} {path}")
        return _decode(response)

    def operation(self, method: str, path: str, body: Any = None) -> OpResult:
        started = time.perf_counter()
        response = self.request(method, path, body)
        _check(response, 202, f"{method} {path}")
        accepted = time.perf_counter()
        answers = [response]
        location = response.headers["location"]
        polls = 0
        while True:  # poll at once, then every `poll` seconds while pending (as Heketi's client)
            polls += 1
            response = self.request("GET", location)
            if response.headers.get("x-pending", "").lower() != "true":
                break
            if time.perf_counter() - started > OP_TIMEOUT:
                raise BenchError(f"{method} {path}: still pending after {OP_TIMEOUT:.0f} s")
            time.sleep(self.poll)
        finished = time.perf_counter()
        answers.append(response)
        if response.status_code == 303:
            target = response.headers["location"]
            response = self.request("GET", target)
            _check(response, 200, f"GET {target}")
            answers.append(response)
        elif response.status_code != 204:
            raise BenchError(
                f"{method} {path} failed in the queue: {response.status_code} "
                f"{response.text.strip()[:300]}"
            )
        end = time.perf_counter()
        return OpResult(
            response.status_code,
            _decode(response),
            end - started,
            polls,
            submit=accepted - started,
            wait=finished - accepted,
            fetch=end - finished,
            answers=answers,
        )


class AsyncRest:
    """The same for asyncio, so several clients can run concurrently in one process."""

    def __init__(self, url: str, poll: float = 0.010) -> None:
        self.poll = poll
        self.http = httpx.AsyncClient(base_url=url, timeout=HTTP_TIMEOUT, follow_redirects=False)

    async def close(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.http.request(method, path, json=body, headers=auth_headers(method, path))

    async def operation(self, method: str, path: str, body: Any = None) -> OpResult:
        started = time.perf_counter()
        response = await self.request(method, path, body)
        _check(response, 202, f"{method} {path}")
        location = response.headers["location"]
        polls = 0
        while True:  # poll at once, then every `poll` seconds while pending (as Heketi's client)
            polls += 1
            response = await self.request("GET", location)
            if response.headers.get("x-pending", "").lower() != "true":
                break
            if time.perf_counter() - started > OP_TIMEOUT:
                raise BenchError(f"{method} {path}: still pending after {OP_TIMEOUT:.0f} s")
            await asyncio.sleep(self.poll)
        if response.status_code == 303:
            target = response.headers["location"]
            response = await self.request("GET", target)
            _check(response, 200, f"GET {target}")
        elif response.status_code != 204:
            raise BenchError(
                f"{method} {path} failed in the queue: {response.status_code} "
                f"{response.text.strip()[:300]}"
            )
        return OpResult(
            response.status_code, _decode(response), time.perf_counter() - started, polls
        )


# --- topology -------------------------------------------------------------------------------


@dataclass
class TopologySpec:
    nodes: int
    devices: int
    zones: int
    device_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.device_names:
            self.device_names = [f"/dev/sd{chr(ord('b') + i)}" for i in range(self.devices)]

    def node_hosts(self, index: int) -> tuple[str, str]:
        return f"node{index + 1:03d}.bench.local", f"10.10.{index // 250}.{index % 250 + 1}"

    def zone(self, index: int) -> int:
        return index % self.zones + 1

    def topology_json(self) -> dict[str, Any]:
        nodes = []
        for i in range(self.nodes):
            manage, storage = self.node_hosts(i)
            nodes.append(
                {
                    "node": {
                        "hostnames": {"manage": [manage], "storage": [storage]},
                        "zone": self.zone(i),
                    },
                    "devices": [{"name": d, "destroydata": False} for d in self.device_names],
                }
            )
        return {"clusters": [{"nodes": nodes}]}


def load_topology_rest(rest: SyncRest, spec: TopologySpec) -> str:
    """What `topology load` does, over raw REST, sequentially. Returns the cluster id."""
    cluster = rest.call("POST", "/clusters", {"block": True, "file": True}, expect=201)["id"]
    for i in range(spec.nodes):
        manage, storage = spec.node_hosts(i)
        node = rest.operation(
            "POST",
            "/nodes",
            {
                "zone": spec.zone(i),
                "hostnames": {"manage": [manage], "storage": [storage]},
                "cluster": cluster,
            },
        ).body
        for name in spec.device_names:
            rest.operation("POST", "/devices", {"node": node["id"], "name": name})
    return str(cluster)


def count_topology(rest: SyncRest) -> tuple[int, int]:
    """(nodes, devices) currently known to the server."""
    nodes = devices = 0
    for cluster_id in rest.get("/clusters")["clusters"]:
        for node_id in rest.get(f"/clusters/{cluster_id}")["nodes"]:
            nodes += 1
            devices += len(rest.get(f"/nodes/{node_id}")["devices"])
    return nodes, devices
