"""Shared by the CSI tests: a real ``heketi`` server subprocess on the simulator (mock executor),
a topology on it, the driver on a unix socket, and gRPC stubs to call it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx

from brickyard.client import HeketiClient
from brickyard.csi.server import CsiServer, DriverOptions, build_server
from brickyard.csi.stubs import load

ADMIN_KEY = "adminkey"
GIB = 1 << 30
pb = load().pb2
pb_grpc = load().grpc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Heketi:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self) -> HeketiClient:
        return HeketiClient(self.url, "admin", ADMIN_KEY)

    def volumes(self) -> list[dict[str, Any]]:
        with self.client() as c:
            topo = c.topology()
        return [v for cl in topo["clusters"] for v in cl.get("volumes") or []]


@contextmanager
def heketi_server(
    workdir: Path,
    *,
    db: str | None = None,
    delay_ms: float = 0,
    max_inflight: int = 8,
    nodes: int = 3,
) -> Iterator[Heketi]:
    """``python -m brickyard.cli.heketi_server`` on the simulator with ``nodes`` nodes of one
    500 GiB device each (zones 1..3), on `db` (glusterfs.db; an SQLite file in `workdir`
    without it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cfg = {
        "port": str(port),
        "bind_address": "127.0.0.1",
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": "userkey"}},
        "glusterfs": {
            "executor": "mock",
            "db": db or str(workdir / "heketi.db"),
            "max_inflight_operations": max_inflight,
        },
    }
    (workdir / "heketi.json").write_text(json.dumps(cfg))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    if delay_ms:
        env["BRICKYARD_SIM_DELAY_MS"] = str(delay_ms)
    log = workdir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "brickyard.cli.heketi_server",
                f"--config={workdir}/heketi.json",
            ],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    server = Heketi(url, proc, log)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url + "/hello", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        with server.client() as c:
            cluster = c.cluster_create()["id"]
            for i in range(nodes):
                node = c.node_add(cluster, i % 3 + 1, [f"m{i}.example.com"], [f"10.1.0.{i + 1}"])
                c.device_add(node["id"], "/dev/sdb")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class Driver:
    server: CsiServer
    channel: grpc.Channel
    identity: Any
    controller: Any
    node: Any


@contextmanager
def csi_driver(**options: Any) -> Iterator[Driver]:
    """The driver on a unix socket in a short temporary directory, and stubs on it."""
    directory = tempfile.mkdtemp(prefix="csi", dir="/tmp")
    path = Path(directory) / "csi.sock"
    options.setdefault("mode", "controller")
    running = build_server(DriverOptions(endpoint=f"unix://{path}", **options))
    channel = grpc.insecure_channel(f"unix://{path}")
    try:
        yield Driver(
            running,
            channel,
            pb_grpc.IdentityStub(channel),
            pb_grpc.ControllerStub(channel),
            pb_grpc.NodeStub(channel),
        )
    finally:
        channel.close()
        running.stop(grace=1)
        shutil.rmtree(directory, ignore_errors=True)


def mount_cap(mode: int | None = None) -> Any:
    cap = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume())
    cap.access_mode.mode = mode or pb.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER
    return cap


def block_cap() -> Any:
    cap = pb.VolumeCapability(block=pb.VolumeCapability.BlockVolume())
    cap.access_mode.mode = pb.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
    return cap


def create_request(
    name: str, size: int = 1, params: dict[str, str] | None = None, **extra: Any
) -> Any:
    return pb.CreateVolumeRequest(
        name=name,
        capacity_range=pb.CapacityRange(required_bytes=size),
        volume_capabilities=[mount_cap()],
        parameters=params if params is not None else {"volumetype": "replicate:3"},
        **extra,
    )


def code_of(call: Any, *args: Any, **kwargs: Any) -> tuple[grpc.StatusCode, str]:
    """The status of a call that must fail."""
    try:
        call(*args, timeout=kwargs.pop("timeout", 20), **kwargs)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    raise AssertionError("the call succeeded")
