"""The operations journal seen from outside: counts, listings and cleanup of stale or failed
operations (Heketi's /operations endpoints)."""

from __future__ import annotations

import logging
from typing import Any

from ..domain.errors import BrickyardError, OperationFailed
from ..domain.model import PendingOperation
from .context import ServiceContext
from .jobs import Job
from .registry import Services
from .volumes import VolumeRecovery

log = logging.getLogger(__name__)


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


def begin_cleanup(services: Services, ids: list[str]) -> Job:
    async def run() -> str | None:
        wanted = set(ids)
        recovery = VolumeRecovery(services.volumes)
        failures = []
        for op in all_operations(services.ctx):
            if op.status not in ("stale", "failed") or (wanted and op.id not in wanted):
                continue
            try:
                await recovery.clean(op)
            except BrickyardError as exc:
                log.warning("cleanup of operation %s failed: %s", op.id, exc)
                failures.append(f"{op.id}: {exc}")
        if failures:
            raise OperationFailed("cleanup failed for: " + "; ".join(failures))
        return None

    return Job(run, description="clean up pending operations")
