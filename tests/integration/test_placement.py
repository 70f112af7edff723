"""Placement through the HTTP app on the simulator (internals §2): arbiter volumes, tag
matching, zone checking, the limits and their messages, the placers, the dry run
(POST /volumes/plan), and a stateful property test over random topologies and sequences of
create / expand / delete."""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from brickyard.api.auth import qsh
from brickyard.bootstrap import build_server
from brickyard.config import load_settings
from brickyard.domain.placement import BalancedPlacer, HeketiRingPlacer
from brickyard.nodes.port import GlusterVolumeSpec
from brickyard.nodes.sim import SimNodeAgent, SimWorld

from .conftest import GIB_KIB, DatabaseFactory, Harness, LoopHarness, brick_charge

R2 = {"type": "replicate", "replicate": {"replica": 2}}
R3 = {"type": "replicate", "replicate": {"replica": 3}}
ARBITER = "user.heketi.arbiter true"
STRICT = "user.heketi.zone-checking strict"
NO_SPACE = "Failed to allocate new volume: No space: "
PLAN_KEYS = {
    "ok",
    "cluster",
    "size",
    "durability",
    "sets",
    "bricks_per_set",
    "brick_size",
    "brick_sets",
    "skipped",
    "skipped_counts",
    "attempts",
    "clusters",
}
BRICK_KEYS = {
    "position",
    "device",
    "device_name",
    "node",
    "hostname",
    "zone",
    "size",
    "space",
    "arbiter",
    "reason",
}

Opener = Callable[..., Awaitable[Harness]]


@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    """Every test of this module that opens a server runs on SQLite and on PostgreSQL."""
    return new_database


@pytest.fixture
async def open_harness(tmp_path: Path, harness_database: DatabaseFactory) -> AsyncIterator[Opener]:
    """`await open_harness(glusterfs={...}, env={...}, device_size_gb=...)`: a Harness whose
    settings come from a heketi.json (glusterfs section) plus environment overrides, as a
    deployed server's would."""
    opened: list[Harness] = []

    async def _open(
        glusterfs: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        device_size_gb: int = 500,
    ) -> Harness:
        db_dir = tmp_path / f"srv{len(opened)}"
        db_dir.mkdir()
        config = db_dir / "heketi.json"
        config.write_text(json.dumps({"glusterfs": glusterfs or {}}))
        full_env = {"HEKETI_EXECUTOR": "mock", "HEKETI_DB_PATH": harness_database(db_dir)}
        full_env.update(env or {})
        loaded, _ = load_settings(config, env=full_env)
        world = SimWorld(device_size_gb=device_size_gb)
        server = build_server(loaded, disable_auth=True, agent=SimNodeAgent(world))
        transport = httpx.ASGITransport(app=server.app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30.0)
        harness = Harness(server, world, client)
        opened.append(harness)
        return harness

    yield _open
    for harness in opened:
        await harness.close()


async def add_node(h: Harness, cluster: str, zone: int, tags: dict[str, str] | None = None) -> str:
    node = await h.add_node(cluster, zone)
    if tags:
        await set_tags(h, f"/nodes/{node}", tags)
    return node


async def add_device(
    h: Harness, node: str, name: str = "/dev/sdb", tags: dict[str, str] | None = None
) -> str:
    device = await h.add_device(node, name)
    if tags:
        await set_tags(h, f"/devices/{device}", tags)
    return device


async def set_tags(h: Harness, path: str, tags: dict[str, str]) -> None:
    r = await h.post(f"{path}/tags", {"tags": tags, "change_type": "set"})
    assert r.status_code == 200, (r.status_code, r.text)


async def nodes_in_zones(h: Harness, zones: list[int], devices: int = 1) -> tuple[str, list[str]]:
    """A cluster with one node per entry of `zones`; returns (cluster, node ids)."""
    cluster = await h.create_cluster()
    nodes = []
    for zone in zones:
        node = await add_node(h, cluster, zone)
        for d in range(devices):
            await add_device(h, node, f"/dev/sd{'bcd'[d]}")
        nodes.append(node)
    return cluster, nodes


async def refused(h: Harness, body: dict[str, Any], status: int = 500) -> str:
    """The create must be refused synchronously and change nothing; returns the message."""
    before, gluster = await h.dump(), set(h.world.volumes())
    r = await h.post("/volumes", body)
    assert r.status_code == status, (r.status_code, r.text)
    assert await h.dump() == before
    assert set(h.world.volumes()) == gluster
    return r.text.rstrip("\n")


def spy_on_volume_create(h: Harness) -> list[GlusterVolumeSpec]:
    """Record the gluster volume specs the service asks the nodes to create."""
    seen: list[GlusterVolumeSpec] = []
    agent = h.server.services.ctx.agent
    original = agent.volume_create

    async def volume_create(via: Any, spec: GlusterVolumeSpec) -> None:
        seen.append(spec)
        await original(via, spec)

    agent.volume_create = volume_create
    return seen


def zone_of_nodes(dump: dict[str, Any]) -> dict[str, int]:
    return {n: e["Info"]["zone"] for n, e in dump["nodeentries"].items()}


def bricks_by_set(dump: dict[str, Any], volume_id: str) -> dict[int, list[dict[str, Any]]]:
    sets: dict[int, list[dict[str, Any]]] = {}
    for entry in dump["brickentries"].values():
        if entry["Info"]["volume"] == volume_id:
            sets.setdefault(entry["SetIndex"], []).append(entry)
    return {s: sorted(b, key=lambda e: e["Position"]) for s, b in sets.items()}


def merged_role(dump: dict[str, Any], device_id: str) -> str:
    device = dump["deviceentries"][device_id]
    node = dump["nodeentries"][device["NodeId"]]
    tags = {**node["Info"].get("tags", {}), **device["Info"].get("tags", {})}
    return tags.get("arbiter", "")


# ----------------------------------------------------------------------------------------------
# Arbiter volumes


async def test_arbiter_volume(harness: Harness) -> None:
    """n1: data only (device tag); n2: node tag arbiter=required overridden by its device's
    arbiter=disabled, so data only too; n3: arbiter=required by node tag. The arbiter brick
    lands on n3, sized data/64 KiB; the gluster volume is created `replica 3 arbiter 1`."""
    h = harness
    cluster = await h.create_cluster()
    n1 = await add_node(h, cluster, 1)
    d1 = await add_device(h, n1, tags={"arbiter": "disabled"})
    n2 = await add_node(h, cluster, 2, tags={"arbiter": "required"})
    d2 = await add_device(h, n2, tags={"arbiter": "disabled"})
    n3 = await add_node(h, cluster, 3, tags={"arbiter": "required"})
    d3 = await add_device(h, n3)
    specs = spy_on_volume_create(h)
    vol = await h.create_volume(size=10, durability=R3, glustervolumeoptions=[ARBITER])
    by_device = {b["device"]: b for b in vol["bricks"]}
    assert set(by_device) == {d1, d2, d3}
    arbiter_size = 10 * GIB_KIB // 64  # ~1 KiB per 64 KiB file: 160 MiB
    assert by_device[d3]["size"] == arbiter_size
    assert by_device[d1]["size"] == by_device[d2]["size"] == 10 * GIB_KIB
    dump = await h.assert_consistent()
    (bricks,) = bricks_by_set(dump, vol["id"]).values()
    assert [b["Info"]["device"] for b in bricks][2] == d3
    assert [b["SubType"] for b in bricks][2] != bricks[0]["SubType"] == bricks[1]["SubType"]
    storage = await h.device_storage()
    assert storage[d3]["used"] == brick_charge(arbiter_size)
    assert storage[d1]["used"] == brick_charge(10 * GIB_KIB)
    (spec,) = specs
    assert spec.arbiter and spec.replica == 3
    n3_storage = (await h.get_json(f"/nodes/{n3}"))["hostnames"]["storage"][0]
    assert spec.bricks[2].host == n3_storage
    # Expand places the new set like create: arbiter at position 2 on n3.
    grown = await h.expand_volume(vol["id"], 10)
    dump = await h.assert_consistent()
    sets = bricks_by_set(dump, vol["id"])
    assert len(sets) == 2 and sets[1][2]["Info"]["device"] == d3
    assert sets[1][2]["Info"]["size"] == arbiter_size
    assert len(grown["bricks"]) == 6


async def test_arbiter_brick_has_the_16_mib_floor_and_average_file_size(harness: Harness) -> None:
    await nodes_in_zones(harness, [1, 2, 3])
    # 1 GiB / 128 KiB = 8 MiB, raised to the 16 MiB floor (the smallest XFS Heketi makes).
    options = [ARBITER, "user.heketi.average-file-size 128"]
    small = await harness.create_volume(size=1, durability=R3, glustervolumeoptions=options)
    assert sorted(b["size"] for b in small["bricks"]) == [16 * 1024, GIB_KIB, GIB_KIB]
    options = [ARBITER, "user.heketi.average-file-size 16"]
    sized = await harness.create_volume(size=2, durability=R3, glustervolumeoptions=options)
    assert sorted(b["size"] for b in sized["bricks"]) == [2 * GIB_KIB // 16] + [2 * GIB_KIB] * 2
    await harness.assert_consistent()


async def test_arbiter_volume_checks(harness: Harness) -> None:
    await nodes_in_zones(harness, [1, 2, 3])
    r = await harness.post(
        "/volumes", {"size": 1, "durability": R2, "glustervolumeoptions": [ARBITER]}
    )
    assert (r.status_code, r.text) == (
        400,
        "Arbiter volumes must be replicate volumes with replica 3\n",
    )
    # A data brick smaller than the average file: Heketi's own error text.
    options = [ARBITER, f"user.heketi.average-file-size {2 * GIB_KIB}"]
    message = await refused(harness, {"size": 1, "durability": R3, "glustervolumeoptions": options})
    assert message == (
        f"Failed to allocate new volume: Average file size ({2 * GIB_KIB}) is greater than "
        f"Brick size ({GIB_KIB})"
    )


# ----------------------------------------------------------------------------------------------
# Tags, zones


async def test_device_tag_match_is_honoured(harness: Harness) -> None:
    h = harness
    cluster = await h.create_cluster()
    ssd = []
    for zone in (1, 2, 3):
        node = await add_node(h, cluster, zone, tags={"disk": "ssd"})
        ssd.append(await add_device(h, node))
    plain = await add_node(h, cluster, 1)
    hdd = await add_device(h, plain, tags={"disk": "hdd"})
    # The hdd device is the emptiest after a few volumes: the rule must still keep it out.
    for _ in range(3):
        vol = await h.create_volume(
            size=5, durability=R2, glustervolumeoptions=["user.heketi.device-tag-match disk=ssd"]
        )
        assert {b["device"] for b in vol["bricks"]} <= set(ssd)
    vol = await h.create_volume(
        size=1, glustervolumeoptions=["user.heketi.device-tag-match disk!=ssd"]
    )
    assert [b["device"] for b in vol["bricks"]] == [hdd]
    body = {
        "size": 2,
        "durability": {"type": "disperse", "disperse": {"data": 2, "redundancy": 1}},
        "glustervolumeoptions": ["user.heketi.device-tag-match disk=hdd"],
    }
    message = await refused(h, body)
    assert message.startswith(
        NO_SPACE + "a set of 3 bricks needs 3 nodes with online devices matching disk=hdd, "
        "the cluster has 1"
    ), message
    await h.assert_consistent()


async def test_invalid_device_tag_match_rule_is_a_bad_request(harness: Harness) -> None:
    await nodes_in_zones(harness, [1, 2, 3])
    body = {"size": 1, "glustervolumeoptions": ["user.heketi.device-tag-match disk"]}
    message = await refused(harness, body, status=400)
    assert "invalid device tag match rule" in message


async def test_strict_zone_checking_by_volume_option(harness: Harness) -> None:
    await nodes_in_zones(harness, [1, 2, 1, 2])
    body = {"size": 1, "durability": R3, "glustervolumeoptions": [STRICT]}
    message = await refused(harness, body)
    assert message.startswith(
        NO_SPACE + "strict zone checking needs 3 zones for a set of 3 bricks, "
        "the online devices span 2"
    ), message
    # Without the option the same request is fine; replica 2 fits the two zones strictly.
    await harness.create_volume(size=1, durability=R3)
    vol = await harness.create_volume(size=1, durability=R2, glustervolumeoptions=[STRICT])
    dump = await harness.assert_consistent()
    zones = zone_of_nodes(dump)
    assert {zones[b["node"]] for b in vol["bricks"]} == {1, 2}


async def test_strict_zone_checking_by_env_and_the_volume_override(open_harness: Opener) -> None:
    h = await open_harness(env={"HEKETI_ZONE_CHECKING": "strict"})
    await nodes_in_zones(h, [1, 1, 2])
    message = await refused(h, {"size": 1, "durability": R3})
    assert "strict zone checking needs 3 zones" in message
    options = ["user.heketi.zone-checking none"]
    vol = await h.create_volume(size=1, durability=R3, glustervolumeoptions=options)
    assert len({b["node"] for b in vol["bricks"]}) == 3


async def test_strict_zone_checking_by_config_spreads_sets(open_harness: Opener) -> None:
    h = await open_harness(glusterfs={"zone_checking": "strict"}, device_size_gb=10)
    await nodes_in_zones(h, [1, 2, 3, 1, 2, 3])
    vol = await h.create_volume(size=16, durability=R3)  # 2 sets of 8 GiB
    dump = await h.assert_consistent()
    zones = zone_of_nodes(dump)
    sets = bricks_by_set(dump, vol["id"])
    assert len(sets) == 2
    for bricks in sets.values():
        assert sorted(zones[b["Info"]["node"]] for b in bricks) == [1, 2, 3]


# ----------------------------------------------------------------------------------------------
# Limits and their messages


async def test_not_enough_nodes(harness: Harness) -> None:
    await nodes_in_zones(harness, [1, 2], devices=2)
    message = await refused(harness, {"size": 1, "durability": R3})
    assert message.startswith(
        NO_SPACE + "a set of 3 bricks needs 3 nodes with online devices, the cluster has 2"
    ), message


async def test_no_device_with_room_names_the_largest_free_figure(open_harness: Opener) -> None:
    h = await open_harness(glusterfs={"max_bricks_per_volume": 3}, device_size_gb=10)
    await nodes_in_zones(h, [1, 2, 3])
    message = await refused(h, {"size": 12, "durability": R3})
    assert message == (
        NO_SPACE + "no device has room for a 12 GiB brick (it takes 12.06 GiB with its thin "
        "pool; largest free where it may go: 10 GiB); more bricks (6) would exceed the maximum "
        "of 3 per volume"
    )


async def test_too_many_bricks(open_harness: Opener) -> None:
    h = await open_harness(glusterfs={"max_bricks_per_volume": 4}, device_size_gb=10)
    await nodes_in_zones(h, [1, 2, 3], devices=2)
    message = await refused(h, {"size": 12, "durability": R3})
    assert message.startswith(NO_SPACE), message
    assert message.endswith("more bricks (6) would exceed the maximum of 4 per volume"), message
    vol = await h.create_volume(size=3, durability=R3)
    before = await h.dump()
    r = await h.post(f"/volumes/{vol['id']}/expand", {"expand_size": 1})
    assert (r.status_code, r.text) == (
        500,
        "Failed to allocate volume expansion: Maximum number of bricks reached. more bricks "
        "(6) would exceed the maximum of 4 per volume\n",
    )
    assert await h.dump() == before
    await h.assert_consistent()


async def test_brick_min_size(open_harness: Opener) -> None:
    h = await open_harness(glusterfs={"brick_min_size_gb": 4}, device_size_gb=8)
    await nodes_in_zones(h, [1, 2, 3])
    message = await refused(h, {"size": 10, "durability": R3})
    assert message == (
        NO_SPACE + "no device has room for a 5 GiB brick (it takes 5.03 GiB with its thin pool; "
        "largest free where it may go: 2.97 GiB); tried 2 layouts with bricks of 10 down to 5 "
        "GiB; smaller bricks would be under the minimum brick size (4 GiB)"
    )
    message = await refused(h, {"size": 3, "durability": R3}, status=400)
    assert message == (
        f"Requested volume size (3 GB) is smaller than the minimum supported volume size "
        f"({4 * GIB_KIB})"
    )
    vol = await h.create_volume(size=4, durability=R3)
    assert all(b["size"] == 4 * GIB_KIB for b in vol["bricks"])


async def test_brick_max_size_splits_the_volume(open_harness: Opener) -> None:
    h = await open_harness(glusterfs={"brick_max_size_gb": 3})
    await nodes_in_zones(h, [1, 2, 3])
    vol = await h.create_volume(size=10, durability=R3)  # 10 / 4 = 2.5 GiB bricks
    assert len(vol["bricks"]) == 12
    assert all(b["size"] == 10 * GIB_KIB // 4 for b in vol["bricks"])
    await h.assert_consistent()


async def test_snapshot_factor_sizes_the_thin_pool(harness: Harness) -> None:
    await nodes_in_zones(harness, [1, 2, 3])
    vol = await harness.create_volume(
        size=2, durability=R3, snapshot={"enable": True, "factor": 1.5}
    )
    dump = await harness.assert_consistent()
    for brick in vol["bricks"]:
        entry = dump["brickentries"][brick["id"]]
        assert brick["size"] == 2 * GIB_KIB
        assert entry["TpSize"] == 3 * GIB_KIB
        assert entry["PoolMetadataSize"] == 16384  # 0.5 % of 3 GiB, in whole 4 MiB extents


async def test_max_replica_default_and_configured(open_harness: Opener) -> None:
    r4 = {"type": "replicate", "replicate": {"replica": 4}}
    h = await open_harness()
    await nodes_in_zones(h, [1, 2, 3, 1])
    message = await refused(h, {"size": 1, "durability": r4}, status=400)
    assert message == "Invalid replica value"
    h = await open_harness(env={"BRICKYARD_MAX_REPLICA": "4"})
    await nodes_in_zones(h, [1, 2, 3, 1])
    vol = await h.create_volume(size=1, durability=r4)
    assert len({b["node"] for b in vol["bricks"]}) == 4
    r5 = {"type": "replicate", "replicate": {"replica": 5}}
    assert await refused(h, {"size": 1, "durability": r5}, status=400) == "Invalid replica value"
    h = await open_harness(glusterfs={"max_replica": 4})
    assert h.server.services.ctx.settings.max_replica == 4
    await h.assert_consistent()


async def test_cluster_flags_clusters_filter_and_volume_limit(open_harness: Opener) -> None:
    h = await open_harness(env={"HEKETI_GLUSTER_MAX_VOLUMES_PER_CLUSTER": "1"})
    one, _ = await nodes_in_zones(h, [1, 2, 3])
    two, _ = await nodes_in_zones(h, [1, 2, 3])
    r = await h.post(f"/clusters/{two}/flags", {"block": True, "file": False})
    assert r.status_code == 200, r.text
    message = await refused(h, {"size": 1, "clusters": [two]})
    assert (
        message == "Failed to allocate new volume: Cluster does not support requested volume type"
    )
    vol = await h.create_volume(size=1)
    assert vol["cluster"] == one
    message = await refused(h, {"size": 1})
    assert message.startswith("Failed to allocate new volume: No eligible cluster for volume\n")
    assert f"\nCluster {one}: Cluster has 1 volumes and limit is 1" in message
    assert f"\nCluster {two}: Cluster does not support requested volume type" in message


# ----------------------------------------------------------------------------------------------
# The placers


async def test_heketi_placer_obeys_the_rules(open_harness: Opener) -> None:
    h = await open_harness(env={"BRICKYARD_PLACER": "heketi"}, device_size_gb=20)
    assert isinstance(h.server.services.ctx.placer, HeketiRingPlacer)
    await nodes_in_zones(h, [1, 2, 3, 1, 2, 3], devices=2)
    start = await h.device_storage()
    volumes = []
    for size, durability, options in [
        (30, R3, [STRICT]),
        (5, R2, []),
        (4, {"type": "disperse", "disperse": {"data": 4, "redundancy": 2}}, []),
        (7, R3, [STRICT]),
        (3, {"type": "none"}, []),
    ]:
        vol = await h.create_volume(size=size, durability=durability, glustervolumeoptions=options)
        volumes.append((vol, options))
        dump = await h.assert_consistent()
    zones = zone_of_nodes(dump)
    for vol, options in volumes:
        if options == [STRICT]:
            for bricks in bricks_by_set(dump, vol["id"]).values():
                assert len({zones[b["Info"]["node"]] for b in bricks}) == len(bricks)
    # No device carries the tag: the error says so, whichever placer.
    options = [STRICT, "user.heketi.device-tag-match x=y"]
    message = await refused(h, {"size": 1, "durability": R3, "glustervolumeoptions": options})
    assert message.startswith(
        NO_SPACE + "a set of 3 bricks needs 3 nodes with online devices matching x=y, "
        "the cluster has 0"
    ), message
    for vol, _ in volumes:
        await h.delete_volume(vol["id"])
    assert await h.device_storage() == start


async def test_heketi_placer_places_arbiter_volumes(open_harness: Opener) -> None:
    h = await open_harness(env={"BRICKYARD_PLACER": "heketi"})
    h.server.services.ctx.placer.rng = random.Random(0)  # deterministic ring rotations
    cluster = await h.create_cluster()
    for zone, role in ((1, "disabled"), (2, "disabled"), (3, "required")):
        node = await add_node(h, cluster, zone)
        await add_device(h, node, tags={"arbiter": role})
    for _ in range(6):
        r = await h.post(
            "/volumes", {"size": 1, "durability": R3, "glustervolumeoptions": [ARBITER]}
        )
        assert r.status_code == 202, r.text
        await h.ok_303(r, "/volumes")


async def test_balanced_placer_is_the_default_and_spreads_space(harness: Harness) -> None:
    assert isinstance(harness.server.services.ctx.placer, BalancedPlacer)
    await nodes_in_zones(harness, [1, 2, 3, 4])
    for _ in range(8):
        await harness.create_volume(size=2, durability=R3)
    used = [s["used"] for s in (await harness.device_storage()).values()]
    # 24 bricks of 2 GiB over 4 devices: exactly six each (Heketi's ring only tends to this).
    assert used == [6 * brick_charge(2 * GIB_KIB)] * 4


# ----------------------------------------------------------------------------------------------
# The dry run: POST /volumes/plan


def plan_devices(plan: dict[str, Any]) -> dict[tuple[int, int], str]:
    return {(s["set"], b["position"]): b["device"] for s in plan["brick_sets"] for b in s["bricks"]}


async def volume_devices(h: Harness, volume_id: str) -> dict[tuple[int, int], str]:
    dump = await h.dump()
    return {
        (e["SetIndex"], e["Position"]): e["Info"]["device"]
        for e in dump["brickentries"].values()
        if e["Info"]["volume"] == volume_id
    }


async def test_plan_answers_the_agreed_json_and_changes_nothing(open_harness: Opener) -> None:
    h = await open_harness(device_size_gb=10)
    cluster, _ = await nodes_in_zones(h, [1, 2, 3], devices=2)
    await h.create_volume(size=3, durability=R3)  # some used space, so devices differ
    before = await h.dump()
    body = {"size": 12, "durability": R3}
    r = await h.post("/volumes/plan", body)
    assert r.status_code == 200, r.text
    plan = r.json()
    assert await h.dump() == before
    assert await h.pending_operations() == []
    assert set(plan) == PLAN_KEYS
    assert plan["ok"] is True and plan["cluster"] == cluster
    assert plan["size"] == 12
    assert plan["durability"]["replicate"] == {"replica": 3}
    assert (plan["sets"], plan["bricks_per_set"], plan["brick_size"]) == (2, 3, 6 * GIB_KIB)
    assert [a["sets"] for a in plan["attempts"]] == [1, 2]
    assert plan["attempts"][0]["brick_size"] == 12 * GIB_KIB
    assert plan["attempts"][0]["result"].startswith("no device has room for a 12 GiB brick")
    assert plan["attempts"][1] == {"sets": 2, "brick_size": 6 * GIB_KIB, "result": "placed"}
    assert plan["clusters"] == [{"id": cluster, "result": "placed"}]
    assert [s["set"] for s in plan["brick_sets"]] == [0, 1]
    devices = before["deviceentries"]
    for brick_set in plan["brick_sets"]:
        bricks = brick_set["bricks"]
        assert [b["position"] for b in bricks] == [0, 1, 2]
        assert len({b["node"] for b in bricks}) == 3
        for b in bricks:
            assert set(b) == BRICK_KEYS
            assert b["size"] == 6 * GIB_KIB and b["space"] == brick_charge(6 * GIB_KIB)
            assert b["arbiter"] is False and b["reason"].startswith("most free space")
            assert devices[b["device"]]["NodeId"] == b["node"]
            assert b["device_name"] == devices[b["device"]]["Info"]["name"]
            assert b["zone"] == before["nodeentries"][b["node"]]["Info"]["zone"]
            assert b["hostname"] in before["nodeentries"][b["node"]]["Info"]["hostnames"]["manage"]
    assert sum(plan["skipped_counts"].values()) >= len(plan["skipped"])
    for skipped in plan["skipped"]:
        assert set(skipped) == {"device", "device_name", "node", "hostname", "reason"}
        assert skipped["reason"]
    assert all(isinstance(v, int) and v > 0 for v in plan["skipped_counts"].values())
    # The create that follows makes exactly the planned placement.
    vol = await h.create_volume(**body)
    assert await volume_devices(h, vol["id"]) == plan_devices(plan)
    await h.assert_consistent()


async def test_plan_explains_skipped_devices_and_arbiter(harness: Harness) -> None:
    h = harness
    cluster = await h.create_cluster()
    for zone, role in ((1, "disabled"), (2, "disabled"), (3, "required"), (1, "required")):
        node = await add_node(h, cluster, zone)
        await add_device(h, node, tags={"arbiter": role})
    body = {"size": 4, "durability": R3, "glustervolumeoptions": [ARBITER]}
    before = await h.dump()
    plan = (await h.post("/volumes/plan", body)).json()
    assert await h.dump() == before
    assert plan["ok"] is True
    (brick_set,) = plan["brick_sets"]
    arbiter = brick_set["bricks"][2]
    assert arbiter["arbiter"] is True and arbiter["size"] == 4 * GIB_KIB // 64
    assert arbiter["reason"].endswith("dedicated to this role")
    assert plan["skipped_counts"].get("arbiter role", 0) >= 1
    assert any(s["reason"] == "arbiter role" for s in plan["skipped"])
    vol = await h.create_volume(**body)
    assert await volume_devices(h, vol["id"]) == plan_devices(plan)


async def test_plan_when_nothing_fits(open_harness: Opener) -> None:
    h = await open_harness(device_size_gb=10)
    cluster, _ = await nodes_in_zones(h, [1, 2, 3])
    before = await h.dump()
    r = await h.post("/volumes/plan", {"size": 100, "durability": R3})
    assert r.status_code == 200, r.text
    plan = r.json()
    assert await h.dump() == before
    assert plan["ok"] is False
    assert plan["error"].startswith("No space: no device has room for a ")
    assert plan["cluster"] == "" and plan["brick_sets"] == []
    assert plan["attempts"] and all(a["result"] != "placed" for a in plan["attempts"])
    assert plan["clusters"] == [{"id": cluster, "result": plan["error"]}]
    # The create answers with the same reason.
    message = await refused(h, {"size": 100, "durability": R3})
    assert message == "Failed to allocate new volume: " + plan["error"]
    # And a request the create would refuse synchronously is refused the same way.
    r4 = {"type": "replicate", "replicate": {"replica": 4}}
    r = await h.post("/volumes/plan", {"size": 1, "durability": r4})
    assert (r.status_code, r.text) == (400, "Invalid replica value\n")


async def test_plan_strict_zones_failure(harness: Harness) -> None:
    await nodes_in_zones(harness, [1, 2, 2])
    body = {"size": 1, "durability": R3, "glustervolumeoptions": [STRICT]}
    plan = (await harness.post("/volumes/plan", body)).json()
    assert plan["ok"] is False
    assert "strict zone checking needs 3 zones" in plan["error"]


async def test_plan_needs_the_admin(tmp_path: Path) -> None:
    # Authentication of the dry run (its one database read finds no cluster): SQLite only.
    env = {
        "HEKETI_EXECUTOR": "mock",
        "HEKETI_DB_PATH": str(tmp_path / "heketi.db"),
        "HEKETI_ADMIN_KEY": "adminsecret",
        "HEKETI_USER_KEY": "usersecret",
    }
    loaded, _ = load_settings(None, env=env)
    server = build_server(loaded, agent=SimNodeAgent(SimWorld()))
    transport = httpx.ASGITransport(app=server.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        def token(issuer: str, key: str) -> dict[str, str]:
            now = int(time.time())
            claims = {
                "iss": issuer,
                "iat": now,
                "exp": now + 60,
                "qsh": qsh("POST", "/volumes/plan"),
            }
            return {"Authorization": f"bearer {jwt.encode(claims, key, algorithm='HS256')}"}

        body = json.dumps({"size": 1})
        r = await client.post("/volumes/plan", content=body, headers=token("user", "usersecret"))
        assert (r.status_code, r.text) == (401, "Administrator access required\n")
        r = await client.post("/volumes/plan", content=body)
        assert r.status_code == 401
        r = await client.post("/volumes/plan", content=body, headers=token("admin", "adminsecret"))
        assert (r.status_code, r.text) == (400, "No clusters configured\n")
    server.store.close()


# ----------------------------------------------------------------------------------------------
# Random topologies and request sequences

DURABILITIES = [
    {"type": "none"},
    R2,
    R3,
    {"type": "disperse", "disperse": {"data": 2, "redundancy": 1}},
    {"type": "disperse", "disperse": {"data": 4, "redundancy": 2}},
]


class PlacementMachine(RuleBasedStateMachine):
    """Random clusters (2-6 nodes in 1-3 zones, 1-3 small devices each, some tagged for
    arbiters), either placer, and random creates (any durability, strict zones, arbiter) /
    expands / deletes / dry runs. After every step: total = free + used, used = the bricks'
    space, no two bricks of a set on one node, strict volumes' sets in distinct zones, arbiter
    bricks where their tags allow; a refused create or expand changes nothing; a dry run
    changes nothing and (balanced placer) predicts the create; deleting everything returns
    every device to its starting free space."""

    def __init__(self, database: DatabaseFactory) -> None:
        super().__init__()
        self.lh = LoopHarness(device_size_gb=10, database=database)
        self.h = self.lh.h
        self.volumes: dict[str, dict[str, Any]] = {}  # id -> {"strict", "arbiter", "info"}
        self.start: dict[str, dict[str, int]] = {}
        self.ready = False
        self.balanced = True

    @initialize(
        zones=st.integers(1, 3),
        devices=st.lists(
            st.lists(st.integers(4, 16), min_size=1, max_size=3), min_size=2, max_size=6
        ),
        arbiter_tags=st.lists(st.sampled_from(["", "", "required", "disabled"]), max_size=6),
        heketi=st.booleans(),
        seed=st.integers(0, 2**16),
    )
    def build(
        self,
        zones: int,
        devices: list[list[int]],
        arbiter_tags: list[str],
        heketi: bool,
        seed: int,
    ) -> None:
        h = self.h
        if heketi:  # as BRICKYARD_PLACER=heketi, with a seeded ring
            h.server.services.ctx.placer = HeketiRingPlacer(random.Random(seed))
            self.balanced = False
        event(f"placer: {'heketi' if heketi else 'balanced'}")
        cluster = self.lh.run(h.create_cluster())
        for i, sizes in enumerate(devices):
            role = arbiter_tags[i] if i < len(arbiter_tags) else ""
            node = self.lh.run(
                add_node(h, cluster, i % zones + 1, {"arbiter": role} if role else None)
            )
            for d, size in enumerate(sizes):
                h.world.device_size = size * GIB_KIB
                self.lh.run(add_device(h, node, f"/dev/sd{'bcd'[d]}"))
        self.start = self.lh.run(h.device_storage())
        self.ready = True

    def teardown(self) -> None:
        try:
            if self.ready:
                for volume_id in list(self.volumes):
                    self.lh.run(self.h.delete_volume(volume_id))
                    del self.volumes[volume_id]
                self.lh.run(self.h.assert_consistent())
                assert self.lh.run(self.h.device_storage()) == self.start, "space not returned"
                assert self.h.world.volumes() == {}
        finally:
            self.lh.close()

    def _body(self, size: int, durability: int, strict: bool, arbiter: bool) -> dict[str, Any]:
        options = ([STRICT] if strict else []) + ([ARBITER] if arbiter else [])
        return {
            "size": size,
            "durability": R3 if arbiter else DURABILITIES[durability],
            "glustervolumeoptions": options,
        }

    @rule(
        size=st.integers(1, 12),
        durability=st.integers(0, len(DURABILITIES) - 1),
        strict=st.sampled_from([False, False, True]),
        arbiter=st.sampled_from([False, False, True]),
        dry_run_first=st.booleans(),
        then_expand=st.integers(0, 4),
    )
    def create(
        self,
        size: int,
        durability: int,
        strict: bool,
        arbiter: bool,
        dry_run_first: bool,
        then_expand: int,
    ) -> None:
        body = self._body(size, durability, strict, arbiter)
        before = self.lh.run(self.h.dump())
        plan = None
        if dry_run_first:
            r = self.lh.run(self.h.post("/volumes/plan", body))
            assert r.status_code in (200, 400), r.text
            assert self.lh.run(self.h.dump()) == before, "the dry run changed something"
            plan = r.json() if r.status_code == 200 else None
        r = self.lh.run(self.h.post("/volumes", body))
        event(f"create: {r.status_code}" + (" (arbiter)" if arbiter else ""))
        if r.status_code == 400:
            assert r.text.startswith("Requested volume size"), r.text
            return
        if r.status_code == 500:
            assert r.text.startswith("Failed to allocate new volume: "), r.text
            assert self.lh.run(self.h.dump()) == before, "a refused create changed something"
            if plan is not None and self.balanced:  # Heketi's ring draws a new rotation
                assert plan["ok"] is False
                assert r.text.rstrip("\n") == "Failed to allocate new volume: " + plan["error"]
            return
        volume_id = self.lh.run(self.h.ok_303(r, "/volumes"))
        info = self.lh.run(self.h.get_json(f"/volumes/{volume_id}"))
        assert info["size"] == size
        self.volumes[volume_id] = {"strict": strict, "arbiter": arbiter}
        if plan is not None and self.balanced:
            assert plan["ok"] is True
            placed = self.lh.run(volume_devices(self.h, volume_id))
            assert placed == plan_devices(plan), "the create differs from its dry run"
        if then_expand:
            self.expand(len(self.volumes) - 1, then_expand)

    def _pick(self, index: int) -> str | None:
        ids = list(self.volumes)
        return ids[index % len(ids)] if ids else None

    @rule(pick=st.integers(0, 1000), size=st.integers(1, 8))
    def expand(self, pick: int, size: int) -> None:
        volume_id = self._pick(pick)
        if volume_id is None:
            return
        before = self.lh.run(self.h.dump())
        r = self.lh.run(self.h.post(f"/volumes/{volume_id}/expand", {"expand_size": size}))
        event(f"expand: {r.status_code}")
        if r.status_code == 500:
            assert r.text.startswith("Failed to allocate volume expansion: "), r.text
            assert self.lh.run(self.h.dump()) == before, "a refused expand changed something"
            return
        assert self.lh.run(self.h.ok_303(r, "/volumes")) == volume_id
        info = self.lh.run(self.h.get_json(f"/volumes/{volume_id}"))
        old = before["volumeentries"][volume_id]
        assert info["size"] == old["Info"]["size"] + size
        assert len(info["bricks"]) > len(old["Bricks"])

    @rule(pick=st.integers(0, 1000))
    def delete(self, pick: int) -> None:
        volume_id = self._pick(pick)
        if volume_id is None:
            return
        self.lh.run(self.h.delete_volume(volume_id))
        del self.volumes[volume_id]

    @invariant()
    def placement_rules_hold(self) -> None:
        if not self.ready:
            return
        dump = self.lh.run(self.h.assert_consistent())
        assert set(dump["volumeentries"]) == set(self.volumes)
        zones = zone_of_nodes(dump)
        for volume_id, facts in self.volumes.items():
            for bricks in bricks_by_set(dump, volume_id).values():
                nodes = [b["Info"]["node"] for b in bricks]
                assert len(set(nodes)) == len(nodes)
                if facts["strict"]:
                    in_zones = [zones[n] for n in nodes]
                    assert len(set(in_zones)) == len(in_zones), "strict set shares a zone"
                if facts["arbiter"]:
                    roles = [merged_role(dump, b["Info"]["device"]) for b in bricks]
                    assert [b["Position"] for b in bricks] == [0, 1, 2]
                    assert roles[2] != "disabled" and "required" not in roles[:2], roles
                    sizes = [b["Info"]["size"] for b in bricks]
                    assert sizes[0] == sizes[1] and sizes[2] == max(sizes[0] // 64, 16 * 1024)


PLACEMENT_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_random_placement(harness_database: DatabaseFactory) -> None:
    # Run as a function rather than PlacementMachine.TestCase so that the machine gets the
    # database fixture: each example's server opens a fresh database of the kind under test.
    # (Hypothesis annotates the factory as a class, but calls whatever it is given.)
    run_state_machine_as_test(
        lambda: PlacementMachine(harness_database),  # type: ignore[arg-type]
        settings=PLACEMENT_SETTINGS,
    )
