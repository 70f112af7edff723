"""End-to-end benchmark on the 3-node GlusterFS test bed: Brickyard against the floor.

Brickyard: ``heketi`` with the ssh executor and the loop-file backend drives the namespace test
bed of ``testbed/tb`` (3 nodes, one raw disk each, loaded once as a topology). Each round times
``POST /volumes`` (1 GiB, replica 3) through the asynchronous protocol (202, poll the queue every
10 ms) up to the final 303, and ``DELETE /volumes/<id>`` up to the 204, over HTTP with a raw
httpx + HS256 JWT client (bench/_server.py).

The floor: the same node commands in the same order, built with ``brickyard.nodes.commands``
and run by hand over asyncssh with one kept-alive connection per node and per-node parallelism:

* create: ``loopfile.brick_create`` on the 3 nodes in parallel, then ``gluster.volume_create``
  (volume create, volume set user.heketi.id, volume start) on node 1;
* delete: ``volume info --xml``, ``volume stop force``, ``volume delete`` on node 1, then the
  loop-file brick destroy steps (umount, losetup -j, fstab edit, rm -f image, rmdir) on the 3
  nodes in parallel.

The floor's device is a directory (``loopfile.device_setup``, directory mode) on the same XFS
filesystem as the server's device on each node, so images, mounts and fstab lines have the
server's layout. The fstab edit falls back to ``sed`` + ``tee`` when ``sed -i`` cannot rename
(the bed's /etc/fstab is a bind mount), exactly as the server does.

    .venv/bin/python bench/e2e.py                 # 5 rounds (+1 warm-up), about a minute
    .venv/bin/python bench/e2e.py --rounds 9 --json-out e2e.json

Run as root. The e2e suite's bed (``TB_NAME=e2e testbed/tb up``) is brought up (reused if it is
up) and left as it was found; volumes, bricks, devices and the floor's directories are removed
at the end, also on errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncssh
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import SyncRest, make_token, wait_until_idle  # noqa: E402

from brickyard.nodes.commands import fs, gluster, loopfile, parsers  # noqa: E402
from brickyard.nodes.commands.argv import Command, Outcome, to_shell  # noqa: E402
from brickyard.nodes.commands.settings import CommandSettings  # noqa: E402
from brickyard.nodes.port import BrickSpec, DeviceSpec, GlusterBrick, GlusterVolumeSpec  # noqa: E402

TB = REPO / "testbed" / "tb"
VOLUME = {"size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}}}
POLL = 0.010  # seconds between queue polls
TARGET = 0.10  # overhead over the floor


def log(message: str) -> None:
    print(f"[e2e] {message}", file=sys.stderr, flush=True)


def load_conftest() -> ModuleType:
    """tests/e2e/conftest.py (Testbed, heketi_server, scrub_bed), imported by path."""
    path = REPO / "tests" / "e2e" / "conftest.py"
    spec = importlib.util.spec_from_file_location("brickyard_e2e_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class Rest(SyncRest):
    """bench/_server.py's client, signing with the e2e server's admin key."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(url, poll=POLL)
        self.key = key

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        token = make_token(method, path, key=self.key)
        return self.http.request(
            method, path, json=body, headers={"Authorization": "bearer " + token}
        )


# --- the floor: the same commands, by hand ------------------------------------------------------


class CommandFailed(RuntimeError):
    pass


@dataclass
class FloorVolume:
    name: str
    bricks: list[tuple[str, BrickSpec]]  # (node address, brick)


@dataclass
class Floor:
    """One asyncssh connection per node, kept alive; commands from brickyard.nodes.commands."""

    hosts: list[str]
    user: str
    key: Path
    known_hosts: Path
    parents: dict[str, str]  # node address -> directory holding the floor's device dir
    cfg: CommandSettings = field(default_factory=CommandSettings)
    conns: dict[str, asyncssh.SSHClientConnection] = field(default_factory=dict)
    devices: dict[str, DeviceSpec] = field(default_factory=dict)
    live: list[FloorVolume] = field(default_factory=list)

    async def connect(self) -> None:
        for host in self.hosts:
            self.conns[host] = await asyncssh.connect(
                host,
                username=self.user,
                client_keys=[str(self.key)],
                known_hosts=str(self.known_hosts),
                keepalive_interval=30,
            )

    async def close(self) -> None:
        for conn in self.conns.values():
            conn.close()
            await conn.wait_closed()
        self.conns.clear()

    async def raw(self, host: str, command: Command) -> tuple[int, str, str]:
        result = await asyncio.wait_for(
            self.conns[host].run(
                to_shell(command.argv),
                input=command.stdin.decode() if command.stdin is not None else None,
                check=False,
            ),
            command.timeout,
        )
        code = result.exit_status if result.exit_status is not None else 255
        return code, str(result.stdout or ""), str(result.stderr or "")

    async def run(self, host: str, command: Command, check: bool = True) -> tuple[int, str, str]:
        code, out, err = await self.raw(host, command)
        if command.argv[:2] == ("sed", "-i.save") and code and "cannot rename" in err:
            # /etc/fstab is a bind mount on the bed: the same fallback as the server's.
            expression, fstab = command.argv[-2], command.argv[-1]
            code, edited, err = await self.raw(host, Command(("sed", expression, fstab), 60))
            if code == 0:
                rewrite = Command(("tee", fstab), 60, stdin=edited.encode())
                code, out, err = await self.raw(host, rewrite)
        if check and command.outcome(code, err) is Outcome.FAILED:
            raise CommandFailed(f"{' '.join(command.argv)} on {host}: {err.strip() or code}")
        return code, out, err

    async def batch(self, host: str, commands: Iterable[Command]) -> None:
        for command in commands:
            await self.run(host, command)

    async def setup(self) -> None:
        async def one(host: str) -> None:
            device = DeviceSpec(uuid.uuid4().hex, f"{self.parents[host]}/floor", "loopfile")
            await self.run(host, fs.mkdir_p(device.name, 60))
            self.devices[host] = device
            await self.batch(host, loopfile.device_setup(self.cfg, device, False))

        await asyncio.gather(*(one(h) for h in self.hosts))

    async def teardown(self) -> None:
        for volume in list(self.live):
            with contextlib.suppress(Exception):
                await self.delete(volume)
        for host, device in self.devices.items():
            plan = loopfile.device_teardown_plan(self.cfg, device)
            with contextlib.suppress(Exception):
                await self.batch(host, plan.remove)
                await self.run(host, plan.rmdir, check=False)
            await self.run(host, Command(("rm", "-rf", device.name), 60), check=False)
        self.devices.clear()

    async def create(self, brick_size: int) -> FloorVolume:
        bricks = [
            (h, BrickSpec(uuid.uuid4().hex, self.devices[h], brick_size, 0, 0)) for h in self.hosts
        ]
        volume = FloorVolume("vol_" + uuid.uuid4().hex, bricks)
        self.live.append(volume)
        await asyncio.gather(
            *(self.batch(h, loopfile.brick_create(self.cfg, b)) for h, b in bricks)
        )
        spec = GlusterVolumeSpec(
            name=volume.name,
            bricks=[GlusterBrick(h, b.path) for h, b in bricks],
            replica=3,
            options=[("user.heketi.id", volume.name.removeprefix("vol_"))],
        )
        await self.batch(self.hosts[0], gluster.volume_create(self.cfg, spec))
        return volume

    async def _brick_destroy(self, host: str, brick: BrickSpec) -> None:
        plan = loopfile.brick_destroy_plan(self.cfg, brick)
        code, _, err = await self.run(host, plan.umount, check=False)
        if plan.umount.outcome(code, err) is Outcome.FAILED:
            await self.run(host, plan.mounted_check, check=False)
        code, out, _ = await self.run(host, plan.loop_find, check=False)
        for loop_device in parsers.parse_losetup(out) if code == 0 else []:
            await self.run(host, loopfile.loop_detach(loop_device), check=False)
        await self.run(host, plan.fstab_remove)
        await self.run(host, plan.image_remove)
        await self.run(host, plan.rmdir, check=False)

    async def delete(self, volume: FloorVolume) -> None:
        via = self.hosts[0]
        _, info, _ = await self.run(via, gluster.volume_info(self.cfg, volume.name))
        if parsers.volume_info_or_none(info, volume.name) is not None:
            await self.run(via, gluster.volume_stop(self.cfg, volume.name), check=False)
            await self.run(via, gluster.volume_delete(self.cfg, volume.name))
        await asyncio.gather(*(self._brick_destroy(h, b) for h, b in volume.bricks))
        self.live.remove(volume)


# --- the run --------------------------------------------------------------------------------


@dataclass
class Times:
    create: list[float] = field(default_factory=list)
    delete: list[float] = field(default_factory=list)


def server_round(rest: Rest) -> tuple[float, float, int]:
    """(create s, delete s, brick size KiB): POST to the 303, DELETE to the 204."""
    created = rest.operation("POST", "/volumes", VOLUME)
    volume = created.body
    deleted = rest.operation("DELETE", f"/volumes/{volume['id']}")
    return created.submit + created.wait, deleted.submit + deleted.wait, volume["bricks"][0]["size"]


async def floor_round(floor: Floor, brick_size: int) -> tuple[float, float]:
    started = time.perf_counter()
    volume = await floor.create(brick_size)
    created = time.perf_counter()
    await floor.delete(volume)
    return created - started, time.perf_counter() - created


def overhead(server: list[float], floor: list[float]) -> float:
    return statistics.median(server) / statistics.median(floor) - 1


def ms(values: list[float]) -> str:
    return " ".join(f"{v * 1000:6.0f}" for v in values)


def report(server: Times, floor: Times) -> dict[str, Any]:
    print(
        f"rounds: {len(server.create)} (ms; create = POST to the 303, delete = DELETE to the 204)"
    )
    rows = [
        ("create", server.create, floor.create),
        ("delete", server.delete, floor.delete),
        (
            "both",
            [c + d for c, d in zip(server.create, server.delete, strict=True)],
            [c + d for c, d in zip(floor.create, floor.delete, strict=True)],
        ),
    ]
    result: dict[str, Any] = {}
    for name, srv, flr in rows:
        over = overhead(srv, flr)
        print(f"{name:6} brickyard  {ms(srv)}   median {statistics.median(srv) * 1000:6.0f}")
        print(f"{name:6} floor      {ms(flr)}   median {statistics.median(flr) * 1000:6.0f}")
        print(f"{name:6} overhead   {over * 100:+.1f} % of the floor (median vs median)")
        result[name] = {
            "brickyard_ms": [round(v * 1000, 1) for v in srv],
            "floor_ms": [round(v * 1000, 1) for v in flr],
            "brickyard_median_ms": round(statistics.median(srv) * 1000, 1),
            "floor_median_ms": round(statistics.median(flr) * 1000, 1),
            "overhead_pct": round(over * 100, 2),
        }
    passed = all(result[n]["overhead_pct"] < TARGET * 100 for n in ("create", "delete"))
    result["pass"] = passed
    print(f"{'PASS' if passed else 'FAIL'}: target < {TARGET * 100:.0f} % (create and delete)")
    return result


def measure(ct: ModuleType, testbed: Any, rounds: int, warmup: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="brickyard-e2e-bench-"))
    loop = asyncio.new_event_loop()
    floor: Floor | None = None
    try:
        with ct.heketi_server(testbed, workdir) as server:
            started = time.perf_counter()
            server.load_topology()
            log(f"topology loaded in {time.perf_counter() - started:.1f} s")
            parents = {
                testbed.ip(number): f"{loopfile.DEVICES_ROOT}/{device_id}"
                for device_id, (number, _) in server.devices().items()
            }
            floor = Floor(
                testbed.nodes, testbed.ssh_user, testbed.ssh_key, testbed.known_hosts, parents
            )
            try:
                loop.run_until_complete(floor.connect())
                loop.run_until_complete(floor.setup())
                with Rest(server.url, ct.ADMIN_KEY) as rest:
                    srv, flr = Times(), Times()
                    brick_size = 0
                    wait_until_idle(10)
                    for index in range(warmup + rounds):
                        counted = index >= warmup
                        tag = f"round {index - warmup + 1}" if counted else "warm-up"
                        order = ("server", "floor") if index % 2 == 0 else ("floor", "server")
                        if not brick_size:
                            order = ("server", "floor")  # the floor uses the server's brick size
                        for who in order:
                            if who == "server":
                                c, d, brick_size = server_round(rest)
                                times = srv
                            else:
                                c, d = loop.run_until_complete(floor_round(floor, brick_size))
                                times = flr
                            log(
                                f"{tag}: {who:6} create {c * 1000:.0f} ms, delete {d * 1000:.0f} ms"
                            )
                            if counted:
                                times.create.append(c)
                                times.delete.append(d)
                    result = report(srv, flr)
                    result["brick_size_kib"] = brick_size
                    return result
            finally:
                loop.run_until_complete(floor.teardown())
                loop.run_until_complete(floor.close())
    finally:
        loop.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds not counted (default 1)")
    parser.add_argument("--json-out", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    ct = load_conftest()
    reason = ct._unavailable()
    if reason:
        log(f"cannot run the test bed: {reason}")
        return 2
    # conftest's run() acts on the e2e suite's bed (TB_NAME=e2e), never on a `make demo` bed
    was_up = ct.run([TB, "status"], check=False).returncode == 0
    log("test bed is up: reusing it" if was_up else "bringing the test bed up")
    ct.run([TB, "up"], timeout=300)
    try:
        testbed = ct.Testbed.from_tb_env()
        result = measure(ct, testbed, args.rounds, args.warmup)
    finally:
        if not was_up:
            log("taking the test bed down again")
            ct.run([TB, "down"], check=False)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
