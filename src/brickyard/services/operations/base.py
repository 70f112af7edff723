"""What every long operation is: a plan, node steps, a rollback and a recovery.

An `Operation` describes one kind of change (volume create, brick eviction, node add...) in
four parts, and nothing else:

* `plan` runs inside the write transaction that journals the operation: it checks, places,
  reserves space, writes the records the change needs and says which entities the journal
  entry names (its changes) and what else recovery will need (its detail).
* `execute` does the node work, step by step, recording each step in the journal through the
  `Run` it is given (`run.begin` before a node command whose effect recovery must be able to
  look for, `run.done` after each step). It returns where a success redirects.
* `finalize` commits the success in one transaction.
* `roll_back` undoes what `execute` did, reading the journal (not memory): it serves a failed
  execution and a crash recovery alike. It may find that the change went through after all
  (gluster took the bricks) and finish it instead; it says which.
* `recover` settles the operation after a crash; by default it rolls back. Deletes and
  removes go forward instead.

The `OperationRunner` (runner.py) owns everything operations share: the claim on the journal
row, the throttle slot, the step log, the crash points and the queue result. Adding a kind of
operation means writing these parts and registering the class (registry.py)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from ...domain.errors import BrickyardError, OperationFailed
from ...domain.model import Change, ChangeType, OperationType, PendingOperation
from ...store.sql import Transaction
from ..context import ServiceContext
from .run import Run


@dataclass(frozen=True)
class Step:
    """A step boundary of an operation: after it, the crash tests kill the server. `per_brick`
    steps happen once per brick the operation handles."""

    kind: str
    per_brick: bool = False


@dataclass(frozen=True)
class Settled:
    """How a rollback or a recovery ended: `forward` when the change went through (the request
    succeeded after all), and what was done, for the log and the operator."""

    forward: bool
    what: str
    redirect: str | None = None  # where the request's success points, when forward


class NeedsHuman(OperationFailed):
    """Neither rolling back nor forward is safe from what the journal and the nodes say: the
    operation is held for a human, with this reason, and nothing more is done."""


class Incomplete(OperationFailed):
    """A rollback or recovery did what it could; the rest waits for a node to answer. The
    operation stays in the journal (failed) and is retried by cleanups."""


@dataclass
class Journal:
    """What `plan` asks the runner to journal."""

    changes: list[Change] = field(default_factory=list)
    detail: dict[str, str] = field(default_factory=dict)


class ChildRunner(Protocol):
    """What an operation made of other operations (a remove evicts bricks) runs them with."""

    async def run(self, op: Operation) -> str | None:
        """Plan and execute `op` now, held by the same worker as its parent."""
        ...


class Operation(abc.ABC):
    """One long operation. Subclasses set the class attributes and implement the parts."""

    type: ClassVar[OperationType]
    # The step boundaries of `execute`, in order (planned and finalized come around them).
    steps: ClassVar[tuple[Step, ...]] = ()
    # Counts against max_inflight_operations (Heketi throttles volume changes and removes).
    throttled: ClassVar[bool] = True
    # Recovery settles operations in this order: evictions before the removes that began them.
    recovery_order: ClassVar[int] = 0

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.op_id = ""

    # -- what the request sees --------------------------------------------------------------
    @property
    @abc.abstractmethod
    def description(self) -> str:
        """What the operation does, for logs and the queue ("create volume vol_1")."""

    @property
    def resource(self) -> str:
        """Where a success redirects, when known before execution ("" when nothing to show)."""
        return ""

    @property
    def attempts(self) -> int:
        """How often a failure is rolled back and planned afresh before it is the answer."""
        return 1

    # -- the four parts ---------------------------------------------------------------------
    @abc.abstractmethod
    def plan(self, tx: Transaction) -> Journal:
        """Check, place and reserve inside the journaling transaction (`self.op_id` is set)."""

    @abc.abstractmethod
    async def execute(self, run: Run) -> str | None:
        """The node steps; returns where the success redirects (None: nothing to show)."""

    def finalize(self, tx: Transaction) -> None:  # noqa: B027 - nothing to commit by default
        """Commit the success (the runner deletes the journal entry in the same transaction).
        Raising a BrickyardError here rolls the operation back instead."""

    @abc.abstractmethod
    async def roll_back(self, run: Run) -> Settled:
        """Undo what the journal says was done, and drop the entry (through `run`). Raise
        Incomplete when a node must answer first, NeedsHuman when no way is safe."""

    async def recover(self, run: Run) -> Settled:
        """Settle the operation after a crash (the default: roll it back)."""
        return await self.roll_back(run)

    # -- loading from the journal -------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        """The operation a journal entry describes (for recovery). Raise BrickyardError when
        the records it names are not what the entry says."""


def change_of(op: PendingOperation, kind: ChangeType) -> str:
    """The id of the entity of the entry's first change of `kind` (Heketi orders an entry's
    changes its own way: an expand lists its new bricks before the volume)."""
    found = next((c.id for c in op.changes if c.change is kind), "")
    if not found:
        raise OperationFailed(f"journal entry {op.id} names no {kind.name.lower()} change")
    return found


def first_change(op: PendingOperation) -> str:
    """The id of the entity the journal entry is about (its first change)."""
    if not op.changes:
        raise OperationFailed(f"journal entry {op.id} names no entity")
    return op.changes[0].id


def brickyard_error(exc: BaseException) -> BrickyardError:
    """The error a request sees for a failure: ours as it is, anything else as internal."""
    if isinstance(exc, BrickyardError):
        return exc
    return OperationFailed(f"internal error: {type(exc).__name__}: {exc}")
