import pytest
from hypothesis import given
from hypothesis import strategies as st

from brickyard.domain.errors import NoSpace
from brickyard.domain.placement import Candidate, PlacementRequest, plan_bricks
from brickyard.domain.units import GIB


def candidates(layout: list[tuple[int, int]], free: int = 100 * GIB) -> list[Candidate]:
    """layout: (node number, zone) per device."""
    return [
        Candidate(f"d{i:02}", f"n{node}", zone, free, 4096) for i, (node, zone) in enumerate(layout)
    ]


def test_replica_three_uses_three_nodes_and_zones() -> None:
    devices = candidates([(1, 1), (1, 1), (2, 2), (3, 3), (4, 1)])
    placed = plan_bricks(PlacementRequest(1, 3, GIB), devices)
    nodes = {p.node_id for p in placed}
    assert len(nodes) == 3
    zones = {d.zone for d in devices for p in placed if p.device_id == d.device_id}
    assert zones == {1, 2, 3}


def test_balanced_choice_prefers_the_emptier_device() -> None:
    devices = [
        Candidate("full", "n1", 1, 10 * GIB, 4096),
        Candidate("empty", "n1", 1, 90 * GIB, 4096),
    ]
    (placed,) = plan_bricks(PlacementRequest(1, 1, GIB), devices)
    assert placed.device_id == "empty"


def test_not_enough_nodes_is_no_space() -> None:
    with pytest.raises(NoSpace):
        plan_bricks(PlacementRequest(1, 3, GIB), candidates([(1, 1), (1, 1), (2, 2)]))


def test_strict_zones_refuse_two_bricks_in_one_zone() -> None:
    devices = candidates([(1, 1), (2, 1), (3, 2)])
    assert len(plan_bricks(PlacementRequest(1, 3, GIB), devices)) == 3
    with pytest.raises(NoSpace):
        plan_bricks(PlacementRequest(1, 3, GIB, strict_zones=True), devices)


def test_a_device_needs_strictly_more_free_space_than_the_brick() -> None:
    exact = 1056768  # the space of a 1 GiB brick
    with pytest.raises(NoSpace):
        plan_bricks(PlacementRequest(1, 1, GIB), candidates([(1, 1)], free=exact))
    assert plan_bricks(PlacementRequest(1, 1, GIB), candidates([(1, 1)], free=exact + 1))


@given(
    st.lists(st.tuples(st.integers(1, 6), st.integers(1, 3)), min_size=1, max_size=15),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(1, 40),
)
def test_no_two_bricks_of_a_set_share_a_node_and_space_is_respected(
    layout: list[tuple[int, int]], sets: int, per_set: int, brick_gib: int
) -> None:
    devices = candidates(layout, free=50 * GIB)
    try:
        placed = plan_bricks(PlacementRequest(sets, per_set, brick_gib * GIB), devices)
    except NoSpace:
        return
    assert len(placed) == sets * per_set
    for s in range(sets):
        members = [p.node_id for p in placed if p.set_index == s]
        assert len(members) == len(set(members)) == per_set
    for device in devices:
        used = sum(p.space.total for p in placed if p.device_id == device.device_id)
        assert used < device.free or used == 0
