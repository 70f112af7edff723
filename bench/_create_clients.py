"""Concurrent volume creates from separate client processes (bench/create.py, concurrent phase).

Why processes: clients that are asyncio tasks (or threads) in one interpreter share one GIL, so
with 8 of them the benchmark process itself becomes the bottleneck and hides the server. Here
every client is its own interpreter with its own connection, as 8 real clients would be.

How: the parent starts one ``python _create_clients.py`` per client. Each child imports httpx,
opens its connection with one request, prints ``ready`` and blocks on stdin. When all are ready
the parent writes ``go`` to each (the barrier), and the children run their share of the creates
through the full protocol (POST, poll /queue, follow the 303). Each child then prints one JSON
line (its start and end on CLOCK_MONOTONIC, which all processes on the machine share, its
latencies, and the CPU its creates took) and waits for stdin to close before it exits, so its
interpreter teardown falls outside the measured window. The wall time is last end - first
start: it covers the creates only, not interpreter start-up or the barrier.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from _server import BenchError, LoadMeter, Server, SyncRest

READY = b"ready\n"
GO = b"go\n"


def _now() -> float:
    # CLOCK_MONOTONIC explicitly: the stamps of different processes are compared with each other
    return time.clock_gettime(time.CLOCK_MONOTONIC)


@dataclass
class ClientsRun:
    """What the client processes measured, with the server's CPU over the same window."""

    wall: float  # first client's start to last client's end, seconds
    latencies: list[float]  # seconds, every create of every client
    polls: list[int]
    clients_cpu: float  # CPU seconds all clients spent on their creates
    start_spread: float  # last client's start - first client's start, seconds
    server_cpu: float  # CPU seconds the server used from the barrier to the last result
    other_load: float  # cores used by processes other than the server and the clients


def shares(count: int, clients: int) -> list[int]:
    """``count`` creates split as evenly as possible over ``clients``."""
    return [count // clients + (1 if i < count % clients else 0) for i in range(clients)]


class ClientProcesses:
    """``with ClientProcesses(...) as clients: clients.go(server)``: the context starts the
    processes and waits until every one has its connection open; ``go`` releases them together
    and collects their results; leaving the context ends any process still running."""

    def __init__(
        self, url: str, body: dict[str, Any], count: int, clients: int, poll: float, bricks: int
    ) -> None:
        self.commands = [
            [sys.executable, __file__, url, str(n), str(poll), json.dumps(body), str(bricks)]
            for n in shares(count, clients)
            if n > 0
        ]
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> ClientProcesses:
        try:
            for command in self.commands:
                # stderr is inherited: a client's traceback shows up in the benchmark's output
                self.processes.append(
                    subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                )
            for process in self.processes:
                line = _stdout(process).readline()
                if line != READY:
                    # a client that failed before the barrier says why in its one line
                    why = line.decode(errors="replace").strip() or self._failure(process)
                    raise BenchError(f"client {process.pid} not ready: {why}")
        except BaseException:
            self._end()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._end()

    def go(self, server: Server) -> ClientsRun:
        meter = LoadMeter(server.pid)
        cpu0 = server.cpu()
        for process in self.processes:
            stdin = _stdin(process)
            stdin.write(GO)
            stdin.flush()
        outcomes = []
        for process in self.processes:
            line = _stdout(process).readline()
            if not line:
                raise BenchError(f"client {process.pid} gave no result: {self._failure(process)}")
            outcomes.append(json.loads(line))
        # read before the clients are reaped: os.times() counts a child's CPU only once waited
        # for, so the meter sees none of theirs and their creates' CPU is subtracted here
        server_cpu = server.cpu() - cpu0
        clients_cpu = sum(float(o.get("cpu_s", 0.0)) for o in outcomes)
        other = meter.foreign_cores(extra_own=clients_cpu)
        errors = [o["error"] for o in outcomes if "error" in o]
        if errors:
            raise BenchError(f"{len(errors)} client(s) failed: {errors[0]}")
        starts = [float(o["start"]) for o in outcomes]
        ends = [float(o["end"]) for o in outcomes]
        return ClientsRun(
            wall=max(ends) - min(starts),
            latencies=[s for o in outcomes for s in o["latencies"]],
            polls=[p for o in outcomes for p in o["polls"]],
            clients_cpu=clients_cpu,
            start_spread=max(starts) - min(starts),
            server_cpu=server_cpu,
            other_load=other,
        )

    def _failure(self, process: subprocess.Popen[bytes]) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        code = process.poll()
        return "still running" if code is None else f"exited with status {code}"

    def _end(self) -> None:
        """Close stdin (a client that has reported exits on that), then make sure each process
        this object started is gone, killing by its own pid only."""
        for process in self.processes:
            with contextlib.suppress(OSError):
                _stdin(process).close()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            with contextlib.suppress(OSError):
                _stdout(process).close()
        self.processes = []


def _stdin(process: subprocess.Popen[bytes]) -> IO[bytes]:
    assert process.stdin is not None
    return process.stdin


def _stdout(process: subprocess.Popen[bytes]) -> IO[bytes]:
    assert process.stdout is not None
    return process.stdout


# --- the client process ----------------------------------------------------------------------


def _client(url: str, count: int, poll: float, body: dict[str, Any], bricks: int) -> int:
    out = sys.stdout.buffer
    result: dict[str, Any]
    try:
        with SyncRest(url, poll) as rest:
            rest.get("/clusters")  # opens the connection before the barrier
            out.write(READY)
            out.flush()
            if sys.stdin.buffer.readline() != GO:
                return 2
            latencies: list[float] = []
            polls: list[int] = []
            cpu0 = time.process_time()
            start = _now()
            for _ in range(count):
                done = rest.operation("POST", "/volumes", body)
                if len(done.body.get("bricks") or []) != bricks:
                    raise BenchError(f"volume without {bricks} bricks: {done.body}")
                latencies.append(done.seconds)
                polls.append(done.polls)
            end = _now()
            cpu = time.process_time() - cpu0
        result = {"start": start, "end": end, "cpu_s": cpu, "latencies": latencies, "polls": polls}
    except (BenchError, httpx.HTTPError, KeyError, ValueError) as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    out.write(json.dumps(result).encode() + b"\n")
    out.flush()
    sys.stdin.buffer.read()  # stay until the parent has taken its readings (see the docstring)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    url, count, poll, body, bricks = sys.argv[1:6]
    sys.exit(_client(url, int(count), float(poll), json.loads(body), int(bricks)))
