"""Crash recovery at start, the cleanup request, and the background cleaner.

At start, every operation an earlier run left in the journal is settled at once (Heketi waits
for its background cleaner, an hour by default), while the server already answers: requests
that arrive meanwhile find those operations held by recovery (a cleanup leaves them alone, a
poll of their queue entry answers "pending"). Then each queue result that was still running is
answered from what recovery did, so a client polling across the restart is told the truth.
Operations that cannot be settled yet (a node is down) stay `failed` and the background cleaner
retries them every `refresh_time_background_cleaner` seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from ...domain.errors import OperationFailed
from ...domain.model import PendingOperation
from ...store import queue_results as results
from ..context import LeaseLost, ServiceContext
from ..jobs import Job
from .runner import CleanupReport, OperationRunner

log = logging.getLogger(__name__)

# Finished results nobody read are kept this long (Heketi forgets them at restart).
RESULT_RETENTION_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class CleanerSettings:
    enabled: bool = True
    interval: float = 3600.0


def adopt_orphans(ctx: ServiceContext) -> int:
    """At start of a single server (SQLite) nothing of an earlier run is in flight: what it
    held becomes stale (Heketi marks every pending operation stale). Returns how many."""
    with ctx.store.write() as tx:
        return tx.orphan_operations(ctx.worker)


# How an interrupted request's answer names what happened to its server.
RESTARTED = "The server restarted"
DIED = "The server running this request stopped"
UNREACHABLE = "The database was unreachable"


async def recover_at_start(
    runner: OperationRunner, interrupted: list[results.QueueResult] | None = None
) -> CleanupReport:
    """Settle what an earlier run left, and answer its interrupted requests (`interrupted`:
    the queue results this server took over; None: every one still running)."""
    store = runner.ctx.store
    if interrupted is None:
        with store.read() as tx:
            interrupted = results.running(tx)
    report = await settle(runner, "recovery", None, interrupted, RESTARTED)
    with store.write() as tx:
        pruned = results.prune(tx, time.time() - RESULT_RETENTION_SECONDS)
    if report.finished or report.failed or report.held or interrupted:
        log.warning(
            "recovery: %d operations finished, %d kept for a later cleanup, %d held for a "
            "human, %d interrupted requests answered",
            len(report.finished),
            len(report.failed),
            len(report.held),
            len(interrupted),
        )
    if pruned:
        log.info("forgot %d queue results older than a week", pruned)
    return report


async def settle(
    runner: OperationRunner,
    purpose: str,
    op_ids: set[str] | None,
    interrupted: list[results.QueueResult],
    stopped: str,
) -> CleanupReport:
    """Recover the operations `op_ids` (None: every one nobody holds), then answer the
    `interrupted` requests from what recovery did."""
    store = runner.ctx.store
    with store.read() as tx:
        ops = {op.id: op for op in tx.all(PendingOperation)}
    report = await runner.recover(purpose, only=op_ids)
    for result in interrupted:
        status, redirect, error = _outcome(result, ops, report, stopped)
        results.finish(store, result.id, status, redirect, error)
    return report


def _outcome(
    result: results.QueueResult,
    ops: dict[str, PendingOperation],
    report: CleanupReport,
    stopped: str = RESTARTED,
) -> tuple[str, str | None, str | None]:
    op = ops.get(result.op_id)
    if not result.op_id:
        return results.FAILED, None, f"{stopped} before this request finished; retry it"
    if op is None:  # the operation had completed; only its answer was not written
        return results.DONE, result.resource or None, None
    if result.op_id in report.held:
        why = report.held[result.op_id]
        return (
            results.FAILED,
            None,
            f"{stopped} during this operation; operation {op.id} waits for a human: {why}",
        )
    if result.op_id in report.failed or result.op_id in report.busy:
        why = report.failed.get(result.op_id) or report.busy[result.op_id]
        return (
            results.FAILED,
            None,
            f"{stopped} during this operation; its cleanup (operation {op.id}) is pending: {why}",
        )
    if result.op_id in report.forward:
        return results.DONE, result.resource or None, None
    return results.FAILED, None, f"{stopped} during this operation; it was rolled back"


def begin_cleanup(runner: OperationRunner, ids: list[str]) -> Job:
    """POST /operations/pending/cleanup: settle the named operations (all when none named)."""

    async def run() -> str | None:
        report = await runner.recover("cleanup", set(ids) or None)
        problems = {
            **report.failed,
            **{op_id: f"waits for a human: {why}" for op_id, why in report.held.items()},
            **report.busy,
        }
        if problems:
            raise OperationFailed(
                "cleanup failed for: "
                + "; ".join(f"{op_id}: {why}" for op_id, why in problems.items())
            )
        return None

    return Job(run, description="clean up pending operations")


async def background_cleaner(runner: OperationRunner, settings: CleanerSettings) -> None:
    """Retry failed operations now and then (a node that was down may answer again)."""
    while settings.enabled:
        await asyncio.sleep(settings.interval)
        try:
            report = await runner.recover("cleaner")
        except (Exception, LeaseLost):  # the cleaner survives anything, tries again later
            log.exception("background cleaner")
            continue
        if report.finished or report.failed or report.held:
            log.info(
                "background cleaner: %d operations finished, %d still failing, %d held",
                len(report.finished),
                len(report.failed),
                len(report.held),
            )
