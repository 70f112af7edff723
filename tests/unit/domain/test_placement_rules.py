"""Placement rules, one group per filter, weigher and placer (internals §2.2-2.7), pure domain.

Every group builds `Candidate`s by hand; nothing here touches a database or a node. The
hypothesis properties at the end run the placers over random small topologies and, for the
smallest ones, compare a `NoSpace` with an exhaustive search for a valid placement."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import replace
from itertools import islice, pairwise

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from brickyard.domain.errors import NoSpace
from brickyard.domain.placement import (
    ARBITER_POSITION,
    ArbiterRole,
    BalancedPlacer,
    Candidate,
    DeviceIndex,
    Explanation,
    HeketiRingPlacer,
    PlacedBrick,
    PlacementRequest,
    Position,
    SetInProgress,
    TagRule,
    diagnose,
    merge_tags,
    plan_bricks,
    plan_replacement,
    planner,
)
from brickyard.domain.placement.planner import COMPLETE_SEARCH
from brickyard.domain.placement.rules import (
    ARBITER_ROLE,
    NO_SPACE,
    SAME_NODE,
    TAGS,
    ZONE_IN_USE,
    arbiter_role,
    different_node,
    different_zone,
    tag_filter,
)
from brickyard.domain.placement.search import SearchGaveUp, complete_placement
from brickyard.domain.sizing import (
    ARBITER_MIN_SIZE,
    ArbiterSizeError,
    BrickLimits,
    MinimumBrickSizeReached,
    arbiter_brick_size,
    brick_layouts,
    brick_space,
)
from brickyard.domain.units import GIB, MIB, TIB

ONE_GIB_SPACE = 1056768  # a 1 GiB brick with its thin pool and metadata (internals §2.6)
SLOT = Position(0, 0)
ARB_SLOT = Position(0, ARBITER_POSITION, arbiter=True)
DATA_SLOT = Position(0, 0, arbiter=False)


def cand(
    device: str,
    node: str,
    zone: int = 1,
    free: int = 100 * GIB,
    tags: dict[str, str] | None = None,
    extent: int = 4096,
) -> Candidate:
    return Candidate(device, node, zone, free, extent, tags or {})


def in_set(*members: Candidate) -> SetInProgress:
    current = SetInProgress()
    for position, member in enumerate(members):
        current.take(member, 0, position)
    return current


def by_device(candidates: Sequence[Candidate]) -> dict[str, Candidate]:
    return {c.device_id: c for c in candidates}


def arbiter_request(sets: int = 1, brick: int = GIB) -> PlacementRequest:
    """Replica 3 with arbiter, the arbiter brick sized for Heketi's 64 KiB average file."""
    return PlacementRequest(
        sets, 3, brick, arbiter=True, arbiter_brick_size=arbiter_brick_size(brick, 64)
    )


# ----------------------------------------------------------------------------------------------
# different_node / different_zone


def test_different_node_refuses_a_node_the_set_already_uses() -> None:
    a, b = cand("a", "n1", 1), cand("b", "n1", 2)
    current = in_set(a)
    assert different_node(b, current, SLOT) == SAME_NODE
    assert different_node(cand("c", "n2", 1), current, SLOT) is None
    assert different_node(a, SetInProgress(), SLOT) is None


def test_different_zone_refuses_a_zone_the_set_already_uses() -> None:
    current = in_set(cand("a", "n1", 1))
    assert different_zone(cand("b", "n2", 1), current, SLOT) == ZONE_IN_USE
    assert different_zone(cand("c", "n3", 2), current, SLOT) is None
    assert different_zone(cand("d", "n1", 2), current, SLOT) is None  # only the zone counts


def test_set_in_progress_remembers_where_each_node_was_used() -> None:
    current = SetInProgress()
    current.take(cand("a", "n1", 4), 3, 2)
    assert current.nodes == {"n1"} and current.zones == {4}
    assert current.node_position == {"n1": (3, 2)}


def test_the_same_node_reason_names_the_brick_it_collides_with() -> None:
    devices = [cand("a", "n1", 1, 200 * GIB), cand("a2", "n1", 1, 150 * GIB), cand("b", "n2")]
    explain = Explanation()
    plan_bricks(PlacementRequest(1, 2, GIB), devices, explain=explain)
    (_, kind, detail) = explain.skipped["a2"]
    assert kind == SAME_NODE
    assert detail == "same node as brick 0 of set 0"


# ----------------------------------------------------------------------------------------------
# arbiter role filter and merged tags


@pytest.mark.parametrize(
    ("tags", "role", "arbiter_ok", "data_ok"),
    [
        ({"arbiter": "required"}, ArbiterRole.ARBITER_ONLY, True, False),
        ({"arbiter": "disabled"}, ArbiterRole.DATA_ONLY, False, True),
        ({"arbiter": "supported"}, ArbiterRole.ANY, True, True),
        ({}, ArbiterRole.ANY, True, True),  # missing tag: both
        ({"arbiter": "yes-please"}, ArbiterRole.ANY, True, True),  # anything else: both
        ({"arbiter": "Required"}, ArbiterRole.ANY, True, True),  # values are case-sensitive
    ],
    ids=["required", "disabled", "supported", "missing", "other", "case"],
)
def test_arbiter_role_filter(
    tags: dict[str, str], role: ArbiterRole, arbiter_ok: bool, data_ok: bool
) -> None:
    device = cand("d", "n1", tags=tags)
    assert device.arbiter_role is role
    assert ArbiterRole.of(tags) is role
    assert (arbiter_role(device, SetInProgress(), ARB_SLOT) is None) is arbiter_ok
    assert (arbiter_role(device, SetInProgress(), DATA_SLOT) is None) is data_ok
    for verdict in (arbiter_role(device, SetInProgress(), s) for s in (ARB_SLOT, DATA_SLOT)):
        assert verdict in (None, ARBITER_ROLE)


def test_merged_tags_device_overrides_node() -> None:
    node = {"arbiter": "required", "rack": "r1", "disk": "hdd"}
    device = {"arbiter": "disabled", "disk": "ssd"}
    merged = merge_tags(node, device)
    assert merged == {"arbiter": "disabled", "rack": "r1", "disk": "ssd"}
    assert ArbiterRole.of(merged) is ArbiterRole.DATA_ONLY
    # The node's tag applies to a device that does not set its own.
    assert ArbiterRole.of(merge_tags(node, {})) is ArbiterRole.ARBITER_ONLY
    assert merge_tags({}, {"arbiter": "required"}) == {"arbiter": "required"}
    assert node == {"arbiter": "required", "rack": "r1", "disk": "hdd"}  # inputs untouched


# ----------------------------------------------------------------------------------------------
# TagRule (user.heketi.device-tag-match)


@pytest.mark.parametrize(
    ("text", "key", "value", "negate"),
    [
        ("disk=ssd", "disk", "ssd", False),
        ("disk!=ssd", "disk", "ssd", True),
        ("  rack.row_1=A-7  ", "rack.row_1", "A-7", False),
        ("x=0", "x", "0", False),
    ],
)
def test_tag_rule_parse(text: str, key: str, value: str, negate: bool) -> None:
    rule = TagRule.parse(text)
    assert (rule.key, rule.value, rule.negate) == (key, value, negate)
    assert TagRule.parse(str(rule)) == rule


@pytest.mark.parametrize(
    "text",
    [
        "",
        "disk",
        "=ssd",
        "disk=",
        "disk!=",
        "disk==ssd",
        "disk=ssd=x",
        "dis k=ssd",
        "disk!ssd",
        "disk=s sd",
        "disk=ssd!",
        "!disk=ssd",
        "disk=>ssd",
    ],
)
def test_tag_rule_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="invalid device tag match rule"):
        TagRule.parse(text)


def test_tag_rule_matches_merged_tags_and_missing_key_reads_empty() -> None:
    equal, unequal = TagRule.parse("disk=ssd"), TagRule.parse("disk!=ssd")
    assert equal.matches({"disk": "ssd"}) and not unequal.matches({"disk": "ssd"})
    assert not equal.matches({"disk": "hdd"}) and unequal.matches({"disk": "hdd"})
    assert not equal.matches({}) and unequal.matches({})  # missing key = ""
    assert not equal.matches({"DISK": "ssd"})  # keys are case-sensitive


def test_tag_filter() -> None:
    check = tag_filter(TagRule.parse("disk=ssd"))
    assert check(cand("a", "n1", tags={"disk": "ssd"}), SetInProgress(), SLOT) is None
    assert check(cand("b", "n1", tags={"disk": "hdd"}), SetInProgress(), SLOT) == TAGS
    assert check(cand("c", "n1"), SetInProgress(), SLOT) == TAGS


def test_placement_honours_the_tag_rule() -> None:
    devices = [
        cand("big-hdd", "n1", 1, 900 * GIB, {"disk": "hdd"}),
        cand("ssd1", "n1", 1, 10 * GIB, {"disk": "ssd"}),
        cand("ssd2", "n2", 2, 10 * GIB, {"disk": "ssd"}),
        cand("big3", "n3", 3, 900 * GIB),
    ]
    rule = TagRule.parse("disk=ssd")
    placed = plan_bricks(PlacementRequest(1, 2, GIB, tag_rule=rule), devices)
    assert sorted(p.device_id for p in placed) == ["ssd1", "ssd2"]
    with pytest.raises(NoSpace, match="needs 3 nodes with online devices matching disk=ssd"):
        plan_bricks(PlacementRequest(1, 3, GIB, tag_rule=rule), devices)
    negated = plan_bricks(PlacementRequest(1, 2, GIB, tag_rule=TagRule.parse("disk!=ssd")), devices)
    assert sorted(p.device_id for p in negated) == ["big-hdd", "big3"]


# ----------------------------------------------------------------------------------------------
# The balanced weigher


def test_balanced_takes_the_emptiest_device() -> None:
    devices = [
        cand("a", "n1", 1, 10 * GIB),
        cand("b", "n2", 1, 90 * GIB),
        cand("c", "n3", 1, 50 * GIB),
    ]
    (placed,) = plan_bricks(PlacementRequest(1, 1, GIB), devices)
    assert placed.device_id == "b"
    assert placed.reason.startswith("most free space (90 GiB)")


def test_balanced_ties_are_broken_by_device_id() -> None:
    devices = [cand("z", "n1"), cand("m", "n2"), cand("a", "n3")]
    (placed,) = plan_bricks(PlacementRequest(1, 1, GIB), devices)
    assert placed.device_id == "a"


def test_balanced_prefers_a_new_zone_over_an_emptier_device_in_a_used_zone() -> None:
    devices = [
        cand("first", "n1", 1, 500 * GIB),
        cand("same-zone-emptier", "n2", 1, 400 * GIB),
        cand("new-zone", "n3", 2, 20 * GIB),
    ]
    placed = plan_bricks(PlacementRequest(1, 2, GIB), devices)
    assert [p.device_id for p in placed] == ["first", "new-zone"]
    assert "in a zone the set does not use yet" in placed[1].reason
    # Once every zone is used, free space decides again.
    placed = plan_bricks(PlacementRequest(1, 3, GIB), devices)
    assert [p.device_id for p in placed] == ["first", "new-zone", "same-zone-emptier"]
    assert placed[2].reason.endswith("(every zone in use)")


def test_balanced_spreads_sets_over_devices_as_they_fill() -> None:
    """Free space is charged as the plan proceeds: the next set sees what the previous took."""
    devices = [cand("a", "n1", 1, 10 * GIB), cand("b", "n1", 1, 10 * GIB - 1)]
    placed = plan_bricks(PlacementRequest(2, 1, 4 * GIB), devices)
    assert [p.device_id for p in placed] == ["a", "b"]


def test_balanced_prefers_dedicated_arbiter_and_data_devices() -> None:
    devices = [
        cand("any1", "n1", 1, 900 * GIB),
        cand("any2", "n2", 2, 900 * GIB),
        cand("any3", "n3", 3, 900 * GIB),
        cand("arb", "n4", 4, 5 * GIB, {"arbiter": "required"}),
        cand("data5", "n5", 5, 50 * GIB, {"arbiter": "disabled"}),
        cand("data6", "n6", 6, 60 * GIB, {"arbiter": "disabled"}),
    ]
    placed = plan_bricks(arbiter_request(), devices)
    assert [p.device_id for p in placed] == ["data5", "data6", "arb"]
    assert all(p.reason.endswith(", dedicated to this role") for p in placed)


def test_balanced_falls_back_to_any_devices_when_no_dedicated_one_fits() -> None:
    devices = [
        cand("any1", "n1", 1, 900 * GIB),
        cand("arb", "n4", 4, 1 * MIB, {"arbiter": "required"}),  # too small even for 16 MiB
        cand("data5", "n5", 5, 50 * GIB, {"arbiter": "disabled"}),
        cand("data6", "n6", 6, 60 * GIB, {"arbiter": "disabled"}),
    ]
    placed = plan_bricks(arbiter_request(), devices)
    assert [p.device_id for p in placed] == ["data5", "data6", "any1"]


def test_placers_never_change_their_input() -> None:
    devices = [cand("a", "n1"), cand("b", "n2"), cand("c", "n3")]
    index = DeviceIndex(devices)
    for placer in (BalancedPlacer(), HeketiRingPlacer(random.Random(1))):
        placer.place(PlacementRequest(2, 3, 10 * GIB), index)
        assert [c.free for c in index.by_free()] == [100 * GIB] * 3
    assert [c.free for c in devices] == [100 * GIB] * 3


# ----------------------------------------------------------------------------------------------
# HeketiRingPlacer


def test_ring_interleaves_zones() -> None:
    devices = [cand(f"z{z}d{d}", f"n{z}", z) for z in (1, 2, 3) for d in range(2)]
    for seed in range(10):
        ring = HeketiRingPlacer(random.Random(seed)).ring(devices)
        assert sorted(c.device_id for c in ring) == sorted(c.device_id for c in devices)
        zones = [c.zone for c in ring]
        assert len(set(zones[:3])) == 3 and len(set(zones[3:])) == 3, zones
        assert zones[:3] == zones[3:]  # the same zone order on every round


def test_ring_interleaves_nodes_within_a_zone() -> None:
    devices = [cand(f"{n}d{d}", n, 1) for n in ("n1", "n2") for d in range(3)]
    for seed in range(10):
        ring = HeketiRingPlacer(random.Random(seed)).ring(devices)
        nodes = [c.node_id for c in ring]
        assert all(a != b for a, b in pairwise(nodes)), nodes


def test_ring_puts_every_device_once_with_uneven_zones() -> None:
    devices = [cand("a", "n1", 1), cand("b", "n2", 2), cand("c", "n2", 2), cand("d", "n3", 2)]
    devices += [cand(f"e{i}", "n4", 3) for i in range(4)]
    ring = HeketiRingPlacer(random.Random(7)).ring(devices)
    assert sorted(c.device_id for c in ring) == sorted(c.device_id for c in devices)


def test_ring_placer_with_a_seeded_random_is_deterministic() -> None:
    devices = [cand(f"d{i}", f"n{i % 5}", i % 3 + 1) for i in range(15)]
    request = PlacementRequest(3, 3, 10 * GIB)

    def run(seed: int) -> list[str]:
        return [
            p.device_id
            for p in plan_bricks(request, devices, HeketiRingPlacer(random.Random(seed)))
        ]

    assert run(42) == run(42)
    assert len({tuple(run(seed)) for seed in range(20)}) > 1  # the seed matters


def expected_first_fit(devices: list[Candidate], request: PlacementRequest, seed: int) -> list[str]:
    """Heketi's walk (internals §2.4) spelled out: the same ring and rotation the placer draws
    from the same seed, each position taking the next device along the rotated ring that is on
    a new node and has room; devices passed over are not revisited within the set."""
    rng = random.Random(seed)
    ring = HeketiRingPlacer(rng).ring(devices)
    left = {c.device_id: c.free for c in devices}
    need = brick_space(request.brick_size, request.snapshot_factor, 4096).total
    chosen: list[str] = []
    for _ in range(request.sets):
        start = rng.randrange(len(ring))
        walk = iter(ring[start:] + ring[:start])
        nodes: set[str] = set()
        for _position in range(request.bricks_per_set):
            for c in walk:
                if c.node_id not in nodes and left[c.device_id] > need:
                    nodes.add(c.node_id)
                    left[c.device_id] -= need
                    chosen.append(c.device_id)
                    break
    return chosen


@pytest.mark.parametrize("seed", range(8))
def test_ring_placer_is_first_fit_along_the_rotated_ring(seed: int) -> None:
    # Uneven space so that some devices are passed over for lack of room.
    devices = [cand(f"d{i}", f"n{i % 4}", i % 2 + 1, (3 + (i * 7) % 5) * GIB) for i in range(8)]
    request = PlacementRequest(2, 3, 2 * GIB)
    placed = plan_bricks(request, devices, HeketiRingPlacer(random.Random(seed)))
    assert [p.device_id for p in placed] == expected_first_fit(devices, request, seed)
    assert all(p.reason == "first fit along the ring (Heketi placement)" for p in placed)


def test_ring_placer_does_not_prefer_emptier_devices() -> None:
    devices = [cand("tiny", "n1", 1, 2 * GIB), cand("huge", "n2", 1, 900 * GIB)]
    chosen = {
        plan_bricks(PlacementRequest(1, 1, GIB), devices, HeketiRingPlacer(random.Random(s)))[
            0
        ].device_id
        for s in range(30)
    }
    assert chosen == {"tiny", "huge"}


@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(1, 20)), min_size=1, max_size=12),
    st.integers(1, 3),
    st.integers(1, 3),
    st.booleans(),
    st.integers(0, 2**32),
)
@settings(max_examples=150, deadline=None)
def test_ring_placer_never_puts_two_bricks_of_a_set_on_one_node(
    layout: list[tuple[int, int]], sets: int, per_set: int, strict: bool, seed: int
) -> None:
    devices = [
        cand(f"d{i}", f"n{node}", node % 3 + 1, free * GIB) for i, (node, free) in enumerate(layout)
    ]
    request = PlacementRequest(sets, per_set, 2 * GIB, strict_zones=strict)
    try:
        placed = plan_bricks(request, devices, HeketiRingPlacer(random.Random(seed)))
    except NoSpace:
        return
    check_plan(request, devices, placed)


# ----------------------------------------------------------------------------------------------
# Arbiter placement and sizing


def test_arbiter_brick_is_at_position_two_on_the_arbiter_device() -> None:
    devices = [
        cand("d1", "n1", 1, TIB, {"arbiter": "disabled"}),
        cand("d2", "n2", 2, TIB, {"arbiter": "disabled"}),
        cand("arb", "n3", 3, TIB, {"arbiter": "required"}),
        cand("d4", "n4", 1, TIB, {"arbiter": "disabled"}),
    ]
    request = arbiter_request(sets=2, brick=100 * GIB)
    placed = plan_bricks(request, devices)
    assert [(p.set_index, p.position) for p in placed] == [(s, i) for s in (0, 1) for i in range(3)]
    for p in placed:
        assert p.arbiter is (p.position == ARBITER_POSITION)
        if p.arbiter:
            assert p.device_id == "arb"
            assert p.space.brick_size == 100 * GIB // 64  # 1.5625 GiB: ~1 KiB per 64 KiB file
        else:
            assert p.device_id != "arb"
            assert p.space.brick_size == 100 * GIB


def test_arbiter_sets_are_filled_from_the_arbiter_position_down() -> None:
    assert arbiter_request().fill_order() == [2, 1, 0]
    assert PlacementRequest(1, 3, GIB).fill_order() == [0, 1, 2]
    request = arbiter_request()
    assert request.size_for(ARB_SLOT) == request.arbiter_brick_size == 16 * MIB
    assert request.size_for(DATA_SLOT) == GIB


def test_arbiter_volume_without_an_arbiter_capable_node_is_no_space() -> None:
    devices = [cand(f"d{i}", f"n{i}", i, tags={"arbiter": "disabled"}) for i in range(1, 5)]
    with pytest.raises(NoSpace):
        plan_bricks(arbiter_request(), devices)


def test_arbiter_only_devices_never_take_data_bricks() -> None:
    devices = [
        cand("d1", "n1", 1, 5 * GIB),
        cand("a2", "n2", 2, 900 * GIB, {"arbiter": "required"}),
        cand("a3", "n3", 3, 900 * GIB, {"arbiter": "required"}),
    ]
    with pytest.raises(NoSpace):
        plan_bricks(arbiter_request(), devices)
    # The arbiter tag only matters to arbiter volumes: Heketi's standard placer ignores it.
    assert len(plan_bricks(PlacementRequest(1, 3, GIB), devices)) == 3


@pytest.mark.parametrize(
    ("data", "average", "expected"),
    [
        (100 * GIB, 64, 100 * GIB // 64),
        (1 * GIB, 64, 16 * MIB),  # exactly the floor
        (512 * MIB, 64, 16 * MIB),  # 8 MiB raised to the 16 MiB floor
        (1 * TIB, 64, 16 * GIB),
        (10 * GIB, 1024, 16 * MIB),  # 10 MiB raised
        (10 * GIB, 8, 10 * GIB // 8),
        (64, 64, 16 * MIB),  # data == average is allowed
    ],
)
def test_arbiter_brick_size(data: int, average: int, expected: int) -> None:
    assert arbiter_brick_size(data, average) == expected
    assert ARBITER_MIN_SIZE == 16 * MIB


def test_arbiter_brick_size_refuses_a_brick_smaller_than_the_average_file() -> None:
    with pytest.raises(ArbiterSizeError) as caught:
        arbiter_brick_size(63, 64)
    assert str(caught.value) == "Average file size (64) is greater than Brick size (63)"
    with pytest.raises(ArbiterSizeError):
        arbiter_brick_size(GIB, 0)


@given(st.integers(1, 64 * TIB), st.integers(1, 1024 * 1024))
def test_arbiter_brick_size_property(data: int, average: int) -> None:
    if data < average:
        with pytest.raises(ArbiterSizeError):
            arbiter_brick_size(data, average)
        return
    size = arbiter_brick_size(data, average)
    assert size >= ARBITER_MIN_SIZE
    assert size == max(data // average, ARBITER_MIN_SIZE)


# ----------------------------------------------------------------------------------------------
# Sizing: brick space and layouts (internals §2.2, §2.6)


@pytest.mark.parametrize(
    ("brick", "factor", "extent", "tp", "metadata"),
    [
        (GIB, 1.0, 4096, 1048576, 8192),
        (TIB, 1.0, 4096, TIB, 5369856),
        (10 * GIB, 1.5, 4096, 15 * GIB, 81920),  # snapshot factor grows the pool
        (8 * TIB, 1.0, 4096, 8 * TIB, 16 * GIB),  # metadata capped at 16 GiB
        (GIB + 1, 1.0, 4096, GIB + 4096, 8192),  # whole extents
        (GIB, 1.0, 1024, GIB, 6144),  # rounded to the device's own extent size
        (16 * MIB, 1.0, 4096, 16 * MIB, 4096),  # the smallest arbiter brick
    ],
)
def test_brick_space(brick: int, factor: float, extent: int, tp: int, metadata: int) -> None:
    space = brick_space(brick, factor, extent)
    assert (space.brick_size, space.tp_size, space.metadata_size) == (brick, tp, metadata)
    assert space.total == tp + metadata


def test_layouts_double_the_sets_like_heketi() -> None:
    # internals §2.2: 100 GiB -> 1 x 100, 2 x 50, 4 x 25, 8 x 12.5, ...
    layouts = brick_layouts(100 * GIB, 1, BrickLimits())
    assert list(islice(layouts, 4)) == [
        (1, 100 * GIB),
        (2, 50 * GIB),
        (4, 25 * GIB),
        (8, 100 * GIB // 8),
    ]


def test_layouts_cap_bricks_at_4_tib() -> None:
    assert next(brick_layouts(10 * TIB, 1, BrickLimits())) == (4, 10 * TIB // 4)
    assert next(brick_layouts(4 * TIB, 1, BrickLimits())) == (1, 4 * TIB)
    assert next(brick_layouts(4 * TIB + GIB, 1, BrickLimits())) == (2, (4 * TIB + GIB) // 2)


def test_layouts_honour_a_configured_maximum() -> None:
    limits = BrickLimits(min_size=GIB, max_size=10 * GIB)
    assert next(brick_layouts(100 * GIB, 1, limits)) == (16, 100 * GIB // 16)


def test_layouts_stop_at_the_minimum_brick_size() -> None:
    limits = BrickLimits(min_size=5 * GIB)
    layouts = brick_layouts(12 * GIB, 1, limits)
    assert list(islice(layouts, 2)) == [(1, 12 * GIB), (2, 6 * GIB)]
    with pytest.raises(MinimumBrickSizeReached):
        next(layouts)
    with pytest.raises(MinimumBrickSizeReached):
        next(brick_layouts(4 * GIB, 1, limits))  # a volume below the minimum: nothing at all


@pytest.mark.parametrize(
    ("volume", "data", "first"),
    [(24 * GIB, 8, 3 * GIB), (8 * GIB, 4, 2 * GIB), (4 * GIB, 2, 2 * GIB), (8 * GIB, 8, GIB)],
)
def test_disperse_layouts_split_each_set_over_its_data_bricks(
    volume: int, data: int, first: int
) -> None:
    layouts = brick_layouts(volume, data, BrickLimits())
    assert next(layouts) == (1, first)
    if first == GIB:
        with pytest.raises(MinimumBrickSizeReached):
            next(layouts)
    else:
        assert next(layouts) == (2, first // 2)


@given(st.integers(1, 64 * 1024), st.sampled_from([1, 2, 4, 8]), st.integers(1, 8))
def test_layouts_property(volume_gib: int, data: int, steps: int) -> None:
    limits = BrickLimits()
    layouts = brick_layouts(volume_gib * GIB, data, limits)
    previous = 0
    try:
        for sets, brick in islice(layouts, steps):
            assert sets & (sets - 1) == 0  # a power of two
            assert sets > previous
            assert limits.min_size <= brick <= limits.max_size
            assert brick == (volume_gib * GIB // sets) // data
            previous = sets
    except MinimumBrickSizeReached:
        assert (volume_gib * GIB // max(previous * 2, 1)) // data < limits.min_size


# ----------------------------------------------------------------------------------------------
# diagnose(): errors that say what is wrong


def test_diagnose_not_enough_nodes() -> None:
    devices = [cand("a", "n1", 1), cand("b", "n1", 2), cand("c", "n2", 3)]
    request = PlacementRequest(1, 3, GIB)
    message = "a set of 3 bricks needs 3 nodes with online devices, the cluster has 2"
    assert diagnose(request, devices, SLOT) == message
    with pytest.raises(NoSpace) as caught:
        plan_bricks(request, devices)
    assert caught.value.message == f"No space: {message}"
    assert caught.value.detail == message


def test_diagnose_not_enough_zones_for_strict_checking() -> None:
    devices = [cand("a", "n1", 1), cand("b", "n2", 2), cand("c", "n3", 2)]
    request = PlacementRequest(1, 3, GIB, strict_zones=True)
    message = "strict zone checking needs 3 zones for a set of 3 bricks, the online devices span 2"
    assert diagnose(request, devices, SLOT) == message
    for placer in (BalancedPlacer(), HeketiRingPlacer(random.Random(3))):
        with pytest.raises(NoSpace, match=message):
            plan_bricks(request, devices, placer)
    # Without strict checking the same devices are fine.
    assert len(plan_bricks(PlacementRequest(1, 3, GIB), devices)) == 3


def test_diagnose_no_device_with_room_names_the_largest_free_figure() -> None:
    devices = [
        cand("a", "n1", 1, 5 * GIB),
        cand("b", "n2", 2, 7 * GIB),
        cand("c", "n3", 3, 3 * GIB),
    ]
    request = PlacementRequest(1, 3, 10 * GIB)
    expected = (
        "no device has room for a 10 GiB brick (it takes 10.05 GiB with its thin pool; "
        "largest free where it may go: 7 GiB)"
    )
    assert diagnose(request, devices, SLOT) == expected
    for placer in (BalancedPlacer(), HeketiRingPlacer(random.Random(0))):
        with pytest.raises(NoSpace) as caught:
            plan_bricks(request, devices, placer)
        assert caught.value.detail == expected


def test_diagnose_counts_only_where_the_brick_may_go() -> None:
    """The largest free figure leaves out nodes the set already uses: here the second brick
    fails and the only big device is on the node of the first."""
    devices = [cand("big", "n1", 1, 50 * GIB), cand("small", "n2", 2, 3 * GIB)]
    with pytest.raises(NoSpace) as caught:
        plan_bricks(PlacementRequest(1, 2, 10 * GIB), devices)
    assert caught.value.detail.endswith("largest free where it may go: 3 GiB)")


def test_diagnose_arbiter_data_brick_without_room_is_about_space() -> None:
    devices = [
        cand("d1", "n1", 1, 5 * GIB, {"arbiter": "disabled"}),
        cand("d2", "n2", 2, 5 * GIB, {"arbiter": "disabled"}),
        cand("arb", "n3", 3, 100 * GIB, {"arbiter": "required"}),
    ]
    with pytest.raises(NoSpace) as caught:
        plan_bricks(arbiter_request(brick=10 * GIB), devices)
    assert caught.value.detail.startswith("no device has room for a 10 GiB brick")


# ----------------------------------------------------------------------------------------------
# Explanation and replacement


def test_explanation_records_the_first_reason_per_device() -> None:
    devices = [
        cand("a", "n1", 1),
        cand("full", "n2", 2, GIB),
        cand("hdd", "n3", 3, tags={"disk": "hdd"}),
        cand("b", "n4", 4, 50 * GIB),
    ]
    devices = [replace_tags(d, {"disk": "ssd"}) if d.device_id != "hdd" else d for d in devices]
    explain = Explanation()
    plan_bricks(
        PlacementRequest(1, 2, GIB, tag_rule=TagRule.parse("disk=ssd")), devices, explain=explain
    )
    kinds = {device: kind for device, (_, kind, _) in explain.skipped.items()}
    # "a" took position 0, then was passed over for position 1 (its node is in use); the dry
    # run report forgets the chosen devices, the explanation itself keeps every reason.
    assert kinds == {"full": NO_SPACE, "hdd": TAGS, "a": SAME_NODE}
    assert explain.counts() == {NO_SPACE: 1, TAGS: 1, SAME_NODE: 1}
    explain.forget("a")
    assert explain.counts() == {NO_SPACE: 1, TAGS: 1}
    assert explain.skipped["full"][2].startswith("1 GiB free, needs more than 1.01 GiB")


def replace_tags(c: Candidate, tags: dict[str, str]) -> Candidate:
    return Candidate(c.device_id, c.node_id, c.zone, c.free, c.extent_size, tags)


def test_replacement_avoids_the_old_device_and_the_other_bricks_nodes() -> None:
    devices = [
        cand("old", "n1", 1, 900 * GIB),
        cand("n1-other", "n1", 1, 50 * GIB),
        cand("peer2", "n2", 2, 800 * GIB),
        cand("peer3", "n3", 3, 700 * GIB),
        cand("n4", "n4", 1, 10 * GIB),
    ]
    others = in_set(by_device(devices)["peer2"], by_device(devices)["peer3"])
    request = PlacementRequest(1, 3, GIB)
    chosen = plan_replacement(request, devices, others, Position(0, 2), "old")
    assert isinstance(chosen, PlacedBrick)
    assert chosen.device_id == "n1-other"  # the old brick's node is allowed
    strict = PlacementRequest(1, 3, GIB, strict_zones=True)
    others = in_set(by_device(devices)["peer2"], by_device(devices)["n4"])
    with pytest.raises(NoSpace):  # zone 1 only holds the old device's node and n4
        plan_replacement(strict, devices[:3] + devices[4:], others, Position(0, 2), "old")


# ----------------------------------------------------------------------------------------------
# DeviceIndex


def test_device_index_orders_by_free_space_then_id() -> None:
    index = DeviceIndex([cand("b", "n1", free=5), cand("a", "n2", free=5), cand("c", "n3", free=9)])
    assert [c.device_id for c in index.by_free()] == ["c", "a", "b"]
    assert index.largest_free() == 9
    assert len(index) == 3 and "a" in index and "zz" not in index
    assert index.get("a") == cand("a", "n2", free=5) and index.get("zz") is None


def test_device_index_change_free_put_and_remove() -> None:
    index = DeviceIndex([cand("a", "n1", free=10), cand("b", "n2", free=20)])
    index.change_free("b", -15)
    assert [(c.device_id, c.free) for c in index.by_free()] == [("a", 10), ("b", 5)]
    index.change_free("missing", 100)  # a device outside the index: ignored
    index.put(cand("a", "n1", free=1))  # put replaces
    assert [(c.device_id, c.free) for c in index.by_free()] == [("b", 5), ("a", 1)]
    assert len(index) == 2
    index.remove("b")
    index.remove("b")  # idempotent
    assert [c.device_id for c in index.by_free()] == ["a"] and [
        c.device_id for c in index.all()
    ] == ["a"]
    index.remove("a")
    assert index.largest_free() == 0 and list(index.by_free()) == []


OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "remove", "change"]),
        st.sampled_from("abcdef"),
        st.integers(-50, 50),
    ),
    max_size=40,
)


@given(OPS)
def test_device_index_matches_a_plain_model(ops: list[tuple[str, str, int]]) -> None:
    index = DeviceIndex()
    model: dict[str, int] = {}
    for op, device, amount in ops:
        if op == "put":
            index.put(cand(device, "n", free=abs(amount)))
            model[device] = abs(amount)
        elif op == "remove":
            index.remove(device)
            model.pop(device, None)
        else:
            index.change_free(device, amount)
            if device in model:
                model[device] += amount
        expected = sorted(model.items(), key=lambda kv: (-kv[1], kv[0]))
        assert [(c.device_id, c.free) for c in index.by_free()] == expected
        assert index.largest_free() == (expected[0][1] if expected else 0)
        assert len(index) == len(model)


# ----------------------------------------------------------------------------------------------
# Properties of both placers over random small topologies, and an exhaustive cross-check


def check_plan(
    request: PlacementRequest, devices: Sequence[Candidate], placed: list[PlacedBrick]
) -> None:
    """The rules every plan obeys, whichever placer made it."""
    devs = by_device(devices)
    assert len(placed) == request.sets * request.bricks_per_set
    assert [(p.set_index, p.position) for p in placed] == [
        (s, i) for s in range(request.sets) for i in range(request.bricks_per_set)
    ]
    for s in range(request.sets):
        members = [p for p in placed if p.set_index == s]
        nodes = [p.node_id for p in members]
        assert len(set(nodes)) == len(nodes), f"set {s} has two bricks on one node"
        if request.strict_zones:
            zones = [devs[p.device_id].zone for p in members]
            assert len(set(zones)) == len(zones), f"set {s} has two bricks in one zone"
    for p in placed:
        device = devs[p.device_id]
        assert p.node_id == device.node_id
        assert p.arbiter is (request.arbiter and p.position == ARBITER_POSITION)
        assert p.space == brick_space(
            request.size_for(Position(p.set_index, p.position, p.arbiter)),
            request.snapshot_factor,
            device.extent_size,
        )
        if request.tag_rule is not None:
            assert request.tag_rule.matches(device.tags)
        if request.arbiter:
            assert arbiter_role(device, SetInProgress(), Position(0, p.position, p.arbiter)) is None
    for device in devices:
        used = sum(p.space.total for p in placed if p.device_id == device.device_id)
        assert used == 0 or used < device.free, (device, used)


def valid_placement_exists(
    request: PlacementRequest, devices: Sequence[Candidate], symmetric: bool = True
) -> bool:
    """Exhaustive search: is there any assignment of devices to every (set, position) that
    obeys the rules and the space formula? For small instances only.

    With `symmetric`, two symmetries are broken, neither of which loses a placement (sort the
    data positions of each set, then sort the sets, and a placement stays valid): the data
    positions of a set are interchangeable (one brick size, the same rules), so their devices
    are tried in increasing list order; and sets are interchangeable, so a set's devices (as a
    tuple) are never smaller than the previous set's. A property below checks it against the
    plain search."""
    slots = [
        Position(s, p, request.arbiter and p == ARBITER_POSITION)
        for s in range(request.sets)
        for p in range(request.bricks_per_set)
    ]
    per_set = request.bricks_per_set
    used = {c.device_id: 0 for c in devices}
    chosen: list[int] = []  # device index per slot filled so far

    def allowed(c: Candidate, slot: Position, nodes: set[str], zones: set[int]) -> bool:
        if c.node_id in nodes or (request.strict_zones and c.zone in zones):
            return False
        if request.tag_rule is not None and not request.tag_rule.matches(c.tags):
            return False
        return not (request.arbiter and arbiter_role(c, SetInProgress(), slot))

    def lowest(i: int) -> int:
        """The first device index slot i may take under the symmetry rules."""
        if not symmetric:
            return 0
        slot, first = slots[i], i - slots[i].position
        low = 0
        if not slot.arbiter:
            earlier = [j for j in range(first, i) if not slots[j].arbiter]
            low = chosen[earlier[-1]] + 1 if earlier else 0
        if slot.set_index > 0 and chosen[first:i] == chosen[first - per_set : i - per_set]:
            low = max(low, chosen[i - per_set])
        return low

    def search(i: int, nodes: set[str], zones: set[int]) -> bool:
        if i == len(slots):
            return True
        slot = slots[i]
        if slot.position == 0:
            nodes, zones = set(), set()
        for index in range(lowest(i), len(devices)):
            c = devices[index]
            need = brick_space(request.size_for(slot), request.snapshot_factor, c.extent_size)
            if not allowed(c, slot, nodes, zones) or c.free - used[c.device_id] <= need.total:
                continue
            used[c.device_id] += need.total
            chosen.append(index)
            found = search(i + 1, nodes | {c.node_id}, zones | {c.zone})
            chosen.pop()
            used[c.device_id] -= need.total
            if found:
                return True
        return False

    return search(0, set(), set())


@st.composite
def topologies(draw: st.DrawFn, max_nodes: int = 4, max_devices: int = 6) -> list[Candidate]:
    """Nodes in zones (a node has one zone), devices with free space between a fraction of a
    brick and a few bricks (brick = 1 GiB), random arbiter and disk tags."""
    nodes = draw(st.integers(1, max_nodes))
    zone_of = [draw(st.integers(1, 3)) for _ in range(nodes)]
    count = draw(st.integers(1, max_devices))
    devices = []
    for i in range(count):
        node = draw(st.integers(0, nodes - 1))
        free = draw(
            st.sampled_from([GIB // 2, ONE_GIB_SPACE, ONE_GIB_SPACE + 1, 2 * GIB, 3 * GIB, 5 * GIB])
        )
        tags: dict[str, str] = {}
        role = draw(st.sampled_from(["", "required", "disabled", "supported"]))
        if role:
            tags["arbiter"] = role
        if draw(st.booleans()):
            tags["disk"] = "ssd"
        devices.append(cand(f"d{i}", f"n{node}", zone_of[node], free, tags))
    return devices


@st.composite
def requests(
    draw: st.DrawFn,
    max_sets: int = 2,
    arbiter: bool | None = None,
    min_per_set: int = 1,
    max_per_set: int = 3,
) -> PlacementRequest:
    use_arbiter = draw(st.booleans()) if arbiter is None else arbiter
    per_set = 3 if use_arbiter else draw(st.integers(min_per_set, max_per_set))
    tag_rule = draw(st.sampled_from([None, TagRule.parse("disk=ssd"), TagRule.parse("disk!=ssd")]))
    return PlacementRequest(
        draw(st.integers(1, max_sets)),
        per_set,
        GIB,
        strict_zones=draw(st.booleans()),
        tag_rule=tag_rule,
        arbiter=use_arbiter,
        arbiter_brick_size=arbiter_brick_size(GIB, 64) if use_arbiter else 0,
    )


PLACERS = st.one_of(
    st.just(BalancedPlacer()),
    st.integers(0, 2**32).map(lambda seed: HeketiRingPlacer(random.Random(seed))),
)


@given(topologies(max_nodes=6, max_devices=12), requests(max_sets=4), PLACERS)
@settings(max_examples=300, deadline=None)
def test_placers_obey_every_rule(
    devices: list[Candidate], request: PlacementRequest, placer: BalancedPlacer | HeketiRingPlacer
) -> None:
    """No two bricks of a set on one node, strict zones distinct, tags and arbiter roles
    honoured, never more space than a device has; a failure says why."""
    try:
        placed = plan_bricks(request, devices, placer)
    except NoSpace as exc:
        assert exc.detail
        return
    check_plan(request, devices, placed)


@given(topologies(), requests(max_sets=1, arbiter=False), PLACERS)
@settings(max_examples=300, deadline=None)
def test_no_space_for_one_set_means_no_valid_placement_exists(
    devices: list[Candidate], request: PlacementRequest, placer: BalancedPlacer | HeketiRingPlacer
) -> None:
    """For a single brick set, both placers are complete: a NoSpace is confirmed by an
    exhaustive search, and a success agrees that a placement exists."""
    try:
        placed = plan_bricks(request, devices, placer)
    except NoSpace:
        assert not valid_placement_exists(request, devices)
        return
    check_plan(request, devices, placed)
    assert valid_placement_exists(request, devices)


# A node with three small devices (one brick each) and two nodes with one slightly larger device
# each: two replica-2 sets fit only if both use the first node; the emptiest-first choice spends
# the two larger devices on the first set.
GREEDY_TRAP = [
    cand("a1", "n1", 1, int(1.5 * GIB)),
    cand("a2", "n1", 1, int(1.5 * GIB)),
    cand("a3", "n1", 1, int(1.5 * GIB)),
    cand("b", "n2", 1, int(1.9 * GIB)),
    cand("c", "n3", 1, int(1.9 * GIB)),
]


def test_the_greedy_trap_has_a_valid_placement() -> None:
    assert valid_placement_exists(PlacementRequest(2, 2, GIB), GREEDY_TRAP)


# One arbiter set. The arbiter goes first, to the fullest device with room: "small" on n3,
# whose node also holds the only device with room for a second data brick ("roomy"); "exact" on
# n1 has room for the 16 MiB arbiter but not for a 1 GiB data brick.
ARBITER_NODE_TRAP = [
    cand("roomy", "n3", 3, 3 * GIB, {"arbiter": "supported"}),
    cand("small", "n3", 3, GIB // 2),
    cand("exact", "n1", 3, ONE_GIB_SPACE),
    cand("data", "n2", 3, ONE_GIB_SPACE + 1),
]

# Two arbiter sets. The arbiter prefers the device dedicated to it, on n3, but n3 is one of the
# only two nodes with data devices; the sets fit with both arbiters on n0's small device.
ARBITER_SETS_TRAP = [
    cand("arb", "n3", 3, ONE_GIB_SPACE + 1, {"arbiter": "required"}),
    cand("small", "n0", 3, GIB // 2),
    cand("data3", "n3", 3, 5 * GIB, {"arbiter": "disabled"}),
    cand("data1", "n1", 1, 3 * GIB, {"arbiter": "disabled"}),
]


@pytest.mark.parametrize(
    ("devices", "request_"),
    [
        (GREEDY_TRAP, PlacementRequest(2, 2, GIB)),
        (ARBITER_NODE_TRAP, arbiter_request()),
        (ARBITER_SETS_TRAP, arbiter_request(sets=2)),
    ],
    ids=["greedy", "arbiter-node", "arbiter-sets"],
)
def test_the_traps_defeat_the_greedy_pass_but_place(
    devices: list[Candidate], request_: PlacementRequest
) -> None:
    assert valid_placement_exists(request_, devices)
    with pytest.raises(NoSpace):
        BalancedPlacer().greedy(request_, DeviceIndex(devices))
    placed = plan_bricks(request_, devices)
    check_plan(request_, devices, placed)
    assert all(p.reason == COMPLETE_SEARCH for p in placed)


def assert_complete(request: PlacementRequest, devices: list[Candidate]) -> None:
    """`No space` from the balanced placer iff the exhaustive search finds nothing; a plan
    obeys every rule. The events show how often each path ran (--hypothesis-show-statistics)."""
    try:
        placed = plan_bricks(request, devices)
    except NoSpace:
        event("no space")
        assert not valid_placement_exists(request, devices)
        return
    check_plan(request, devices, placed)
    event("placed by the complete search" if placed[0].reason == COMPLETE_SEARCH else "greedy")


@given(topologies(max_nodes=5, max_devices=8), requests(max_sets=3))
@example(GREEDY_TRAP, PlacementRequest(2, 2, GIB))
@example(GREEDY_TRAP, PlacementRequest(2, 2, GIB, strict_zones=True))
@example(ARBITER_NODE_TRAP, arbiter_request())
@example(ARBITER_SETS_TRAP, arbiter_request(sets=2))
@settings(max_examples=300, deadline=None)
def test_no_space_means_no_valid_placement_exists(
    devices: list[Candidate], request: PlacementRequest
) -> None:
    """The balanced placer is complete (issue #14): it answers `No space` exactly when the
    exhaustive search finds no valid placement, for replicate, distribute and arbiter sets,
    several per volume, with strict zones and tag rules; what it places obeys every rule."""
    assert_complete(request, devices)


MOST_BRICKS = 12  # per request drawn below: the exhaustive search's cost grows fast beyond


@st.composite
def tight_cases(
    draw: st.DrawFn,
    max_sets: int = 4,
    arbiter: bool | None = None,
    min_per_set: int = 1,
    max_per_set: int = 4,
) -> tuple[list[Candidate], PlacementRequest]:
    """A request and a topology built for it where a greedy choice matters: barely more nodes
    than a set has bricks, one to three devices per node with room for zero to three bricks
    (zero: just too small, or room for an arbiter brick only), several sets."""
    request = draw(requests(max_sets, arbiter, min_per_set, max_per_set))
    request = replace(request, sets=min(request.sets, MOST_BRICKS // request.bricks_per_set))
    nodes = draw(st.integers(request.bricks_per_set, request.bricks_per_set + 2))
    zones = draw(st.integers(1, nodes))
    sizes = [GIB // 2, ONE_GIB_SPACE, ONE_GIB_SPACE + 1, int(1.6 * GIB), int(2.2 * GIB), 3 * GIB]
    roles = ["", "", "required", "disabled"] if request.arbiter else [""]
    devices = []
    for node in range(nodes):
        for d in range(draw(st.integers(1, 3))):
            role = draw(st.sampled_from(roles))
            tags = {"arbiter": role} if role else {}
            free = draw(st.sampled_from(sizes))
            devices.append(cand(f"d{node}.{d}", f"n{node}", node % zones + 1, free, tags))
    return devices, request


@given(tight_cases())
@settings(max_examples=300, deadline=None)
def test_no_space_means_no_valid_placement_exists_when_space_is_tight(
    case: tuple[list[Candidate], PlacementRequest],
) -> None:
    """Topologies where the greedy pass often fails although a placement exists."""
    assert_complete(case[1], case[0])


@st.composite
def greedy_traps(draw: st.DrawFn) -> tuple[list[Candidate], PlacementRequest]:
    """GREEDY_TRAP's family: one or two "deep" nodes with several small devices (one brick
    each) and "shallow" nodes with one roomier device, which the emptiest-first choice spends
    first."""
    per_set = draw(st.integers(2, 4))
    sets = draw(st.integers(2, min(4, MOST_BRICKS // per_set)))
    devices = []
    deep = draw(st.integers(1, 2))
    for node in range(deep):
        for d in range(draw(st.integers(2, 4))):
            free = draw(st.sampled_from([1.05, 1.3, 1.5]))
            devices.append(cand(f"d{node}.{d}", f"n{node}", node + 1, int(free * GIB)))
    for node in range(deep, deep + draw(st.integers(per_set - 1, per_set + 2))):
        free = draw(st.sampled_from([1.6, 1.9, 2.5]))
        devices.append(cand(f"d{node}", f"n{node}", node % 3 + 1, int(free * GIB)))
    return devices, PlacementRequest(sets, per_set, GIB, strict_zones=draw(st.booleans()))


@given(greedy_traps())
@example((GREEDY_TRAP, PlacementRequest(2, 2, GIB)))
@settings(max_examples=200, deadline=None)
def test_no_space_means_no_valid_placement_exists_in_greedy_traps(
    case: tuple[list[Candidate], PlacementRequest],
) -> None:
    assert_complete(case[1], case[0])


@given(tight_cases(max_sets=2, arbiter=False, min_per_set=4, max_per_set=6))
@settings(max_examples=100, deadline=None)
def test_no_space_means_no_valid_placement_exists_for_disperse_sets(
    case: tuple[list[Candidate], PlacementRequest],
) -> None:
    """Disperse-like sets (4 to 6 bricks, as 2+2 or 4+2) over up to 8 nodes."""
    assert_complete(case[1], case[0])


@given(topologies(max_nodes=3, max_devices=5), requests(max_sets=3, max_per_set=3))
@settings(max_examples=100, deadline=None)
def test_the_symmetric_exhaustive_search_agrees_with_the_plain_one(
    devices: list[Candidate], request: PlacementRequest
) -> None:
    assert valid_placement_exists(request, devices) == valid_placement_exists(
        request, devices, symmetric=False
    )


# An arbiter set where the emptiest arbiter-capable device is also the only possible home of a
# data brick, while a small "supported" device could hold the 16 MiB arbiter.
ARBITER_TRAP = [
    cand("big", "n1", 1, 100 * GIB),
    cand("small", "n2", 2, GIB // 2),
    cand("data", "n3", 3, 100 * GIB, {"arbiter": "disabled"}),
]


def test_the_arbiter_trap_has_a_valid_placement() -> None:
    assert valid_placement_exists(arbiter_request(), ARBITER_TRAP)


def test_balanced_arbiter_placement_is_complete_for_one_set() -> None:
    placed = plan_bricks(arbiter_request(), ARBITER_TRAP)
    check_plan(arbiter_request(), ARBITER_TRAP, placed)


# ----------------------------------------------------------------------------------------------
# The complete search behind the balanced placer (issue #14)


def test_the_fast_path_does_not_run_the_search(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[PlacementRequest] = []

    def spy(request: PlacementRequest, *args: object) -> dict[tuple[int, int], Candidate] | None:
        calls.append(request)
        return None

    monkeypatch.setattr(planner, "complete_placement", spy)
    devices = [cand(f"d{i}", f"n{i}", i % 3 + 1) for i in range(6)]
    placed = plan_bricks(PlacementRequest(2, 3, GIB), devices)
    assert calls == [] and all(p.reason.startswith("most free space") for p in placed)
    with pytest.raises(NoSpace):  # the greedy pass fails: the search runs (and here finds none)
        plan_bricks(PlacementRequest(2, 2, GIB), GREEDY_TRAP)
    assert calls == [PlacementRequest(2, 2, GIB)]


def test_a_proven_no_space_keeps_the_greedy_diagnosis() -> None:
    devices = [cand("a", "n1", 1, 3 * GIB), cand("b", "n2", 2, 3 * GIB), cand("c", "n3", 3, GIB)]
    request = PlacementRequest(3, 2, GIB)  # 6 bricks, the three nodes hold 2 + 2 + 0
    with pytest.raises(NoSpace) as greedy:
        BalancedPlacer().greedy(request, DeviceIndex(devices))
    with pytest.raises(NoSpace) as caught:
        plan_bricks(request, devices)
    assert caught.value.detail == greedy.value.detail
    assert caught.value.detail.startswith("no device has room for a 1 GiB brick")


def test_the_search_gives_up_at_its_time_limit_and_says_so() -> None:
    placer = BalancedPlacer(search_seconds=0.0)
    with pytest.raises(NoSpace) as caught:
        placer.place(arbiter_request(sets=2), DeviceIndex(ARBITER_SETS_TRAP))
    detail = caught.value.detail
    assert re.search(
        r"; the complete placement search gave up after \d+ ms, having sized 0 of 4 ", detail
    )
    assert detail.endswith("so a placement may still exist")
    with pytest.raises(SearchGaveUp, match="gave up after"):
        complete_placement(arbiter_request(), ARBITER_SETS_TRAP, ARBITER_POSITION, seconds=0.0)


def test_the_dry_run_explains_a_placement_the_search_found() -> None:
    explain = Explanation()
    placed = plan_bricks(PlacementRequest(2, 2, GIB), GREEDY_TRAP, explain=explain)
    check_plan(PlacementRequest(2, 2, GIB), GREEDY_TRAP, placed)
    assert explain.skipped  # what the greedy pass skipped, as before


def test_arbiter_sets_that_need_every_node_for_both_brick_kinds() -> None:
    """Three arbiter sets on three nodes: every node holds two data bricks and one arbiter on
    one shared device, so each node takes both kinds (König's colouring, not a layout with
    at most two mixed nodes)."""
    request = arbiter_request(sets=3)
    data = brick_space(GIB, 1.0, 4096).total
    arbiter = brick_space(request.arbiter_brick_size, 1.0, 4096).total
    devices = [cand(f"d{i}", f"n{i}", i, 2 * data + arbiter + 1) for i in (1, 2, 3)]
    placed = BalancedPlacer().complete(request, DeviceIndex(devices), NoSpace("not tried"))
    check_plan(request, devices, placed)
    assert sorted(p.device_id for p in placed if p.arbiter) == ["d1", "d2", "d3"]
    tight = [replace(d, free=d.free - 1) for d in devices]  # one KiB short everywhere
    with pytest.raises(NoSpace, match="not tried"):
        BalancedPlacer().complete(request, DeviceIndex(tight), NoSpace("not tried"))


@given(
    topologies(max_nodes=30, max_devices=60),
    requests(max_sets=8, max_per_set=4),
)
@settings(max_examples=100, deadline=None)
def test_the_search_finds_a_placement_whenever_the_greedy_pass_does(
    devices: list[Candidate], request: PlacementRequest
) -> None:
    """On topologies too large for the exhaustive search: the search alone never proves
    `No space` where the greedy pass placed, and what it places obeys every rule."""
    index = DeviceIndex(devices)
    try:
        BalancedPlacer().greedy(request, index)
    except NoSpace:
        event("the greedy pass found nothing")
        return
    event("the greedy pass placed")
    placed = BalancedPlacer().complete(request, index, NoSpace("the search found nothing"))
    check_plan(request, devices, placed)


# Heketi keeps separate arbiter and data feeds (internals §2.7): arbiter-only ring then the
# "any" ring for the arbiter, data-only ring then the "any" ring for data bricks.
DEDICATED_ARBITER_NODE = [
    cand("d1", "n1", 1, tags={"arbiter": "disabled"}),
    cand("d2", "n2", 2, tags={"arbiter": "disabled"}),
    cand("arb", "n3", 3, tags={"arbiter": "required"}),
]


def test_ring_placer_places_arbiter_volumes_on_dedicated_devices() -> None:
    for seed in range(12):
        placed = plan_bricks(
            arbiter_request(), DEDICATED_ARBITER_NODE, HeketiRingPlacer(random.Random(seed))
        )
        assert {p.device_id for p in placed if p.arbiter} == {"arb"}


def test_balanced_places_arbiter_volumes_on_dedicated_devices() -> None:
    placed = plan_bricks(arbiter_request(), DEDICATED_ARBITER_NODE)
    assert placed[ARBITER_POSITION].device_id == "arb"
    assert {p.device_id for p in placed[:2]} == {"d1", "d2"}
    check_plan(arbiter_request(), DEDICATED_ARBITER_NODE, placed)
