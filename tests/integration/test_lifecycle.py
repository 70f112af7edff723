"""Devices and nodes over their whole life on the simulator: remove evicts every brick after a
heal check, a dead node is evacuated (gluster through live peers, its bricks recorded for
cleanup), mount hosts follow, and what was left behind is cleaned once the node answers."""

from __future__ import annotations

from typing import Any

import pytest

from brickyard.nodes.port import GlusterBrick

from .conftest import DatabaseFactory, Harness, Topology


@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return new_database


REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}


async def _state(harness: Harness, kind: str, entity: str, state: str, **extra: Any) -> Any:
    return await harness.wait(
        await harness.post(f"/{kind}/{entity}/state", {"state": state, **extra})
    )


async def _four_nodes(harness: Harness) -> Topology:
    return await harness.build_topology(nodes=4)


def _bricks_on(info: dict[str, Any], node: str) -> list[dict[str, Any]]:
    return [b for b in info["bricks"] if b["node"] == node]


async def test_device_remove_moves_every_brick(harness: Harness) -> None:
    topo = await _four_nodes(harness)
    volume = await harness.create_volume(size=1, durability=REPLICA3)
    node = volume["bricks"][0]["node"]
    device = volume["bricks"][0]["device"]
    assert (await _state(harness, "devices", device, "offline")).status_code == 204
    assert (await _state(harness, "devices", device, "failed")).status_code == 204
    after = await harness.get_json(f"/volumes/{volume['id']}")
    assert _bricks_on(after, node) == [] and len(after["bricks"]) == 3
    assert {b["node"] for b in after["bricks"]} == set(topo.nodes) - {node}
    assert (await harness.get_json(f"/devices/{device}"))["bricks"] == []
    await harness.assert_consistent()


async def test_remove_is_refused_when_the_set_cannot_lose_the_brick(harness: Harness) -> None:
    """Another brick of the set is down: removing this one would leave one copy."""
    await _four_nodes(harness)
    volume = await harness.create_volume(size=1, durability=REPLICA3)
    first, second = volume["bricks"][0], volume["bricks"][1]
    manage = {n["id"]: n["hostnames"]["manage"][0] for n in await _nodes(harness)}
    harness.world.nodes[manage[second["node"]]].glusterd_running = False
    await _state(harness, "devices", first["device"], "offline")
    answer = await _state(harness, "devices", first["device"], "failed")
    assert answer.status_code == 500
    assert "cannot lose" in answer.text and second["path"] in answer.text, answer.text
    # Nothing moved, nothing reserved, the device stays offline.
    after = await harness.get_json(f"/volumes/{volume['id']}")
    assert {b["id"] for b in after["bricks"]} == {b["id"] for b in volume["bricks"]}
    assert (await harness.get_json(f"/devices/{first['device']}"))["state"] == "offline"
    harness.world.nodes[manage[second["node"]]].glusterd_running = True
    await harness.assert_consistent()


async def test_remove_is_refused_while_the_brick_is_a_heal_source(harness: Harness) -> None:
    await _four_nodes(harness)
    volume = await harness.create_volume(size=1, durability=REPLICA3)
    brick = volume["bricks"][0]
    host = {n["id"]: n["hostnames"]["storage"][0] for n in await _nodes(harness)}
    harness.world.pending_heal[str(GlusterBrick(host[brick["node"]], brick["path"]))] = 7
    r = await harness.post(f"/bricks/to-evict/{brick['id']}", {})
    answer = await harness.wait(r)
    assert answer.status_code == 500 and "7 entries" in answer.text, answer.text
    # The expert option skips the check (Heketi's --expert-option-disable-heal-check).
    r = await harness.post(f"/bricks/to-evict/{brick['id']}", {"healcheck": "disable"})
    assert (await harness.wait(r)).status_code == 204
    await harness.assert_consistent()


async def _nodes(harness: Harness) -> list[dict[str, Any]]:
    cluster = (await harness.get_json("/clusters"))["clusters"][0]
    ids = (await harness.get_json(f"/clusters/{cluster}"))["nodes"]
    return [await harness.get_json(f"/nodes/{n}") for n in ids]


async def test_dead_node_is_evacuated_and_cleaned_when_it_returns(harness: Harness) -> None:
    topo = await _four_nodes(harness)
    volume = await harness.create_volume(size=2, durability=REPLICA3)
    dead = volume["bricks"][0]["node"]
    host = topo.manage[dead]
    harness.world.nodes[host].reachable = False
    assert (await _state(harness, "nodes", dead, "offline")).status_code == 204
    assert (await _state(harness, "nodes", dead, "failed")).status_code == 204, "evacuate"

    after = await harness.get_json(f"/volumes/{volume['id']}")
    assert _bricks_on(after, dead) == [] and len(after["bricks"]) == 3
    options = after["mount"]["glusterfs"]
    assert host not in options["hosts"] and host not in options["device"]
    assert host not in options["options"]["backup-volfile-servers"]
    node = await harness.get_json(f"/nodes/{dead}")
    assert node["state"] == "failed"
    for device in node["devices"]:
        assert device["state"] == "failed" and device["bricks"] == []
        assert device["storage"]["used"] == 0
    # The dead node's brick is recorded, and examine says so.
    report = (await harness.get_json("/internal/state/examine"))["differences"]
    left = [d for d in report if d["kind"] == "brick left on a dead node"]
    assert len(left) == 1 and left[0]["node"] == host, report

    # The node comes back: a cleanup destroys what it still holds.
    harness.world.nodes[host].reachable = True
    assert harness.world.nodes[host].mounts
    await harness.ok_204(await harness.post("/operations/pending/cleanup", {}))
    assert not harness.world.nodes[host].mounts
    report = (await harness.get_json("/internal/state/examine"))["differences"]
    assert [d for d in report if d["kind"] == "brick left on a dead node"] == []
    # Its devices can be deleted, then the node.
    for device in node["devices"]:
        await harness.ok_204(await harness.delete(f"/devices/{device['id']}"))
    await harness.ok_204(await harness.delete(f"/nodes/{dead}"))
    await harness.assert_consistent()


async def test_dead_node_devices_and_node_can_be_deleted_while_it_is_down(
    harness: Harness,
) -> None:
    topo = await _four_nodes(harness)
    volume = await harness.create_volume(size=1, durability=REPLICA3)
    dead = volume["bricks"][0]["node"]
    harness.world.nodes[topo.manage[dead]].reachable = False
    await _state(harness, "nodes", dead, "offline")
    assert (await _state(harness, "nodes", dead, "failed")).status_code == 204
    node = await harness.get_json(f"/nodes/{dead}")
    for device in node["devices"]:
        await harness.ok_204(await harness.delete(f"/devices/{device['id']}"))
    await harness.ok_204(await harness.delete(f"/nodes/{dead}"))
    report = (await harness.get_json("/internal/state/examine"))["differences"]
    kinds = sorted(d["kind"] for d in report)
    assert kinds == ["brick left on a dead node", "device left on a dead node"], report


async def test_heal_endpoint(harness: Harness, topology: Topology) -> None:
    volume = await harness.create_volume(size=1, durability=REPLICA3)
    heal = await harness.get_json(f"/volumes/{volume['id']}/heal")
    assert heal["healthy"] is True and len(heal["bricks"]) == 3
    host = topology.manage[volume["bricks"][1]["node"]]
    harness.world.nodes[host].glusterd_running = False
    heal = await harness.get_json(f"/volumes/{volume['id']}/heal")
    assert heal["healthy"] is False
