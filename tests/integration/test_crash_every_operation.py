"""A crash at every step boundary of every kind of operation, on the simulator.

The crash points come from each operation's own step list (`registry.crash_points`), so a new
step, or a new kind of operation, gets its tests without anyone writing them: a kind without a
scenario here fails `test_every_operation_type_has_a_crash_scenario`.

For each point: the server "crashes" there (a SimulatedCrash stops the operation with nothing
rolled back, as SIGKILL would), a new server opens the same database and nodes and recovers.
Then nothing may be on any node that the database does not know (and the reverse), every
volume is started on gluster, the space accounting is exact, no operation is left, and the
client polling the request is told the truth: success when recovery went forward, "rolled back"
otherwise, matching what the database shows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from brickyard.domain.model import OperationType
from brickyard.services.operations.registry import OPERATIONS, crash_points

from .conftest import DatabaseFactory, Harness, Restartable, Topology

R3 = {"type": "replicate", "replicate": {"replica": 3}}


@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return new_database


ROLLED_BACK = "The server restarted during this operation; it was rolled back"

Context = dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    """How to drive one kind of operation and what its outcome must be."""

    prepare: Callable[[Harness], Awaitable[Context]]
    request: Callable[[Harness, Context], Awaitable[httpx.Response]]
    check: Callable[[Harness, Context, bool], Awaitable[None]]  # (forward?) state is right
    forward_after: frozenset[str]  # step kinds after which recovery finishes the operation
    always_forward: bool = False  # deletes and removes finish whatever the point
    bricks: int = 1  # bricks the operation handles (per-brick crash points)
    extra: dict[str, Any] = field(default_factory=dict)


async def _topology(h: Harness, nodes: int = 3) -> Context:
    topo = await h.build_topology(nodes=nodes)
    return {"topo": topo, "storage": await h.device_storage()}


async def _with_volume(h: Harness, nodes: int = 3) -> Context:
    ctx = await _topology(h, nodes)
    ctx["volume"] = await h.create_volume(size=2, durability=R3)
    ctx["storage"] = await h.device_storage()
    return ctx


# -- volume create ------------------------------------------------------------------------
async def _create(h: Harness, ctx: Context) -> httpx.Response:
    return await h.post("/volumes", {"size": 2, "durability": R3, "name": "crashvol"})


async def _check_create(h: Harness, ctx: Context, forward: bool) -> None:
    names = [v["name"] for v in await _volumes(h)]
    assert names == (["crashvol"] if forward else []), names
    if not forward:
        assert await h.device_storage() == ctx["storage"]


# -- volume expand ------------------------------------------------------------------------
async def _expand(h: Harness, ctx: Context) -> httpx.Response:
    return await h.post(f"/volumes/{ctx['volume']['id']}/expand", {"expand_size": 2})


async def _check_expand(h: Harness, ctx: Context, forward: bool) -> None:
    info = await h.get_json(f"/volumes/{ctx['volume']['id']}")
    assert (info["size"], len(info["bricks"])) == ((4, 6) if forward else (2, 3))
    if not forward:
        assert await h.device_storage() == ctx["storage"]
    # Usable afterwards either way.
    assert (await h.expand_volume(ctx["volume"]["id"], 1))["size"] == info["size"] + 1


# -- volume delete ------------------------------------------------------------------------
async def _delete(h: Harness, ctx: Context) -> httpx.Response:
    return await h.delete(f"/volumes/{ctx['volume']['id']}")


async def _check_delete(h: Harness, ctx: Context, forward: bool) -> None:
    assert forward and await _volumes(h) == []
    topo_storage = {d: {**s, "free": s["total"], "used": 0} for d, s in ctx["storage"].items()}
    assert await h.device_storage() == topo_storage


# -- volume clone -------------------------------------------------------------------------
async def _clone(h: Harness, ctx: Context) -> httpx.Response:
    return await h.post(f"/volumes/{ctx['volume']['id']}/clone", {"name": "crashclone"})


async def _check_clone(h: Harness, ctx: Context, forward: bool) -> None:
    names = sorted(v["name"] for v in await _volumes(h))
    expected = sorted([ctx["volume"]["name"], *(["crashclone"] if forward else [])])
    assert names == expected
    if forward:
        clone = next(v for v in await _volumes(h) if v["name"] == "crashclone")
        assert len(clone["bricks"]) == 3
    assert await h.device_storage() == ctx["storage"]  # a clone takes no new space
    assert not any(node.pool.snapshots for node in h.world.nodes.values())


# -- brick eviction -----------------------------------------------------------------------
async def _evict(h: Harness, ctx: Context) -> httpx.Response:
    return await h.post(f"/bricks/to-evict/{ctx['volume']['bricks'][0]['id']}", {})


async def _check_evict(h: Harness, ctx: Context, forward: bool) -> None:
    old = ctx["volume"]["bricks"][0]
    info = await h.get_json(f"/volumes/{ctx['volume']['id']}")
    ids = {b["id"] for b in info["bricks"]}
    assert len(ids) == 3
    assert (old["id"] not in ids) == forward
    if not forward:
        assert await h.device_storage() == ctx["storage"]


# -- device and node remove ---------------------------------------------------------------
async def _offline(h: Harness, kind: str, entity: str) -> None:
    await h.ok_204(await h.post(f"/{kind}/{entity}/state", {"state": "offline"}))


async def _prepare_device_remove(h: Harness) -> Context:
    ctx = await _with_volume(h, nodes=4)
    ctx["device"] = ctx["volume"]["bricks"][0]["device"]
    await _offline(h, "devices", ctx["device"])
    return ctx


async def _device_remove(h: Harness, ctx: Context) -> httpx.Response:
    return await h.post(f"/devices/{ctx['device']}/state", {"state": "failed"})


async def _check_device_remove(h: Harness, ctx: Context, forward: bool) -> None:
    device = await h.get_json(f"/devices/{ctx['device']}")
    assert forward and device["state"] == "failed" and device["bricks"] == []


async def _prepare_node_remove(h: Harness) -> Context:
    ctx = await _with_volume(h, nodes=4)
    ctx["node"] = ctx["volume"]["bricks"][0]["node"]
    await _offline(h, "nodes", ctx["node"])
    return ctx


async def _node_remove(h: Harness, ctx: Context) -> httpx.Response:
    return await h.post(f"/nodes/{ctx['node']}/state", {"state": "failed"})


async def _check_node_remove(h: Harness, ctx: Context, forward: bool) -> None:
    node = await h.get_json(f"/nodes/{ctx['node']}")
    assert forward and node["state"] == "failed"
    assert all(d["bricks"] == [] for d in node["devices"])


# -- device and node add and delete -------------------------------------------------------
async def _device_add(h: Harness, ctx: Context) -> httpx.Response:
    topo: Topology = ctx["topo"]
    return await h.post("/devices", {"node": topo.nodes[0], "name": "/dev/sdz"})


async def _check_device_add(h: Harness, ctx: Context, forward: bool) -> None:
    topo: Topology = ctx["topo"]
    names = [d["name"] for d in (await h.get_json(f"/nodes/{topo.nodes[0]}"))["devices"]]
    assert ("/dev/sdz" in names) == forward
    if not forward:  # the disk is free again
        await h.add_device(topo.nodes[0], "/dev/sdz")


async def _prepare_device_delete(h: Harness) -> Context:
    ctx = await _topology(h)
    topo: Topology = ctx["topo"]
    ctx["device"] = await h.add_device(topo.nodes[0], "/dev/sdz")
    for state in ("offline", "failed"):
        await h.ok_204(await h.post(f"/devices/{ctx['device']}/state", {"state": state}))
    return ctx


async def _device_delete(h: Harness, ctx: Context) -> httpx.Response:
    return await h.delete(f"/devices/{ctx['device']}")


async def _check_device_delete(h: Harness, ctx: Context, forward: bool) -> None:
    assert forward and (await h.get(f"/devices/{ctx['device']}")).status_code == 404


async def _node_add(h: Harness, ctx: Context) -> httpx.Response:
    topo: Topology = ctx["topo"]
    host = "late.example.com"
    body = {"cluster": topo.cluster, "zone": 1, "hostnames": {"manage": [host], "storage": [host]}}
    return await h.post("/nodes", body)


async def _check_node_add(h: Harness, ctx: Context, forward: bool) -> None:
    topo: Topology = ctx["topo"]
    hosts = [
        (await h.get_json(f"/nodes/{n}"))["hostnames"]["manage"][0]
        for n in (await h.get_json(f"/clusters/{topo.cluster}"))["nodes"]
    ]
    assert ("late.example.com" in hosts) == forward
    first = h.world.nodes[topo.manage[topo.nodes[0]]]
    assert ("late.example.com" in first.pool.peers) == forward


async def _prepare_node_delete(h: Harness) -> Context:
    ctx = await _topology(h)
    topo: Topology = ctx["topo"]
    ctx["node"] = await h.add_node(topo.cluster, 1, manage="leaving.example.com")
    return ctx


async def _node_delete(h: Harness, ctx: Context) -> httpx.Response:
    return await h.delete(f"/nodes/{ctx['node']}")


async def _check_node_delete(h: Harness, ctx: Context, forward: bool) -> None:
    assert forward and (await h.get(f"/nodes/{ctx['node']}")).status_code == 404
    topo: Topology = ctx["topo"]
    assert "leaving.example.com" not in h.world.nodes[topo.manage[topo.nodes[0]]].pool.peers


async def _volumes(h: Harness) -> list[dict[str, Any]]:
    ids = (await h.get_json("/volumes"))["volumes"]
    return [await h.get_json(f"/volumes/{v}") for v in ids]


SCENARIOS: dict[OperationType, Scenario] = {
    OperationType.CREATE_VOLUME: Scenario(
        _topology, _create, _check_create, frozenset({"finalized"}), bricks=3
    ),
    OperationType.EXPAND_VOLUME: Scenario(
        _with_volume, _expand, _check_expand, frozenset({"bricks-added", "finalized"}), bricks=3
    ),
    OperationType.DELETE_VOLUME: Scenario(
        _with_volume, _delete, _check_delete, frozenset(), always_forward=True, bricks=3
    ),
    OperationType.CLONE_VOLUME: Scenario(
        _with_volume, _clone, _check_clone, frozenset({"volume-cloned", "finalized"})
    ),
    OperationType.EVICT_BRICK: Scenario(
        lambda h: _with_volume(h, nodes=4),
        _evict,
        _check_evict,
        frozenset({"brick-replaced", "old-brick-gone", "finalized"}),
    ),
    OperationType.REMOVE_DEVICE: Scenario(
        _prepare_device_remove,
        _device_remove,
        _check_device_remove,
        frozenset(),
        always_forward=True,
    ),
    OperationType.REMOVE_NODE: Scenario(
        _prepare_node_remove, _node_remove, _check_node_remove, frozenset(), always_forward=True
    ),
    OperationType.ADD_DEVICE: Scenario(
        _topology, _device_add, _check_device_add, frozenset({"finalized"})
    ),
    OperationType.DELETE_DEVICE: Scenario(
        _prepare_device_delete,
        _device_delete,
        _check_device_delete,
        frozenset(),
        always_forward=True,
    ),
    OperationType.ADD_NODE: Scenario(
        _topology, _node_add, _check_node_add, frozenset({"finalized"})
    ),
    OperationType.DELETE_NODE: Scenario(
        _prepare_node_delete,
        _node_delete,
        _check_node_delete,
        frozenset(),
        always_forward=True,
    ),
}

CASES = [
    pytest.param(op_type, point, id=point)
    for op_type, scenario in SCENARIOS.items()
    for point in crash_points(op_type, scenario.bricks)
]


def test_every_operation_type_has_a_crash_scenario() -> None:
    assert set(SCENARIOS) == set(OPERATIONS)


@pytest.mark.parametrize(("op_type", "point"), CASES)
async def test_crash_at_every_step(server: Restartable, op_type: OperationType, point: str) -> None:
    scenario = SCENARIOS[op_type]
    ctx = await scenario.prepare(server.h)
    server.crash_at.append(point)
    response = await scenario.request(server.h, ctx)
    assert response.status_code == 202, response.text
    await server.h.queue.drain()
    assert not server.crash_at, f"{point} was never reached"
    await server.restart()
    await server.h.assert_consistent()
    kind = point.split(":")[1]
    forward = scenario.always_forward or kind in scenario.forward_after
    answer = await server.h.get(response.headers["location"])
    if forward:
        assert answer.status_code in (204, 303), (answer.status_code, answer.text)
    else:
        assert (answer.status_code, answer.text.strip()) == (500, ROLLED_BACK)
    await scenario.check(server.h, ctx, forward)
    examined = await server.h.get_json("/internal/state/examine")
    assert examined["differences"] == [], examined
    await server.h.assert_consistent()
