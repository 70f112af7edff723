"""Integration tests: the real application in-process (ASGI, no sockets) on the node simulator.

`Harness` drives the HTTP app exactly as a client would (including the asynchronous queue) and
can reach into the simulated nodes (`SimWorld`) to break them or to compare their state with the
database. Async tests use the `make_harness` / `harness` fixtures; the synchronous hypothesis
tests use `LoopHarness`, which owns a private event loop so that examples can share one server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from brickyard.bootstrap import Server, build_server
from brickyard.config import load_settings
from brickyard.nodes.sim import SimNodeAgent, SimWorld

T = TypeVar("T")

GIB_KIB = 1024 * 1024
# Device space charged for a 1 GiB brick, snapshot factor 1 (internals §2.6):
# thin pool 1048576 KiB + metadata 0.5 % rounded up to the 4 MiB extent (8192 KiB).
ONE_GIB_BRICK = 1048576 + 8192
MOUNT_ROOT = "/var/lib/heketi/mounts"
QUEUE_RE = re.compile(r"^/queue/[0-9a-f]{32}$")
POLL_TIMEOUT = 10.0

_MISSING: Any = object()


class SimulatedCrash(BaseException):
    """Raised at a crash point by in-process tests: not an Exception, so no handler of the
    operation sees it and nothing is rolled back, as after a real crash."""


def brick_charge(brick_kib: int, extent: int = 4096) -> int:
    """What a brick of `brick_kib` takes from its device (internals §2.6, factor 1)."""

    def round_up(value: int) -> int:
        return -(-value // extent) * extent

    tp = round_up(brick_kib)
    metadata = round_up(min(int(tp * 0.005), 16 * GIB_KIB))
    return tp + metadata


@dataclass
class Topology:
    cluster: str
    nodes: list[str]  # nodes[i] is in zone i + 1
    devices: list[str]  # devices[i] is on nodes[i] (one device per node unless asked)
    manage: dict[str, str]  # node id -> manage hostname
    device_node: dict[str, str] = field(default_factory=dict)


class Harness:
    """One server (fresh database, its own simulated world) and an HTTP client for it."""

    def __init__(self, server: Server, world: SimWorld, client: httpx.AsyncClient) -> None:
        self.server = server
        self.world = world
        self.client = client
        self._host_counter = 0

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        db_dir: Path,
        device_size_gb: int = 500,
        env: dict[str, str] | None = None,
        world: SimWorld | None = None,
        db: str | None = None,
    ) -> Harness:
        """A server on the database in `db_dir` (or `db`, glusterfs.db's value: a PostgreSQL
        URL); `world` reopens on the same nodes (a restart)."""
        db = db or str(db_dir / "heketi.db")
        full_env = {"HEKETI_EXECUTOR": "mock", "HEKETI_DB_PATH": db}
        full_env.update(env or {})
        settings, _ = load_settings(None, env=full_env)
        world = world or SimWorld(device_size_gb=device_size_gb)
        server = build_server(settings, disable_auth=True, agent=SimNodeAgent(world))
        # raise_app_exceptions=False: an unhandled server error must be seen as the 500 the
        # client would get, not as an exception inside the test.
        transport = httpx.ASGITransport(app=server.app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30.0)
        return cls(server, world, client)

    async def close(self) -> None:
        await self.queue.drain()
        self.server.services.ctx.heals.cancel()
        await self.client.aclose()
        self.server.close()

    @property
    def api_state(self) -> Any:
        return self.server.app.state.api

    @property
    def queue(self) -> Any:
        return self.api_state.queue

    # -- raw HTTP -------------------------------------------------------------------------
    async def call(
        self,
        method: str,
        path: str,
        body: Any = _MISSING,
        content: bytes | str | None = None,
    ) -> httpx.Response:
        if body is not _MISSING:
            content = json.dumps(body)
        return await self.client.request(method, path, content=content)

    async def get(self, path: str) -> httpx.Response:
        return await self.call("GET", path)

    async def post(self, path: str, body: Any = _MISSING, **kw: Any) -> httpx.Response:
        return await self.call("POST", path, body, **kw)

    async def delete(self, path: str, body: Any = _MISSING, **kw: Any) -> httpx.Response:
        return await self.call("DELETE", path, body, **kw)

    async def get_json(self, path: str) -> Any:
        r = await self.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    # -- asynchronous protocol ------------------------------------------------------------
    async def wait(self, resp: httpx.Response) -> httpx.Response:
        """Expect 202 + Location: /queue/<id>; poll until done; return the final answer."""
        assert resp.status_code == 202, (resp.status_code, resp.text)
        location = resp.headers.get("location", "")
        assert QUEUE_RE.match(location), location
        loop = asyncio.get_running_loop()
        deadline = loop.time() + POLL_TIMEOUT
        polls = 0
        while True:
            r = await self.get(location)
            if not (r.status_code == 200 and r.headers.get("x-pending") == "true"):
                return r
            assert loop.time() < deadline, f"{location} still pending after {POLL_TIMEOUT}s"
            polls += 1
            # Let the background task run; back off a little once it takes a while.
            await asyncio.sleep(0 if polls < 50 else 0.005)

    async def ok_303(self, resp: httpx.Response, prefix: str) -> str:
        r = await self.wait(resp)
        assert r.status_code == 303, (r.status_code, r.text)
        location = r.headers["location"]
        m = re.fullmatch(re.escape(prefix) + r"/([0-9a-f]{32})", location)
        assert m, location
        return m.group(1)

    async def ok_204(self, resp: httpx.Response) -> None:
        r = await self.wait(resp)
        assert r.status_code == 204, (r.status_code, r.text)

    async def failed(self, resp: httpx.Response) -> str:
        """The async job must fail: queue answers 500 with a text message. Returns it."""
        r = await self.wait(resp)
        assert r.status_code == 500, (r.status_code, r.text)
        assert r.headers.get("content-type", "").startswith("text/plain")
        return r.text.rstrip("\n")

    # -- resources ------------------------------------------------------------------------
    async def create_cluster(self, block: bool = True, file: bool = True) -> str:
        r = await self.post("/clusters", {"block": block, "file": file})
        assert r.status_code == 201, (r.status_code, r.text)
        return str(r.json()["id"])

    def next_host(self, prefix: str = "node") -> str:
        self._host_counter += 1
        return f"{prefix}{self._host_counter}.example.com"

    async def add_node(
        self, cluster: str, zone: int, manage: str | None = None, storage: str | None = None
    ) -> str:
        manage = manage or self.next_host("m")
        body = {
            "cluster": cluster,
            "zone": zone,
            "hostnames": {"manage": [manage], "storage": [storage or manage]},
        }
        return await self.ok_303(await self.post("/nodes", body), "/nodes")

    async def add_device(self, node: str, name: str = "/dev/sdb") -> str:
        before = {d["id"] for d in (await self.get_json(f"/nodes/{node}"))["devices"]}
        await self.ok_204(await self.post("/devices", {"node": node, "name": name}))
        after = {d["id"] for d in (await self.get_json(f"/nodes/{node}"))["devices"]}
        (added,) = after - before
        return str(added)

    async def build_topology(self, nodes: int = 3, devices_per_node: int = 1) -> Topology:
        cluster = await self.create_cluster()
        topo = Topology(cluster, [], [], {})
        for i in range(nodes):
            manage = self.next_host("m")
            node = await self.add_node(cluster, zone=i % 3 + 1, manage=manage)
            topo.nodes.append(node)
            topo.manage[node] = manage
            for d in range(devices_per_node):
                device = await self.add_device(node, f"/dev/sd{chr(ord('b') + d)}")
                topo.devices.append(device)
                topo.device_node[device] = node
        return topo

    async def create_volume(self, **body: Any) -> dict[str, Any]:
        body.setdefault("size", 1)
        r = await self.post("/volumes", body)
        volume_id = await self.ok_303(r, "/volumes")
        info: dict[str, Any] = await self.get_json(f"/volumes/{volume_id}")
        return info

    async def expand_volume(self, volume_id: str, size: int) -> dict[str, Any]:
        r = await self.post(f"/volumes/{volume_id}/expand", {"expand_size": size})
        assert await self.ok_303(r, "/volumes") == volume_id
        info: dict[str, Any] = await self.get_json(f"/volumes/{volume_id}")
        return info

    async def delete_volume(self, volume_id: str) -> None:
        await self.ok_204(await self.delete(f"/volumes/{volume_id}"))

    async def dump(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.get_json("/db/dump")
        return data

    async def check(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.get_json("/db/check")
        return data

    async def device_storage(self) -> dict[str, dict[str, int]]:
        """device id -> {"total", "free", "used"} (KiB), from the database."""
        dump = await self.dump()
        return {d: e["Info"]["storage"] for d, e in dump["deviceentries"].items()}

    async def pending_operations(self) -> list[Any]:
        data = await self.get_json("/operations/pending")
        ops: list[Any] = data["pendingoperations"]
        return ops

    # -- invariants -----------------------------------------------------------------------
    async def assert_consistent(self, allow_pending: bool = False) -> dict[str, Any]:
        """Database invariants (internals §1.11 as /db/check reports them, plus space
        accounting and placement rules) and agreement between database and simulated nodes."""
        check = await self.check()
        assert check["totalinconsistencies"] == 0, json.dumps(check, indent=1)
        dump = await self.dump()
        assert_db_invariants(dump)
        if not allow_pending:
            assert dump["pendingoperations"] == {}, dump["pendingoperations"]
        assert_nodes_match_db(self.world, dump)
        return dump


def is_clone_brick(entry: dict[str, Any]) -> bool:
    """Snapshot-clone bricks live in the origin's thin pools and carry no space of their own."""
    return bool(entry["Info"]["path"].startswith("/run/gluster/snaps/"))


def assert_db_invariants(dump: dict[str, Any]) -> None:
    bricks = dump["brickentries"]
    used: dict[str, int] = {d: 0 for d in dump["deviceentries"]}
    for brick_id, entry in bricks.items():
        info = entry["Info"]
        assert info["device"] in used, f"brick {brick_id} on unknown device"
        used[info["device"]] += entry["TpSize"] + entry["PoolMetadataSize"]
        assert info["volume"] in dump["volumeentries"], f"brick {brick_id} of unknown volume"
    for device_id, entry in dump["deviceentries"].items():
        storage = entry["Info"]["storage"]
        assert storage["total"] == storage["free"] + storage["used"], (device_id, storage)
        assert storage["free"] >= 0 and storage["used"] >= 0, (device_id, storage)
        assert storage["used"] == used[device_id], (device_id, storage, used[device_id])
        assert sorted(entry["Bricks"]) == sorted(
            b for b, e in bricks.items() if e["Info"]["device"] == device_id
        )
    # No two bricks of one brick set on the same node.
    sets: dict[tuple[str, int], list[str]] = {}
    for entry in bricks.values():
        key = (entry["Info"]["volume"], entry["SetIndex"])
        sets.setdefault(key, []).append(entry["Info"]["node"])
    for key, nodes in sets.items():
        assert len(nodes) == len(set(nodes)), f"brick set {key} has two bricks on one node"
    for volume_id, entry in dump["volumeentries"].items():
        assert sorted(entry["Bricks"]) == sorted(
            b for b, e in bricks.items() if e["Info"]["volume"] == volume_id
        )


def assert_nodes_match_db(world: SimWorld, dump: dict[str, Any]) -> None:
    """Every database brick has its LV, thin pool, fstab line and mount on its node; every
    device its VG with the same free/used space; nothing extra exists on any node; gluster
    knows exactly the database's volumes, with the database's bricks."""
    nodes = dump["nodeentries"]
    devices = dump["deviceentries"]
    bricks = dump["brickentries"]
    db_hosts = {e["Info"]["hostnames"]["manage"][0]: node_id for node_id, e in nodes.items()}
    storage_host = {node_id: e["Info"]["hostnames"]["storage"][0] for node_id, e in nodes.items()}
    for host, sim in world.nodes.items():
        node_id = db_hosts.get(host)
        if node_id is None:
            # A node the database does not know (e.g. a refused add) must hold nothing.
            assert not sim.volume_groups and not sim.mounts and not sim.fstab, host
            continue
        my_devices = {d for d, e in devices.items() if e["NodeId"] == node_id}
        assert set(sim.volume_groups) == {f"vg_{d}" for d in my_devices}, host
        my_bricks = {
            b: e
            for b, e in bricks.items()
            if e["Info"]["node"] == node_id and not is_clone_brick(e)
        }
        expected_mounts = {
            f"{MOUNT_ROOT}/vg_{e['Info']['device']}/brick_{b}": b for b, e in my_bricks.items()
        }
        assert set(sim.mounts) == set(expected_mounts), (host, sim.mounts, expected_mounts)
        assert len(sim.fstab) == len(my_bricks), (host, sim.fstab)
        for brick_id in my_bricks:
            assert sum(f"brick_{brick_id}" in line for line in sim.fstab) == 1, brick_id
        assert sim.directories == {m + "/brick" for m in expected_mounts}, host
        for device_id in my_devices:
            vg = sim.volume_groups[f"vg_{device_id}"]
            # Every brick's pool by the name it recorded; a clone's is its origin's (kept for
            # the clone when the origin went first).
            pools = {e["LvmThinPool"] for e in bricks.values() if e["Info"]["device"] == device_id}
            assert set(vg.pools) == pools, (device_id, vg.pools)
            storage = devices[device_id]["Info"]["storage"]
            assert vg.size == storage["total"], (device_id, vg.size, storage)
            assert vg.used == storage["used"], (device_id, vg.used, storage)
            assert vg.free == storage["free"], (device_id, vg.free, storage)
    # Gluster: every cluster's nodes form one trusted pool that knows exactly the cluster's
    # (finished) database volumes, with their bricks.
    for cluster_id in dump["clusterentries"]:
        members = [n for n, e in nodes.items() if e["Info"]["cluster"] == cluster_id]
        if not members:
            continue
        pools = {id(world.nodes[nodes[n]["Info"]["hostnames"]["manage"][0]].pool) for n in members}
        assert len(pools) == 1, f"nodes of cluster {cluster_id} are not one trusted pool"
        pool = world.nodes[nodes[members[0]]["Info"]["hostnames"]["manage"][0]].pool
        db_volumes = {
            e["Info"]["name"]: v
            for v, e in dump["volumeentries"].items()
            if e["Info"]["cluster"] == cluster_id and not e["Pending"]["Id"]
        }
        assert set(pool.volumes) == set(db_volumes), (set(pool.volumes), set(db_volumes))
        for name, volume_id in db_volumes.items():
            expected = sorted(
                f"{storage_host[e['Info']['node']]}:{e['Info']['path']}"
                for e in bricks.values()
                if e["Info"]["volume"] == volume_id
            )
            assert sorted(str(b) for b in pool.volumes[name].bricks) == expected, name


# ----------------------------------------------------------------------------------------------
# Fixtures for async tests


HarnessFactory = Callable[..., Awaitable[Harness]]


DatabaseFactory = Callable[[Path], str]


@pytest.fixture
def harness_database() -> DatabaseFactory:
    """Where the harness's servers keep their database, as glusterfs.db names it: an SQLite
    file in the server's directory. A module that also runs on PostgreSQL overrides it with
    tests/conftest.py's `new_database` (each of its tests then runs on both):

        @pytest.fixture
        def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
            return new_database
    """
    return lambda db_dir: str(db_dir / "heketi.db")


@pytest.fixture
async def make_harness(
    tmp_path: Path, harness_database: DatabaseFactory
) -> AsyncIterator[HarnessFactory]:
    """Factory: `await make_harness(device_size_gb=..., env={...})` -> a fresh Harness."""
    opened: list[Harness] = []

    async def _make(device_size_gb: int = 500, env: dict[str, str] | None = None) -> Harness:
        db_dir = tmp_path / f"srv{len(opened)}"
        db_dir.mkdir()
        harness = Harness.open(
            db_dir, device_size_gb=device_size_gb, env=env, db=harness_database(db_dir)
        )
        opened.append(harness)
        return harness

    yield _make
    for harness in opened:
        await harness.close()


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    return await make_harness()


@pytest.fixture
async def topology(harness: Harness) -> Topology:
    """One cluster (block+file), 3 nodes in zones 1-3, one 500 GiB device each."""
    return await harness.build_topology()


# ----------------------------------------------------------------------------------------------
# Crash and restart


def authenticated_sim_server(tmp_path: Path, admin_key: str) -> Server:
    """A server on the simulator with JWT authentication on (admin `admin_key`), its SQLite
    database in `tmp_path`: for tests of what auth lets through."""
    env = {
        "HEKETI_EXECUTOR": "mock",
        "HEKETI_DB_PATH": str(tmp_path / "heketi.db"),
        "HEKETI_ADMIN_KEY": admin_key,
        "HEKETI_USER_KEY": "user secret",
    }
    settings, _ = load_settings(None, env=env)
    return build_server(settings, disable_auth=False, agent=SimNodeAgent(SimWorld()))


def expire_lease(server: Server) -> None:
    """Make `server`'s lease expired now, as if it had stopped renewing it long ago."""
    with server.store.write() as tx:
        tx.execute(
            "UPDATE servers SET renewed = 0.0 WHERE id = :id", {"id": server.services.ctx.worker}
        )


class Restartable:
    """A server that can crash and come back on the same database and nodes. Append a crash
    point's name to `crash_at` to crash there (once)."""

    def __init__(self, db_dir: Path, db: str | None = None) -> None:
        self.db_dir = db_dir
        self.db = db
        self.crash_at: list[str] = []
        self.h = self._open()

    def _open(self, world: Any = None) -> Harness:
        harness = Harness.open(self.db_dir, world=world, db=self.db)
        harness.server.services.ctx.crash_hook = self._crash
        return harness

    def _crash(self, point: str) -> None:
        if self.crash_at and point == self.crash_at[0]:
            self.crash_at.clear()
            raise SimulatedCrash(point)

    async def reopen(self) -> None:
        """The crashed server is gone; a new one opens the same database and nodes (its
        recovery not run yet)."""
        old = self.h
        await old.queue.drain()  # collects the crashed task; nothing more runs
        # A dead process renews nothing: its lease runs out (here at once), so the new server
        # takes it over at start, as after a real crash (on PostgreSQL it would otherwise wait
        # for the lease; the crashed server was in this process, so its pid is alive).
        expire_lease(old.server)
        old.server.services.ctx.heals.cancel()
        if old.queue._forget_timer is not None:  # a dead process deletes nothing more
            old.queue._forget_timer.cancel()
        await old.client.aclose()
        old.server.store.close()
        self.h = self._open(world=old.world)

    async def restart(self) -> None:
        """Reopen, and recover at start as the server does."""
        await self.reopen()
        await self.h.server.recover()

    async def close(self) -> None:
        await self.h.close()


@pytest.fixture
async def server(tmp_path: Path, harness_database: DatabaseFactory) -> AsyncIterator[Restartable]:
    """A server that can crash and come back (see Restartable)."""
    restartable = Restartable(tmp_path, harness_database(tmp_path))
    yield restartable
    await restartable.close()


@pytest.fixture
def crash_at(server: Restartable) -> list[str]:
    return server.crash_at


# ----------------------------------------------------------------------------------------------
# Synchronous driver for hypothesis tests


class LoopHarness:
    """A Harness on a private event loop, for synchronous (hypothesis) tests: `run(coro)`."""

    def __init__(
        self,
        device_size_gb: int = 500,
        env: dict[str, str] | None = None,
        database: DatabaseFactory | None = None,
    ) -> None:
        """`database`: where the server keeps its database (a `harness_database`); an SQLite
        file in a temporary directory without it."""
        self._tmp = tempfile.TemporaryDirectory(prefix="brickyard-it-")
        self.loop = asyncio.new_event_loop()
        directory = Path(self._tmp.name)
        db = database(directory) if database is not None else None
        self.h = Harness.open(directory, device_size_gb=device_size_gb, env=env, db=db)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        try:
            self.run(self.h.close())
        finally:
            self.loop.close()
            self._tmp.cleanup()


@dataclass
class FuzzTarget:
    """A server with a real topology whose ids the fuzz tests aim at."""

    lh: LoopHarness
    topo: Topology
    volume: dict[str, Any]
    brick: str


@contextlib.contextmanager
def open_fuzz_target(database: DatabaseFactory) -> Iterator[FuzzTarget]:
    """A server with a cluster, 3 nodes (zones 1-3), one device each and one replica-3 volume."""
    lh = LoopHarness(database=database)
    try:
        topo = lh.run(lh.h.build_topology())
        volume = lh.run(
            lh.h.create_volume(
                size=1, durability={"type": "replicate", "replicate": {"replica": 3}}
            )
        )
        yield FuzzTarget(lh, topo, volume, volume["bricks"][0]["id"])
    finally:
        lh.close()


@pytest.fixture
def fuzz_target(harness_database: DatabaseFactory) -> Iterator[FuzzTarget]:
    """One per test function, shared by that test's hypothesis examples."""
    with open_fuzz_target(harness_database) as target:
        yield target


@pytest.fixture(scope="module")
def shared_harness_database() -> DatabaseFactory:
    """`harness_database` for module-scoped servers: SQLite. A module that also runs on
    PostgreSQL overrides it with tests/conftest.py's `module_new_database`."""
    return lambda db_dir: str(db_dir / "heketi.db")


@pytest.fixture(scope="module")
def shared_fuzz_target(shared_harness_database: DatabaseFactory) -> Iterator[FuzzTarget]:
    """One per module, for single-request tests that each check their own before/after."""
    with open_fuzz_target(shared_harness_database) as target:
        yield target
