"""The operations journal seen from outside: counts, listings, recovery at start and cleanup of
stale or failed operations (Heketi's /operations endpoints and its background cleaner)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..domain.errors import BrickyardError, NodeUnreachable, OperationFailed
from ..domain.model import OperationType, PendingOperation
from ..nodes.port import BrickSpec, DeviceSpec, NodeAddress
from ..store import leftovers
from .context import ServiceContext
from .jobs import Job
from .registry import Services
from .topology_ops import TopologyRecovery
from .volumes import VolumeRecovery

log = logging.getLogger(__name__)

# Removes are resumed after everything else: the evictions they began are settled first.
_REMOVES = (OperationType.REMOVE_DEVICE, OperationType.REMOVE_NODE)
_TOPOLOGY = {
    OperationType.ADD_DEVICE,
    OperationType.DELETE_DEVICE,
    OperationType.ADD_NODE,
    OperationType.DELETE_NODE,
}


def all_operations(ctx: ServiceContext) -> list[PendingOperation]:
    with ctx.store.read() as tx:
        return tx.all(PendingOperation)


def get(ctx: ServiceContext, op_id: str) -> PendingOperation | None:
    with ctx.store.read() as tx:
        return tx.get(PendingOperation, op_id)


def counts(ctx: ServiceContext) -> dict[str, int]:
    ops = all_operations(ctx)
    in_flight = sum(1 for op in ops if op.id in ctx.in_flight)
    return {
        "total": len(ops),
        "in_flight": in_flight,
        "stale": sum(1 for op in ops if op.status == "stale"),
        "failed": sum(1 for op in ops if op.status == "failed"),
        "new": sum(1 for op in ops if op.status == "" and op.id not in ctx.in_flight),
    }


def summary(ctx: ServiceContext, op: PendingOperation) -> dict[str, Any]:
    return {
        "id": op.id,
        "type_name": op.type.type_name,
        "status": op.status,
        "sub_status": "in-flight" if op.id in ctx.in_flight else "",
    }


def detail(ctx: ServiceContext, op: PendingOperation) -> dict[str, Any]:
    result = summary(ctx, op)
    result["changes"] = [{"id": c.id, "description": c.change.description} for c in op.changes]
    with ctx.store.read() as tx:
        result["steps"] = [step for step, _ in tx.operation_steps(op.id)]
    return result


def mark_all_stale(ctx: ServiceContext) -> int:
    """At start nothing can be in flight: every journaled operation is stale (Heketi)."""
    with ctx.store.write() as tx:
        ops = tx.all(PendingOperation)
        for op in ops:
            if op.status == "":
                op.status = "stale"
                tx.update(op)
    return len(ops)


@dataclass
class CleanupReport:
    finished: dict[str, str] = field(default_factory=dict)  # op id -> what was done
    forward: set[str] = field(default_factory=set)  # ops rolled forward: their request succeeded
    leftovers_cleaned: int = 0  # bricks and devices of dead nodes destroyed now
    failed: dict[str, str] = field(default_factory=dict)  # op id -> why it is kept


async def clean(services: Services, op: PendingOperation) -> tuple[bool, str]:
    """Roll `op` back (create, clone, adds; an expand gluster has not taken yet) or forward
    (deletes; an expand gluster took) against the nodes. Returns (forward, what was done)."""
    with services.ctx.store.read() as tx:
        steps = [step for step, _ in tx.operation_steps(op.id)]
    log.info(
        "recovering %s operation %s; its journal says: %s",
        op.type.type_name,
        op.id,
        "; ".join(steps) or "no node step done",
    )
    if op.type in _TOPOLOGY:
        return await TopologyRecovery(services.ctx).clean(op)
    if op.type in _REMOVES:
        await services.eviction.resume(op)
        return True, "resumed and finished"
    forward = await VolumeRecovery(services.volumes).clean(op)
    if get(services.ctx, op.id) is not None:
        # Kept (marked failed) because a node did not answer: its bricks are still known.
        raise OperationFailed("some bricks could not be removed yet; a node did not answer")
    return forward, "rolled forward" if forward else "rolled back"


async def clean_all(services: Services, ids: set[str] | None = None) -> CleanupReport:
    """Clean every stale or failed operation (or those of `ids`), one at a time."""
    report = CleanupReport()
    order = {OperationType.REMOVE_DEVICE: 1, OperationType.REMOVE_NODE: 2}
    for op in sorted(all_operations(services.ctx), key=lambda op: order.get(op.type, 0)):
        if op.status not in ("stale", "failed") or (ids and op.id not in ids):
            continue
        try:
            forward, report.finished[op.id] = await clean(services, op)
            if forward:
                report.forward.add(op.id)
            log.info("%s operation %s: %s", op.type.type_name, op.id, report.finished[op.id])
        except BrickyardError as exc:
            log.warning("cleanup of %s operation %s failed: %s", op.type.type_name, op.id, exc)
            report.failed[op.id] = str(exc)
            _mark_failed(services.ctx, op.id)
    report.leftovers_cleaned = await clean_leftovers(services.ctx)
    return report


async def destroy_leftover(ctx: ServiceContext, leftover: leftovers.Leftover) -> None:
    """Destroy on its node what a dead node kept; raises NodeUnreachable while it is dead."""
    node = NodeAddress(leftover.manage_hostname, leftover.storage_hostname)
    device = DeviceSpec(leftover.device_id, leftover.device_name, leftover.backend)
    if leftover.kind == leftovers.BRICK:
        spec = BrickSpec(leftover.id, device, 0, 0, 0)
        # Back from the dead, glusterd may have started the replaced brick again.
        await ctx.agent.release_brick(node, spec)
        await ctx.agent.brick_destroy(node, spec)
    else:
        await ctx.agent.device_teardown(node, device, forget=False)
    with ctx.store.write() as tx:
        leftovers.remove(tx, leftover.id)
    log.info("%s %s left on %s is destroyed", leftover.kind, leftover.id, node.manage)


async def clean_leftovers(ctx: ServiceContext) -> int:
    """What evictions and deletes left on dead nodes, destroyed where the node answers now."""
    with ctx.store.read() as tx:
        pending = leftovers.all_leftovers(tx)
    cleaned = 0
    for leftover in pending:
        try:
            await destroy_leftover(ctx, leftover)
            cleaned += 1
        except NodeUnreachable:
            log.debug(
                "%s %s: node %s still down", leftover.kind, leftover.id, leftover.manage_hostname
            )
        except BrickyardError as exc:
            log.warning(
                "cleaning %s %s on %s: %s",
                leftover.kind,
                leftover.id,
                leftover.manage_hostname,
                exc,
            )
    return cleaned


def _mark_failed(ctx: ServiceContext, op_id: str) -> None:
    with ctx.store.write() as tx:
        op = tx.get(PendingOperation, op_id)
        if op is not None and op.status != "failed":
            op.status = "failed"
            tx.update(op)


def begin_cleanup(services: Services, ids: list[str]) -> Job:
    async def run() -> str | None:
        report = await clean_all(services, set(ids))
        if report.failed:
            raise OperationFailed(
                "cleanup failed for: "
                + "; ".join(f"{op_id}: {why}" for op_id, why in report.failed.items())
            )
        return None

    return Job(run, description="clean up pending operations")
