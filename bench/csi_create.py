"""CSI CreateVolume benchmark: the driver's overhead over the plain REST create, on the simulator.

A fresh Brickyard server on the simulator (mock executor, loopback), 6 nodes x 2 devices in 3
zones; the CSI driver as its own process (``brickyard csi --mode controller``) on a unix
socket. Then, interleaved so that both see the same server state, N creates of a replica-3
1 GiB volume each way:

- REST: ``brickyard.client.HeketiClient.volume_create`` (POST /volumes, 202, poll the queue,
  follow the 303), with the same polling policy the driver's client uses;
- CSI: ``CreateVolume`` over gRPC on the unix socket, timed until the response (the volume is
  ready when the driver answers: it waits for the server's operation to end).

The overhead is the difference of the medians (and of the means). The driver's extra work per
create: a gRPC round trip, the parameter checks, one ``GET /topology`` to look the name up and
to find a free gid (it grows with the number of volumes), then the same create.

    .venv/bin/python bench/csi_create.py              # 100 + 100 creates, about 15 s
    .venv/bin/python bench/csi_create.py -n 30 --json-out r.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc
from _server import ADMIN_KEY, running_server

from brickyard.client import HeketiClient
from brickyard.csi.controller import csi_backoff
from brickyard.csi.stubs import load

TARGET_MS = 5.0


def start_driver(server_url: str, socket_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRICKYARD_")}
    env["BRICKYARD_CSI_KEY"] = ADMIN_KEY
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from brickyard.cli.main import main; main()",
            "csi",
            "--mode",
            "controller",
            "--endpoint",
            f"unix://{socket_path}",
            "--server",
            server_url,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the CSI driver did not start")
        time.sleep(0.05)
    return process


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "median_ms": statistics.median(samples),
        "mean_ms": statistics.fmean(samples),
        "p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
        "min_ms": ordered[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="creates each way (default 100)")
    parser.add_argument("--json-out", help="write the results as JSON")
    args = parser.parse_args()
    pb = load().pb2
    pb_grpc = load().grpc
    sockdir = Path(tempfile.mkdtemp(prefix="csib", dir="/tmp"))
    driver: subprocess.Popen[bytes] | None = None
    try:
        with running_server() as server:
            rest = HeketiClient(server.url, "admin", ADMIN_KEY, backoff=csi_backoff())
            cluster = rest.cluster_create()["id"]
            for i in range(6):
                node = rest.node_add(cluster, i % 3 + 1, [f"m{i}"], [f"10.9.0.{i + 1}"])
                for device in ("/dev/sdb", "/dev/sdc"):
                    rest.device_add(node["id"], device)
            driver = start_driver(server.url, sockdir / "csi.sock")
            channel = grpc.insecure_channel(f"unix://{sockdir}/csi.sock")
            controller = pb_grpc.ControllerStub(channel)
            cap = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume())
            cap.access_mode.mode = pb.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER

            def csi_create(i: int) -> None:
                controller.CreateVolume(
                    pb.CreateVolumeRequest(
                        name=f"pvc-bench-{i:05d}",
                        capacity_range=pb.CapacityRange(required_bytes=1 << 30),
                        volume_capabilities=[cap],
                        parameters={"volumetype": "replicate:3"},
                    ),
                    timeout=30,
                )

            def rest_create(i: int) -> None:
                rest.volume_create(1, name=f"vol_rest-{i:05d}", replica=3)

            for i in range(3):  # warm both paths (connections, imports)
                rest_create(-1 - i)
                csi_create(-1 - i)
            times: dict[str, list[float]] = {"rest": [], "csi": []}
            for i in range(args.n):
                for kind, create in (("rest", rest_create), ("csi", csi_create)):
                    started = time.perf_counter()
                    create(i)
                    times[kind].append((time.perf_counter() - started) * 1000)
            channel.close()
            rest.close()
    finally:
        if driver is not None:
            driver.send_signal(signal.SIGTERM)
            driver.wait(20)
        shutil.rmtree(sockdir, ignore_errors=True)
    result: dict[str, Any] = {k: summary(v) for k, v in times.items()}
    result["overhead_median_ms"] = result["csi"]["median_ms"] - result["rest"]["median_ms"]
    result["overhead_mean_ms"] = result["csi"]["mean_ms"] - result["rest"]["mean_ms"]
    result["target_ms"] = TARGET_MS
    for kind in ("rest", "csi"):
        s = result[kind]
        print(
            f"{kind:4}: n={s['n']} median {s['median_ms']:.2f} ms, mean {s['mean_ms']:.2f} ms,"
            f" p90 {s['p90_ms']:.2f} ms, min {s['min_ms']:.2f} ms"
        )
    ok = result["overhead_median_ms"] <= TARGET_MS
    print(
        f"CSI overhead per create: median {result['overhead_median_ms']:.2f} ms,"
        f" mean {result['overhead_mean_ms']:.2f} ms (target <= {TARGET_MS} ms:"
        f" {'met' if ok else 'NOT met'})"
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
