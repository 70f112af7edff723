"""GET /internal/status and the overview behind it (services/overview.py), on the simulator:
the numbers after known operations, a node stopped, a heal backlog, an operation in flight, a
failure rolled back with its steps, the last examine's drift, and the authentication."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from brickyard.bootstrap import build_server
from brickyard.cli.main import main
from brickyard.client.auth import authorization_header
from brickyard.config import load_settings
from brickyard.nodes.sim import SimNodeAgent, SimWorld
from brickyard.services.observed import HealSample
from brickyard.services.overview import build_overview

from .conftest import ONE_GIB_BRICK, Harness

R3 = {"type": "replicate", "replicate": {"replica": 3}}


async def _status(harness: Harness) -> dict[str, Any]:
    data: dict[str, Any] = await harness.get_json("/internal/status")
    return data


def _devices(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        d["id"]: d
        for c in status["clusters"]
        for z in c["zones"]
        for n in z["nodes"]
        for d in n["devices"]
    }


def _nodes(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for c in status["clusters"] for z in c["zones"] for n in z["nodes"]}


async def test_empty_server(harness: Harness) -> None:
    status = await _status(harness)
    assert status["clusters"] == [] and status["volumes"] == [] and status["operations"] == []
    assert status["drift"] is None and status["attention"] == []
    assert status["counts"]["nodes"] == 0


async def test_zones_nodes_devices_and_a_volume(harness: Harness) -> None:
    topo = await harness.build_topology(nodes=3)
    volume = await harness.create_volume(size=1, durability=R3)
    status = await _status(harness)
    (cluster,) = status["clusters"]
    assert cluster["id"] == topo.cluster and cluster["volumes"] == 1
    assert [z["zone"] for z in cluster["zones"]] == [1, 2, 3]
    storage = await harness.device_storage()
    devices = _devices(status)
    assert set(devices) == set(topo.devices)
    for device_id, device in devices.items():
        expected = storage[device_id]
        assert (device["total"], device["used"], device["free"]) == (
            expected["total"],
            expected["used"],
            expected["free"],
        )
        assert device["used"] == ONE_GIB_BRICK and device["bricks"] == 1
    for zone in cluster["zones"]:
        (node,) = zone["nodes"]
        (device,) = node["devices"]
        assert zone["capacity"] == {k: device[k] for k in ("total", "used", "free")}
    assert cluster["capacity"]["used"] == 3 * ONE_GIB_BRICK
    (summary,) = status["volumes"]
    # The mount line is the one Heketi's volume info gives.
    glusterfs = volume["mount"]["glusterfs"]
    assert summary["mount"] == glusterfs["device"]
    backups = glusterfs["options"]["backup-volfile-servers"].split(",")
    assert summary["backup_volfile_servers"] == backups
    assert summary["health"] == "ok" and summary["problems"] == []
    assert sorted(b["id"] for b in summary["bricks"]) == sorted(b["id"] for b in volume["bricks"])
    assert summary["durability"] == "replicate 3" and summary["size"] == 1
    # No health check yet: nodes are "unknown", not up nor down.
    assert {n["health"] for n in _nodes(status).values()} == {"unknown"}
    assert status["counts"] == {
        "nodes": 3,
        "nodes_down": 0,
        "volumes": 1,
        "volumes_degraded": 0,
        "operations_running": 0,
        "operations_stuck": 0,
    }


async def test_a_stopped_node_is_down_and_its_volumes_degraded(harness: Harness) -> None:
    topo = await harness.build_topology(nodes=3)
    volume = await harness.create_volume(size=1, durability=R3)
    stopped = topo.nodes[1]
    harness.world.nodes[topo.manage[stopped]].glusterd_running = False
    await harness.server.services.health.check_all()
    status = await _status(harness)
    nodes = _nodes(status)
    assert nodes[stopped]["health"] == "glusterd down" and nodes[stopped]["up"] is False
    assert {nodes[n]["health"] for n in topo.nodes if n != stopped} == {"up"}
    (summary,) = status["volumes"]
    assert summary["health"] == "degraded"
    (brick,) = [b for b in volume["bricks"] if b["node"] == stopped]
    assert summary["problems"] == [f"brick {brick['id']} on {topo.manage[stopped]}: node down"]
    assert status["counts"]["nodes_down"] == 1 and status["counts"]["volumes_degraded"] == 1
    assert f"node {topo.manage[stopped]} is glusterd down" in status["attention"]
    harness.world.nodes[topo.manage[stopped]].reachable = False
    await harness.server.services.health.check_all()
    assert _nodes(await _status(harness))[stopped]["health"] == "down"


async def test_a_heal_backlog_degrades_the_volume(harness: Harness) -> None:
    await harness.build_topology(nodes=3)
    healthy = await harness.create_volume(size=1, durability=R3)
    healing = await harness.create_volume(size=1, durability=R3)
    observed = harness.server.services.ctx.observed
    observed.heal[healing["name"]] = HealSample(time.time(), 7, 0)
    observed.heal[healthy["name"]] = HealSample(time.time(), 0, 0)
    status = await _status(harness)
    first, second = status["volumes"]  # degraded ones come first
    assert first["id"] == healing["id"] and first["health"] == "degraded"
    assert first["problems"] == ["7 entries waiting to heal"] and first["heal_entries"] == 7
    assert second["id"] == healthy["id"] and second["health"] == "ok"
    assert second["heal_entries"] == 0


async def test_an_operation_in_flight_shows_with_its_steps(harness: Harness) -> None:
    await harness.build_topology(nodes=3)
    harness.world.delay = 0.05
    create = await harness.post("/volumes", {"size": 1, "durability": R3})
    for _ in range(100):
        await asyncio.sleep(0.02)
        status = await _status(harness)
        running = [op for op in status["operations"] if op["state"] == "running"]
        if running and running[0]["steps"]:
            break
    (op,) = running
    assert op["type"] == "create-volume" and op["in_flight"] is True
    assert any("brick" in step for step in op["steps"]), op["steps"]
    assert status["counts"]["operations_running"] == 1
    assert status["volumes"] == []  # a volume being created is not listed yet
    harness.world.delay = 0
    await harness.ok_303(create, "/volumes")
    assert (await _status(harness))["operations"] == []


async def test_a_failed_operation_shows_with_its_error_and_steps(harness: Harness) -> None:
    topo = await harness.build_topology(nodes=3)
    # the third brick fails, every attempt: the first two were made (journaled) and undone
    harness.world.fail(topo.manage[topo.nodes[2]], "brick_create", "disk on fire", times=10)
    message = await harness.failed(await harness.post("/volumes", {"size": 1, "durability": R3}))
    assert "disk on fire" in message
    status = await _status(harness)
    (failure,) = status["failures"]  # one request, one failure (its retries are not others)
    assert failure["type"] == "create-volume" and "disk on fire" in failure["error"]
    assert failure["steps"] and all(isinstance(s, str) for s in failure["steps"])
    assert failure["outcome"]
    assert status["operations"] == []  # rolled back: nothing left in the journal


async def test_drift_from_the_last_examine(harness: Harness) -> None:
    topo = await harness.build_topology(nodes=3)
    assert (await _status(harness))["drift"] is None
    await harness.create_volume(size=1, durability=R3)
    harness.world.leak_brick(topo.manage[topo.nodes[0]], topo.devices[0], "ab" * 16, ONE_GIB_BRICK)
    report = await harness.get_json("/internal/state/examine")
    status = await _status(harness)
    drift = status["drift"]
    assert drift is not None and drift["drift"] == report["remaining"] > 0
    assert sum(drift["remaining"].values()) == drift["drift"]
    assert any("examine" in line for line in status["attention"])


async def test_a_fixed_number_of_statements_whatever_the_volume_count(harness: Harness) -> None:
    """The overview's database work does not grow with the volumes (no query per volume):
    the statements SQLite runs for it, counted before and after five more volumes."""
    await harness.build_topology(nodes=3)
    ctx = harness.server.services.ctx
    await harness.create_volume(size=1, durability=R3)
    store = harness.server.store
    with store.read():
        pass  # the loop thread's connection exists from here on
    held: Any = store._local.conn
    seen: list[str] = []

    def statements() -> int:
        seen.clear()
        held.raw.set_trace_callback(seen.append)
        try:
            overview = build_overview(ctx, {})
        finally:
            held.raw.set_trace_callback(None)
        assert overview.volumes
        return len(seen)

    one = statements()
    assert one >= 6  # the tables, each read once
    for _ in range(5):
        await harness.create_volume(size=1, durability=R3)
    assert statements() == one


async def test_status_is_protected_like_the_api(tmp_path: Path) -> None:
    env = {
        "HEKETI_EXECUTOR": "mock",
        "HEKETI_DB_PATH": str(tmp_path / "heketi.db"),
        "HEKETI_ADMIN_KEY": "admin secret",
        "HEKETI_USER_KEY": "user secret",
    }
    settings, _ = load_settings(None, env=env)
    server = build_server(settings, disable_auth=False, agent=SimNodeAgent(SimWorld()))
    transport = httpx.ASGITransport(app=server.app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/internal/status")).status_code == 401
            user = authorization_header("user", "user secret", "GET", "/internal/status")
            denied = await client.get("/internal/status", headers={"Authorization": user})
            assert (denied.status_code, denied.text) == (401, "Administrator access required\n")
            admin = authorization_header("admin", "admin secret", "GET", "/internal/status")
            answer = await client.get("/internal/status", headers={"Authorization": admin})
            assert answer.status_code == 200 and answer.json()["clusters"] == []
    finally:
        server.close()


async def test_brickyard_status_renders_the_servers_answer(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real answer of a server with a stopped node, through the command."""
    topo = await harness.build_topology(nodes=3)
    volume = await harness.create_volume(size=1, durability=R3)
    harness.world.nodes[topo.manage[topo.nodes[0]]].glusterd_running = False
    await harness.server.services.health.check_all()
    answer = (await harness.get("/internal/status")).content
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=answer))
    assert main(["status"], env={}, transport=transport) == 1
    out = capsys.readouterr().out
    assert "Nodes: 3, 1 down" in out
    assert f"GLUSTERD DOWN  {topo.manage[topo.nodes[0]]} (zone 1)" in out
    assert f"  {volume['name']}: brick " in out and "node down" in out
    assert "used 1.0 GiB of 500.0 GiB" in out
    assert out.rstrip().endswith("1 volume degraded")
