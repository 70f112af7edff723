"""The queue id a request's job will answer under, seen by the operation it plans and runs.

The queue result is then written in the operation's own transactions: "running" in the one
that journals the plan, the outcome in the one that finalizes it. The request's answer is
atomic with the operation (no moment where one is committed and the other is not), and a
create commits twice less. Jobs planned outside the queue (no submission in the context), an
operation made of others, and every outcome other than a plain success are still written by
the queue itself (services/queue.py)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from ..store import queue_results as results
from ..store.sql import Transaction


@dataclass
class Submission:
    queue_id: str
    server: str
    created: float
    # Who wrote the "running" result ("" = nobody yet): the operation whose plan wrote it, the
    # job's operation when the queue wrote it, or "(queue)" for a job without one. Only that
    # operation's finalize may write the answer.
    op_id: str = ""
    # (status, redirect, error) as the operation's finalizing transaction wrote them
    outcome: tuple[str, str | None, str | None] | None = None


SUBMISSION: ContextVar[Submission | None] = ContextVar("brickyard_submission", default=None)


def record_start(tx: Transaction, op_id: str, description: str, resource: str) -> Submission | None:
    """In the transaction that journals `op_id`'s plan: the request's "running" result, if
    this plan is the one a queued request is waiting for and none is written yet. Returns the
    submission, for the caller to mark (`started`) once the transaction has committed."""
    submission = SUBMISSION.get()
    if submission is None or submission.op_id:
        return None
    results.add_in(
        tx,
        results.QueueResult(
            id=submission.queue_id,
            op_id=op_id,
            description=description,
            status=results.RUNNING,
            resource=resource,
            redirect=None,
            error=None,
            created=submission.created,
            server=submission.server,
        ),
    )
    return submission


def record_success(tx: Transaction, op_id: str, redirect: str | None) -> Submission | None:
    """In the transaction that finalizes `op_id`: its request's answer, if it has one.
    Returns the submission, for the caller to mark (`answered`) once committed."""
    submission = SUBMISSION.get()
    if submission is None or submission.op_id != op_id:
        return None
    results.finish_in(tx, submission.queue_id, results.DONE, redirect, None)
    return submission


def started(submission: Submission | None, op_id: str) -> None:
    if submission is not None:
        submission.op_id = op_id


def answered(submission: Submission | None, redirect: str | None) -> None:
    if submission is not None:
        submission.outcome = (results.DONE, redirect, None)
