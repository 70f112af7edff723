"""What a volume create commits (issue #14's statement diet): the request's queue result is
written in the operation's own transactions, "running" with the journaled plan and "done" with
the finalize, so the answer and the operation are never committed apart."""

from __future__ import annotations

import asyncio
from typing import Any

from brickyard.store import queue_results as results

from .conftest import Harness

VOLUME = {"size": 1, "durability": {"type": "replicate", "replicate": {"replica": 3}}}


def _trace_commits(harness: Harness) -> list[str]:
    """The statements of the event loop's own SQLite connection, as SQLite runs them."""
    store = harness.server.store
    with store.read():
        pass  # the loop thread's connection exists from here on
    held: Any = store._local.conn
    seen: list[str] = []
    held.raw.set_trace_callback(lambda sql: seen.append(sql))
    return seen


async def test_a_create_commits_four_times_and_its_answer_with_its_operation(
    harness: Harness,
) -> None:
    await harness.build_topology(nodes=3)
    await harness.create_volume(**VOLUME)  # warm: the first create also loads indexes
    harness.queue.forget_read()
    seen = _trace_commits(harness)
    accepted = await harness.post("/volumes", VOLUME)
    assert accepted.status_code == 202
    queue_id = accepted.headers["location"].rsplit("/", 1)[1]
    with harness.server.store.read() as tx:
        running = results.get(tx, queue_id)
        plans = tx.conn.column("SELECT id FROM pending_operations")
    # the plan's transaction held both the journal entry and the request's result
    assert running is not None and running.status == results.RUNNING
    assert plans == [running.op_id]
    await harness.queue.drain()
    with harness.server.store.read() as tx:
        done = results.get(tx, queue_id)
        assert tx.conn.column("SELECT id FROM pending_operations") == []
        steps = [s.kind for s in tx.operation_steps(running.op_id)]
    assert steps == []  # the journal went with the finalize
    assert done is not None and done.status == results.DONE
    assert done.redirect is not None and done.redirect.startswith("/volumes/")
    polled = await harness.get(f"/queue/{queue_id}")
    assert polled.status_code == 303 and polled.headers["location"] == done.redirect
    await asyncio.sleep(0)
    commits = [s for s in seen if s.strip().upper().startswith("COMMIT")]
    # plan + "running"; the 3 bricks made with the gluster create's intent; the volume made;
    # finalize + "done". The read-once delete is batched (below).
    assert len(commits) == 4, seen
    # read once: answered no more, though its row waits for the batched delete
    assert (await harness.get(f"/queue/{queue_id}")).status_code == 404
    with harness.server.store.read() as tx:
        assert results.get(tx, queue_id) is not None
    harness.queue.forget_read()
    with harness.server.store.read() as tx:
        assert results.get(tx, queue_id) is None


def _trace_journals(harness: Harness) -> list[list[str]]:
    """The kinds of the journal records of each commit of record_steps, as they are made."""
    journals: list[list[str]] = []
    store = harness.server.store
    original = store.record_steps

    def record(op_id: str, steps: Any, at: float) -> None:
        journals.append([kind for _, kind, _ in steps])
        original(op_id, steps, at)

    store.record_steps = record  # type: ignore[method-assign]
    return journals


async def test_the_bricks_made_are_journaled_together_with_the_next_intent(
    harness: Harness,
) -> None:
    """The three brick-made records of a create are one commit with the intent of the gluster
    command that follows (no node command runs between them), in the journal all the same;
    so are an expand's with its add-brick intent."""
    await harness.build_topology(nodes=3)
    journals = _trace_journals(harness)
    accepted = await harness.post("/volumes", {**VOLUME, "name": "together"})
    await harness.queue.drain()
    assert accepted.status_code == 202
    assert journals == [["brick-made"] * 3 + ["gluster-create-begun"], ["volume-made"]]
    journals.clear()
    volume_id = (await harness.get_json("/volumes"))["volumes"][0]
    expanded = await harness.post(f"/volumes/{volume_id}/expand", {"expand_size": 1})
    await harness.queue.drain()
    assert expanded.status_code == 202
    assert journals == [["brick-made"] * 3 + ["bricks-add-begun"], ["bricks-added"]]


async def test_a_brick_that_fails_keeps_the_gluster_intent_out_of_the_journal(
    harness: Harness,
) -> None:
    """When a brick is not made, the bricks that were are journaled alone: the gluster command
    never runs, and its intent would send the rollback looking for a volume."""
    topo = await harness.build_topology(nodes=3)
    harness.world.fail(topo.manage[topo.nodes[0]], "brick_create", "disk on fire", times=1)
    harness.server.services.ctx.settings.create_retries = 0  # the first attempt's journal
    journals = _trace_journals(harness)
    accepted = await harness.post("/volumes", VOLUME)
    await harness.queue.drain()
    assert accepted.status_code == 202
    assert journals[0] == ["brick-made"] * 2, journals
    assert all("gluster-create-begun" not in kinds for kinds in journals), journals


async def test_read_results_are_deleted_in_one_batch_by_themselves(
    harness: Harness, monkeypatch: Any
) -> None:
    from brickyard.services import queue as queue_module

    monkeypatch.setattr(queue_module, "FORGET_DELAY", 0.05)
    await harness.build_topology(nodes=3)
    ids = []
    for n in range(3):
        accepted = await harness.post("/volumes", {**VOLUME, "name": f"batch{n}"})
        ids.append(accepted.headers["location"].rsplit("/", 1)[1])
    await harness.queue.drain()
    seen = _trace_commits(harness)
    for queue_id in ids:
        assert (await harness.get(f"/queue/{queue_id}")).status_code == 303
    assert not [s for s in seen if s.strip().upper().startswith("COMMIT")]
    await asyncio.sleep(0.2)
    assert len([s for s in seen if s.strip().upper().startswith("COMMIT")]) == 1, seen
    with harness.server.store.read() as tx:
        assert [results.get(tx, queue_id) for queue_id in ids] == [None] * 3


async def test_a_result_read_before_shutdown_is_gone_after_it(harness: Harness) -> None:
    h = harness
    await h.build_topology(nodes=3)
    accepted = await h.post("/volumes", VOLUME)
    queue_id = accepted.headers["location"].rsplit("/", 1)[1]
    await h.queue.drain()
    assert (await h.get(f"/queue/{queue_id}")).status_code == 303
    h.server.close()  # as `brickyard serve` stops
    with h.server.store.read() as tx:
        assert results.get(tx, queue_id) is None


async def test_a_failed_create_is_answered_by_the_queue(harness: Harness) -> None:
    """Only a plain success is written by the finalizing transaction; a failure's answer is
    still the queue's to write."""
    topo = await harness.build_topology(nodes=3)
    for node in topo.nodes:  # every attempt fails (a create retries with a new placement)
        harness.world.fail(topo.manage[node], "brick_create", "disk on fire", times=10)
    accepted = await harness.post("/volumes", VOLUME)
    queue_id = accepted.headers["location"].rsplit("/", 1)[1]
    await harness.queue.drain()
    with harness.server.store.read() as tx:
        failed = results.get(tx, queue_id)
    assert failed is not None and failed.status == results.FAILED
    assert failed.error is not None and "disk on fire" in failed.error
