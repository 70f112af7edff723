"""Reconcile on the simulator: each kind of drift between database and nodes is reported by
GET /internal/state/examine, and POST /internal/state/examine/fix repairs what is safe (orphan
bricks, space accounting) and leaves the rest, reported, to a human."""

from __future__ import annotations

from typing import Any

import pytest

from brickyard.domain.ids import new_id
from brickyard.nodes.port import GlusterBrick

from .conftest import ONE_GIB_BRICK, DatabaseFactory, Harness, Topology


@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return new_database


REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}


async def _examine(harness: Harness, fix: bool = False) -> dict[str, Any]:
    if fix:
        r = await harness.post("/internal/state/examine/fix", {})
    else:
        r = await harness.get("/internal/state/examine")
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


def _kinds(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((d["kind"], d["subject"]) for d in report["differences"])


async def test_a_clean_installation_has_no_differences(
    harness: Harness, topology: Topology
) -> None:
    await harness.create_volume(size=2, durability=REPLICA3)
    report = await _examine(harness)
    assert report["differences"] == [] and report["remaining"] == 0
    assert (report["nodes"], report["devices"], report["volumes"], report["bricks"]) == (3, 3, 1, 3)


async def test_orphan_brick_is_reported_and_freed(harness: Harness, topology: Topology) -> None:
    node = topology.nodes[0]
    host, device = topology.manage[node], topology.devices[0]
    orphan = new_id()
    harness.world.leak_brick(host, device, orphan, ONE_GIB_BRICK)
    report = await _examine(harness)
    assert _kinds(report) == [("orphan brick", orphan)]
    (difference,) = report["differences"]
    assert (
        difference["node"] == host
        and difference["fixable"]
        and "no volume uses it" in (difference["detail"])
    )
    fixed = await _examine(harness, fix=True)
    assert fixed["differences"][0]["fixed"] and fixed["remaining"] == 0
    assert (await _examine(harness))["differences"] == []
    await harness.assert_consistent()  # the node holds exactly the database's bricks again


async def test_orphan_brick_a_gluster_volume_uses_is_left_to_a_human(
    harness: Harness, topology: Topology
) -> None:
    host, device = topology.manage[topology.nodes[0]], topology.devices[0]
    orphan = new_id()
    harness.world.leak_brick(host, device, orphan, ONE_GIB_BRICK)
    path = f"/var/lib/heketi/mounts/vg_{device}/brick_{orphan}/brick"
    harness.world.add_foreign_volume(host, "handmade", [GlusterBrick(host, path)])
    report = await _examine(harness, fix=True)
    kinds = _kinds(report)
    assert kinds == [("orphan brick", orphan), ("unknown gluster volume", "handmade")]
    assert not any(d["fixable"] or d["fixed"] for d in report["differences"])
    assert report["remaining"] == 2
    assert f"tp_{orphan}" in harness.world.nodes[host].volume_groups[f"vg_{device}"].pools


async def test_missing_and_incomplete_bricks_and_volumes(
    harness: Harness, topology: Topology
) -> None:
    lost = await harness.create_volume(size=1, durability=REPLICA3)
    unmounted = await harness.create_volume(size=1, durability=REPLICA3)
    dropped = await harness.create_volume(size=1, durability=REPLICA3)
    lost_brick = lost["bricks"][0]
    harness.world.lose_brick(topology.manage[lost_brick["node"]], lost_brick["id"])
    loose = unmounted["bricks"][1]
    harness.world.unmount_brick(topology.manage[loose["node"]], loose["id"])
    harness.world.drop_volume(dropped["name"])
    report = await _examine(harness, fix=True)
    assert _kinds(report) == sorted(
        [
            ("missing brick", lost_brick["id"]),
            ("incomplete brick", loose["id"]),
            ("volume missing on gluster", dropped["name"]),
        ]
    )
    assert report["remaining"] == 3 and not any(d["fixed"] for d in report["differences"])


async def test_space_accounting_is_recounted(harness: Harness, topology: Topology) -> None:
    await harness.create_volume(size=1, durability=REPLICA3)
    device = topology.devices[1]
    with harness.server.store.write() as tx:  # drift, as Heketi's users know it
        tx.conn.execute(
            "UPDATE devices SET used = used + 4096, free = free - 4096 WHERE id = :id",
            {"id": device},
        )
    report = await _examine(harness)
    assert _kinds(report) == [("space mismatch", device)]
    fixed = await _examine(harness, fix=True)
    assert fixed["differences"][0]["fixed"]
    await harness.assert_consistent()


async def test_unreachable_node_is_reported(harness: Harness, topology: Topology) -> None:
    host = topology.manage[topology.nodes[2]]
    harness.world.nodes[host].reachable = False
    report = await _examine(harness)
    assert _kinds(report) == [("node unreachable", host)]


async def test_missing_device_is_reported(harness: Harness, topology: Topology) -> None:
    node = topology.nodes[1]
    harness.world.lose_device(topology.manage[node], topology.devices[1])
    report = await _examine(harness)
    assert ("missing device", topology.devices[1]) in _kinds(report)
