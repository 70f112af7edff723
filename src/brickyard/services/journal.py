"""The operations journal seen from outside: Heketi's counts and listings (GET /operations,
/operations/pending, /operations/pending/<id>), plus what Brickyard adds to the detail: the
journaled steps, who holds the operation, and why it waits for a human."""

from __future__ import annotations

from typing import Any

from ..domain.model import OperationStatus, PendingOperation
from .context import ServiceContext


def all_operations(ctx: ServiceContext) -> list[PendingOperation]:
    with ctx.store.read() as tx:
        return tx.all(PendingOperation)


def get(ctx: ServiceContext, op_id: str) -> PendingOperation | None:
    with ctx.store.read() as tx:
        return tx.get(PendingOperation, op_id)


def in_flight(op: PendingOperation) -> bool:
    """A live worker holds it (every server marks what a dead one held stale at start)."""
    return bool(op.owner)


def counts(ctx: ServiceContext) -> dict[str, int]:
    ops = all_operations(ctx)
    return {
        "total": len(ops),
        "in_flight": sum(1 for op in ops if in_flight(op)),
        "stale": sum(1 for op in ops if op.status == OperationStatus.STALE),
        "failed": sum(1 for op in ops if op.status == OperationStatus.FAILED),
        "new": sum(1 for op in ops if op.status == OperationStatus.NEW and not in_flight(op)),
    }


def summary(op: PendingOperation) -> dict[str, Any]:
    return {
        "id": op.id,
        "type_name": op.type.type_name,
        "status": op.status,
        "sub_status": "in-flight" if in_flight(op) else "",
    }


def detail(ctx: ServiceContext, op: PendingOperation) -> dict[str, Any]:
    result = summary(op)
    result["changes"] = [{"id": c.id, "description": c.change.description} for c in op.changes]
    with ctx.store.read() as tx:
        result["steps"] = [step.text for step in tx.operation_steps(op.id)]
    # Brickyard's additions: who holds it, and why a human must look at it.
    result["owner"] = op.owner
    result["needs_human"] = op.held
    return result
