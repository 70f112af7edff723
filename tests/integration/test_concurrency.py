"""Races: many creates for less space than they ask in total, and two changes of one volume at
once. The simulator's nodes take a few milliseconds per command, so the operations really
overlap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from brickyard.nodes.sim import SimWorld

from .conftest import ONE_GIB_BRICK, DatabaseFactory, Harness


@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return new_database


REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}
CONFLICT = "The target exists, contains other items, or is in use."


@pytest.fixture
async def racing(tmp_path: Path, harness_database: DatabaseFactory) -> AsyncIterator[Harness]:
    """Three 20 GiB devices, nodes that take 2 ms per command, room for 64 jobs in flight."""
    world = SimWorld(device_size_gb=20, delay_ms=2)
    env = {"HEKETI_MAX_INFLIGHT_OPERATIONS": "64"}
    harness = Harness.open(tmp_path, env=env, world=world, db=harness_database(tmp_path))
    yield harness
    await harness.close()


async def test_fifty_creates_racing_for_too_little_space(racing: Harness) -> None:
    await racing.build_topology()
    storage = await racing.device_storage()
    fits = min(s["free"] for s in storage.values()) // ONE_GIB_BRICK
    assert 0 < fits < 50  # the race is for less space than asked in total

    responses = await asyncio.gather(
        *(racing.post("/volumes", {"size": 1, "durability": REPLICA3}) for _ in range(50))
    )
    # Placement happens before the 202 (as in Heketi): a create that does not fit is refused
    # at once; one that was accepted must then succeed.
    accepted = [r for r in responses if r.status_code == 202]
    refused = [r for r in responses if r.status_code != 202]
    answers = await asyncio.gather(*(racing.wait(r) for r in accepted))
    assert [a.status_code for a in answers] == [303] * len(accepted), [a.text for a in answers]
    assert len(accepted) == fits
    no_space = "Failed to allocate new volume: No space"
    assert all(r.status_code == 500 and r.text.startswith(no_space) for r in refused), {
        r.text for r in refused
    }
    dump = await racing.assert_consistent()  # nothing over-booked, nothing leaked
    assert len(dump["volumeentries"]) == fits
    after = await racing.device_storage()
    for device_id, s in after.items():
        assert s["used"] == storage[device_id]["used"] + fits * ONE_GIB_BRICK
        assert s["free"] >= 0


async def _both(racing: Harness, first: httpx.Request, second: httpx.Request) -> list[str]:
    """Send two requests together; wait for what each started; returns how each ended."""
    responses = await asyncio.gather(racing.client.send(first), racing.client.send(second))
    outcomes = []
    for response in responses:
        if response.status_code == 202:
            final = await racing.wait(response)
            outcomes.append(f"done {final.status_code}")
        else:
            outcomes.append(f"refused {response.status_code} {response.text.strip()}")
    return outcomes


@pytest.mark.parametrize("delete_first", [True, False])
async def test_delete_and_expand_of_one_volume_race(racing: Harness, delete_first: bool) -> None:
    await racing.build_topology()
    volume = await racing.create_volume(size=1, durability=REPLICA3)
    delete = racing.client.build_request("DELETE", f"/volumes/{volume['id']}")
    expand = racing.client.build_request(
        "POST", f"/volumes/{volume['id']}/expand", json={"expand_size": 1}
    )
    pair = (delete, expand) if delete_first else (expand, delete)
    outcomes = await _both(racing, *pair)
    won = [o for o in outcomes if o.startswith("done")]
    lost = [o for o in outcomes if o.startswith("refused")]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert CONFLICT in lost[0] and lost[0].startswith("refused 500"), lost
    dump = await racing.assert_consistent()
    if delete_first:
        assert dump["volumeentries"] == {}
    else:
        assert dump["volumeentries"][volume["id"]]["Info"]["size"] == 2


async def test_two_expands_of_one_volume_race(racing: Harness) -> None:
    await racing.build_topology()
    volume = await racing.create_volume(size=1, durability=REPLICA3)
    expand = [
        racing.client.build_request(
            "POST", f"/volumes/{volume['id']}/expand", json={"expand_size": 1}
        )
        for _ in range(2)
    ]
    outcomes = await _both(racing, *expand)
    assert sorted(o.split(" ")[0] for o in outcomes) == ["done", "refused"], outcomes
    dump = await racing.assert_consistent()
    assert dump["volumeentries"][volume["id"]]["Info"]["size"] == 2
