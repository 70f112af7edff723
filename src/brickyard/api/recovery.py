"""Crash recovery at start, and the background cleaner after it.

At start, before anything else runs on the nodes, every operation an earlier run left in the
journal is rolled back (create, expand, clone, node or device add) or forward (delete) at once
(Heketi waits for its background cleaner, an hour by default). Then each queue result that was
still running is answered from what recovery did, so a client that polls across the restart is
told the truth. Operations that cannot be finished yet (a node is down) stay `failed` and the
background cleaner retries them every `refresh_time_background_cleaner` seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from ..domain.model import PendingOperation
from ..services import journal
from ..services.registry import Services
from ..store import queue_results as results
from ..store.sql import SqlStore

log = logging.getLogger(__name__)

# Finished results nobody read are kept this long (Heketi forgets them at restart).
RESULT_RETENTION_SECONDS = 7 * 24 * 3600

ROLLED_BACK = "The server restarted during this operation; it was rolled back"
RETRY = "The server restarted before this request finished; retry it"


@dataclass(frozen=True)
class CleanerSettings:
    enabled: bool = True
    interval: float = 3600.0


async def recover(services: Services, store: SqlStore) -> journal.CleanupReport:
    """Finish what an earlier run left, and answer its interrupted requests."""
    with store.read() as tx:
        interrupted = results.running(tx)
        ops = {op.id: op for op in tx.all(PendingOperation)}
    report = await journal.clean_all(services)
    for result in interrupted:
        status, redirect, error = _outcome(result, ops, report)
        results.finish(store, result.id, status, redirect, error)
    with store.write() as tx:
        pruned = results.prune(tx, time.time() - RESULT_RETENTION_SECONDS)
    if ops or interrupted:
        log.warning(
            "recovery: %d operations finished, %d kept for a later cleanup, %d interrupted "
            "requests answered",
            len(report.finished),
            len(report.failed),
            len(interrupted),
        )
    if pruned:
        log.info("forgot %d queue results older than a week", pruned)
    return report


def _outcome(
    result: results.QueueResult,
    ops: dict[str, PendingOperation],
    report: journal.CleanupReport,
) -> tuple[str, str | None, str | None]:
    op = ops.get(result.op_id)
    if not result.op_id:
        return results.FAILED, None, RETRY
    if op is None:  # the operation had completed; only its answer was not written
        return results.DONE, result.resource or None, None
    if result.op_id in report.failed:
        why = report.failed[result.op_id]
        return (
            results.FAILED,
            None,
            f"The server restarted during this operation; its cleanup (operation "
            f"{op.id}) is pending: {why}",
        )
    if result.op_id in report.forward:
        return results.DONE, result.resource or None, None
    return results.FAILED, None, ROLLED_BACK


async def background_cleaner(services: Services, settings: CleanerSettings) -> None:
    """Retry failed operations now and then (a node that was down may answer again)."""
    while settings.enabled:
        await asyncio.sleep(settings.interval)
        try:
            report = await journal.clean_all(services)
        except Exception:  # the cleaner must survive anything and try again later
            log.exception("background cleaner")
            continue
        if report.finished or report.failed:
            log.info(
                "background cleaner: %d operations finished, %d still failing",
                len(report.finished),
                len(report.failed),
            )
