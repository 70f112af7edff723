"""Node steps journaled as they complete, and the crash points used by the crash tests.

Every long operation is journaled (with the space it reserves) before it touches a node; then
each node step is appended to the journal as soon as it is done. Recovery and `examine` read
these steps; the crash tests kill the server right after a chosen one.

Crash points are named ``<operation type>:<step>:<n>`` (e.g. ``create-volume:brick-made:2``,
the second brick made). A server started with ``BRICKYARD_TEST_CRASH_AT`` set to such a name
kills itself with SIGKILL there. Only the crash tests set it."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence

from ..domain.model import OperationType
from ..store.sql import SqlStore

log = logging.getLogger(__name__)

CRASH_ENV = "BRICKYARD_TEST_CRASH_AT"

# The step boundaries of each operation, in order; steps marked n happen once per brick.
STEP_BOUNDARIES: dict[OperationType, tuple[str, ...]] = {
    OperationType.CREATE_VOLUME: ("planned", "brick-made/n", "volume-made", "finalized"),
    OperationType.EXPAND_VOLUME: ("planned", "brick-made/n", "bricks-added", "finalized"),
    OperationType.DELETE_VOLUME: ("planned", "volume-destroyed", "brick-destroyed/n", "finalized"),
    OperationType.EVICT_BRICK: ("brick-made", "brick-replaced", "old-brick-gone"),
}


class SimulatedCrash(BaseException):
    """Raised at a crash point by in-process tests: not an Exception, so no handler of the
    operation sees it and nothing is rolled back, as after a real crash."""


CrashHandler = Callable[[str], None]
_handler: CrashHandler | None = None


def set_crash_handler(handler: CrashHandler | None) -> None:
    """Tests only: call `handler` at every crash point instead of reading the environment."""
    global _handler
    _handler = handler


def crash_point(point: str) -> None:
    if _handler is not None:
        _handler(point)
        return
    target = os.environ.get(CRASH_ENV)
    if target and target == point:
        log.critical("crash test: killing the server at %s", point)
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)


class StepLog:
    """The journal of one operation's node steps."""

    def __init__(self, store: SqlStore, op_id: str, op_type: OperationType) -> None:
        self.store = store
        self.op_id = op_id
        self.type_name = op_type.type_name
        self.counts: Counter[str] = Counter()

    def planned(self) -> None:
        """The plan and its reservations are committed; no node was touched yet."""
        self._crash("planned")

    def done(self, key: str, text: str) -> None:
        """Record that a node step completed (`key` names the kind of step, `text` says what
        was done, for people)."""
        self.store.record_step(self.op_id, text, time.time())
        self._crash(key)

    def finalized(self) -> None:
        """The operation's outcome is committed; only the queue result is still to write."""
        self._crash("finalized")

    def _crash(self, key: str) -> None:
        self.counts[key] += 1
        crash_point(f"{self.type_name}:{key}:{self.counts[key]}")


def crash_points(op_type: OperationType, bricks: int) -> list[str]:
    """Every crash point of an operation that handles `bricks` bricks, in order."""
    points = []
    for step in STEP_BOUNDARIES[op_type]:
        key, _, per_brick = step.partition("/")
        for n in range(1, (bricks if per_brick else 1) + 1):
            points.append(f"{op_type.type_name}:{key}:{n}")
    return points


def reraise_crash(results: Sequence[object]) -> None:
    """A simulated crash inside gathered node work ends the operation at once, untouched."""
    for result in results:
        if isinstance(result, SimulatedCrash):
            raise result
