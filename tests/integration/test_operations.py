"""The operation lifecycle on the simulator beyond the crash points: claims (nothing is worked on
twice, whoever asks and whenever), a poisoned operation held for a human without stopping the
others, journal rows this version cannot read, rollbacks that never act on a step that did not
happen (nor on a gluster volume that is not ours), the health monitor cleaning what a dead node
kept, and heal starts that do not hold an evacuation up."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from brickyard.domain.errors import NodeCommandError
from brickyard.nodes.port import GlusterBrick, GlusterVolumeInfo, NodeAddress
from brickyard.nodes.sim import SimNodeAgent
from brickyard.store import schema
from brickyard.store.sql import RowCodec

from .conftest import DatabaseFactory, Harness, Restartable, SimulatedCrash

R3 = {"type": "replicate", "replicate": {"replica": 3}}


@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return new_database


def _agent(h: Harness) -> SimNodeAgent:
    agent = h.server.services.ctx.agent
    assert isinstance(agent, SimNodeAgent)
    return agent


async def _state(h: Harness, kind: str, entity: str, state: str) -> Any:
    return await h.wait(await h.post(f"/{kind}/{entity}/state", {"state": state}))


def _examine_kinds(report: dict[str, Any]) -> list[str]:
    return sorted(d["kind"] for d in report["differences"])


# -- rollbacks act on what happened, and only on what is ours ------------------------------
async def test_clone_that_failed_after_gluster_made_it_is_removed(harness: Harness) -> None:
    await harness.build_topology()
    volume = await harness.create_volume(size=1, durability=R3)
    agent = _agent(harness)
    real = agent.volume_clone

    async def clone_then_fail(
        via: NodeAddress, source: str, clone: str, snapshot: str
    ) -> GlusterVolumeInfo:
        await real(via, source, clone, snapshot)
        harness.world.volumes()[clone].status = "Created"
        raise NodeCommandError("gluster volume start failed: simulated")

    agent.volume_clone = clone_then_fail  # type: ignore[method-assign]
    message = await harness.failed(
        await harness.post(f"/volumes/{volume['id']}/clone", {"name": "half"})
    )
    assert "volume start failed" in message
    assert "half" not in harness.world.volumes()
    await harness.assert_consistent()


async def test_clone_crashed_before_its_start_is_removed_at_recovery(server: Restartable) -> None:
    h = server.h
    await h.build_topology()
    volume = await h.create_volume(size=1, durability=R3)
    agent = _agent(h)
    real = agent.volume_clone

    async def clone_then_crash(
        via: NodeAddress, source: str, clone: str, snapshot: str
    ) -> GlusterVolumeInfo:
        await real(via, source, clone, snapshot)
        h.world.volumes()[clone].status = "Created"
        for node in h.world.nodes.values():  # the snapshot is still there too
            node.pool.snapshots[snapshot] = source
        raise SimulatedCrash("in the middle of the clone sequence")

    agent.volume_clone = clone_then_crash  # type: ignore[method-assign]
    response = await h.post(f"/volumes/{volume['id']}/clone", {"name": "half"})
    await h.queue.drain()
    await server.restart()
    await server.h.assert_consistent()
    assert "half" not in server.h.world.volumes()
    assert not any(n.pool.snapshots for n in server.h.world.nodes.values())
    answer = await server.h.get(response.headers["location"])
    assert answer.status_code == 500 and "rolled back" in answer.text


async def test_create_never_destroys_a_gluster_volume_that_is_not_ours(harness: Harness) -> None:
    """Gluster refuses the create: a volume of that name exists that Brickyard never made.
    The rollback destroys our bricks and leaves that volume alone."""
    topo = await harness.build_topology()
    foreign = [GlusterBrick("10.9.9.9", "/data/theirs")]
    harness.world.add_foreign_volume(topo.manage[topo.nodes[0]], "taken", foreign)
    message = await harness.failed(
        await harness.post("/volumes", {"size": 1, "durability": R3, "name": "taken"})
    )
    assert "already exists" in message
    assert harness.world.volumes()["taken"].bricks == foreign
    report = await harness.get_json("/internal/state/examine")
    assert _examine_kinds(report) == ["unknown gluster volume"]
    harness.world.drop_volume("taken")
    await harness.assert_consistent()


async def test_expand_partly_added_waits_for_a_human(server: Restartable) -> None:
    """Gluster took some new bricks but not all: neither destroying them nor finishing is
    safe. The operation is held, with its reason and bricks, and blocks nothing else."""
    h = server.h
    await h.build_topology(nodes=3, devices_per_node=2)
    volume = await h.create_volume(size=1, durability=R3)
    agent = _agent(h)
    real = agent.volume_expand

    async def half_then_crash(via: NodeAddress, spec: Any, bricks: list[GlusterBrick]) -> None:
        await real(via, spec, bricks[:3])
        raise SimulatedCrash("between two add-brick chunks")

    agent.volume_expand = half_then_crash  # type: ignore[method-assign]
    # Larger than a device: two new brick sets.
    response = await h.post(f"/volumes/{volume['id']}/expand", {"expand_size": 600})
    await h.queue.drain()
    await server.restart()
    h = server.h
    answer = await h.get(response.headers["location"])
    assert answer.status_code == 500 and "waits for a human" in answer.text, answer.text
    (op,) = await h.pending_operations()
    detail = await h.get_json(f"/operations/pending/{op['id']}")
    assert "gluster holds 3 of the 6 new bricks" in detail["needs_human"]
    report = await h.get_json("/internal/state/examine")
    held = [d for d in report["differences"] if d["kind"] == "operation needs a human"]
    assert len(held) == 1 and held[0]["subject"] == op["id"]
    assert held[0]["detail"].count(" on m") == 6 and "KiB reserved" in held[0]["detail"]
    # Other work goes on.
    other = await h.create_volume(size=1, durability=R3)
    await h.delete_volume(other["id"])


# -- poison: one operation that cannot be recovered stops nothing else ----------------------
async def test_a_poisoned_operation_is_held_and_the_others_recover(server: Restartable) -> None:
    h = server.h
    await h.build_topology()
    free = await h.device_storage()
    agent = _agent(h)
    # Three creates crash after making their bricks and gluster volumes (crash points count
    # per operation: each crashes at its first).
    server.crash_at.append("create-volume:volume-made:1")
    first = await h.post("/volumes", {"size": 1, "durability": R3, "name": "poisoned"})
    await h.queue.drain()
    server.crash_at.append("create-volume:volume-made:1")
    second = await h.post("/volumes", {"size": 1, "durability": R3, "name": "ordinary1"})
    await h.queue.drain()
    server.crash_at.append("create-volume:volume-made:1")
    third = await h.post("/volumes", {"size": 1, "durability": R3, "name": "ordinary2"})
    await h.queue.drain()
    await server.reopen()
    h = server.h
    agent = _agent(h)
    real = agent.volume_destroy

    async def bug_for_poisoned(via: NodeAddress, name: str, owner: Any = None) -> str:
        if name == "poisoned":
            raise RuntimeError("a bug in the node agent")
        return await real(via, name, owner)

    agent.volume_destroy = bug_for_poisoned  # type: ignore[method-assign]
    await h.server.recover()
    answers = [await h.get(r.headers["location"]) for r in (first, second, third)]
    assert answers[0].status_code == 500 and "waits for a human" in answers[0].text
    assert "RuntimeError: a bug in the node agent" in answers[0].text
    assert [a.status_code for a in answers[1:]] == [500, 500]
    assert all("rolled back" in a.text for a in answers[1:])
    assert set(h.world.volumes()) == {"poisoned"}
    ops = await h.pending_operations()
    assert len(ops) == 1 and ops[0]["status"] == "failed"
    report = await h.get_json("/internal/state/examine")
    held = [d for d in report["differences"] if d["kind"] == "operation needs a human"]
    assert len(held) == 1 and "recovery failed: RuntimeError" in held[0]["detail"]
    assert held[0]["detail"].count("brick ") == 3, held[0]
    # A cleanup of everything leaves it (and says so); one naming it, once fixed, settles it.
    answer = await h.wait(await h.post("/operations/pending/cleanup", {}))
    assert answer.status_code == 500 and "waits for a human" in answer.text
    agent.volume_destroy = real  # type: ignore[method-assign]
    body = {"operations": [ops[0]["id"]]}
    await h.ok_204(await h.post("/operations/pending/cleanup", body))
    await h.assert_consistent()
    assert await h.device_storage() == free


def _insert_row(h: Harness, **values: Any) -> None:
    row = {
        "id": "f" * 32,
        "type": 1,
        "timestamp": int(time.time()),
        "status": "stale",
        "changes": [],
        "detail": {},
        "owner": "",
        "claimed_at": 0.0,
        "held": "",
        "format": 2,
    }
    row.update(values)
    with h.server.store.write() as tx:
        table = schema.PENDING_OPERATIONS
        tx.execute(table.insert(), RowCodec(table).write(row))


async def test_an_unknown_operation_type_is_held_not_fatal(server: Restartable) -> None:
    h = server.h
    await h.build_topology()
    _insert_row(h, type=99, changes=[{"change": 77, "id": "a" * 32, "delta": 0}])
    server.crash_at.append("create-volume:brick-made:2")
    response = await h.post("/volumes", {"size": 1, "durability": R3})
    await h.queue.drain()
    await server.restart()
    h = server.h
    assert "rolled back" in (await h.get(response.headers["location"])).text
    (op,) = await h.pending_operations()
    assert op["type_name"] == "unknown" and op["status"] == "failed"
    detail = await h.get_json(f"/operations/pending/{op['id']}")
    assert "unknown operation type 99" in detail["needs_human"]
    counts = await h.get_json("/operations")
    assert counts == {"total": 1, "in_flight": 0, "stale": 0, "failed": 1, "new": 0}
    report = await h.get_json("/internal/state/examine")
    assert _examine_kinds(report) == ["operation needs a human"]


async def test_a_journal_of_an_older_version_waits_for_a_human(server: Restartable) -> None:
    """Format 1 journals record no intents: recovery does not guess; a cleanup naming the
    operation recovers it, assuming every command may have run."""
    h = server.h
    await h.build_topology()
    free = await h.device_storage()
    server.crash_at.append("create-volume:volume-made:1")
    await h.post("/volumes", {"size": 1, "durability": R3})
    await h.queue.drain()
    (op,) = await h.pending_operations()
    with h.server.store.write() as tx:
        tx.execute("UPDATE pending_operations SET format = 1 WHERE id = :id", {"id": op["id"]})
        # Format 1 had no intent steps: drop this entry's steps as such a journal would lack.
        tx.execute("DELETE FROM operation_steps WHERE op_id = :id", {"id": op["id"]})
    await server.restart()
    h = server.h
    detail = await h.get_json(f"/operations/pending/{op['id']}")
    assert "format 1" in detail["needs_human"] and "cleanup naming" in detail["needs_human"]
    assert len(h.world.volumes()) == 1  # nothing was touched
    await h.ok_204(await h.post("/operations/pending/cleanup", {"operations": [op["id"]]}))
    await h.assert_consistent()
    assert h.world.volumes() == {} and await h.device_storage() == free


# -- claims: nothing is worked on twice -----------------------------------------------------
class CountingAgent:
    """Counts the node calls that change something, per subject."""

    def __init__(self, agent: SimNodeAgent) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        for name in ("brick_create", "brick_destroy", "volume_create", "volume_destroy"):
            real = getattr(agent, name)
            setattr(agent, name, self._wrap(name, real))

    def _wrap(self, name: str, real: Any) -> Any:
        async def counted(node: NodeAddress, subject: Any, *rest: Any) -> Any:
            key = getattr(subject, "id", None) or getattr(subject, "name", None) or subject
            self.calls[(name, str(key))] += 1
            return await real(node, subject, *rest)

        return counted


async def test_cleanup_and_a_create_during_recovery(server: Restartable) -> None:
    """Start-up recovery is slow (the nodes answer slowly); meanwhile a cleanup of everything,
    a cleanup naming the operation being recovered, and a create arrive. Recovery owns its
    operations: the cleanups leave them alone and say so; the create goes through; every
    brick is destroyed once."""
    h = server.h
    await h.build_topology()
    free = await h.device_storage()
    server.crash_at.append("create-volume:volume-made:1")
    crashed = await h.post("/volumes", {"size": 1, "durability": R3})
    await h.queue.drain()
    (op,) = await h.pending_operations()
    await server.reopen()
    h = server.h
    counting = CountingAgent(_agent(h))
    h.world.delay = 0.05
    recovery = asyncio.create_task(h.server.recover())
    await asyncio.sleep(0.02)  # recovery has claimed the operation and is at the nodes
    pending = await h.get_json(f"/operations/pending/{op['id']}")
    assert pending["sub_status"] == "in-flight" and pending["owner"].endswith("/recovery")
    assert (await h.get(crashed.headers["location"])).headers.get("x-pending") == "true"
    named = await h.post("/operations/pending/cleanup", {"operations": [op["id"]]})
    everything = await h.post("/operations/pending/cleanup", {})
    create = await h.post("/volumes", {"size": 1, "durability": R3})
    named_answer = await h.wait(named)
    assert named_answer.status_code == 500, named_answer.text
    assert f"{op['id']}: being worked on by" in named_answer.text
    assert "/recovery" in named_answer.text
    assert (await h.wait(everything)).status_code == 204
    created = await h.ok_303(create, "/volumes")
    await recovery
    assert "rolled back" in (await h.get(crashed.headers["location"])).text
    destroys = [n for (call, _), n in counting.calls.items() if call == "brick_destroy"]
    assert destroys == [1, 1, 1], counting.calls
    h.world.delay = 0
    await h.delete_volume(created)
    await h.assert_consistent()
    assert await h.device_storage() == free


async def test_cleanup_of_an_operation_in_flight_is_refused_clearly(harness: Harness) -> None:
    await harness.build_topology()
    harness.world.delay = 0.05
    create = await harness.post("/volumes", {"size": 1, "durability": R3})
    await asyncio.sleep(0.02)
    (op,) = await harness.pending_operations()
    answer = await harness.wait(
        await harness.post("/operations/pending/cleanup", {"operations": [op["id"]]})
    )
    assert answer.status_code == 500
    assert f"{op['id']}: being worked on by" in answer.text and "/request" in answer.text
    harness.world.delay = 0
    await harness.ok_303(create, "/volumes")
    await harness.assert_consistent(allow_pending=False)


# -- dead nodes ----------------------------------------------------------------------------
async def test_health_monitor_cleans_a_returning_node_at_once(harness: Harness) -> None:
    topo = await harness.build_topology(nodes=4)
    volume = await harness.create_volume(size=1, durability=R3)
    dead = volume["bricks"][0]["node"]
    host = topo.manage[dead]
    harness.world.nodes[host].reachable = False
    await _state(harness, "nodes", dead, "offline")
    assert (await _state(harness, "nodes", dead, "failed")).status_code == 204
    health = harness.server.services.health
    await health.check_all()
    assert not health.hosts[host].reachable and harness.world.nodes[host].mounts
    harness.world.nodes[host].reachable = True
    await health.check_all()  # one check after it answers
    assert health.hosts[host].up and health.cleaned == 1
    assert not harness.world.nodes[host].mounts
    report = await harness.get_json("/internal/state/examine")
    assert report["differences"] == [], report


async def test_removed_dead_node_is_not_reported_unreachable(harness: Harness) -> None:
    topo = await harness.build_topology(nodes=4)
    await harness.create_volume(size=1, durability=R3)
    dead = topo.nodes[3]
    harness.world.nodes[topo.manage[dead]].reachable = False
    report = await harness.get_json("/internal/state/examine")
    assert _examine_kinds(report) == ["node unreachable"]
    await _state(harness, "nodes", dead, "offline")
    assert (await _state(harness, "nodes", dead, "failed")).status_code == 204
    report = await harness.get_json("/internal/state/examine")
    assert "node unreachable" not in _examine_kinds(report), report


async def test_evacuation_does_not_wait_for_heal_it_cannot_start(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead node holds two bricks of one volume: while the second is not replaced gluster
    refuses to start heal; the remove moves on, and heal starts once it can."""
    topo = await harness.build_topology(nodes=4, devices_per_node=2)
    volume = await harness.create_volume(size=600, durability=R3)  # > a device: 2 sets
    by_node = Counter(b["node"] for b in volume["bricks"])
    dead, held = by_node.most_common(1)[0]
    assert held >= 2, by_node
    heals = harness.server.services.ctx.heals
    heals.pause = 0.2
    started: list[str] = []
    heals.started = started.append
    harness.world.nodes[topo.manage[dead]].reachable = False
    await _state(harness, "nodes", dead, "offline")
    began = time.monotonic()
    assert (await _state(harness, "nodes", dead, "failed")).status_code == 204
    assert time.monotonic() - began < 2.0  # no minute per brick
    await heals.drain()
    assert started == [volume["name"]]
    after = await harness.get_json(f"/volumes/{volume['id']}")
    assert all(b["node"] != dead for b in after["bricks"])


async def test_database_backup_is_the_sqlite_file_or_a_clear_refusal(
    harness: Harness, database_kind: str
) -> None:
    """GET /backup/db serves a consistent copy of an SQLite database (Heketi's endpoint); on
    PostgreSQL it says to use PostgreSQL's own tool instead of failing with a 500."""
    r = await harness.get("/backup/db")
    if database_kind == "sqlite":
        assert r.status_code == 200 and r.content.startswith(b"SQLite format 3\x00")
    else:
        assert (r.status_code, r.text) == (
            501,
            "GET /backup/db copies SQLite databases only: back up PostgreSQL with pg_dump\n",
        )
