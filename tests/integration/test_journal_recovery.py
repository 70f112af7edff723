"""Crash recovery on the simulator: for every step boundary of create, expand and delete (and
node/device changes), the server "crashes" there (a SimulatedCrash stops the operation with
nothing rolled back, as SIGKILL would), a new server opens the same database and the same
nodes, and recovery must leave nodes and database in agreement, space exact, and the poller's
queue entry answered truthfully. The same on real GlusterFS with SIGKILL: tests/e2e."""

from __future__ import annotations

from typing import Any

import pytest

from brickyard.domain.model import OperationType
from brickyard.services.operations.registry import crash_points
from brickyard.store import queue_results

from .conftest import DatabaseFactory, Restartable


@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return new_database


REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}
ROLLED_BACK = "The server restarted during this operation; it was rolled back"


async def _crash_during(server: Restartable, response: Any) -> str:
    """The 202 of a request whose job crashes; returns its queue location."""
    assert response.status_code == 202, response.text
    await server.h.queue.drain()
    location: str = response.headers["location"]
    return location


async def _answer(server: Restartable, location: str) -> tuple[int, str]:
    r = await server.h.get(location)
    return r.status_code, r.headers.get("location", r.text.strip())


CREATE_POINTS = crash_points(OperationType.CREATE_VOLUME, 3)
EXPAND_POINTS = crash_points(OperationType.EXPAND_VOLUME, 3)
DELETE_POINTS = crash_points(OperationType.DELETE_VOLUME, 3)


@pytest.mark.parametrize("point", CREATE_POINTS)
async def test_crash_during_create(server: Restartable, crash_at: list[str], point: str) -> None:
    await server.h.build_topology()
    free = await server.h.device_storage()
    crash_at.append(point)
    location = await _crash_during(
        server, await server.h.post("/volumes", {"size": 2, "durability": REPLICA3})
    )
    assert not crash_at, f"{point} was never reached"
    await server.restart()
    dump = await server.h.assert_consistent()
    status, answer = await _answer(server, location)
    if point.endswith("finalized:1"):
        assert status == 303 and answer.startswith("/volumes/"), (status, answer)
        assert len(dump["volumeentries"]) == 1
    else:
        assert (status, answer) == (500, ROLLED_BACK)
        assert dump["volumeentries"] == {} and dump["brickentries"] == {}
        assert await server.h.device_storage() == free
    # Read once, across the restart too.
    assert (await server.h.get(location)).status_code == 404


@pytest.mark.parametrize("point", EXPAND_POINTS)
async def test_crash_during_expand(server: Restartable, crash_at: list[str], point: str) -> None:
    await server.h.build_topology()
    volume = await server.h.create_volume(size=2, durability=REPLICA3)
    free = await server.h.device_storage()
    crash_at.append(point)
    body = {"expand_size": 2}
    response = await server.h.post(f"/volumes/{volume['id']}/expand", body)
    location = await _crash_during(server, response)
    await server.restart()
    await server.h.assert_consistent()
    status, answer = await _answer(server, location)
    after = await server.h.get_json(f"/volumes/{volume['id']}")
    if point.endswith(("finalized:1", "bricks-added:1")):
        # Gluster took the new bricks: the expand is rolled forward, not undone.
        assert (status, answer) == (303, f"/volumes/{volume['id']}")
        assert after["size"] == 4 and len(after["bricks"]) == 6
    else:
        assert (status, answer) == (500, ROLLED_BACK)
        assert after["size"] == 2 and len(after["bricks"]) == 3
        assert await server.h.device_storage() == free
    # The volume is usable afterwards: it expands normally.
    assert (await server.h.expand_volume(volume["id"], 1))["size"] == after["size"] + 1


@pytest.mark.parametrize("point", DELETE_POINTS)
async def test_crash_during_delete(server: Restartable, crash_at: list[str], point: str) -> None:
    await server.h.build_topology()
    free = await server.h.device_storage()
    volume = await server.h.create_volume(size=2, durability=REPLICA3)
    crash_at.append(point)
    location = await _crash_during(server, await server.h.delete(f"/volumes/{volume['id']}"))
    await server.restart()
    dump = await server.h.assert_consistent()
    assert await _answer(server, location) == (204, "")
    assert dump["volumeentries"] == {} and dump["brickentries"] == {}
    assert await server.h.device_storage() == free


async def test_crash_during_device_add_leaves_no_volume_group(
    server: Restartable, crash_at: list[str]
) -> None:
    topo = await server.h.build_topology()
    crash_at.append("add-device:device-set-up:1")
    body = {"node": topo.nodes[0], "name": "/dev/sdz"}
    location = await _crash_during(server, await server.h.post("/devices", body))
    assert len(server.h.world.nodes[topo.manage[topo.nodes[0]]].volume_groups) == 2
    await server.restart()
    await server.h.assert_consistent()  # the node holds only the database's volume groups
    assert await _answer(server, location) == (500, ROLLED_BACK)
    # The disk is free again: adding it now works.
    await server.h.add_device(topo.nodes[0], "/dev/sdz")
    await server.h.assert_consistent()


async def test_crash_during_device_delete_is_rolled_forward(
    server: Restartable, crash_at: list[str]
) -> None:
    topo = await server.h.build_topology()
    device = await server.h.add_device(topo.nodes[0], "/dev/sdz")
    for state in ("offline", "failed"):
        await server.h.ok_204(await server.h.post(f"/devices/{device}/state", {"state": state}))
    crash_at.append("delete-device:device-torn-down:1")
    location = await _crash_during(server, await server.h.delete(f"/devices/{device}"))
    await server.restart()
    await server.h.assert_consistent()
    assert await _answer(server, location) == (204, "")
    assert (await server.h.get(f"/devices/{device}")).status_code == 404


async def test_crash_during_node_add_detaches_the_peer(
    server: Restartable, crash_at: list[str]
) -> None:
    topo = await server.h.build_topology()
    crash_at.append("add-node:peer-probed:1")
    host = "late.example.com"
    body = {
        "cluster": topo.cluster,
        "zone": 1,
        "hostnames": {"manage": [host], "storage": [host]},
    }
    location = await _crash_during(server, await server.h.post("/nodes", body))
    first = server.h.world.nodes[topo.manage[topo.nodes[0]]]
    assert host in first.pool.peers
    await server.restart()
    assert host not in first.pool.peers
    assert await _answer(server, location) == (500, ROLLED_BACK)
    await server.h.assert_consistent()
    await server.h.add_node(topo.cluster, 1, manage=host)  # and it can join for real


async def test_results_survive_a_restart(server: Restartable) -> None:
    """A finished request whose answer was not read yet is answered after a restart."""
    await server.h.build_topology()
    response = await server.h.post("/volumes", {"size": 1, "durability": REPLICA3})
    await server.h.queue.drain()
    await server.restart()
    status, answer = await _answer(server, response.headers["location"])
    assert status == 303 and answer.startswith("/volumes/")
    assert (await server.h.get(response.headers["location"])).status_code == 404


async def test_a_restart_answers_requests_without_journal(
    server: Restartable, crash_at: list[str]
) -> None:
    """A request interrupted before it journaled anything (a resync) is told to retry."""
    topo = await server.h.build_topology()
    response = await server.h.get(f"/devices/{topo.devices[0]}/resync")
    await server.h.queue.drain()
    # Pretend the server died with the resync running: its result was never written.
    store = server.h.server.store
    queue_results.finish(store, response.headers["location"][7:], "running", None, None)
    server.h.queue.entries.clear()
    await server.restart()
    status, text = await _answer(server, response.headers["location"])
    assert status == 500 and "retry" in text


async def test_failed_recovery_is_kept_and_retried(
    server: Restartable, crash_at: list[str]
) -> None:
    """A node that stays down keeps the operation (failed) with its bricks; once it answers,
    a cleanup finishes the job."""
    topo = await server.h.build_topology()
    free = await server.h.device_storage()
    crash_at.append("create-volume:volume-made:1")
    location = await _crash_during(
        server, await server.h.post("/volumes", {"size": 1, "durability": REPLICA3})
    )
    down = topo.manage[topo.nodes[1]]
    server.h.world.nodes[down].reachable = False
    await server.restart()
    status, text = await _answer(server, location)
    assert status == 500 and "cleanup (operation" in text and "is pending" in text
    ops = await server.h.pending_operations()
    assert [op["status"] for op in ops] == ["failed"]
    server.h.world.nodes[down].reachable = True
    await server.h.ok_204(await server.h.post("/operations/pending/cleanup", {}))
    await server.h.assert_consistent()
    assert await server.h.device_storage() == free


async def test_operation_detail_lists_journaled_steps(
    server: Restartable, crash_at: list[str]
) -> None:
    await server.h.build_topology()
    crash_at.append("create-volume:volume-made:1")
    await _crash_during(
        server, await server.h.post("/volumes", {"size": 1, "durability": REPLICA3})
    )
    (op,) = await server.h.pending_operations()
    detail = await server.h.get_json(f"/operations/pending/{op['id']}")
    made = [s for s in detail["steps"] if s.startswith("brick ")]
    assert len(made) == 3 and all(" made on " in s for s in made)
    assert (
        detail["steps"][-1].startswith("gluster volume vol_") and "started" in detail["steps"][-1]
    )


@pytest.mark.parametrize(
    "point",
    [
        "evict-brick:brick-made:1",
        "evict-brick:brick-replaced:1",
        "evict-brick:old-brick-gone:1",
    ],
)
async def test_crash_during_node_remove_is_resumed(
    server: Restartable, crash_at: list[str], point: str
) -> None:
    """A crash in the middle of a node remove: the eviction it was doing is settled from
    gluster, then the remove resumes and finishes; the request is answered as done."""
    topo = await server.h.build_topology(nodes=4)
    for _ in range(3):  # 9 bricks on 4 nodes: one node holds at least 3
        await server.h.create_volume(size=1, durability=REPLICA3)
    dump = await server.h.dump()
    held = {n: 0 for n in topo.nodes}
    for entry in dump["brickentries"].values():
        held[entry["Info"]["node"]] += 1
    node = max(held, key=lambda n: held[n])
    await server.h.ok_204(await server.h.post(f"/nodes/{node}/state", {"state": "offline"}))
    crash_at.append(point)
    response = await server.h.post(f"/nodes/{node}/state", {"state": "failed"})
    location = await _crash_during(server, response)
    assert not crash_at, f"{point} was never reached"
    await server.restart()
    assert await _answer(server, location) == (204, "")
    after = await server.h.assert_consistent()
    assert [e for e in after["brickentries"].values() if e["Info"]["node"] == node] == []
    assert after["nodeentries"][node]["State"] == "failed"
    assert len(after["brickentries"]) == 9


async def test_a_bricks_crash_point_comes_before_the_bricks_are_journaled(
    server: Restartable, crash_at: list[str]
) -> None:
    """The bricks of a create are journaled together once all are made; the crash point of
    the first comes as soon as it is made, before any record: recovery then rolls back bricks
    the journal never named, and nothing is left."""
    await server.h.build_topology()
    free = await server.h.device_storage()
    crash_at.append("create-volume:brick-made:1")
    await _crash_during(
        server, await server.h.post("/volumes", {"size": 1, "durability": REPLICA3})
    )
    (op,) = await server.h.pending_operations()
    detail = await server.h.get_json(f"/operations/pending/{op['id']}")
    assert not [s for s in detail["steps"] if " made on " in s], detail["steps"]
    await server.restart()
    assert await server.h.pending_operations() == []
    await server.h.assert_consistent()
    assert await server.h.device_storage() == free
