"""Brickyard's /metrics (docs/metrics.md) after known operations on the simulator: operation
durations by type and outcome, 429s, node command times, node reachability, capacity per device
and zone, volumes by state, the sampled heal backlog and the last examine's drift."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from brickyard.domain.ids import new_id

from .conftest import ONE_GIB_BRICK, Harness, Topology
from .metrics_helpers import labelled, scrape, value

REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}


async def test_a_create_counts_as_succeeded_and_a_failing_one_as_rolled_back(
    harness: Harness, topology: Topology
) -> None:
    before = await scrape(harness)
    count = "brickyard_operation_duration_seconds_count"
    assert value(before, count, type="create-volume", outcome="succeeded") == 0
    await harness.create_volume(size=1, durability=REPLICA3)
    after = await scrape(harness)
    assert value(after, count, type="create-volume", outcome="succeeded") == 1
    assert value(after, "brickyard_operation_duration_seconds_sum", type="create-volume") > 0
    inf = value(
        after,
        "brickyard_operation_duration_seconds_bucket",
        type="create-volume",
        outcome="succeeded",
        le="+Inf",
    )
    assert inf == 1
    # Every node refuses to make bricks: each attempt is rolled back, the create fails.
    for node in topology.nodes:
        harness.world.fail(topology.manage[node], "brick_create", "disk on fire", times=100)
    message = await harness.failed(await harness.post("/volumes", {"size": 1}))
    assert "disk on fire" in message
    failed = await scrape(harness)
    assert value(failed, count, type="create-volume", outcome="rolled_back") == 1
    assert value(failed, count, type="create-volume", outcome="succeeded") == 1
    # Nothing runs or waits any more.
    assert value(failed, "brickyard_operations_in_flight", type="create-volume") == 0
    assert value(failed, "brickyard_operations_queued", type="create-volume") == 0


async def test_node_commands_are_timed_by_node_and_command(
    harness: Harness, topology: Topology
) -> None:
    harness.world.delay = 0.01
    await harness.create_volume(size=1, durability=REPLICA3)
    samples = await scrape(harness)
    name = "brickyard_node_command_duration_seconds_count"
    for node in topology.nodes:
        host = topology.manage[node]
        assert value(samples, name, node=host, command="brick_create") == 1
        # a simulated command takes the world's delay: never in the 5 ms bucket
        under_5ms = value(
            samples,
            "brickyard_node_command_duration_seconds_bucket",
            node=host,
            command="brick_create",
            le="0.005",
        )
        assert under_5ms == 0
    assert sum(v for labels, v in samples[name] if labels["command"] == "volume_create") == 1


async def test_a_full_in_flight_limit_is_counted_as_a_429_and_shows_in_flight(
    make_harness: Any,
) -> None:
    harness: Harness = await make_harness(env={"HEKETI_MAX_INFLIGHT_OPERATIONS": "1"})
    await harness.build_topology()
    harness.world.delay = 0.2  # the first create holds the only slot for a while
    first = await harness.post("/volumes", {"size": 1})
    assert first.status_code == 202
    await asyncio.sleep(0.05)  # its job has started: it is executing its node steps
    during = await scrape(harness)
    assert value(during, "brickyard_operations_in_flight", type="create-volume") == 1
    assert value(during, "brickyard_operation_slots_used") == 1
    assert value(during, "brickyard_operation_slots_limit") == 1
    assert value(during, "brickyard_requests_throttled_total") == 0
    second = await harness.post("/volumes", {"size": 1})
    assert second.status_code == 429, second.text
    third = await harness.post("/volumes", {"size": 1})
    assert third.status_code == 429
    await harness.ok_303(first, "/volumes")
    after = await scrape(harness)
    assert value(after, "brickyard_requests_throttled_total") == 2
    assert value(after, "brickyard_operations_in_flight", type="create-volume") == 0
    assert value(after, "brickyard_operation_slots_used") == 0


async def test_a_stopped_node_shows_unreachable_after_a_health_check(
    harness: Harness, topology: Topology
) -> None:
    hosts = [topology.manage[n] for n in topology.nodes]
    health = harness.server.services.health
    await health.check_all()
    samples = await scrape(harness)
    assert labelled(samples, "brickyard_node_reachable", "node") == {h: 1 for h in hosts}
    assert labelled(samples, "brickyard_node_glusterd_up", "node") == {h: 1 for h in hosts}
    harness.world.nodes[hosts[0]].reachable = False
    harness.world.nodes[hosts[1]].glusterd_running = False
    await health.check_all()
    samples = await scrape(harness)
    assert labelled(samples, "brickyard_node_reachable", "node") == {
        hosts[0]: 0,
        hosts[1]: 1,
        hosts[2]: 1,
    }
    assert labelled(samples, "brickyard_node_glusterd_up", "node") == {
        hosts[0]: 0,
        hosts[1]: 0,
        hosts[2]: 1,
    }
    assert all(
        v > 0
        for v in labelled(samples, "brickyard_node_checked_timestamp_seconds", "node").values()
    )


async def test_capacity_per_device_and_zone_matches_the_devices(
    harness: Harness, topology: Topology
) -> None:
    # a second node in zone 1: its zone adds up two devices
    extra = await harness.add_node(topology.cluster, zone=1)
    extra_device = await harness.add_device(extra)
    await harness.create_volume(size=5, durability=REPLICA3)
    storage = await harness.device_storage()
    samples = await scrape(harness)
    for kind, key in (("size", "total"), ("used", "used"), ("free", "free")):
        per_device = labelled(samples, f"brickyard_device_{kind}_bytes", "id")
        assert per_device == {d: s[key] * 1024 for d, s in storage.items()}
        zones = {
            labels["zone"]: v
            for labels, v in samples[f"brickyard_zone_{kind}_bytes"]
            if labels["cluster"] == topology.cluster
        }
        zone_of = {d: str(i + 1) for i, d in enumerate(topology.devices)}
        zone_of[extra_device] = "1"
        expected: Counter[str] = Counter()
        for device, s in storage.items():
            expected[zone_of[device]] += s[key] * 1024
        assert zones == dict(expected)
    assert sum(labelled(samples, "brickyard_device_used_bytes", "id").values()) > 0


async def test_volumes_by_state_and_the_sampled_heal_backlog(
    harness: Harness, topology: Topology
) -> None:
    volume = await harness.create_volume(size=1, durability=REPLICA3)
    await harness.create_volume(size=1)  # no replica: never sampled (nothing heals)
    name = volume["name"]
    samples = await scrape(harness)
    assert value(samples, "brickyard_volumes", cluster=topology.cluster, state="online") == 2
    assert "brickyard_volume_heal_entries" not in samples  # nothing sampled yet
    bricks = volume["bricks"]
    # storage hostname = manage hostname in the harness's topology
    first = f"{topology.manage[bricks[0]['node']]}:{bricks[0]['path']}"
    harness.world.pending_heal[first] = 7
    sampler = harness.server.services.heal_sampler
    assert await sampler.sample_round() == 1
    samples = await scrape(harness)
    assert labelled(samples, "brickyard_volume_heal_entries", "volume") == {name: 7}
    assert labelled(samples, "brickyard_volume_heal_bricks_down", "volume") == {name: 0}
    assert value(samples, "brickyard_volume_heal_sampled_timestamp_seconds", volume=name) > 0
    # Another brick's node stops: the first brick keeps its entries; the volume is degraded.
    harness.world.nodes[topology.manage[bricks[1]["node"]]].reachable = False
    assert await sampler.sample_round() == 1
    samples = await scrape(harness)
    assert labelled(samples, "brickyard_volume_heal_entries", "volume") == {name: 7}
    assert labelled(samples, "brickyard_volume_heal_bricks_down", "volume") == {name: 1}
    assert value(samples, "brickyard_volumes", cluster=topology.cluster, state="degraded") == 1
    assert value(samples, "brickyard_volumes", cluster=topology.cluster, state="online") == 1
    # A deleted volume's sample goes at the next round.
    harness.world.nodes[topology.manage[bricks[1]["node"]]].reachable = True
    await harness.delete_volume(volume["id"])
    assert await sampler.sample_round() == 0
    samples = await scrape(harness)
    assert "brickyard_volume_heal_bricks_down" not in samples


async def test_the_sampler_asks_at_most_its_share_of_volumes_per_round(
    make_harness: Any,
) -> None:
    harness: Harness = await make_harness(env={"BRICKYARD_HEAL_SAMPLE_VOLUMES": "2"})
    await harness.build_topology()
    names = [(await harness.create_volume(size=1, durability=REPLICA3))["name"] for _ in range(5)]
    sampler = harness.server.services.heal_sampler
    assert sampler.settings.per_round == 2
    seen = harness.server.services.ctx.observed.heal
    rounds = []
    for _ in range(3):
        before = dict(seen)
        assert await sampler.sample_round() == 2
        rounds.append(sorted(n for n, s in seen.items() if before.get(n) is not s))
    ordered = sorted(names)
    # turns in name order, wrapping: 2, 2, then the last one and the first again
    assert rounds == [ordered[0:2], ordered[2:4], sorted([ordered[4], ordered[0]])]


async def test_the_last_examine_drift_by_kind(harness: Harness, topology: Topology) -> None:
    samples = await scrape(harness)
    assert "brickyard_examine_timestamp_seconds" not in samples  # no examine yet
    host, device = topology.manage[topology.nodes[0]], topology.devices[0]
    harness.world.leak_brick(host, device, new_id(), ONE_GIB_BRICK)
    harness.world.leak_brick(host, device, new_id(), ONE_GIB_BRICK)
    r = await harness.get("/internal/state/examine")
    assert r.status_code == 200
    kinds = Counter(d["kind"] for d in r.json()["differences"])
    assert kinds["orphan brick"] == 2
    samples = await scrape(harness)
    assert labelled(samples, "brickyard_examine_drift", "kind") == dict(kinds)
    assert value(samples, "brickyard_examine_fixed") == 0
    assert value(samples, "brickyard_examine_timestamp_seconds") > 0
    fixed = await harness.post("/internal/state/examine/fix", {})
    assert fixed.status_code == 200
    samples = await scrape(harness)
    assert value(samples, "brickyard_examine_fixed") == 2
    assert labelled(samples, "brickyard_examine_drift", "kind") == {}


async def test_an_interval_of_zero_turns_the_sampler_off(make_harness: Any) -> None:
    harness: Harness = await make_harness(env={"BRICKYARD_HEAL_SAMPLE_INTERVAL_SECONDS": "0"})
    sampler = harness.server.services.heal_sampler
    assert not sampler.settings.enabled
    await asyncio.wait_for(sampler.run(), 1.0)  # returns at once instead of sampling forever
