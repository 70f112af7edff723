"""Random interleavings of requests, cleanups, crashes and restarts on the simulator.

Hypothesis drives creates, expands, deletes and cleanups that run concurrently (every node
command takes a little while), crashes the server at a random step boundary (after the first
crash point every operation of that server stops at its next boundary, as with SIGKILL),
restarts it with a cleanup racing start-up recovery, and checks throughout that no node change
is ever applied twice (a brick made or destroyed twice, a gluster volume created or destroyed
twice), and at the end that nodes, database and space accounting agree exactly."""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from brickyard.nodes.port import DESTROYED, NodeAddress
from brickyard.nodes.sim import SimNodeAgent, SimWorld

from .conftest import DatabaseFactory, Harness, SimulatedCrash, expire_lease


@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return new_database


R3 = {"type": "replicate", "replicate": {"replica": 3}}
POINTS = [
    "create-volume:brick-made:2",
    "create-volume:gluster-create-begun:1",
    "create-volume:volume-made:1",
    "expand-volume:brick-made:1",
    "expand-volume:bricks-add-begun:1",
    "expand-volume:bricks-added:1",
    "delete-volume:planned:1",
    "delete-volume:volume-destroyed:1",
    "delete-volume:brick-destroyed:2",
]


class NodeEffects:
    """Every node call that changes something, counted per subject across restarts."""

    def __init__(self) -> None:
        self.made: Counter[str] = Counter()  # brick ids created
        self.destroyed: Counter[str] = Counter()  # brick ids destroyed
        self.volumes: Counter[str] = Counter()  # gluster volumes created
        self.volumes_destroyed: Counter[str] = Counter()

    def watch(self, agent: SimNodeAgent) -> None:
        brick_create, brick_destroy = agent.brick_create, agent.brick_destroy
        volume_create, volume_destroy = agent.volume_create, agent.volume_destroy

        async def made(node: NodeAddress, brick: Any) -> None:
            await brick_create(node, brick)
            self.made[brick.id] += 1

        async def destroyed(node: NodeAddress, brick: Any) -> bool:
            reclaimed = await brick_destroy(node, brick)
            self.destroyed[brick.id] += 1
            return reclaimed

        async def created(node: NodeAddress, spec: Any) -> None:
            await volume_create(node, spec)
            self.volumes[spec.name] += 1

        async def gone(node: NodeAddress, name: str, owner: Any = None) -> str:
            outcome = await volume_destroy(node, name, owner)
            if outcome == DESTROYED:
                self.volumes_destroyed[name] += 1
            return outcome

        agent.brick_create = made  # type: ignore[method-assign]
        agent.brick_destroy = destroyed  # type: ignore[method-assign]
        agent.volume_create = created  # type: ignore[method-assign]
        agent.volume_destroy = gone  # type: ignore[method-assign]


class Interleavings(RuleBasedStateMachine):
    def __init__(self, database: DatabaseFactory) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="brickyard-interleave-")
        self.db = database(Path(self.tmp.name))  # every restart reopens this same database
        self.loop = asyncio.new_event_loop()
        self.world = SimWorld(device_size_gb=60, delay_ms=10.0)
        self.effects = NodeEffects()
        self.crash_at = ""
        self.dead = False
        self.h = self._open()
        self.run(self.h.build_topology(nodes=4))
        self.start = self.run(self.h.device_storage())
        self.requests: list[str] = []  # queue locations

    # -- plumbing ----------------------------------------------------------------------------
    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def _open(self) -> Harness:
        harness = Harness.open(Path(self.tmp.name), world=self.world, db=self.db)
        harness.server.services.ctx.crash_hook = self._crash_hook
        agent = harness.server.services.ctx.agent
        assert isinstance(agent, SimNodeAgent)
        self.effects.watch(agent)
        return harness

    def _crash_hook(self, point: str) -> None:
        if self.dead or (self.crash_at and point == self.crash_at):
            self.dead = True  # the whole server is gone: every operation stops at its next step
            raise SimulatedCrash(point)

    def _volume_ids(self) -> list[str]:
        return list(self.run(self.h.get_json("/volumes"))["volumes"])

    def _pick(self, index: int) -> str | None:
        ids = self._volume_ids()
        return ids[index % len(ids)] if ids else None

    def _submit(self, response: Any) -> None:
        if response.status_code == 202:
            self.requests.append(response.headers["location"])

    # -- rules -------------------------------------------------------------------------------
    @rule(size=st.integers(1, 30))
    def create(self, size: int) -> None:
        self._submit(self.run(self.h.post("/volumes", {"size": size, "durability": R3})))

    @rule(pick=st.integers(0, 100), size=st.integers(1, 20))
    def expand(self, pick: int, size: int) -> None:
        volume = self._pick(pick)
        if volume is not None:
            body = {"expand_size": size}
            self._submit(self.run(self.h.post(f"/volumes/{volume}/expand", body)))

    @rule(pick=st.integers(0, 100))
    def delete(self, pick: int) -> None:
        volume = self._pick(pick)
        if volume is not None:
            self._submit(self.run(self.h.delete(f"/volumes/{volume}")))

    @rule(named=st.booleans())
    def cleanup(self, named: bool) -> None:
        ops = self.run(self.h.pending_operations())
        body = {"operations": [ops[0]["id"]]} if named and ops else {}
        self._submit(self.run(self.h.post("/operations/pending/cleanup", body)))

    @rule(ticks=st.integers(0, 30))
    def let_work_run(self, ticks: int) -> None:
        self.run(asyncio.sleep(ticks * 0.001))

    @rule(point=st.sampled_from(POINTS))
    def arm_crash(self, point: str) -> None:
        self.crash_at = point

    @rule(
        creates=st.integers(0, 3),
        deletes=st.integers(0, 2),
        ticks=st.integers(0, 40),
        race_cleanup=st.booleans(),
    )
    def burst_then_kill(self, creates: int, deletes: int, ticks: int, race_cleanup: bool) -> None:
        """Requests in flight when the server dies: the common case of a real crash."""
        for volume in self._volume_ids()[:deletes]:
            self._submit(self.run(self.h.delete(f"/volumes/{volume}")))
        for _ in range(creates):
            self.create(2)
        self.let_work_run(ticks)
        self.restart(race_cleanup)

    @rule(race_cleanup=st.booleans())
    def restart(self, race_cleanup: bool) -> None:
        """The server dies (now, if no crash point was reached yet), a new one recovers; a
        cleanup may race the recovery."""
        event(f"restart: crash point reached: {self.dead}")
        self.dead = True
        self.run(self.h.queue.drain())
        event(f"restart: {len(self.run(self.h.pending_operations()))} operations to recover")
        # A dead process renews nothing: its lease runs out, so the new server takes it over
        # at start (see conftest.Restartable.reopen).
        expire_lease(self.h.server)
        self.h.server.services.ctx.heals.cancel()
        self.run(self.h.client.aclose())
        self.h.server.store.close()
        self.dead, self.crash_at = False, ""
        self.h = self._open()

        async def recover_and_race() -> None:
            recovery = asyncio.create_task(self.h.server.recover())
            if race_cleanup:
                await asyncio.sleep(0.001)
                self._submit(await self.h.post("/operations/pending/cleanup", {}))
            await recovery

        self.run(recover_and_race())

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def nothing_applied_twice(self) -> None:
        for counter in (
            self.effects.made,
            self.effects.destroyed,
            self.effects.volumes,
            self.effects.volumes_destroyed,
        ):
            twice = {k: n for k, n in counter.items() if n > 1}
            assert not twice, (counter, twice)

    def teardown(self) -> None:
        try:
            self.crash_at = ""
            self.run(self.h.queue.drain())
            if self.dead:  # a crashed server answers nothing more: the restart settles it
                self.restart(race_cleanup=False)
            self.run(self.h.ok_204(self.run(self.h.post("/operations/pending/cleanup", {}))))
            for location in self.requests:  # every request gets an answer, none hangs
                answer = self.run(self.h.get(location))
                assert answer.headers.get("x-pending") != "true", location
            self.run(self.h.assert_consistent())
            for volume in self._volume_ids():
                self.run(self.h.delete_volume(volume))
            self.run(self.h.assert_consistent())
            assert self.run(self.h.device_storage()) == self.start, "space not returned"
            self.nothing_applied_twice()
        finally:
            self.run(self.h.close())
            self.loop.close()
            self.tmp.cleanup()


INTERLEAVINGS_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_random_interleavings(harness_database: DatabaseFactory) -> None:
    # Run as a function rather than Interleavings.TestCase so that the machine gets the
    # database fixture: each example's server opens a fresh database of the kind under test.
    # (Hypothesis annotates the factory as a class, but calls whatever it is given.)
    run_state_machine_as_test(
        lambda: Interleavings(harness_database),  # type: ignore[arg-type]
        settings=INTERLEAVINGS_SETTINGS,
    )
