"""A PVC storm on real GlusterFS: 30 concurrent CreateVolume through the CSI driver against the
same 30 creates over REST, on the namespace test bed.

A bed of its own (``TB_NAME=csibench``, 3 nodes, sparse 64 GiB disks so that 30 replica-3
volumes of 1 GiB fit), a ``heketi`` server on it (ssh executor, loop-file bricks,
``max_inflight_operations`` 32 so that neither path is throttled: this compares throughput,
not the 429 policies) and the driver as its own process (``brickyard csi --mode controller``).
Each round, alternating which goes first:

- REST: 30 threads, each ``HeketiClient.volume_create`` (1 GiB, replica 3) to the final 303;
- CSI: 30 threads, each ``CreateVolume`` as external-provisioner calls it: a 10 s deadline,
  retried with the same name on DEADLINE_EXCEEDED, UNAVAILABLE or ABORTED after 1, 2, 4 ... s
  (its exponential backoff), until the volume is returned;

timed from the first request to the last answer; then every volume is deleted (not timed).
The CSI storm must end with exactly 30 volumes (none lost, none duplicated).

    .venv/bin/python bench/csi_storm.py               # 2 rounds, about 6 minutes
    .venv/bin/python bench/csi_storm.py --rounds 3 --json-out storm.json

Run as root. The bed is brought up (reused if up) and taken down again if it was not up.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc

REPO = Path(__file__).resolve().parents[1]
BED = "csibench"
os.environ["BRICKYARD_E2E_BED"] = BED  # the e2e conftest's helpers then act on this bed
os.environ.setdefault("TB_DISK_SIZE", "64G")

from brickyard.client import HeketiClient  # noqa: E402
from brickyard.csi.stubs import load  # noqa: E402

STORM = 30
TARGET_RATIO = 1.10
RETRYABLE = {
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.ABORTED,
}


def log(message: str) -> None:
    print(f"[csi-storm] {message}", file=sys.stderr, flush=True)


def load_conftest() -> ModuleType:
    path = REPO / "tests" / "e2e" / "conftest.py"
    spec = importlib.util.spec_from_file_location("brickyard_e2e_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Driver:
    def __init__(self, server_url: str, key: str, workdir: Path) -> None:
        self.socket = Path(f"/tmp/csistorm-{uuid.uuid4().hex[:8]}.sock")
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRICKYARD_")}
        env["BRICKYARD_CSI_KEY"] = key
        with (workdir / "driver.log").open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "brickyard"),
                    "csi",
                    "--mode=controller",
                    f"--endpoint=unix://{self.socket}",
                    f"--server={server_url}",
                    "--log-level=warning",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        grpc.channel_ready_future(self.channel).result(timeout=60)
        self.controller = load().grpc.ControllerStub(self.channel)

    def close(self) -> None:
        self.channel.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def csi_storm(driver: Driver, tag: str) -> tuple[float, list[str], int]:
    """30 CreateVolume as the sidecar calls them; returns (seconds, volume ids, retries)."""
    pb = load().pb2
    cap = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume())
    cap.access_mode.mode = pb.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER
    retries = 0
    lock = threading.Lock()

    def claim(i: int) -> str:
        nonlocal retries
        request = pb.CreateVolumeRequest(
            name=f"pvc-{tag}-{i:03d}",
            capacity_range=pb.CapacityRange(required_bytes=1 << 30),
            volume_capabilities=[cap],
            parameters={"volumetype": "replicate:3"},
        )
        delay = 1.0
        while True:
            try:
                answer = driver.controller.CreateVolume(request, timeout=10)
                return str(answer.volume.volume_id)
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE:
                    raise
                with lock:
                    retries += 1
                time.sleep(delay)
                delay = min(delay * 2, 300)

    started = time.perf_counter()
    with ThreadPoolExecutor(STORM) as pool:
        ids = list(pool.map(claim, range(STORM)))
    return time.perf_counter() - started, ids, retries


def rest_storm(url: str, key: str, tag: str) -> tuple[float, list[str]]:
    def create(i: int) -> str:
        with HeketiClient(url, "admin", key) as client:
            return str(client.volume_create(1, name=f"rest_{tag}_{i:03d}", replica=3)["id"])

    started = time.perf_counter()
    with ThreadPoolExecutor(STORM) as pool:
        ids = list(pool.map(create, range(STORM)))
    return time.perf_counter() - started, ids


def delete_all(url: str, key: str) -> None:
    with HeketiClient(url, "admin", key) as client:
        ids = client.volume_list()["volumes"] or []

    def delete(volume_id: str) -> None:
        with HeketiClient(url, "admin", key) as client:
            client.volume_delete(volume_id)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(delete, ids))


def measure(ct: ModuleType, testbed: Any, rounds: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="brickyard-csi-storm-"))
    config = {
        "port": str(free_port()),
        "bind_address": "127.0.0.1",
        "jwt": {"admin": {"key": ct.ADMIN_KEY}, "user": {"key": "e2e-user-key"}},
        "glusterfs": {
            "executor": "ssh",
            "db": str(workdir / "heketi.db"),
            "brick_backend": "loopfile",
            "sshexec": testbed.sshexec,
            "max_inflight_operations": 32,
        },
    }
    (workdir / "heketi.json").write_text(json.dumps(config))
    rest_times: list[float] = []
    csi_times: list[float] = []
    all_retries: list[int] = []
    try:
        with ct.heketi_server(testbed, workdir) as server:
            server.load_topology()
            driver = Driver(server.url, ct.ADMIN_KEY, workdir)
            try:
                for index in range(rounds):
                    order = ("rest", "csi") if index % 2 == 0 else ("csi", "rest")
                    for who in order:
                        tag = f"r{index}{who}"
                        if who == "rest":
                            seconds, ids = rest_storm(server.url, ct.ADMIN_KEY, tag)
                            rest_times.append(seconds)
                            log(f"round {index + 1}: REST {STORM} creates in {seconds:.1f} s")
                        else:
                            seconds, ids, retries = csi_storm(driver, tag)
                            csi_times.append(seconds)
                            all_retries.append(retries)
                            volumes = server.json("volume", "list")["volumes"]
                            assert len(volumes) == STORM and len(set(ids)) == STORM, (
                                f"{len(volumes)} volumes for {STORM} claims"
                            )
                            log(
                                f"round {index + 1}: CSI {STORM} creates in {seconds:.1f} s "
                                f"({retries} sidecar retries)"
                            )
                        delete_all(server.url, ct.ADMIN_KEY)
            finally:
                driver.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ratio = sum(csi_times) / sum(rest_times)
    return {
        "storm": STORM,
        "rest_seconds": rest_times,
        "csi_seconds": csi_times,
        "csi_sidecar_retries": all_retries,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "pass": ratio <= TARGET_RATIO,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds (default 2)")
    parser.add_argument("--json-out", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    ct = load_conftest()
    reason = ct._unavailable()
    if reason:
        log(f"cannot run the test bed: {reason}")
        return 2
    tb = str(REPO / "testbed" / "tb")
    was_up = ct.run([tb, "status"], check=False).returncode == 0
    ct.run([tb, "up"], timeout=300)
    try:
        result = measure(ct, ct.Testbed.from_tb_env(), args.rounds)
    finally:
        if not was_up:
            ct.run([tb, "down"], check=False)
    print(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
