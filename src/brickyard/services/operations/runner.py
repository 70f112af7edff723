"""The one runner of every operation: plan and claim, execute, finalize or roll back, recover.

Every worker that acts on an operation holds it first. A new operation is held from the
transaction that journals it; recovery, the cleanup request and the background cleaner take a
stale or failed one with a conditional update of its journal row (owner "" -> themselves), and
whoever loses leaves it alone. Each write that changes what an operation holds checks the claim
again, so nothing is ever executed, rolled back or cleaned twice.

Recovery settles each operation on its own: one that cannot be settled now (a node does not
answer) stays failed for a later cleanup; one that no way is safe for, or whose recovery itself
fails, is held for a human with the reason; and recovery goes on with the others."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from logging import WARNING

from ... import logs
from ...domain.errors import BrickyardError, OperationFailed
from ...domain.ids import new_id
from ...domain.model import (
    HEKETI_JOURNAL_FORMAT,
    JOURNAL_FORMAT,
    OperationStatus,
    OperationType,
    PendingOperation,
)
from ...instruments import FAILED, INTERRUPTED, ROLLED_BACK, ROLLED_FORWARD, SUCCEEDED
from ...store.errors import ClaimLost, StaleSpace
from .. import submission
from ..context import ServiceContext
from ..jobs import Job
from ..leftovers import clean_leftovers
from ..observed import FailureRecord
from .base import NeedsHuman, Operation, Settled, brickyard_error
from .registry import OPERATIONS
from .run import Run

log = logging.getLogger(__name__)

RECOVERABLE = (OperationStatus.STALE.value, OperationStatus.FAILED.value)


@dataclass
class _Ending:
    """How an execution ended, for its duration's "outcome" label: interrupted until an
    attempt settles (a BaseException such as LeaseLost stops it where it is)."""

    outcome: str = INTERRUPTED


@dataclass
class CleanupReport:
    finished: dict[str, str] = field(default_factory=dict)  # op id -> what was done
    forward: set[str] = field(default_factory=set)  # rolled forward: their request succeeded
    failed: dict[str, str] = field(default_factory=dict)  # kept for a later cleanup: why
    held: dict[str, str] = field(default_factory=dict)  # waiting for a human: why
    busy: dict[str, str] = field(default_factory=dict)  # another worker holds it
    leftovers_cleaned: int = 0  # bricks and devices of dead nodes destroyed now


class OperationRunner:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        # Operations a task of this process works on now: one this server holds but is not
        # here was abandoned (its job died on a database error) and is recovered
        # (ServerRegistry.reclaim_abandoned).
        self.active: set[str] = set()

    def owner(self, purpose: str) -> str:
        """The claim name of this server doing `purpose` (request, recovery, cleanup...)."""
        return f"{self.ctx.worker}/{purpose}"

    # -- running new operations -------------------------------------------------------------
    def start(self, op: Operation) -> Job:
        """Plan and journal `op` now (errors are the request's answer); the returned job
        executes it."""
        owner = self.owner("request")
        self._plan(op, owner)
        self.ctx.operations.planned(op.op_id, op.type.type_name)

        async def run() -> str | None:
            try:
                return await self._execute(op, owner)
            finally:
                self.active.discard(op.op_id)

        return Job(
            run,
            throttled=op.throttled,
            description=op.description,
            operation_id=op.op_id,
            resource=op.resource,
        )

    async def run(self, op: Operation) -> str | None:
        """Plan and execute `op` at once (an operation made of others: a remove's evictions)."""
        owner = self.owner("request")
        self._plan(op, owner)
        try:
            return await self._execute(op, owner)
        finally:
            self.active.discard(op.op_id)

    def _plan(self, op: Operation, owner: str, op_id: str = "") -> None:
        op.op_id = op_id or new_id()
        self.active.add(op.op_id)  # before it is written: never seen held and not active
        try:
            self._plan_once(op, owner)
        except BaseException:
            if not op_id:
                self.active.discard(op.op_id)
            raise

    def _plan_once(self, op: Operation, owner: str) -> None:
        started = time.perf_counter()
        for attempt in range(2):
            try:
                with self.ctx.store.write() as tx:
                    journal = op.plan(tx)
                    tx.add(
                        PendingOperation(
                            op.op_id,
                            op.type,
                            int(time.time()),
                            journal.changes,
                            OperationStatus.NEW.value,
                            journal.detail,
                            owner=owner,
                        )
                    )
                    request = submission.record_start(tx, op.op_id, op.description, op.resource)
                submission.started(request, op.op_id)
                logs.step(
                    op.type.type_name,
                    op.op_id,
                    "planned",
                    "ok",
                    (time.perf_counter() - started) * 1000,
                    f"queue={request.queue_id}" if request is not None else "",
                )
                return
            except StaleSpace as exc:
                # Another writer took the space the cached index promised: reload, try again.
                self.ctx.placement.invalidate()
                if attempt:
                    raise OperationFailed(
                        "No space: the devices changed while placing; retry"
                    ) from exc

    async def _execute(self, op: Operation, owner: str) -> str | None:
        """Execute `op` (retrying with a new plan as it allows), timed by type and outcome."""
        op_type = op.type.type_name
        self.ctx.operations.started(op.op_id, op_type)
        began = time.monotonic()
        ending = _Ending()
        try:
            return await self._attempts(op, owner, ending)
        finally:
            elapsed = time.monotonic() - began
            self.ctx.operations.ended(op.op_id, op_type, ending.outcome, elapsed)

    async def _attempts(self, op: Operation, owner: str, ending: _Ending) -> str | None:
        run = Run(self.ctx, op.op_id, op.type, owner)
        run.crash_point("planned")
        attempts = max(1, op.attempts)
        attempt = 1
        while True:
            try:
                redirect = await op.execute(run)
                with run.write() as tx:
                    op.finalize(tx)
                    run.finish(tx)
                    request = submission.record_success(tx, op.op_id, redirect)
                submission.answered(request, redirect)
            except ClaimLost as exc:
                ending.outcome = FAILED
                run.log_end("failed")
                raise OperationFailed(f"{op.description}: {exc}") from exc
            except Exception as exc:
                run.log_step(
                    "execute", "failed", f"{op.description} (attempt {attempt}): {exc}", WARNING
                )
                ending.outcome = FAILED  # until the rollback says otherwise
                done = tuple(s.text for s in run.steps())  # the rollback deletes the journal
                try:
                    settled = await self._roll_back(op, run, exc)
                except Exception as why:
                    run.log_step("rollback", "failed", str(why), WARNING)
                    run.log_end("failed")
                    raise
                run.log_step("rollback", "ok", settled.what)
                if settled.forward:
                    ending.outcome = ROLLED_FORWARD
                    run.log_end("rolled-forward")
                    return settled.redirect
                ending.outcome = ROLLED_BACK
                if attempt >= attempts or not isinstance(exc, BrickyardError):
                    run.log_end("rolled-back")  # as the metrics' outcome: nothing left behind
                    # A new placement helps against a node that failed, not against a bug.
                    self._remember_failure(op, exc, done, settled)
                    raise brickyard_error(exc) from exc
                attempt += 1
                try:
                    # The same journal id: a poller's queue result names this operation.
                    self._plan(op, owner, op.op_id)
                except BrickyardError:
                    run.log_end("rolled-back")
                    raise brickyard_error(exc) from None
                ending.outcome = INTERRUPTED
                continue
            ending.outcome = SUCCEEDED
            run.log_end("succeeded")
            run.crash_point("finalized")
            return redirect

    async def _roll_back(self, op: Operation, run: Run, failure: Exception) -> Settled:
        error = brickyard_error(failure).message
        try:
            return await op.roll_back(run)
        except NeedsHuman as why:
            self._give_up(run, OperationStatus.FAILED.value, why.message)
            raise OperationFailed(f"{error}; {why.message}") from failure
        except ClaimLost as lost:
            raise OperationFailed(f"{error}; rollback: {lost}") from failure
        except BrickyardError as why:
            self._give_up(run, OperationStatus.FAILED.value)
            raise OperationFailed(f"{error}; {why.message}") from failure
        except Exception as bug:
            log.exception("rollback of %s crashed", op.description)
            held = f"rollback failed: {type(bug).__name__}: {bug}"
            self._give_up(run, OperationStatus.FAILED.value, held)
            raise OperationFailed(f"{error}; {held}") from failure

    def _remember_failure(
        self, op: Operation, failure: Exception, steps: tuple[str, ...], settled: Settled
    ) -> None:
        """Keep a rolled-back failure, with what it had done, for the dashboard and status."""
        error = brickyard_error(failure).message
        record = FailureRecord(
            op.op_id, op.type.type_name, op.description, error, steps, settled.what, time.time()
        )
        self.ctx.observed.record_failure(record)

    def _give_up(self, run: Run, status: str, held: str = "") -> None:
        """Release the operation, failed (retried by cleanups) or held for a human."""
        with self.ctx.store.write() as tx:
            tx.release(run.op_id, run.owner, status, held)

    # -- recovery ---------------------------------------------------------------------------
    async def recover(
        self, purpose: str, ids: set[str] | None = None, only: set[str] | None = None
    ) -> CleanupReport:
        """Settle every stale or failed operation nobody holds, or those of `ids` (named by a
        human: then one held for a human, or written by another version, is tried too), or
        only those of `only` (a dead server's, taken over: tried as recovery at start would)."""
        explicit = bool(ids)
        owner = self.owner(purpose)
        report = CleanupReport()
        with self.ctx.store.read() as tx:
            ops = tx.all(PendingOperation)
        ops.sort(key=lambda op: (_order(op.type), op.timestamp, op.id))
        for op in ops:
            if (ids and op.id not in ids) or (only is not None and op.id not in only):
                continue
            if op.owner:
                if explicit:
                    report.busy[op.id] = f"being worked on by {op.owner}"
                continue
            if op.status not in RECOVERABLE:
                continue
            if op.held and not explicit:
                report.held[op.id] = op.held
                continue
            with self.ctx.store.write() as tx:
                claimed = tx.claim(op.id, owner, RECOVERABLE, held_too=explicit)
            if not claimed:
                report.busy[op.id] = "taken by another worker"
                continue
            self.active.add(op.id)
            try:
                await self._recover_one(op, owner, report, explicit)
            finally:
                self.active.discard(op.id)
        report.leftovers_cleaned = await clean_leftovers(self.ctx)
        return report

    async def _recover_one(
        self, op: PendingOperation, owner: str, report: CleanupReport, explicit: bool
    ) -> None:
        run = Run(self.ctx, op.id, op.type, owner, assume_begun=op.format != JOURNAL_FORMAT)
        steps = [s.text for s in run.steps()]
        name = op.type.type_name
        log.info(
            "recovering %s operation %s; its journal says: %s",
            name,
            op.id,
            "; ".join(steps) or "no node step done",
        )
        try:
            cls = OPERATIONS.get(op.type)
            if cls is None:
                raw = op.detail.get("journal_type", str(int(op.type)))
                raise NeedsHuman(
                    HEKETI_HUMAN_REASONS.get(op.type)
                    or f"unknown operation type {raw}: this version cannot recover it"
                )
            if op.format == HEKETI_JOURNAL_FORMAT:
                if op.type not in HEKETI_RECOVERED and not explicit:
                    raise NeedsHuman(HEKETI_HUMAN_REASONS[op.type])
            elif op.format != JOURNAL_FORMAT and not explicit:
                raise NeedsHuman(
                    f"journal entry of format {op.format} (this version writes "
                    f"{JOURNAL_FORMAT}): written by another version, its steps may mean "
                    "something else. Check the nodes, then run a cleanup naming this operation "
                    "to recover it anyway"
                )
            operation = cls.load(self.ctx, op, self)
            operation.op_id = op.id
            settled = await operation.recover(run)
        except NeedsHuman as why:
            log.error("%s operation %s needs a human: %s", name, op.id, why)
            self._give_up(run, OperationStatus.FAILED.value, why.message)
            report.held[op.id] = why.message
            run.log_end("held")
        except ClaimLost as lost:
            report.busy[op.id] = str(lost)
        except BrickyardError as why:
            log.warning("cleanup of %s operation %s failed: %s", name, op.id, why)
            self._give_up(run, OperationStatus.FAILED.value)
            report.failed[op.id] = why.message
            run.log_end("failed")
        except Exception as bug:
            log.exception("recovery of %s operation %s crashed", name, op.id)
            held = f"recovery failed: {type(bug).__name__}: {bug}"
            self._give_up(run, OperationStatus.FAILED.value, held)
            report.held[op.id] = held
            run.log_end("held")
        else:
            run.log_step("recovered", "ok", settled.what)
            run.log_end("rolled-forward" if settled.forward else "rolled-back")
            report.finished[op.id] = settled.what
            if settled.forward:
                report.forward.add(op.id)


# Operations imported from a Heketi database (no steps journaled) that recovery finishes or
# rolls back on its own, as Heketi's cleaner would: their journal says all that is needed
# (the volume, its bricks), and every node command of the recovery checks before it acts.
HEKETI_RECOVERED = frozenset(
    {OperationType.CREATE_VOLUME, OperationType.DELETE_VOLUME, OperationType.EXPAND_VOLUME}
)
_NOT_GUESSED = "Check the nodes, then run a cleanup naming this operation to recover it anyway"
# Why the other kinds of Heketi's wait for a human (they are listed with what they hold).
HEKETI_HUMAN_REASONS: dict[OperationType, str] = {
    OperationType.CLONE_VOLUME: (
        "a volume clone left by Heketi, which journals neither the snapshot nor the clone's "
        "gluster volume (Heketi's cleaner never cleans clones). Compare `gluster snapshot list` "
        "and `gluster volume list` with the clone, then run a cleanup naming this operation"
    ),
    OperationType.REMOVE_DEVICE: (
        "a device remove left by Heketi: which bricks it had moved is not journaled. Compare "
        f"`gluster volume info` of the device's volumes with the database. {_NOT_GUESSED}"
    ),
    OperationType.EVICT_BRICK: (
        "a brick eviction left by Heketi: whether gluster replaced the brick is not journaled. "
        f"Compare `gluster volume info` of its volume with the database. {_NOT_GUESSED}"
    ),
    **{
        kind: (
            "a block volume operation left by Heketi: this version does not manage gluster-block "
            "volumes. Check the block volume with `gluster-block info` on a node"
        )
        for kind in (
            OperationType.CREATE_BLOCK_VOLUME,
            OperationType.DELETE_BLOCK_VOLUME,
            OperationType.EXPAND_BLOCK_VOLUME,
        )
    },
}


def _order(op_type: OperationType) -> int:
    cls = OPERATIONS.get(op_type)
    return cls.recovery_order if cls is not None else 0
