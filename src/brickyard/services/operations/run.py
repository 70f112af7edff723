"""One execution (or recovery) of one operation by the worker that holds it: its step log, its
crash points and its guarded writes.

Every node step is appended to the journal as soon as it is done (`done`), and an intent before
a node command whose effect recovery must look for (`begin`): a rollback reads these records,
never what the process remembered, so a rollback after a failure and a recovery after a crash
take the same decisions. After each step the context's crash hook is called with the point's
name, ``<operation type>:<step kind>:<n>``; the crash tests kill the server there."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from logging import INFO

from ... import logs
from ...domain.model import OperationType, StepRecord
from ...store.sql import Transaction
from ..context import ServiceContext


@dataclass(frozen=True)
class Intent:
    """A node command about to run, as its journal record: `kind` (ending in ``-begun``),
    the line a human reads, the subject recovery looks for."""

    kind: str
    text: str
    subject: str = ""


class Run:
    def __init__(
        self,
        ctx: ServiceContext,
        op_id: str,
        op_type: OperationType,
        owner: str,
        assume_begun: bool = False,
    ) -> None:
        self.ctx = ctx
        self.op_id = op_id
        self.type = op_type
        self.owner = owner
        # A journal of another format records no intents: assume every command may have run,
        # so a rollback looks on the nodes instead of trusting an absence.
        self.assume_begun = assume_begun
        self._counts: Counter[str] = Counter()
        self._started = self._last_step = time.perf_counter()

    # -- the log ----------------------------------------------------------------------------
    def log_step(self, step: str, outcome: str = "ok", detail: str = "", level: int = INFO) -> None:
        """The step's log line (docs/logging.md), timed from the previous step's."""
        now = time.perf_counter()
        elapsed = (now - self._last_step) * 1000
        self._last_step = now
        logs.step(self.type.type_name, self.op_id, step, outcome, elapsed, detail, level)

    def log_end(self, outcome: str) -> None:
        """The operation's last line: how it ended, and how long this run of it took."""
        total = (time.perf_counter() - self._started) * 1000
        self.log_step("end", outcome, f"total={total:.2f}ms")

    # -- the journal ------------------------------------------------------------------------
    def done(self, kind: str, text: str, subject: str = "") -> None:
        """A node step completed."""
        self._record(kind, text, subject)

    def done_all(
        self, kind: str, steps: Sequence[tuple[str, str]], then: Intent | None = None
    ) -> None:
        """Node steps of one `kind` that completed side by side (text, subject each),
        journaled in one commit. Their crash points are the caller's: as each completes.

        `then`, the intent of the node command that comes next, joins the same commit (and
        its crash point follows it): with no node command between the two records, one
        commit says what two did, for one commit less per create and expand."""
        records = [(text, kind, subject) for text, subject in steps]
        if then is not None:
            records.append((then.text, then.kind, then.subject))
        if not records:
            return
        self.ctx.lease_check()
        self.ctx.store.record_steps(self.op_id, records, time.time())
        if steps:
            self.log_step(kind, detail=f"n={len(steps)}" if len(steps) > 1 else "")
        if then is not None:
            self.log_step(then.kind)
            self.crash_point(then.kind)

    def begin(self, kind: str, text: str, subject: str = "") -> None:
        """About to run a node command whose effect recovery must look for (kind ends in
        ``-begun``): without this record, recovery knows the command never ran."""
        self._record(kind, text, subject)

    def _record(self, kind: str, text: str, subject: str) -> None:
        # A server that lost its lease (paused, cut off) stops here: the next node command and
        # the journal are another server's now.
        self.ctx.lease_check()
        self.ctx.store.record_step(self.op_id, text, time.time(), kind, subject)
        self.log_step(kind)
        self.crash_point(kind)

    def steps(self) -> list[StepRecord]:
        """What the journal says was done, in order."""
        with self.ctx.store.read() as tx:
            return tx.operation_steps(self.op_id)

    def recorded(self, kind: str) -> list[str]:
        """The subjects of the journaled steps of `kind`."""
        found = [s.subject for s in self.steps() if s.kind == kind]
        if not found and self.assume_begun and kind.endswith("-begun"):
            return ["(unknown: journal of another format)"]
        return found

    # -- guarded writes ---------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """A write transaction that changes what the operation holds: refused (ClaimLost)
        unless this worker still holds the operation."""
        with self.ctx.store.write() as tx:
            tx.check_held(self.op_id, self.owner)
            yield tx

    def finish(self, tx: Transaction) -> None:
        """Drop the journal entry: the operation is settled (inside `write`)."""
        tx.finish_operation(self.op_id, self.owner)

    # -- crash points -----------------------------------------------------------------------
    def crash_point(self, kind: str) -> None:
        self._counts[kind] += 1
        self.ctx.crash_hook(f"{self.type.type_name}:{kind}:{self._counts[kind]}")


def reraise_interruption(results: Sequence[object]) -> None:
    """Gathered node work: an interruption (cancellation at shutdown, a test's simulated crash;
    anything that is not an Exception) ends the operation at once, as it is."""
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
